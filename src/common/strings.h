// Small string helpers shared by the parsers: ASCII-only case folding, trimming and hex escapes
// (protocol keywords are ASCII; locale-dependent functions must not decide protocol behaviour).
// Inputs may be untrusted: nothing here allocates more than its input's size.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bulwark {

char asciiLower(char c);
std::string asciiLower(std::string_view text);
bool equalsIgnoreCase(std::string_view left, std::string_view right);
bool startsWithIgnoreCase(std::string_view text, std::string_view prefix);
// WSP (RFC 5234 B.1): a space or a horizontal tab.
bool isSpaceOrTab(char c);
// `text` without leading and trailing WSP.
std::string_view trim(std::string_view text);
std::vector<std::string_view> split(std::string_view text, char separator);

// `text` with every `escape` followed by two hex digits (either case) replaced by the byte they
// spell: "=XX" of quoted-printable (RFC 2045 6.7, RFC 2047 4.2, RFC 6376 2.11) and "%XX" of
// URIs (RFC 3986 2.1). nullopt when an escape is not followed by two hex digits.
std::optional<std::string> decodeHexEscapes(std::string_view text, char escape);

}  // namespace bulwark
