// SPF record selection, syntax and macro expansion (RFC 7208 4.5, 4.6, 5, 6, 7, 12); see
// spf_record.h. Input is untrusted DNS text: every length and character is checked, numbers
// saturate instead of overflowing, and nothing here allocates in proportion to anything but the
// input (macro transformers only split and rejoin what is there).
#include "auth/spf_record.h"

#include <arpa/inet.h>

#include <algorithm>

#include "common/strings.h"

namespace bulwark::auth::spf {
namespace {

constexpr std::string_view delimiterCharacters = ".-+,/_=";
constexpr std::size_t maxDomainLength = 253;
constexpr std::size_t maxLabelLength = 63;
// A transformer digit above any useful count (a name has at most 127 labels) is kept at this.
constexpr unsigned maxTransformerDigits = 1000;

bool isAlpha(char character) {
  return (character >= 'a' && character <= 'z') || (character >= 'A' && character <= 'Z');
}
bool isDigit(char character) {
  return character >= '0' && character <= '9';
}
bool isAlphanumeric(char character) {
  return isAlpha(character) || isDigit(character);
}

Error syntaxError(std::string message) {
  return makeError("spf-syntax", std::move(message));
}

// One macro-expand "%{" letter transformers *delimiter "}" (7.1).
struct MacroExpand {
  char letter = 0;          // lower case
  bool url_escape = false;  // written in upper case
  unsigned keep = 0;        // 0: all parts
  bool reverse = false;
  std::string_view delimiters;
};

// Walks a macro-string, calling onLiteral(text) and onMacro(expand); `endsInMacro` tells whether
// the last token was a macro-expand (which includes "%%", "%_", "%-" in the ABNF).
template <class OnLiteral, class OnMacro>
Result<void> walkMacroString(std::string_view text, MacroContext context, OnLiteral onLiteral,
                             OnMacro onMacro, bool* endsInMacro = nullptr) {
  bool lastWasMacro = false;
  std::size_t index = 0;
  while (index < text.size()) {
    const char character = text[index];
    if (character != '%') {
      const auto byte = static_cast<unsigned char>(character);
      const bool allowed =
          (byte >= 0x21 && byte <= 0x7e) || (byte == ' ' && context == MacroContext::explanation);
      if (!allowed) return syntaxError("character not allowed in a macro-string");
      std::size_t end = index + 1;
      while (end < text.size() && text[end] != '%') {
        const auto next = static_cast<unsigned char>(text[end]);
        if (!((next >= 0x21 && next <= 0x7e) ||
              (next == ' ' && context == MacroContext::explanation))) {
          return syntaxError("character not allowed in a macro-string");
        }
        ++end;
      }
      onLiteral(text.substr(index, end - index));
      index = end;
      lastWasMacro = false;
      continue;
    }
    if (index + 1 >= text.size()) return syntaxError("'%' at the end of a macro-string");
    const char kind = text[index + 1];
    if (kind == '%' || kind == '_' || kind == '-') {
      onLiteral(kind == '%' ? std::string_view("%") : kind == '_' ? " " : "%20");
      index += 2;
      lastWasMacro = true;
      continue;
    }
    if (kind != '{') return syntaxError("'%' must be followed by '{', '%', '_' or '-'");
    const std::size_t close = text.find('}', index + 2);
    if (close == std::string_view::npos) return syntaxError("unterminated macro '%{'");
    const std::string_view body = text.substr(index + 2, close - index - 2);
    if (body.empty()) return syntaxError("empty macro '%{}'");
    MacroExpand expand;
    expand.letter = asciiLower(body[0]);
    expand.url_escape = body[0] != expand.letter;
    const bool everywhere =
        std::string_view("slodipvh").find(expand.letter) != std::string_view::npos;
    const bool explanationOnly =
        std::string_view("crt").find(expand.letter) != std::string_view::npos;
    if (!everywhere && !(explanationOnly && context == MacroContext::explanation)) {
      return syntaxError(explanationOnly ? "macros c, r and t are allowed in exp= text only"
                                         : "unknown macro letter");
    }
    std::size_t position = 1;
    bool hasDigits = false;
    while (position < body.size() && isDigit(body[position])) {
      hasDigits = true;
      expand.keep = std::min(maxTransformerDigits,
                             expand.keep * 10 + static_cast<unsigned>(body[position] - '0'));
      ++position;
    }
    if (hasDigits && expand.keep == 0)
      return syntaxError("macro transformer digits must be nonzero");
    if (position < body.size() && (body[position] == 'r' || body[position] == 'R')) {
      expand.reverse = true;
      ++position;
    }
    expand.delimiters = body.substr(position);
    for (const char delimiter : expand.delimiters) {
      if (delimiterCharacters.find(delimiter) == std::string_view::npos) {
        return syntaxError("invalid macro transformer or delimiter");
      }
    }
    onMacro(expand);
    index = close + 1;
    lastWasMacro = true;
  }
  if (endsInMacro != nullptr) *endsInMacro = lastWasMacro;
  return {};
}

// toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
bool isTopLabel(std::string_view label) {
  if (label.empty()) return false;
  bool hasAlpha = false;
  bool hasDash = false;
  for (const char character : label) {
    if (character == '-') {
      hasDash = true;
    } else if (isAlpha(character)) {
      hasAlpha = true;
    } else if (!isDigit(character)) {
      return false;
    }
  }
  if (!hasDash) return hasAlpha;
  return isAlphanumeric(label.front()) && isAlphanumeric(label.back());
}

// ip4-cidr-length / ip6-cidr-length digits: "0" or no leading zero, at most `maximum`.
std::optional<unsigned> parsePrefix(std::string_view digits, unsigned maximum) {
  if (digits.empty() || digits.size() > 3) return std::nullopt;
  if (digits.size() > 1 && digits[0] == '0') return std::nullopt;
  unsigned value = 0;
  for (const char character : digits) {
    if (!isDigit(character)) return std::nullopt;
    value = value * 10 + static_cast<unsigned>(character - '0');
  }
  if (value > maximum) return std::nullopt;
  return value;
}

bool allDigits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), isDigit);
}

// Cuts a trailing dual-cidr-length ("/24", "//64", "/24//64") off `text` into the mechanism.
Result<void> cutDualCidr(std::string_view& text, Mechanism& mechanism) {
  const std::size_t doubleSlash = text.rfind("//");
  if (doubleSlash != std::string_view::npos && allDigits(text.substr(doubleSlash + 2))) {
    auto prefix = parsePrefix(text.substr(doubleSlash + 2), 128);
    if (!prefix) return syntaxError("invalid IPv6 CIDR length");
    mechanism.ipv6_prefix = *prefix;
    text = text.substr(0, doubleSlash);
  }
  const std::size_t slash = text.rfind('/');
  if (slash != std::string_view::npos && allDigits(text.substr(slash + 1))) {
    auto prefix = parsePrefix(text.substr(slash + 1), 32);
    if (!prefix) return syntaxError("invalid IPv4 CIDR length");
    mechanism.ipv4_prefix = *prefix;
    text = text.substr(0, slash);
  }
  return {};
}

// ip4-network: four decimal octets without leading zeros (12 ABNF qnum).
bool parseIpv4Network(std::string_view text, std::array<std::uint8_t, 16>& network) {
  network = {};
  network[10] = 0xff;
  network[11] = 0xff;
  for (int octet = 0; octet < 4; ++octet) {
    const std::size_t dot = octet < 3 ? text.find('.') : text.size();
    if (dot == std::string_view::npos) return false;
    auto value = parsePrefix(text.substr(0, dot), 255);
    if (!value) return false;
    network[12 + octet] = static_cast<std::uint8_t>(*value);
    text = octet < 3 ? text.substr(dot + 1) : std::string_view();
  }
  return true;
}

bool parseIpv6Network(std::string_view text, std::array<std::uint8_t, 16>& network) {
  if (text.empty() || text.size() > 45) return false;
  const std::string copy(text);
  in6_addr address{};
  if (inet_pton(AF_INET6, copy.c_str(), &address) != 1) return false;
  std::copy(std::begin(address.s6_addr), std::end(address.s6_addr), network.begin());
  return true;
}

Result<Mechanism> parseMechanism(std::string_view term) {
  Mechanism mechanism;
  mechanism.term = term;
  std::string_view rest = term;
  switch (rest.empty() ? '\0' : rest.front()) {
    case '+':
      mechanism.qualifier = Qualifier::pass;
      rest.remove_prefix(1);
      break;
    case '-':
      mechanism.qualifier = Qualifier::fail;
      rest.remove_prefix(1);
      break;
    case '~':
      mechanism.qualifier = Qualifier::softfail;
      rest.remove_prefix(1);
      break;
    case '?':
      mechanism.qualifier = Qualifier::neutral;
      rest.remove_prefix(1);
      break;
    default: break;
  }
  const std::size_t nameEnd = std::min(rest.find(':'), rest.find('/'));
  const std::string name = asciiLower(rest.substr(0, nameEnd));
  rest = nameEnd == std::string_view::npos ? std::string_view() : rest.substr(nameEnd);
  const auto unknown = [&] {
    return syntaxError("unknown mechanism \"" + std::string(term) + "\"");
  };
  // ":" domain-spec, required or optional.
  const auto takeDomainSpec = [&](bool required) -> Result<void> {
    if (rest.empty() || rest.front() != ':') {
      if (required) return syntaxError("\"" + name + "\" needs \":\" and a domain");
      return {};
    }
    mechanism.domain_spec = rest.substr(1);
    return checkDomainSpec(mechanism.domain_spec);
  };
  if (name == "all") {
    mechanism.kind = MechanismKind::all;
    if (!rest.empty()) return syntaxError("\"all\" takes no argument");
    return mechanism;
  }
  if (name == "include" || name == "exists") {
    mechanism.kind = name == "include" ? MechanismKind::include : MechanismKind::exists;
    if (auto checked = takeDomainSpec(true); !checked) return checked.error();
    return mechanism;
  }
  if (name == "ptr") {
    mechanism.kind = MechanismKind::ptr;
    if (!rest.empty() && rest.front() != ':') return syntaxError("\"ptr\" takes no CIDR length");
    if (auto checked = takeDomainSpec(false); !checked) return checked.error();
    return mechanism;
  }
  if (name == "a" || name == "mx") {
    mechanism.kind = name == "a" ? MechanismKind::a : MechanismKind::mx;
    if (auto cut = cutDualCidr(rest, mechanism); !cut) return cut.error();
    if (rest.empty()) return mechanism;
    if (rest.front() != ':')
      return syntaxError("invalid CIDR length in \"" + std::string(term) + "\"");
    mechanism.domain_spec = rest.substr(1);
    if (auto checked = checkDomainSpec(mechanism.domain_spec); !checked) return checked.error();
    return mechanism;
  }
  if (name == "ip4" || name == "ip6") {
    const bool ipv4 = name == "ip4";
    mechanism.kind = ipv4 ? MechanismKind::ip4 : MechanismKind::ip6;
    if (rest.empty() || rest.front() != ':')
      return syntaxError("\"" + name + "\" needs an address");
    rest.remove_prefix(1);
    const std::size_t slash = rest.find('/');
    if (slash != std::string_view::npos) {
      auto prefix = parsePrefix(rest.substr(slash + 1), ipv4 ? 32 : 128);
      if (!prefix) return syntaxError("invalid CIDR length in \"" + std::string(term) + "\"");
      (ipv4 ? mechanism.ipv4_prefix : mechanism.ipv6_prefix) = *prefix;
      rest = rest.substr(0, slash);
    }
    const bool parsed = ipv4 ? parseIpv4Network(rest, mechanism.network)
                             : parseIpv6Network(rest, mechanism.network);
    if (!parsed) return syntaxError("invalid address in \"" + std::string(term) + "\"");
    return mechanism;
  }
  return unknown();
}

// name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ), then "=": a modifier (4.6.1, 12).
std::optional<std::size_t> modifierNameLength(std::string_view term) {
  if (term.empty() || !isAlpha(term.front())) return std::nullopt;
  std::size_t index = 1;
  while (index < term.size() && (isAlphanumeric(term[index]) || term[index] == '-' ||
                                 term[index] == '_' || term[index] == '.')) {
    ++index;
  }
  if (index < term.size() && term[index] == '=') return index;
  return std::nullopt;
}

void appendEscaped(std::string& out, std::string_view text) {
  static constexpr char hexDigits[] = "0123456789ABCDEF";
  for (const char character : text) {
    if (isAlphanumeric(character) || character == '-' || character == '.' || character == '_' ||
        character == '~') {
      out += character;
    } else {
      const auto byte = static_cast<unsigned char>(character);
      out += '%';
      out += hexDigits[byte >> 4];
      out += hexDigits[byte & 0x0f];
    }
  }
}

// Split on the delimiters, reverse, keep the rightmost parts, join with "." (7.3).
void appendTransformed(std::string& out, std::string_view value, const MacroExpand& expand) {
  const bool plain = expand.keep == 0 && !expand.reverse &&
                     (expand.delimiters.empty() || expand.delimiters == ".");
  std::string escaped;
  std::string* target = expand.url_escape ? &escaped : &out;
  if (plain) {
    target->append(value);
  } else {
    const std::string_view delimiters = expand.delimiters.empty() ? "." : expand.delimiters;
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    while (true) {
      const std::size_t end = value.find_first_of(delimiters, start);
      parts.push_back(value.substr(start, end == std::string_view::npos ? end : end - start));
      if (end == std::string_view::npos) break;
      start = end + 1;
    }
    if (expand.reverse) std::reverse(parts.begin(), parts.end());
    std::size_t first = 0;
    if (expand.keep != 0 && expand.keep < parts.size()) first = parts.size() - expand.keep;
    for (std::size_t index = first; index < parts.size(); ++index) {
      if (index != first) target->push_back('.');
      target->append(parts[index]);
    }
  }
  if (expand.url_escape) appendEscaped(out, escaped);
}

}  // namespace

std::vector<std::string_view> selectRecords(const std::vector<std::string>& txtRecords) {
  std::vector<std::string_view> selected;
  for (const std::string& record : txtRecords) {
    if (startsWithIgnoreCase(record, "v=spf1") && (record.size() == 6 || record[6] == ' ')) {
      selected.emplace_back(record);
    }
  }
  return selected;
}

Result<void> checkMacroString(std::string_view text, MacroContext context) {
  return walkMacroString(
      text, context, [](std::string_view) {}, [](const MacroExpand&) {});
}

Result<void> checkDomainSpec(std::string_view text) {
  if (text.empty()) return syntaxError("empty domain-spec");
  bool endsInMacro = false;
  auto walked = walkMacroString(
      text, MacroContext::domain, [](std::string_view) {}, [](const MacroExpand&) {}, &endsInMacro);
  if (!walked) return walked;
  if (endsInMacro) return {};
  std::string_view tail = text;
  if (tail.back() == '.') tail.remove_suffix(1);
  const std::size_t dot = tail.rfind('.');
  if (dot == std::string_view::npos || !isTopLabel(tail.substr(dot + 1))) {
    return syntaxError("domain-spec \"" + std::string(text) +
                       "\" does not end in a valid top-level label");
  }
  return {};
}

Result<Record> parseRecord(std::string_view text) {
  for (const char character : text) {
    const auto byte = static_cast<unsigned char>(character);
    if (byte < 0x20 || byte > 0x7e) {
      return syntaxError("the record contains a control or non-ASCII byte (RFC 7208 3.1, 4.6.1)");
    }
  }
  if (!startsWithIgnoreCase(text, "v=spf1") || (text.size() > 6 && text[6] != ' ')) {
    return syntaxError("not an SPF version 1 record");
  }
  Record record;
  std::size_t index = 6;
  while (index < text.size()) {
    if (text[index] == ' ') {
      ++index;
      continue;
    }
    const std::size_t end = std::min(text.find(' ', index), text.size());
    const std::string_view term = text.substr(index, end - index);
    index = end;
    if (auto nameLength = modifierNameLength(term)) {
      const std::string name = asciiLower(term.substr(0, *nameLength));
      const std::string_view value = term.substr(*nameLength + 1);
      if (name == "redirect" || name == "exp") {
        auto& slot = name == "redirect" ? record.redirect : record.explanation;
        if (slot) return syntaxError(name + "= appears more than once (RFC 7208 6)");
        if (auto checked = checkDomainSpec(value); !checked) return checked.error();
        slot = value;
      } else if (auto checked = checkMacroString(value, MacroContext::domain); !checked) {
        return checked.error();  // unknown modifiers are ignored, but must be well-formed
      }
      continue;
    }
    auto mechanism = parseMechanism(term);
    if (!mechanism) return mechanism.error();
    if (mechanism->kind == MechanismKind::all) record.has_all = true;
    record.mechanisms.push_back(*mechanism);
  }
  return record;
}

Result<std::string> expandMacros(std::string_view text, const MacroValues& values,
                                 MacroContext context) {
  std::string out;
  out.reserve(text.size() + 32);
  std::optional<std::string> validated;
  auto walked = walkMacroString(
      text, context, [&out](std::string_view literal) { out.append(literal); },
      [&](const MacroExpand& expand) {
        std::string_view value;
        switch (expand.letter) {
          case 's': value = values.sender; break;
          case 'l': value = values.local_part; break;
          case 'o': value = values.sender_domain; break;
          case 'd': value = values.domain; break;
          case 'h': value = values.helo; break;
          case 'i': value = values.dotted_address; break;
          case 'c': value = values.readable_address; break;
          case 'v': value = values.ipv6 ? "ip6" : "in-addr"; break;
          case 'r': value = values.receiver.empty() ? "unknown" : values.receiver; break;
          case 't': {
            const std::string timestamp = std::to_string(values.timestamp);
            appendTransformed(out, timestamp, expand);
            return;
          }
          case 'p':
            if (!validated) {
              validated = values.validated_domain ? values.validated_domain() : "unknown";
            }
            value = *validated;
            break;
          default: break;
        }
        appendTransformed(out, value, expand);
      });
  if (!walked) return walked.error();
  if (context == MacroContext::domain) {
    if (!out.empty() && out.back() == '.') out.pop_back();
    while (out.size() > maxDomainLength) {
      const std::size_t dot = out.find('.');
      if (dot == std::string::npos) break;
      out.erase(0, dot + 1);
    }
  }
  return out;
}

bool isQueryableName(std::string_view name, bool multiLabel) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > maxDomainLength) return false;
  std::size_t labels = 0;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = name.find('.', start);
    const std::size_t length = (dot == std::string_view::npos ? name.size() : dot) - start;
    if (length == 0 || length > maxLabelLength) return false;
    ++labels;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return !multiLabel || labels >= 2;
}

}  // namespace bulwark::auth::spf
