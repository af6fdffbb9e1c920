// DKIM tag value syntax; see dkim_syntax.h. RFC 6376 2.11, 3.5.
#include "auth/dkim_syntax.h"

#include "common/strings.h"

#include <limits>

namespace bulwark::auth {

bool isDkimDomainName(std::string_view name, bool allow_underscore) {
  if (name.empty() || name.size() > 253) return false;
  std::size_t label_length = 0;
  for (std::size_t index = 0; index < name.size(); ++index) {
    char character = name[index];
    if (character == '.') {
      if (label_length == 0 || name[index - 1] == '-') return false;
      label_length = 0;
      continue;
    }
    bool letter_or_digit = (character >= 'a' && character <= 'z') ||
                           (character >= 'A' && character <= 'Z') ||
                           (character >= '0' && character <= '9');
    bool allowed = letter_or_digit || (character == '-' && label_length > 0) ||
                   (character == '_' && allow_underscore);
    if (!allowed || ++label_length > 63) return false;
  }
  return label_length > 0 && name.back() != '-';
}

std::optional<std::string> decodeDkimQuotedPrintable(std::string_view text) {
  // FWS may appear anywhere in the value and means nothing (RFC 6376 2.11).
  std::string compact;
  compact.reserve(text.size());
  for (char character : text) {
    if (!isFoldingWhitespace(character)) compact += character;
  }
  return decodeHexEscapes(compact, '=');
}

std::optional<std::uint64_t> parseDkimNumber(std::string_view text, std::size_t max_digits) {
  if (text.empty() || text.size() > max_digits) return std::nullopt;
  std::uint64_t value = 0;
  constexpr std::uint64_t kMaximum = std::numeric_limits<std::uint64_t>::max();
  for (char character : text) {
    if (character < '0' || character > '9') return std::nullopt;
    unsigned digit = static_cast<unsigned>(character - '0');
    value = value > (kMaximum - digit) / 10 ? kMaximum : value * 10 + digit;
  }
  return value;
}

}  // namespace bulwark::auth
