// Paths and mailboxes of RFC 5321 4.1.2 (UTF-8 per RFC 6531 3.3 when allowed) and xtext of
// RFC 3461 4. Input is untrusted: every byte is checked against the grammar, UTF-8 must be
// well-formed (RFC 3629), and the limits of RFC 5321 4.5.3.1 (local part 64, domain 255, path 256
// octets) apply.
#include "smtp/proto/address.h"

#include <cstddef>

#include "common/strings.h"

namespace bulwark::smtp {
namespace {

constexpr std::size_t kMaxLocalPartLength = 64;
constexpr std::size_t kMaxDomainLength = 255;
constexpr std::size_t kMaxPathLength = 256;  // including the angle brackets
constexpr std::size_t kMaxLabelLength = 63;  // RFC 1035 2.3.4, for ASCII labels

bool isAlpha(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool isDigit(unsigned char c) {
  return c >= '0' && c <= '9';
}
bool isUpperHex(unsigned char c) {
  return isDigit(c) || (c >= 'A' && c <= 'F');
}
bool isHex(unsigned char c) {
  return isUpperHex(c) || (c >= 'a' && c <= 'f');
}
bool isNonAscii(unsigned char c) {
  return c >= 0x80;
}

// RFC 5322 3.2.3 atext; RFC 6531 3.3 adds UTF8-non-ascii.
bool isAtext(unsigned char c, bool allow_utf8) {
  if (isAlpha(c) || isDigit(c)) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '/':
    case '=':
    case '?':
    case '^':
    case '_':
    case '`':
    case '{':
    case '|':
    case '}':
    case '~': return true;
    default: return allow_utf8 && isNonAscii(c);
  }
}

// RFC 5321 4.1.2 qtextSMTP: printable ASCII except '"' and '\'.
bool isQuotedText(unsigned char c, bool allow_utf8) {
  if (c >= 32 && c <= 126) return c != '"' && c != '\\';
  return allow_utf8 && isNonAscii(c);
}

// RFC 3629 4: rejects overlong forms, surrogates and code points above U+10FFFF, which would
// otherwise let two different byte strings name the same mailbox.
bool isWellFormedUtf8(std::string_view text) {
  std::size_t index = 0;
  while (index < text.size()) {
    const auto lead = static_cast<unsigned char>(text[index]);
    if (lead < 0x80) {
      ++index;
      continue;
    }
    std::size_t length = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) low = 0xA0;
      if (lead == 0xED) high = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) low = 0x90;
      if (lead == 0xF4) high = 0x8F;
    } else {
      return false;
    }
    if (text.size() - index < length) return false;
    const auto second = static_cast<unsigned char>(text[index + 1]);
    if (second < low || second > high) return false;
    for (std::size_t offset = 2; offset < length; ++offset) {
      const auto next = static_cast<unsigned char>(text[index + offset]);
      if (next < 0x80 || next > 0xBF) return false;
    }
    index += length;
  }
  return true;
}

// Non-ASCII bytes only where UTF-8 is allowed, and then only as well-formed UTF-8. Separators are
// ASCII, so checking the whole text is the same as checking each part.
bool hasAcceptableBytes(std::string_view text, bool allow_utf8) {
  for (char c : text) {
    if (isNonAscii(static_cast<unsigned char>(c))) return allow_utf8 && isWellFormedUtf8(text);
  }
  return true;
}

bool isDotAtom(std::string_view text, bool allow_utf8) {
  if (text.empty() || text.front() == '.' || text.back() == '.') return false;
  char previous = 0;
  for (char c : text) {
    if (c == '.') {
      if (previous == '.') return false;
    } else if (!isAtext(static_cast<unsigned char>(c), allow_utf8)) {
      return false;
    }
    previous = c;
  }
  return true;
}

bool isLetterOrDigit(unsigned char c, bool allow_utf8) {
  return isAlpha(c) || isDigit(c) || (allow_utf8 && isNonAscii(c));
}

// RFC 5321 4.1.2 sub-domain: Let-dig [Ldh-str]; U-labels (RFC 6531) when allowed.
bool isLabel(std::string_view label, bool allow_utf8) {
  if (label.empty()) return false;
  if (!isLetterOrDigit(static_cast<unsigned char>(label.front()), allow_utf8)) return false;
  if (!isLetterOrDigit(static_cast<unsigned char>(label.back()), allow_utf8)) return false;
  bool ascii = true;
  for (char c : label) {
    const auto byte = static_cast<unsigned char>(c);
    if (isNonAscii(byte)) ascii = false;
    if (c != '-' && !isLetterOrDigit(byte, allow_utf8)) return false;
  }
  // A U-label's octet count says little about its A-label length, which is what DNS limits.
  return !ascii || label.size() <= kMaxLabelLength;
}

bool isDomain(std::string_view text, bool allow_utf8) {
  if (text.empty() || text.size() > kMaxDomainLength) return false;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = text.find('.', start);
    const std::string_view label =
        text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (!isLabel(label, allow_utf8)) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// RFC 5321 4.1.3 Snum "." Snum "." Snum "." Snum, each 1-3 digits with a value up to 255.
bool isIpv4Literal(std::string_view text) {
  int parts = 0;
  std::size_t index = 0;
  while (true) {
    std::size_t digits = 0;
    int value = 0;
    while (index < text.size() && isDigit(static_cast<unsigned char>(text[index]))) {
      value = value * 10 + (text[index] - '0');
      ++digits;
      ++index;
      if (digits > 3) return false;
    }
    if (digits == 0 || value > 255) return false;
    ++parts;
    if (parts == 4) return index == text.size();
    if (index >= text.size() || text[index] != '.') return false;
    ++index;
  }
}

// Counts 16-bit groups in a colon-separated run ("1:a:ff", possibly ending in an IPv4 address,
// which counts as two); -1 when malformed. An empty run has zero groups.
int countIpv6Groups(std::string_view run, bool ipv4_allowed_at_end) {
  if (run.empty()) return 0;
  int groups = 0;
  std::size_t start = 0;
  while (true) {
    const std::size_t colon = run.find(':', start);
    const std::string_view group =
        run.substr(start, colon == std::string_view::npos ? std::string_view::npos : colon - start);
    if (colon == std::string_view::npos && ipv4_allowed_at_end &&
        group.find('.') != std::string_view::npos) {
      return isIpv4Literal(group) ? groups + 2 : -1;
    }
    if (group.empty() || group.size() > 4) return -1;
    for (char c : group) {
      if (!isHex(static_cast<unsigned char>(c))) return -1;
    }
    ++groups;
    if (colon == std::string_view::npos) return groups;
    start = colon + 1;
  }
}

// RFC 5321 4.1.3 IPv6-addr: full, compressed ("::" standing for at least two groups), and both
// with a trailing IPv4 address.
bool isIpv6Address(std::string_view text) {
  const std::size_t compressed = text.find("::");
  if (compressed == std::string_view::npos) return countIpv6Groups(text, true) == 8;
  const std::string_view before = text.substr(0, compressed);
  const std::string_view after = text.substr(compressed + 2);
  if (after.find("::") != std::string_view::npos) return false;
  const int before_groups = countIpv6Groups(before, false);
  const int after_groups = countIpv6Groups(after, true);
  if (before_groups < 0 || after_groups < 0) return false;
  return before_groups + after_groups <= 6;
}

// The text inside "[ ]". General-address-literals need an IANA-registered tag, and "IPv6" is the
// only one, so anything else is refused.
bool isAddressLiteral(std::string_view text) {
  constexpr std::string_view kIpv6Tag = "IPv6:";  // ABNF strings are case-insensitive
  if (startsWithIgnoreCase(text, kIpv6Tag)) return isIpv6Address(text.substr(kIpv6Tag.size()));
  return isIpv4Literal(text);
}

bool needsQuoting(std::string_view local_part) {
  return !isDotAtom(local_part, true);
}

}  // namespace

std::string Mailbox::text() const {
  if (local_part.empty() && domain.empty()) return {};
  std::string out;
  out.reserve(local_part.size() + domain.size() + 8);
  if (needsQuoting(local_part)) {
    out += '"';
    for (char c : local_part) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  } else {
    out += local_part;
  }
  out += '@';
  if (domain_is_literal) {
    out += '[';
    out += domain;
    out += ']';
  } else {
    out += domain;
  }
  return out;
}

std::optional<Mailbox> parseMailbox(std::string_view text, bool allow_utf8) {
  if (!hasAcceptableBytes(text, allow_utf8)) return std::nullopt;
  Mailbox mailbox;
  std::size_t at = 0;
  if (!text.empty() && text.front() == '"') {
    std::size_t index = 1;
    while (true) {
      if (index >= text.size()) return std::nullopt;  // unbalanced quote
      const auto c = static_cast<unsigned char>(text[index]);
      if (c == '"') break;
      if (c == '\\') {
        // quoted-pairSMTP: a backslash and one printable ASCII character.
        if (index + 1 >= text.size()) return std::nullopt;
        const auto escaped = static_cast<unsigned char>(text[index + 1]);
        if (escaped < 32 || escaped > 126) return std::nullopt;
        mailbox.local_part += static_cast<char>(escaped);
        index += 2;
        continue;
      }
      if (!isQuotedText(c, allow_utf8)) return std::nullopt;
      mailbox.local_part += static_cast<char>(c);
      ++index;
    }
    at = index + 1;
    if (at >= text.size() || text[at] != '@') return std::nullopt;
    // The grammar allows `""@domain`, but an empty local part means the null path everywhere
    // downstream, so it is refused here.
    if (mailbox.local_part.empty()) return std::nullopt;
    mailbox.local_part_was_quoted = true;
  } else {
    at = text.find('@');
    if (at == std::string_view::npos) return std::nullopt;
    if (!isDotAtom(text.substr(0, at), allow_utf8)) return std::nullopt;
    mailbox.local_part = std::string(text.substr(0, at));
  }
  if (at > kMaxLocalPartLength) return std::nullopt;  // as written, quotes included

  const std::string_view domain = text.substr(at + 1);
  if (!domain.empty() && domain.front() == '[') {
    if (domain.size() > kMaxDomainLength || domain.back() != ']') return std::nullopt;
    const std::string_view literal = domain.substr(1, domain.size() - 2);
    if (!isAddressLiteral(literal)) return std::nullopt;
    mailbox.domain = std::string(literal);
    mailbox.domain_is_literal = true;
  } else {
    if (!isDomain(domain, allow_utf8)) return std::nullopt;
    mailbox.domain = std::string(domain);
  }
  return mailbox;
}

std::optional<Mailbox> parsePath(std::string_view text, bool allow_utf8) {
  if (text.size() < 2 || text.size() > kMaxPathLength) return std::nullopt;
  if (text.front() != '<' || text.back() != '>') return std::nullopt;
  std::string_view inner = text.substr(1, text.size() - 2);
  if (inner.empty()) return Mailbox{};
  if (inner.front() == '@') {
    // A-d-l ":" Mailbox. Route domains cannot contain ':', so the first one ends the route.
    const std::size_t colon = inner.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    std::string_view route = inner.substr(0, colon);
    while (true) {
      if (route.empty() || route.front() != '@') return std::nullopt;
      const std::size_t comma = route.find(',');
      const std::string_view domain =
          route.substr(1, comma == std::string_view::npos ? std::string_view::npos : comma - 1);
      if (!hasAcceptableBytes(domain, allow_utf8) || !isDomain(domain, allow_utf8)) {
        return std::nullopt;
      }
      if (comma == std::string_view::npos) break;
      route.remove_prefix(comma + 1);
    }
    inner.remove_prefix(colon + 1);
  }
  return parseMailbox(inner, allow_utf8);
}

std::optional<std::string> decodeXtext(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t index = 0;
  while (index < text.size()) {
    const auto c = static_cast<unsigned char>(text[index]);
    if (c == '+') {
      // hexchar: "+" and two upper-case hex digits (RFC 3461 4).
      if (text.size() - index < 3) return std::nullopt;
      const auto high = static_cast<unsigned char>(text[index + 1]);
      const auto low = static_cast<unsigned char>(text[index + 2]);
      if (!isUpperHex(high) || !isUpperHex(low)) return std::nullopt;
      auto value = [](unsigned char digit) {
        return isDigit(digit) ? digit - '0' : digit - 'A' + 10;
      };
      out += static_cast<char>(value(high) * 16 + value(low));
      index += 3;
      continue;
    }
    // xchar: "!" to "~" except "+" (handled above) and "=".
    if (c < 33 || c > 126 || c == '=') return std::nullopt;
    out += static_cast<char>(c);
    ++index;
  }
  return out;
}

}  // namespace bulwark::smtp
