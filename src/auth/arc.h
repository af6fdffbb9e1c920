// ARC, RFC 8617: validation of a message's ARC chain (section 5.2, the chain validation status
// cv=) and sealing by a forwarding intermediary (5.1): ARC-Authentication-Results,
// ARC-Message-Signature and ARC-Seal. Reuses DKIM's canonicalisation and keys (dkim.h). Inputs are
// untrusted: the message and the key records in DNS.
#pragma once

#include "auth/dkim.h"

#include <string>
#include <string_view>

namespace bulwark::auth {

enum class ArcResult { none, pass, fail };
std::string_view arcResultName(ArcResult result);  // "none", "pass", "fail"

struct ArcValidation {
  ArcResult result = ArcResult::none;  // the chain validation status (RFC 8617 4.4)
  unsigned instances = 0;              // highest i= of a structurally valid chain, else 0
  int oldest_pass = 0;                 // RFC 8617 5.2 step 6 (0 when every AMS verifies)
  std::string reason;                  // why fail, in words
  // The domains of the ARC-Seals, newest first, for DMARC's local policy override decision
  // (RFC 8617 7.2) and for reports.
  std::vector<std::string> sealers;
};

struct ArcVerifyOptions {
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
  unsigned max_instances = 50;  // RFC 8617 4.2.1: i= above 50 is a fail
  unsigned minimum_rsa_bits = 1024;
};

ArcValidation validateArc(dns::Resolver& resolver, std::string_view message,
                          const ArcVerifyOptions& options = {});

struct ArcSealOptions {
  std::string authserv_id;  // ours, first word of the ARC-Authentication-Results value
  // The results payload of our Authentication-Results (everything after "authserv-id;"), copied
  // into ARC-Authentication-Results (RFC 8617 4.1.1).
  std::string authentication_results;
  std::vector<std::string> headers = DkimSignOptions{}.headers;  // AMS h=
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
  // RFC 8617 4.2.1: at most 50 ARC sets; a message that already has this many gets no seal.
  unsigned max_instances = 50;
};

// The three fields of the next ARC set (ARC-Seal, ARC-Message-Signature,
// ARC-Authentication-Results, each with CRLF) to prepend to `message`, given the validation of
// its existing chain. A chain that already failed is sealed with cv=fail (RFC 8617 5.1.2), and
// one at the instance limit is an error (no seal is added). A chain whose newest ARC-Seal already
// says cv=fail gets nothing: the result is an empty string (RFC 8617 5.1 step 2). The instance is
// one more than the highest i= in the message (5.1 step 3), and cv=pass is written only when
// `validation` passed with exactly that many sets.
Result<std::string> sealArc(std::string_view message, const ArcValidation& validation,
                            const DkimKey& key, const ArcSealOptions& options);

}  // namespace bulwark::auth
