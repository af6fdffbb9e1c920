// Which files Domain Security uses ([domain_secure] in docs/configuration.md): the configured
// ones, or the defaults of the built-in PKI. Resolved once at `bulwark serve` start, so that a
// missing or broken file stops the start with its name instead of deferring mail later.
#pragma once

#include <filesystem>

#include "common/config.h"
#include "common/result.h"

namespace bulwark::pki {

// Fills config.domain_secure.resolved_*: the partner trust files (trusted_ca_file, or our CA and
// pki/trusted/*.pem), and our client certificate (client_certificate/client_private_key, or
// pki/issued/<name>.pem of the first [[local_domain]] that has one, or the server certificate).
// When send lists domains, the client certificate and key are loaded once as a check.
Result<void> resolveDomainSecureFiles(Config& config,
                                      const std::filesystem::path& server_certificate,
                                      const std::filesystem::path& server_private_key);

}  // namespace bulwark::pki
