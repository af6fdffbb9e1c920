// `bulwark pki`: the built-in CA in <data_dir>/pki/ (docs/operations.md "Domain Security and the
// built-in PKI"). `init` creates the CA, `issue-server NAME` and `issue-client DOMAIN` issue TLS
// certificates, `trust FILE` adds a partner's CA for Domain Security, `list` shows them all. The
// file given to `trust` is untrusted; nothing here contacts a running server (restart it to use
// new files).
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>

#include "app/commands.h"
#include "app/tool_config.h"
#include "pki/certificate_authority.h"

namespace bulwark::app {
namespace {

struct PkiOptions {
  std::string config_file;
  std::string data_dir;
  std::string name;
  std::string file;
  std::string organization = "Bulwark";
  std::string key_type = "ec";
  int days = 0;  // 0: the default of what is being created
};

std::optional<pki::PkiLayout> layoutFor(const PkiOptions& options) {
  auto config = configForTool(options.config_file, options.data_dir, "pki");
  if (!config) return std::nullopt;
  return pki::PkiLayout(config->data_dir);
}

pki::KeyType keyType(const PkiOptions& options) {
  return options.key_type == "rsa" ? pki::KeyType::rsa_2048 : pki::KeyType::ecdsa_p256;
}

int failed(std::string_view command, const Error& error) {
  std::cerr << "bulwark pki " << command << ": " << error.message << "\n";
  return 1;
}

void printIssued(const pki::IssuedFiles& files) {
  std::cout << "certificate " << files.certificate.string() << "\n";
  if (!files.private_key.empty()) {
    std::cout << "private key " << files.private_key.string() << " (mode 0600)\n";
  }
  std::cout << "subject     " << files.subject << "\n"
            << "sha256      " << files.fingerprint << "\n";
}

int initCommand(const PkiOptions& options) {
  auto layout = layoutFor(options);
  if (!layout) return 2;
  pki::AuthorityOptions authority;
  authority.organization = options.organization;
  authority.key_type = keyType(options);
  if (options.days > 0) authority.days = options.days;
  auto created = pki::createAuthority(*layout, authority);
  if (!created) return failed("init", created.error());
  printIssued(*created);
  std::cout << "Give " << created->certificate.string()
            << " to partners who should trust our certificates.\n";
  return 0;
}

int issueCommand(const PkiOptions& options, pki::Usage usage) {
  const char* command = usage == pki::Usage::server ? "issue-server" : "issue-client";
  auto layout = layoutFor(options);
  if (!layout) return 2;
  pki::IssueOptions issue;
  issue.key_type = keyType(options);
  if (options.days > 0) issue.days = options.days;
  auto issued = pki::issueCertificate(*layout, options.name, usage, issue);
  if (!issued) return failed(command, issued.error());
  printIssued(*issued);
  return 0;
}

int trustCommand(const PkiOptions& options) {
  auto layout = layoutFor(options);
  if (!layout) return 2;
  auto trusted = pki::trustAuthority(*layout, options.file);
  if (!trusted) return failed("trust", trusted.error());
  std::cout << "trusted     " << trusted->certificate.string() << "\n"
            << "subject     " << trusted->subject << "\n"
            << "sha256      " << trusted->fingerprint << "\n"
            << "Check the fingerprint with the partner (by phone, not by mail); restart "
               "`bulwark serve` to use it.\n";
  return 0;
}

int listCommand(const PkiOptions& options) {
  auto layout = layoutFor(options);
  if (!layout) return 2;
  auto certificates = pki::listCertificates(*layout);
  if (!certificates) return failed("list", certificates.error());
  if (certificates->empty()) {
    std::cout << "no certificates in " << layout->root.string()
              << " (start with: bulwark pki init)\n";
    return 0;
  }
  for (const auto& certificate : *certificates) {
    std::string names;
    for (const auto& name : certificate.names) names += (names.empty() ? "" : ",") + name;
    std::cout << certificate.role << "\t" << certificate.file.string() << "\t"
              << certificate.subject << "\tnames=" << (names.empty() ? "-" : names)
              << "\tnot_after=" << certificate.not_after << "\tsha256=" << certificate.fingerprint
              << "\n";
  }
  return 0;
}

void addLocationOptions(CLI::App* command, PkiOptions& options) {
  addDataLocationOptions(command, options.config_file, options.data_dir, "the pki/ directory");
}

void addKeyOptions(CLI::App* command, PkiOptions& options) {
  addLocationOptions(command, options);
  command->add_option("--days", options.days, "Validity in days")
      ->check(CLI::Range(1, pki::kMaximumDays));
  command->add_option("--key-type", options.key_type, "ec (ECDSA P-256, default) or rsa (RSA-2048)")
      ->check(CLI::IsMember({"ec", "rsa"}));
}

}  // namespace

void addPkiCommand(CLI::App& app, Action& action) {
  auto options = std::make_shared<PkiOptions>();
  auto* pki = app.add_subcommand("pki", "The built-in CA for TLS certificates and Domain Security");
  pki->require_subcommand(1);

  auto* init = pki->add_subcommand("init", "Create the CA (pki/ca.pem and ca.key)");
  init->add_option("--organization", options->organization, "Organization name in the CA's name");
  addKeyOptions(init, *options);
  init->callback([&action, options] { action = [options] { return initCommand(*options); }; });

  auto* server = pki->add_subcommand("issue-server", "Issue a server certificate for host NAME");
  server->add_option("name", options->name, "Host name (the certificate's SAN and file name)")
      ->required();
  addKeyOptions(server, *options);
  server->callback([&action, options] {
    action = [options] { return issueCommand(*options, pki::Usage::server); };
  });

  auto* client = pki->add_subcommand(
      "issue-client", "Issue a client certificate naming DOMAIN, for Domain Security");
  client->add_option("domain", options->name, "Our domain, as partners list it")->required();
  addKeyOptions(client, *options);
  client->callback([&action, options] {
    action = [options] { return issueCommand(*options, pki::Usage::client); };
  });

  auto* trust = pki->add_subcommand("trust", "Trust a partner's CA certificate (PEM FILE)");
  trust->add_option("file", options->file, "The partner's CA certificate")->required();
  addLocationOptions(trust, *options);
  trust->callback([&action, options] { action = [options] { return trustCommand(*options); }; });

  auto* list = pki->add_subcommand("list", "List the CA, issued and trusted certificates");
  addLocationOptions(list, *options);
  list->callback([&action, options] { action = [options] { return listCommand(*options); }; });
}

}  // namespace bulwark::app
