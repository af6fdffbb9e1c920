// The certificate a fresh install uses (MISSION.md 1: "a self-signed certificate generated on
// first start"): an ECDSA P-256 key and a self-signed X.509 certificate naming our hostname,
// written once under the data directory and reused on every start after.
#pragma once

#include "common/result.h"

#include <filesystem>
#include <string>

namespace bulwark::net {

struct CertificateFiles {
  std::filesystem::path certificate;
  std::filesystem::path private_key;
  bool generated = false;  // true when this call created them
};

// Returns `directory`/self-signed.{crt,key}, creating both (key mode 0600, atomic rename) if absent.
Result<CertificateFiles> ensureSelfSignedCertificate(const std::filesystem::path& directory,
                                                     const std::string& hostname);

}  // namespace bulwark::net
