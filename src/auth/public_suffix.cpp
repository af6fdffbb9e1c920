// The Public Suffix List and Organizational Domains; see public_suffix.h. Rules are kept in
// A-label form in hash sets, and a name is matched by trying each of its suffixes once.
#include "auth/public_suffix.h"

#include "auth/idna.h"
#include "common/strings.h"

#include <fstream>
#include <functional>
#include <iterator>
#include <unordered_set>
#include <vector>

namespace bulwark::auth {
namespace {

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view text) const noexcept {
    return std::hash<std::string_view>{}(text);
  }
};
using RuleSet = std::unordered_set<std::string, StringHash, std::equal_to<>>;

// A name split into labels: as given (ASCII lower-cased) and as A-labels, with the offset of
// each label in both forms so every suffix is a view without copying.
struct SplitName {
  std::string given;
  std::string ascii;
  std::vector<std::size_t> given_starts;
  std::vector<std::size_t> ascii_starts;

  std::size_t labels() const { return given_starts.size(); }
  std::string_view asciiSuffix(std::size_t first) const {
    return std::string_view(ascii).substr(ascii_starts[first]);
  }
  std::string givenSuffix(std::size_t first) const { return given.substr(given_starts[first]); }
};

std::optional<SplitName> splitName(std::string_view domain) {
  if (domain.ends_with('.')) domain.remove_suffix(1);  // the root label of an absolute name
  if (domain.empty()) return std::nullopt;
  SplitName name;
  name.given = asciiLower(domain);
  name.ascii.reserve(domain.size());
  std::size_t position = 0;
  while (true) {
    std::size_t dot = name.given.find('.', position);
    std::size_t end = dot == std::string::npos ? name.given.size() : dot;
    std::optional<std::string> label =
        asciiLabel(std::string_view(name.given).substr(position, end - position));
    if (!label) return std::nullopt;
    name.given_starts.push_back(position);
    name.ascii_starts.push_back(name.ascii.size());
    name.ascii += *label;
    if (dot == std::string::npos) break;
    name.ascii += '.';
    position = dot + 1;
  }
  return name;
}

}  // namespace

struct PublicSuffixList::Rules {
  RuleSet exact;       // "com", "co.uk"
  RuleSet wildcards;   // "ck" for the rule "*.ck"
  RuleSet exceptions;  // "www.ck" for the rule "!www.ck"

  // How many labels of `name` its public suffix has (the prevailing rule of the list's
  // algorithm: an exception first, else the longest match, else the implicit "*").
  std::size_t suffixLabels(const SplitName& name) const {
    const std::size_t count = name.labels();
    for (std::size_t first = 0; first < count; ++first) {
      if (exceptions.find(name.asciiSuffix(first)) != exceptions.end()) return count - first - 1;
    }
    for (std::size_t first = 0; first < count; ++first) {
      if (exact.find(name.asciiSuffix(first)) != exact.end()) return count - first;
      if (first + 1 < count && wildcards.find(name.asciiSuffix(first + 1)) != wildcards.end()) {
        return count - first;
      }
    }
    return 1;
  }
};

const PublicSuffixList::Rules& PublicSuffixList::rules() const {
  static const Rules empty;
  return rules_ ? *rules_ : empty;
}

PublicSuffixList PublicSuffixList::fromText(std::string_view text) {
  auto rules = std::make_shared<Rules>();
  std::size_t position = 0;
  while (position < text.size()) {
    std::size_t newline = text.find('\n', position);
    std::size_t end = newline == std::string_view::npos ? text.size() : newline;
    std::string_view line = text.substr(position, end - position);
    position = end + 1;
    // A rule is the line up to its first whitespace; "//" starts a comment line.
    std::size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos) continue;
    line.remove_prefix(first);
    line = line.substr(0, line.find_first_of(" \t\r"));
    if (line.starts_with("//")) continue;
    RuleSet* target = &rules->exact;
    if (line.starts_with('!')) {
      target = &rules->exceptions;
      line.remove_prefix(1);
    } else if (line.starts_with("*.")) {
      target = &rules->wildcards;
      line.remove_prefix(2);
    }
    std::optional<std::string> ascii = asciiDomain(line);
    // The list is trusted configuration; a rule IDNA refuses can match nothing, so it is dropped.
    if (ascii) target->insert(std::move(*ascii));
  }
  PublicSuffixList list;
  list.rules_ = std::move(rules);
  return list;
}

Result<PublicSuffixList> PublicSuffixList::load(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return makeError("io", "cannot read the public suffix list " + file.string());
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return makeError("io", "cannot read the public suffix list " + file.string());
  PublicSuffixList list = fromText(text);
  if (list.rules().exact.empty() && list.rules().wildcards.empty()) {
    return makeError("syntax", "the public suffix list " + file.string() + " has no rules");
  }
  return list;
}

std::string PublicSuffixList::publicSuffix(std::string_view domain) const {
  std::optional<SplitName> name = splitName(domain);
  if (!name) return {};
  return name->givenSuffix(name->labels() - rules().suffixLabels(*name));
}

std::optional<std::string> PublicSuffixList::registrableDomain(std::string_view domain) const {
  std::optional<SplitName> name = splitName(domain);
  if (!name) return std::nullopt;
  std::size_t suffix = rules().suffixLabels(*name);
  if (suffix >= name->labels()) return std::nullopt;
  return name->givenSuffix(name->labels() - suffix - 1);
}

std::string PublicSuffixList::organizationalDomain(std::string_view domain) const {
  std::optional<SplitName> name = splitName(domain);
  if (!name) return {};
  std::size_t suffix = rules().suffixLabels(*name);
  if (suffix >= name->labels()) return name->given;
  return name->givenSuffix(name->labels() - suffix - 1);
}

}  // namespace bulwark::auth
