// One RFC 2047 encoded word ("=?charset?B|Q?text?="), decoded to its octets: shared by the
// header text decoder (mime_message.h decodeHeaderText) and the address parser that decides the
// author DMARC evaluates (auth/address_list). The input is untrusted; linear in its length.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace bulwark::mime {

struct EncodedWord {
  std::size_t length = 0;      // bytes of the value the word spans, "=?" to "?="
  std::string charset;         // as written, without an RFC 2231 language suffix
  std::string bytes;           // decoded octets, in `charset` (not converted)
  bool known_charset = false;  // the charset can be converted to UTF-8 here
};

// The encoded word starting at `value[at]` ("=?"), or nullopt when none starts there: a bad
// charset token, an encoding other than B or Q, no "?=", or text that does not decode (RFC 2047
// 4.1, 4.2). Folding whitespace inside base64 text is skipped; a '\n' fold marker inside Q text
// too.
std::optional<EncodedWord> readEncodedWord(std::string_view value, std::size_t at);

}  // namespace bulwark::mime
