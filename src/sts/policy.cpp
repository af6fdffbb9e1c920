// MTA-STS record and policy parsers; see policy.h. The grammar is RFC 8461 3.1 and 3.2 (ABNF);
// field names and the fixed values ("v=STSv1", "STSv1", the modes) are case-sensitive there (%s).
#include "sts/policy.h"

#include "common/strings.h"

#include <algorithm>
#include <charconv>

namespace bulwark::sts {
namespace {

bool isAlphaNumeric(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// sts-ext-name / sts-policy-ext-name: a letter or digit, then up to 31 of letters, digits, "_",
// "-", ".".
bool isFieldName(std::string_view name) {
  if (name.empty() || name.size() > 32 || !isAlphaNumeric(name.front())) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return isAlphaNumeric(c) || c == '_' || c == '-' || c == '.'; });
}

// sts-ext-value: printable ASCII except "=", ";" and space.
bool isTxtExtensionValue(std::string_view value) {
  if (value.empty()) return false;
  return std::all_of(value.begin(), value.end(), [](char c) {
    const auto octet = static_cast<unsigned char>(c);
    return octet >= 0x21 && octet <= 0x7e && c != '=' && c != ';';
  });
}

// sts-policy-ext-value: visible characters (ASCII or UTF-8 octets) with spaces or tabs between.
bool isPolicyValue(std::string_view value) {
  if (value.empty() || isSpaceOrTab(value.front()) || isSpaceOrTab(value.back())) return false;
  return std::all_of(value.begin(), value.end(), [](char c) {
    const auto octet = static_cast<unsigned char>(c);
    return isSpaceOrTab(c) || (octet >= 0x21 && octet != 0x7f);
  });
}

// RFC 5321 Domain: labels of letters, digits and hyphens, not starting or ending with a hyphen.
bool isDomain(std::string_view domain) {
  if (domain.empty() || domain.size() > 253) return false;
  for (std::string_view label : split(domain, '.')) {
    if (label.empty() || label.size() > 63) return false;
    if (!isAlphaNumeric(label.front()) || !isAlphaNumeric(label.back())) return false;
    if (!std::all_of(label.begin(), label.end(),
                     [](char c) { return isAlphaNumeric(c) || c == '-'; })) {
      return false;
    }
  }
  return true;
}

Error syntaxError(std::string message) {
  return makeError("syntax", std::move(message));
}

std::string_view withoutTrailingDot(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return name;
}

}  // namespace

const char* modeName(Mode mode) {
  switch (mode) {
    case Mode::enforce: return "enforce";
    case Mode::testing: return "testing";
    case Mode::none: return "none";
  }
  return "?";
}

Result<TxtRecord> parseTxtRecord(std::string_view text) {
  // sts-text-record = sts-version 1*(sts-field-delim sts-field) [sts-field-delim]
  constexpr std::string_view kVersion = "v=STSv1";
  if (!text.starts_with(kVersion)) {
    return syntaxError("the record does not start with \"v=STSv1\"");
  }
  const std::vector<std::string_view> pieces = split(text.substr(kVersion.size()), ';');
  if (!trim(pieces.front()).empty()) {
    return syntaxError("\"v=STSv1\" is not followed by \";\"");
  }
  TxtRecord record;
  bool have_id = false;
  std::size_t fields = 0;
  for (std::size_t index = 1; index < pieces.size(); ++index) {
    const std::string_view field = trim(pieces[index]);
    if (field.empty()) {
      // Only the delimiter after the last field may be followed by nothing.
      if (index + 1 == pieces.size()) break;
      return syntaxError("an empty field between two \";\"");
    }
    ++fields;
    const std::size_t equals = field.find('=');
    if (equals == std::string_view::npos) {
      return syntaxError("the field \"" + std::string(field) + "\" has no \"=\"");
    }
    const std::string_view name = field.substr(0, equals);
    const std::string_view value = field.substr(equals + 1);
    if (name == "id") {
      if (value.empty() || value.size() > 32 ||
          !std::all_of(value.begin(), value.end(), isAlphaNumeric)) {
        return syntaxError("the id \"" + std::string(value) +
                           "\" is not 1 to 32 letters and digits");
      }
      if (!have_id) record.id = std::string(value);
      have_id = true;
    } else if (!isFieldName(name) || !isTxtExtensionValue(value)) {
      return syntaxError("the field \"" + std::string(field) + "\" is malformed");
    }
  }
  if (fields == 0 || !have_id) return syntaxError("the record has no id field");
  return record;
}

Result<TxtRecord> selectTxtRecord(const std::vector<std::string>& records) {
  const std::string* chosen = nullptr;
  std::size_t candidates = 0;
  for (const auto& record : records) {
    if (!record.starts_with("v=STSv1;")) continue;
    ++candidates;
    chosen = &record;
  }
  if (candidates == 0) return syntaxError("no TXT record starts with \"v=STSv1;\"");
  if (candidates > 1) {
    return syntaxError(std::to_string(candidates) +
                       " TXT records start with \"v=STSv1;\"; exactly one is allowed");
  }
  return parseTxtRecord(*chosen);
}

Result<Policy> parsePolicy(std::string_view text) {
  Policy policy;
  bool have_version = false;
  bool have_mode = false;
  bool have_max_age = false;
  std::size_t line_number = 0;
  for (std::string_view line : split(text, '\n')) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::string where = "line " + std::to_string(line_number) + ": ";
    if (trim(line).empty()) continue;
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return syntaxError(where + "not \"key: value\"");
    const std::string_view key = line.substr(0, colon);
    // sts-policy-field-delim = ":" *WSP; trailing spaces of the line belong to no value.
    const std::string_view value = trim(line.substr(colon + 1));
    if (!isFieldName(key)) return syntaxError(where + "\"" + std::string(key) + "\" is not a key");
    if (!isPolicyValue(value)) {
      return syntaxError(where + "the value of \"" + std::string(key) + "\" is empty or malformed");
    }
    if (key == "version") {
      if (have_version) continue;
      if (value != "STSv1") return syntaxError(where + "version must be STSv1");
      have_version = true;
    } else if (key == "mode") {
      if (have_mode) continue;
      if (value == "enforce") {
        policy.mode = Mode::enforce;
      } else if (value == "testing") {
        policy.mode = Mode::testing;
      } else if (value == "none") {
        policy.mode = Mode::none;
      } else {
        return syntaxError(where + "mode \"" + std::string(value) +
                           "\" is not enforce, testing or none");
      }
      have_mode = true;
    } else if (key == "max_age") {
      if (have_max_age) continue;
      std::uint64_t seconds = 0;
      const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), seconds);
      if (value.size() > 10 || error != std::errc() || end != value.data() + value.size() ||
          seconds > kMaximumPolicyAgeSeconds) {
        return syntaxError(where + "max_age must be a number of seconds up to " +
                           std::to_string(kMaximumPolicyAgeSeconds));
      }
      policy.max_age_seconds = static_cast<std::uint32_t>(seconds);
      have_max_age = true;
    } else if (key == "mx") {
      const std::string pattern = asciiLower(value);
      const std::string_view domain =
          pattern.starts_with("*.") ? std::string_view(pattern).substr(2) : pattern;
      if (!isDomain(domain)) {
        return syntaxError(where + "mx \"" + std::string(value) +
                           "\" is not a host name or \"*.\" and a domain");
      }
      if (std::find(policy.mx.begin(), policy.mx.end(), pattern) == policy.mx.end()) {
        policy.mx.push_back(pattern);
      }
    }
    // Any other key is an extension of a later revision: ignored (RFC 8461 3.2).
  }
  if (!have_version) return syntaxError("the policy has no version field");
  if (!have_mode) return syntaxError("the policy has no mode field");
  if (!have_max_age) return syntaxError("the policy has no max_age field");
  if (policy.mx.empty() && policy.mode != Mode::none) {
    return syntaxError("the policy lists no mx (only mode none may omit it)");
  }
  return policy;
}

bool mxPatternMatches(std::string_view pattern, std::string_view host) {
  const std::string name = asciiLower(withoutTrailingDot(host));
  const std::string lower_pattern = asciiLower(pattern);
  if (name.empty()) return false;
  if (lower_pattern.starts_with("*.")) {
    const std::string_view suffix = std::string_view(lower_pattern).substr(1);  // ".example.com"
    if (name.size() <= suffix.size() || !name.ends_with(suffix)) return false;
    const std::string_view label = std::string_view(name).substr(0, name.size() - suffix.size());
    return label.find('.') == std::string_view::npos;
  }
  return name == lower_pattern;
}

bool policyAllowsHost(const Policy& policy, std::string_view host) {
  return std::any_of(policy.mx.begin(), policy.mx.end(),
                     [&](const std::string& pattern) { return mxPatternMatches(pattern, host); });
}

}  // namespace bulwark::sts
