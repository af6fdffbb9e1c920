// `bulwark dkim`: the DKIM signing keys in <data_dir>/dkim/<domain>/<selector>.key (docs/dkim.md).
// `keygen DOMAIN SELECTOR` writes a new key (never over an old one) and prints the TXT record to
// publish; `list` shows every key with its record. DOMAIN and SELECTOR are operator input, checked
// before they become file names. `serve` picks new keys up within a second, without a restart.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "app/commands.h"
#include "app/tool_config.h"
#include "auth/dkim.h"

namespace bulwark::app {
namespace {

namespace fs = std::filesystem;

struct DkimOptions {
  std::string config_file;
  std::string data_dir;
  std::string domain;
  std::string selector;
  std::string type = "rsa";
  unsigned bits = 2048;
};

std::optional<fs::path> keyDirectory(const DkimOptions& options) {
  auto config = configForTool(options.config_file, options.data_dir, "dkim");
  if (!config) return std::nullopt;
  return fs::path(config->data_dir) / "dkim";
}

int keygenCommand(const DkimOptions& options) {
  auto directory = keyDirectory(options);
  if (!directory) return 2;
  const auto algorithm = options.type == "ed25519" ? auth::DkimAlgorithm::ed25519_sha256
                                                   : auth::DkimAlgorithm::rsa_sha256;
  auto key = auth::DkimKey::generate(options.domain, options.selector, algorithm, options.bits);
  if (!key) {
    std::cerr << "bulwark dkim keygen: " << key.error().message << "\n";
    return key.error().code == "syntax" ? 2 : 1;
  }
  auto file = auth::writeDkimKeyFile(*directory, *key);
  if (!file) {
    std::cerr << "bulwark dkim keygen: " << file.error().message << "\n";
    return 1;
  }
  std::cout << "private key " << file->string() << " (mode 0600)\n"
            << "bulwark serve signs with it within a second; publish this record (docs/dkim.md):\n"
            << key->zoneFileLine() << "\n";
  return 0;
}

int listCommand(const DkimOptions& options) {
  auto directory = keyDirectory(options);
  if (!directory) return 2;
  std::error_code error;
  if (!fs::is_directory(*directory, error)) {
    std::cout << "no DKIM keys in " << directory->string()
              << " (start with: bulwark dkim keygen DOMAIN SELECTOR)\n";
    return 0;
  }
  std::vector<fs::path> files;
  for (const auto& domain : fs::directory_iterator(*directory, error)) {
    if (!domain.is_directory(error)) continue;
    for (const auto& entry : fs::directory_iterator(domain.path(), error)) {
      if (entry.path().extension() == ".key") files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  int status = 0;
  for (const fs::path& file : files) {
    auto key =
        auth::DkimKey::load(file.parent_path().filename().string(), file.stem().string(), file);
    if (!key) {
      std::cout << "unusable\t" << key.error().message << "\n";
      status = 1;
      continue;
    }
    std::cout << key->domain() << "\t" << key->selector() << "\t"
              << (key->algorithm() == auth::DkimAlgorithm::ed25519_sha256 ? "ed25519" : "rsa")
              << "\t" << file.string() << "\n  " << key->zoneFileLine() << "\n";
  }
  if (files.empty()) std::cout << "no DKIM keys in " << directory->string() << "\n";
  return status;
}

}  // namespace

void addDkimCommand(CLI::App& app, Action& action) {
  auto options = std::make_shared<DkimOptions>();
  auto* dkim = app.add_subcommand("dkim", "DKIM signing keys (data_dir/dkim/<domain>/)");
  dkim->require_subcommand(1);

  auto* keygen = dkim->add_subcommand(
      "keygen", "Create a signing key for DOMAIN under SELECTOR and print its DNS record");
  keygen->add_option("domain", options->domain, "The signing domain (d=)")->required();
  keygen->add_option("selector", options->selector, "The selector (s=), new for every key")
      ->required();
  keygen->add_option("--type", options->type, "rsa (default) or ed25519")
      ->check(CLI::IsMember({"rsa", "ed25519"}));
  keygen->add_option("--bits", options->bits, "RSA key size (default 2048)")
      ->check(CLI::Range(1024, 8192));
  addDataLocationOptions(keygen, options->config_file, options->data_dir, "the dkim/ keys");
  keygen->callback([&action, options] { action = [options] { return keygenCommand(*options); }; });

  auto* list = dkim->add_subcommand("list", "List the signing keys and their DNS records");
  addDataLocationOptions(list, options->config_file, options->data_dir, "the dkim/ keys");
  list->callback([&action, options] { action = [options] { return listCommand(*options); }; });
}

}  // namespace bulwark::app
