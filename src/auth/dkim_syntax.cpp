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

std::optional<DkimAlgorithm> dkimAlgorithmNamed(std::string_view name) {
  if (name == "rsa-sha256") return DkimAlgorithm::rsa_sha256;
  if (name == "ed25519-sha256") return DkimAlgorithm::ed25519_sha256;
  if (name == "rsa-sha1") return DkimAlgorithm::rsa_sha1;
  return std::nullopt;
}

std::string_view dkimAlgorithmName(DkimAlgorithm algorithm) {
  switch (algorithm) {
    case DkimAlgorithm::rsa_sha256: return "rsa-sha256";
    case DkimAlgorithm::ed25519_sha256: return "ed25519-sha256";
    case DkimAlgorithm::rsa_sha1: return "rsa-sha1";
  }
  return "rsa-sha256";
}

namespace {

Result<Canonicalization> canonicalizationNamed(std::string_view name) {
  if (name == "simple") return Canonicalization::simple;
  if (name == "relaxed") return Canonicalization::relaxed;
  return makeError("syntax", "unknown canonicalization " + std::string(name));
}

}  // namespace

Result<std::pair<Canonicalization, Canonicalization>> parseCanonicalizationTag(
    std::string_view text) {
  const std::size_t slash = text.find('/');
  auto header = canonicalizationNamed(trim(text.substr(0, slash)));
  if (!header) return header.error();
  if (slash == std::string_view::npos) return std::make_pair(*header, Canonicalization::simple);
  auto body = canonicalizationNamed(trim(text.substr(slash + 1)));
  if (!body) return body.error();
  return std::make_pair(*header, *body);
}

std::string_view canonicalizationName(Canonicalization canonicalization) {
  return canonicalization == Canonicalization::relaxed ? "relaxed" : "simple";
}

}  // namespace bulwark::auth
