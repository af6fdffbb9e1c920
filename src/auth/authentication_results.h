// Authentication-Results, RFC 8601: writing our header field, parsing any instance, and removing
// fields that claim our authserv-id from incoming mail (RFC 8601 5: a stranger must not be able
// to forge our results). Parsed input is untrusted.
#pragma once

#include "common/result.h"

#include <string>
#include <string_view>
#include <vector>

namespace bulwark::auth {

struct ResultProperty {
  std::string type;   // ptype: "smtp", "header", "body", "policy"
  std::string name;   // "mailfrom", "from", "d", "i", "b", ...
  std::string value;  // quoted when written if it needs to be
};

struct MethodResult {
  std::string method;   // "spf", "dkim", "dmarc", "arc", "auth", ... (with "/version" if any)
  std::string result;   // "pass", "fail", ...
  std::string reason;   // reason= (written quoted), may be empty
  std::vector<ResultProperty> properties;
  std::string comment;  // written as a trailing CFWS comment "(...)"; may be empty
};

struct AuthenticationResults {
  std::string authserv_id;
  std::vector<MethodResult> results;  // empty: "none" (RFC 8601 2.2)
};

// The field value only (after "Authentication-Results:"), folded to lines under 78 columns with
// CRLF + tab. Also used as the ARC-Authentication-Results payload.
std::string renderResultsValue(const AuthenticationResults& results);
// "Authentication-Results: <value>\r\n"
std::string renderAuthenticationResults(const AuthenticationResults& results);

// Parses a field value (comments and folding allowed anywhere CFWS is, RFC 8601 2.2).
Result<AuthenticationResults> parseAuthenticationResults(std::string_view value);

// Removes every Authentication-Results field whose authserv-id is `authserv_id`
// (case-insensitive, RFC 8601 5), and unparseable ones that start with it. Returns how many.
std::size_t removeOurAuthenticationResults(std::string& message, std::string_view authserv_id);

}  // namespace bulwark::auth
