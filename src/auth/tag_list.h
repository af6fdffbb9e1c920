// Tag=value lists (RFC 6376 3.2), the syntax of DKIM-Signature, DKIM key records, ARC header
// fields (RFC 8617 4.1) and DMARC records (RFC 7489 6.4). Input is untrusted (headers, DNS).
#pragma once

#include "common/result.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bulwark::auth {

struct Tag {
  std::string name;   // as written (tag names are case-sensitive, RFC 6376 3.2)
  std::string value;  // folding whitespace around it removed; inner whitespace kept
};

// Parsed tags in order. A syntax error (no '=', a bad tag name) or a duplicate tag
// ("Tags with duplicate names MUST NOT occur", RFC 6376 3.2) is an error naming the tag.
// One trailing ';' is allowed.
Result<std::vector<Tag>> parseTagList(std::string_view text);

// The value of `name`, nullopt when absent.
std::optional<std::string_view> findTag(const std::vector<Tag>& tags, std::string_view name);

// `value` without any whitespace (FWS inside base64 b= / bh= / p= values, RFC 6376 3.5).
std::string withoutWhitespace(std::string_view value);

// The same without a copy when `value` has no whitespace (an unfolded b= or p=): `value` itself;
// otherwise the text without whitespace, kept in `storage`.
std::string_view withoutWhitespace(std::string_view value, std::string& storage);

}  // namespace bulwark::auth
