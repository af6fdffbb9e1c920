// DKIM tag value syntax; see dkim_syntax.h. RFC 6376 2.11, 3.5.
#include "auth/dkim_syntax.h"

#include <limits>

namespace bulwark::auth {
namespace {

bool isFoldingWhitespace(char character) {
  return character == ' ' || character == '\t' || character == '\r' || character == '\n';
}

int hexValue(char character) {
  if (character >= '0' && character <= '9') return character - '0';
  if (character >= 'A' && character <= 'F') return character - 'A' + 10;
  if (character >= 'a' && character <= 'f') return character - 'a' + 10;
  return -1;
}

}  // namespace

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
  std::string decoded;
  decoded.reserve(text.size());
  for (std::size_t index = 0; index < text.size(); ++index) {
    char character = text[index];
    if (isFoldingWhitespace(character)) continue;
    if (character != '=') {
      decoded += character;
      continue;
    }
    if (index + 2 >= text.size()) return std::nullopt;
    int high = hexValue(text[index + 1]);
    int low = hexValue(text[index + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    decoded += static_cast<char>(high * 16 + low);
    index += 2;
  }
  return decoded;
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

std::string_view trimFoldingWhitespace(std::string_view text) {
  while (!text.empty() && isFoldingWhitespace(text.front())) text.remove_prefix(1);
  while (!text.empty() && isFoldingWhitespace(text.back())) text.remove_suffix(1);
  return text;
}

}  // namespace bulwark::auth
