// resolveDomainSecureFiles; see domain_secure_files.h.
#include "pki/domain_secure_files.h"

#include "net/domain_security.h"
#include "pki/certificate_authority.h"

namespace bulwark::pki {

Result<void> resolveDomainSecureFiles(Config& config,
                                      const std::filesystem::path& server_certificate,
                                      const std::filesystem::path& server_private_key) {
  DomainSecureSettings& settings = config.domain_secure;
  const PkiLayout layout(config.data_dir);
  std::error_code error;

  settings.resolved_trust_files.clear();
  if (!settings.trusted_ca_file.empty()) {
    if (!std::filesystem::is_regular_file(settings.trusted_ca_file, error)) {
      return makeError("config", "domain_secure.trusted_ca_file " +
                                     settings.trusted_ca_file.string() + " is not a readable file");
    }
    settings.resolved_trust_files.push_back(settings.trusted_ca_file);
  } else {
    settings.resolved_trust_files = partnerTrustFiles(layout);
  }

  settings.resolved_client_certificate = server_certificate;
  settings.resolved_client_private_key = server_private_key;
  if (!settings.client_certificate.empty()) {
    settings.resolved_client_certificate = settings.client_certificate;
    settings.resolved_client_private_key = settings.client_private_key;
  } else {
    for (const auto& domain : config.local_domains) {
      if (std::filesystem::exists(layout.issuedCertificate(domain.name), error) &&
          std::filesystem::exists(layout.issuedKey(domain.name), error)) {
        settings.resolved_client_certificate = layout.issuedCertificate(domain.name);
        settings.resolved_client_private_key = layout.issuedKey(domain.name);
        break;
      }
    }
  }
  if (!settings.send.empty()) {
    auto usable = net::checkClientCertificate(settings.resolved_client_certificate,
                                              settings.resolved_client_private_key);
    if (!usable) return makeError("config", "domain_secure: " + usable.error().message);
  }
  return {};
}

}  // namespace bulwark::pki
