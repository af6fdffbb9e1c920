// MTA-STS texts (RFC 8461): the `_mta-sts.<domain>` TXT record (3.1), the policy file (3.2) and
// the MX host patterns it lists (4.1). Both texts come from the network and are untrusted; the
// parsers do no I/O and follow the RFC's grammar, ignoring unknown fields (and blank lines).
#pragma once

#include "common/result.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bulwark::sts {

// RFC 8461 3.2 "max_age": at most 31557600 seconds (about a year).
inline constexpr std::uint32_t kMaximumPolicyAgeSeconds = 31557600;

struct TxtRecord {
  std::string id;  // 1 to 32 letters and digits; a new id announces a new policy
};

// One TXT string (the character-strings of one record joined). Errors have code "syntax".
Result<TxtRecord> parseTxtRecord(std::string_view text);

// RFC 8461 3.1: of all TXT records at _mta-sts.<domain>, those not starting with "v=STSv1;" are
// discarded; exactly one may remain and it must parse, otherwise the domain has no usable record.
Result<TxtRecord> selectTxtRecord(const std::vector<std::string>& records);

enum class Mode { enforce, testing, none };
const char* modeName(Mode mode);

struct Policy {
  Mode mode = Mode::none;
  std::vector<std::string> mx;  // lower-case patterns: "mx.example.com" or "*.example.com"
  std::uint32_t max_age_seconds = 0;
};

// The body of https://mta-sts.<domain>/.well-known/mta-sts.txt. Lines end in CRLF or LF; "key:"
// may be followed by spaces or tabs; unknown keys are ignored; for a key given twice (other than
// mx) the first counts. version, mode and max_age are required, and at least one mx unless the
// mode is none. Errors have code "syntax" and say which line is wrong.
Result<Policy> parsePolicy(std::string_view text);

// RFC 8461 4.1: `pattern` names `host` exactly, or is "*." followed by a suffix and `host` is one
// more label in front of that suffix ("*.example.com" matches "mx.example.com", not
// "example.com" nor "a.b.example.com"). ASCII case-insensitive; a trailing dot on `host` is
// ignored.
bool mxPatternMatches(std::string_view pattern, std::string_view host);

// Whether any of the policy's patterns matches `host`.
bool policyAllowsHost(const Policy& policy, std::string_view host);

}  // namespace bulwark::sts
