// Text in a declared charset (RFC 2045 5.1 / RFC 2046 4.1.2 charset parameter, RFC 2047 encoded
// words) converted to UTF-8 (iconv through GMime's charset-name table). Private to src/mime.
// Input is untrusted: invalid sequences are replaced by U+FFFD, never trusted or dropped silently.
#pragma once

#include <string>
#include <string_view>

namespace bulwark::mime {

struct ConvertedText {
  std::string text;              // UTF-8
  bool replaced = false;         // some input could not be converted (U+FFFD in its place)
  bool unknown_charset = false;  // no converter: valid UTF-8 kept, the rest replaced
};

// `bytes` in `charset` (any case; "" means US-ASCII, RFC 2046 4.1.2) as UTF-8.
ConvertedText convertToUtf8(std::string_view bytes, std::string_view charset);

// Whether a converter from `charset` exists.
bool isKnownCharset(std::string_view charset);

// Appends `bytes` to `out`, keeping well-formed UTF-8 (RFC 3629 3: no overlongs, no surrogates)
// and replacing each other byte with U+FFFD. Returns whether anything was replaced.
bool appendRepairedUtf8(std::string& out, std::string_view bytes);

// Appends the UTF-8 form of `code_point` (U+FFFD for surrogates and values past U+10FFFF).
void appendCodePoint(std::string& out, unsigned long code_point);

}  // namespace bulwark::mime
