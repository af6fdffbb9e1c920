// Config helpers and the embedded default.
#include "common/config.h"

#include "common/strings.h"

namespace bulwark {

bool Config::isLocalDomain(std::string_view domain) const {
  for (const auto& local : local_domains) {
    if (equalsIgnoreCase(local.name, domain)) return true;
  }
  return false;
}

const LocalDomain* Config::localDomain(std::string_view domain) const {
  for (const auto& local : local_domains) {
    if (equalsIgnoreCase(local.name, domain)) return &local;
  }
  return nullptr;
}

bool Config::storedHere(std::string_view address) const {
  const std::size_t at = address.rfind('@');
  if (at == std::string_view::npos) return false;
  const LocalDomain* local = localDomain(address.substr(at + 1));
  return local != nullptr && local->delivery == "maildir";
}

namespace {

bool listed(const std::vector<std::string>& domains, std::string_view domain) {
  for (const auto& entry : domains) {
    if (equalsIgnoreCase(entry, domain)) return true;
  }
  return false;
}

}  // namespace

bool DomainSecureSettings::sendsTo(std::string_view domain) const { return listed(send, domain); }

bool DomainSecureSettings::receivesFrom(std::string_view domain) const {
  return listed(receive, domain);
}

const DmarcOverride* AuthenticationSettings::overrideFor(std::string_view domain) const {
  for (const auto& entry : dmarc_overrides) {
    if (equalsIgnoreCase(entry.domain, domain)) return &entry;
  }
  return nullptr;
}

const char* const kEmbeddedDefaultConfig = R"toml(# Bulwark embedded default configuration.
# Data in ./var, SMTP on 127.0.0.1:2525 with STARTTLS (self-signed certificate generated on first
# start), every local part of example.test delivered to ./var/mail/example.test/<localpart>/.
data_dir = "./var"

[[receive_connector]]
name = "default"
listen = "127.0.0.1:2525"
tls = "starttls"
auth = true

[[local_domain]]
name = "example.test"
delivery = "maildir"
)toml";

}  // namespace bulwark
