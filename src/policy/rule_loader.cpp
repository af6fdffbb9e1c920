// Reads [[rule]] tables (rule_loader.h, docs/rule-reference.md) into a RuleSet, collecting every
// problem with its file, line, column and fix instead of stopping at the first. Rule files and
// the list files they name are administrator input: checked, never trusted to be well formed.
// This is start-up code: toml++ reports syntax errors as exceptions, caught here.
#include "policy/rule_loader.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <span>
#include <sstream>
#include <unordered_map>

#include "common/strings.h"
#include "policy/actions.h"
#include "policy/conditions.h"
#include "policy/file_type.h"
#include "policy/message_scan.h"
#include "policy/text_folding.h"

namespace bulwark::policy {
namespace {

// A table's entries in the order they are written (toml++ keeps tables ordered by key): rules
// explain themselves, and run their actions, in the order the administrator wrote.
std::vector<std::pair<const toml::key*, const toml::node*>> entriesInFileOrder(
    const toml::table& table) {
  std::vector<std::pair<const toml::key*, const toml::node*>> entries;
  for (auto&& [key, value] : table) entries.emplace_back(&key, &value);
  std::stable_sort(entries.begin(), entries.end(), [](const auto& left, const auto& right) {
    const auto& a = left.first->source().begin;
    const auto& b = right.first->source().begin;
    return std::pair(a.line, a.column) < std::pair(b.line, b.column);
  });
  return entries;
}

constexpr std::string_view kRuleKeys[] = {"name", "priority", "mode", "stop",
                                          "if",   "unless",   "then"};
constexpr std::string_view kConditionKeys[] = {
    "from",
    "to",
    "from_domain",
    "to_domain",
    "from_scope",
    "to_scope",
    "subject_contains",
    "subject_or_body_contains",
    "subject_matches",
    "subject_or_body_matches",
    "header_contains",
    "header_matches",
    "attachment_name_matches",
    "attachment_extension",
    "attachment_content_type",
    "attachment_size_over",
    "has_attachment",
    "attachment_password_protected",
    "message_size_over",
    "spf",
    "dkim",
    "dmarc",
    "spam",
    "classification",
    "domain_secured",
    "received_over_tls",
    "authenticated_sender",
};
constexpr std::string_view kActionKeys[] = {
    "require_tls",   "reject",          "delete",     "quarantine",         "redirect_to",
    "add_to",        "add_cc",          "add_bcc",    "add_header",         "set_header",
    "remove_header", "prepend_subject", "disclaimer", "set_classification", "route_via",
    "set_spam",
};
// Result names as Authentication-Results writes them (RFC 8601 2.7.1, 2.7.2; RFC 7489 11.2).
constexpr std::string_view kSpfResults[] = {"none",     "neutral",   "pass",     "fail",
                                            "softfail", "temperror", "permerror"};
constexpr std::string_view kDkimResults[] = {"none",    "pass",      "fail",     "policy",
                                             "neutral", "temperror", "permerror"};
constexpr std::string_view kDmarcResults[] = {"none", "pass", "fail", "temperror", "permerror"};

// Optimal string alignment distance (a swapped pair counts as one edit: the common typo).
std::size_t editDistance(std::string_view left, std::string_view right) {
  const std::size_t columns = right.size() + 1;
  std::vector<std::size_t> cost((left.size() + 1) * columns);
  auto at = [&](std::size_t row, std::size_t column) -> std::size_t& {
    return cost[row * columns + column];
  };
  for (std::size_t row = 0; row <= left.size(); ++row) at(row, 0) = row;
  for (std::size_t column = 0; column < columns; ++column) at(0, column) = column;
  for (std::size_t row = 1; row <= left.size(); ++row) {
    for (std::size_t column = 1; column < columns; ++column) {
      std::size_t best =
          std::min({at(row - 1, column) + 1, at(row, column - 1) + 1,
                    at(row - 1, column - 1) + (left[row - 1] == right[column - 1] ? 0 : 1)});
      if (row > 1 && column > 1 && left[row - 1] == right[column - 2] &&
          left[row - 2] == right[column - 1]) {
        best = std::min(best, at(row - 2, column - 2) + 1);
      }
      at(row, column) = best;
    }
  }
  return at(left.size(), right.size());
}

// "; did you mean \"x\"?" for the closest candidate within a third of the word (at least 2
// edits), else "".
std::string didYouMean(std::string_view word, std::span<const std::string_view> candidates) {
  const std::string lowered = asciiLower(word);
  std::string_view best;
  std::size_t best_distance = std::max<std::size_t>(3, lowered.size() / 3 + 1);
  for (std::string_view candidate : candidates) {
    const std::size_t distance = editDistance(lowered, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best.empty() ? std::string() : "; did you mean \"" + std::string(best) + "\"?";
}

std::string joinNames(std::span<const std::string_view> names) {
  std::string out;
  for (std::string_view name : names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

std::string_view typeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "a list";
    default: return "a date or time";
  }
}

struct ReadFile {
  std::string text;
  std::string error;  // empty when read
};

ReadFile readWholeFile(const std::filesystem::path& path) {
  std::ifstream stream(path, std::ios::binary);
  if (!stream) return {"", std::strerror(errno)};
  std::ostringstream buffer;
  buffer << stream.rdbuf();
  if (stream.bad()) return {"", "read error"};
  return {buffer.str(), ""};
}

// "10MB", "512 KiB", "100": sizes in bytes, binary multiples (K = 1024).
std::optional<std::uint64_t> parseSize(std::string_view text) {
  text = trim(text);
  std::uint64_t value = 0;
  std::size_t index = 0;
  for (; index < text.size() && text[index] >= '0' && text[index] <= '9'; ++index) {
    const std::uint64_t digit = static_cast<std::uint64_t>(text[index] - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  if (index == 0) return std::nullopt;
  const std::string unit = asciiLower(trim(text.substr(index)));
  std::uint64_t multiplier = 1;
  if (unit.empty() || unit == "b") {
    multiplier = 1;
  } else if (unit == "k" || unit == "kb" || unit == "kib") {
    multiplier = 1024;
  } else if (unit == "m" || unit == "mb" || unit == "mib") {
    multiplier = 1024 * 1024;
  } else if (unit == "g" || unit == "gb" || unit == "gib") {
    multiplier = 1024ULL * 1024 * 1024;
  } else {
    return std::nullopt;
  }
  if (value > UINT64_MAX / multiplier) return std::nullopt;
  return value * multiplier;
}

// A value of a list condition: where it came from, for problems about it.
struct Entry {
  std::string value;
  std::string file;
  int line = 0;
  int column = 0;
};

// What all the files of one load share: the rules so far, the one text index, the names.
struct LoadState {
  explicit LoadState(const RuleEnvironment& environment_in) : environment(environment_in) {}
  const RuleEnvironment& environment;
  std::shared_ptr<TextIndex> index = std::make_shared<TextIndex>();
  std::vector<Rule> rules;
  std::vector<RuleProblem> problems;
  std::unordered_map<std::string, std::string> names;  // rule name → "file:line" of its first use
  bool too_many_reported = false;
};

class FileLoader {
 public:
  FileLoader(LoadState& state, std::string file, std::filesystem::path directory)
      : state_(state), file_(std::move(file)), directory_(std::move(directory)) {}

  ~FileLoader() {
    std::stable_sort(
        problems_.begin(), problems_.end(), [](const RuleProblem& left, const RuleProblem& right) {
          return std::pair(left.line, left.column) < std::pair(right.line, right.column);
        });
    state_.problems.insert(state_.problems.end(), problems_.begin(), problems_.end());
  }

  void report(const toml::source_region& where, std::string message) {
    problems_.push_back({file_, static_cast<int>(where.begin.line),
                         static_cast<int>(where.begin.column), std::move(message)});
  }
  void report(const toml::node& node, std::string message) {
    report(node.source(), std::move(message));
  }
  void reportAt(const Entry& entry, std::string message) {
    // An entry from a list file is reported against that file.
    if (entry.file != file_) {
      state_.problems.push_back({entry.file, entry.line, entry.column, std::move(message)});
    } else {
      problems_.push_back({entry.file, entry.line, entry.column, std::move(message)});
    }
  }

  // The [[rule]] tables under `node` (the value of the "rule" key).
  void loadRuleArray(const toml::node& node) {
    const toml::array* array = node.as_array();
    if (array == nullptr || !array->is_array_of_tables()) {
      report(node,
             "\"rule\" must be an array of tables: write each rule as [[rule]] (two "
             "brackets), not [rule] or rule = ...");
      return;
    }
    for (const toml::node& element : *array) loadRule(*element.as_table());
  }

  // A rule file: [[rule]] tables only.
  void loadRuleFile(const toml::table& root) {
    for (auto&& [key, node] : root) {
      if (key.str() == "rule") {
        loadRuleArray(node);
      } else {
        report(key.source(), "unknown key \"" + std::string(key.str()) +
                                 "\" in a rule file: it holds only [[rule]] tables" +
                                 didYouMean(key.str(), std::array<std::string_view, 1>{"rule"}));
      }
    }
  }

 private:
  std::size_t problemCount() const { return problems_.size() + state_.problems.size(); }

  void loadRule(const toml::table& table) {
    const std::size_t problems_before = problemCount();
    Rule rule;
    rule.source = file_;
    rule.line = static_cast<int>(table.source().begin.line);
    for (auto&& [key, node] : table) {
      if (std::find(std::begin(kRuleKeys), std::end(kRuleKeys), key.str()) == std::end(kRuleKeys)) {
        std::string message = "unknown rule key \"" + std::string(key.str()) + "\"";
        if (key.str() == "stop_processing") {
          message += "; write stop = true";
        } else if (std::find(std::begin(kConditionKeys), std::end(kConditionKeys), key.str()) !=
                   std::end(kConditionKeys)) {
          message += ": conditions go in the rule's [rule.if] table";
        } else if (std::find(std::begin(kActionKeys), std::end(kActionKeys), key.str()) !=
                   std::end(kActionKeys)) {
          message += ": actions go in the rule's [rule.then] table";
        } else {
          message += didYouMean(key.str(), kRuleKeys) + " (known: " + joinNames(kRuleKeys) + ")";
        }
        report(key.source(), std::move(message));
      }
    }
    if (const toml::node* name = table.get("name")) {
      if (const auto* text = name->as_string(); text != nullptr && !text->get().empty()) {
        rule.name = text->get();
        const std::string here = file_ + ":" + std::to_string(rule.line);
        auto [previous, inserted] = state_.names.emplace(rule.name, here);
        if (!inserted) {
          report(*name, "rule name \"" + rule.name + "\" is already used by the rule at " +
                            previous->second + "; give each rule its own name");
        }
      } else {
        report(*name, "name must be a non-empty string, e.g. name = \"top secret needs TLS\"");
      }
    } else {
      report(table,
             "this rule has no name; add name = \"...\" (names appear in traces and in "
             "`bulwark rules test`)");
    }
    if (const toml::node* priority = table.get("priority")) {
      const auto* value = priority->as_integer();
      if (value == nullptr || value->get() < -1000000 || value->get() > 1000000) {
        report(*priority,
               "priority must be an integer between -1000000 and 1000000 (lower runs "
               "first), e.g. priority = 10");
      } else {
        rule.priority = static_cast<int>(value->get());
      }
    }
    if (const toml::node* mode = table.get("mode")) {
      const auto* value = mode->as_string();
      if (value != nullptr && value->get() == "enforce") {
        rule.mode = RuleMode::enforce;
      } else if (value != nullptr && value->get() == "test") {
        rule.mode = RuleMode::test;
      } else {
        report(
            *mode,
            "mode must be \"enforce\" or \"test\" (test only records what the rule "
            "would do)" +
                (value != nullptr
                     ? didYouMean(value->get(), std::array<std::string_view, 2>{"enforce", "test"})
                     : std::string()));
      }
    }
    if (const toml::node* stop = table.get("stop")) {
      if (const auto* value = stop->as_boolean()) {
        rule.stop_processing = value->get();
      } else {
        report(*stop, "stop must be true or false, not " + std::string(typeName(*stop)));
      }
    }
    if (const toml::node* conditions = table.get("if")) {
      loadConditions(*conditions, "if", rule.conditions);
    }
    if (const toml::node* exceptions = table.get("unless")) {
      loadConditions(*exceptions, "unless", rule.exceptions);
    }
    const toml::node* actions = table.get("then");
    if (actions != nullptr) loadActions(*actions, rule);
    if (actions != nullptr && actions->is_table() && rule.actions.empty() &&
        problemCount() == problems_before) {
      report(*actions,
             "[rule.then] has no actions; a rule must do something (e.g. "
             "require_tls = true, quarantine = true)");
    } else if (actions == nullptr) {
      report(table, "rule \"" + rule.name +
                        "\" has no [rule.then] table; a rule must do "
                        "something (e.g. require_tls = true)");
    }
    if (problemCount() != problems_before) return;  // only good rules are kept
    if (state_.rules.size() >= state_.environment.max_rules) {
      if (!state_.too_many_reported) {
        report(table, "more than " + std::to_string(state_.environment.max_rules) +
                          " rules; this one and the rest are ignored; merge rules (one rule can "
                          "hold a whole word list) or raise the limit");
        state_.too_many_reported = true;
      }
      return;
    }
    state_.rules.push_back(std::move(rule));
  }

  // ---- values ----

  // A string or a list of strings; "@path" strings (when allowed) expand to the lines of that
  // list file. Nothing (after a problem) when the shape is wrong.
  std::optional<std::vector<Entry>> strings(const toml::node& node, std::string_view key,
                                            bool list_files) {
    std::vector<Entry> entries;
    auto one = [&](const toml::node& element) -> bool {
      const auto* text = element.as_string();
      if (text == nullptr) {
        report(element, std::string(key) + " takes strings, not " + std::string(typeName(element)) +
                            "; e.g. " + std::string(key) + " = [\"...\"]");
        return false;
      }
      const auto& where = element.source().begin;
      const std::string& value = text->get();
      if (list_files && value.starts_with("@")) {
        return readListFile(element, value.substr(1), entries);
      }
      entries.push_back(
          {value, file_, static_cast<int>(where.line), static_cast<int>(where.column)});
      return true;
    };
    if (const toml::array* array = node.as_array()) {
      if (array->empty()) {
        report(node, std::string(key) +
                         " is an empty list; give at least one value or remove "
                         "the line");
        return std::nullopt;
      }
      bool good = true;
      for (const toml::node& element : *array) good = one(element) && good;
      if (!good) return std::nullopt;
      return entries;
    }
    if (!one(node)) return std::nullopt;
    return entries;
  }

  bool readListFile(const toml::node& node, std::string_view name, std::vector<Entry>& entries) {
    std::filesystem::path path(name);
    if (path.is_relative()) path = directory_ / path;
    ReadFile read = readWholeFile(path);
    if (!read.error.empty()) {
      report(node, "cannot read list file \"" + path.string() + "\": " + read.error +
                       "; check the path (relative paths start at the rule file's folder)");
      return false;
    }
    std::size_t count = 0;
    int line_number = 0;
    std::string_view rest = read.text;
    while (!rest.empty()) {
      const std::size_t end = rest.find('\n');
      std::string_view line = rest.substr(0, end);
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
      ++line_number;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      line = trim(line);
      if (line.empty() || line.front() == '#') continue;
      if (++count > state_.environment.max_list_entries) {
        report(node, "list file \"" + path.string() + "\" has more than " +
                         std::to_string(state_.environment.max_list_entries) +
                         " entries; split it over several rules or raise the limit");
        return false;
      }
      entries.push_back({std::string(line), path.string(), line_number, 1});
    }
    return true;
  }

  std::optional<bool> boolean(const toml::node& node, std::string_view key) {
    if (const auto* value = node.as_boolean()) return value->get();
    report(node, std::string(key) + " must be true or false, not " + std::string(typeName(node)));
    return std::nullopt;
  }

  std::optional<std::uint64_t> size(const toml::node& node, std::string_view key) {
    if (const auto* value = node.as_integer()) {
      if (value->get() >= 0) return static_cast<std::uint64_t>(value->get());
    } else if (const auto* text = node.as_string()) {
      if (auto bytes = parseSize(text->get())) return bytes;
    }
    report(node, std::string(key) +
                     " must be a size in bytes: a number or a string such as "
                     "\"10MB\", \"512KB\" (K, M, G are multiples of 1024)");
    return std::nullopt;
  }

  std::optional<Pattern> pattern(const Entry& entry) {
    auto compiled = Pattern::compile(entry.value, state_.environment.max_pattern_memory);
    if (!compiled) {
      reportAt(entry, "pattern /" + entry.value + "/: " + compiled.error().message);
      return std::nullopt;
    }
    return std::move(*compiled);
  }

  // Tables of {name, <list_key>} or a list of them (header_contains, header_matches).
  template <class Each>
  bool headerTables(const toml::node& node, std::string_view key, std::string_view list_key,
                    Each&& each) {
    std::vector<const toml::table*> tables;
    if (const toml::table* table = node.as_table()) {
      tables.push_back(table);
    } else if (const toml::array* array = node.as_array();
               array != nullptr && array->is_array_of_tables() && !array->empty()) {
      for (const toml::node& element : *array) tables.push_back(element.as_table());
    } else {
      report(node, std::string(key) + " takes {name = \"X-Mailer\", " + std::string(list_key) +
                       " = [...]} or a list of them");
      return false;
    }
    bool good = true;
    for (const toml::table* table : tables) {
      for (auto&& [field, value] : *table) {
        if (field.str() != "name" && field.str() != list_key) {
          const std::array<std::string_view, 2> known{"name", list_key};
          report(field.source(), "unknown key \"" + std::string(field.str()) + "\" in " +
                                     std::string(key) + didYouMean(field.str(), known));
          good = false;
        }
      }
      const toml::node* name = table->get("name");
      const toml::node* values = table->get(list_key);
      if (name == nullptr || !name->is_string() || values == nullptr) {
        report(*table, std::string(key) + " needs name = \"Header-Name\" and " +
                           std::string(list_key) + " = [...]");
        good = false;
        continue;
      }
      const std::string& header = name->as_string()->get();
      if (auto problem = checkHeaderName(header)) {
        report(*name, *problem);
        good = false;
        continue;
      }
      auto entries = strings(*values, list_key, true);
      if (!entries) {
        good = false;
        continue;
      }
      good = each(header, *entries) && good;
    }
    return good;
  }

  // ---- conditions ----

  void loadConditions(const toml::node& node, std::string_view table_name,
                      std::vector<std::unique_ptr<Condition>>& out) {
    const toml::table* table = node.as_table();
    if (table == nullptr) {
      report(node, "\"" + std::string(table_name) + "\" must be a table: write [rule." +
                       std::string(table_name) + "] under the rule");
      return;
    }
    // toml++ tables are ordered by key; conditions run (and explain themselves) in file order.
    const auto entries = entriesInFileOrder(*table);
    for (const auto& [key, value] : entries) {
      if (auto condition = loadCondition(*key, *value)) out.push_back(std::move(condition));
    }
  }

  std::unique_ptr<Condition> loadCondition(const toml::key& key, const toml::node& node) {
    const std::string_view name = key.str();
    const RuleEnvironment& environment = state_.environment;
    if (name == "from" || name == "to") {
      auto entries = strings(node, name, true);
      if (!entries) return nullptr;
      AddressPatterns patterns;
      bool good = true;
      for (const Entry& entry : *entries) {
        if (entry.value.find('*') == std::string::npos) {
          if (auto problem = checkAddress(entry.value)) {
            reportAt(entry, *problem + "; use *@example.com for a whole domain");
            good = false;
            continue;
          }
        } else if (entry.value.find_first_of(" \t") != std::string::npos) {
          reportAt(entry, "address pattern \"" + entry.value + "\" contains a space");
          good = false;
          continue;
        }
        patterns.add(entry.value);
      }
      if (!good) return nullptr;
      return makeAddressCondition(name == "from" ? AddressRole::sender : AddressRole::recipient,
                                  std::move(patterns));
    }
    if (name == "from_domain" || name == "to_domain") {
      auto entries = strings(node, name, true);
      if (!entries) return nullptr;
      DomainPatterns patterns;
      bool good = true;
      for (const Entry& entry : *entries) {
        std::string_view domain = entry.value;
        if (domain.starts_with("*.")) domain.remove_prefix(2);
        const bool valid = !domain.empty() && domain.front() != '.' &&
                           domain.find_first_of("@*/ \t") == std::string_view::npos;
        if (!valid) {
          reportAt(entry, "\"" + entry.value +
                              "\" is not a domain: write \"example.com\" or "
                              "\"*.example.com\" (its subdomains); addresses go in from / to");
          good = false;
          continue;
        }
        patterns.add(entry.value);
      }
      if (!good) return nullptr;
      return makeDomainCondition(
          name == "from_domain" ? AddressRole::sender : AddressRole::recipient,
          std::move(patterns));
    }
    if (name == "from_scope" || name == "to_scope") {
      const auto* value = node.as_string();
      if (value == nullptr || (value->get() != "inside" && value->get() != "outside")) {
        report(node, std::string(name) +
                         " must be \"inside\" or \"outside\" (the organisation: "
                         "local domains and [rules] internal_domains)");
        return nullptr;
      }
      return makeScopeCondition(name == "from_scope" ? AddressRole::sender : AddressRole::recipient,
                                value->get() == "inside");
    }
    if (name == "subject_contains" || name == "subject_or_body_contains") {
      auto entries = strings(node, name, true);
      if (!entries) return nullptr;
      std::vector<IndexedText> words;
      bool good = true;
      for (const Entry& entry : *entries) {
        if (trim(foldForMatching(entry.value)).empty()) {
          reportAt(entry, "an empty word matches nothing; remove it");
          good = false;
          continue;
        }
        // Leading and trailing spaces would only hide the word at the text's edges.
        const std::string word(trim(entry.value));
        words.push_back({word, state_.index->addWord(word)});
      }
      if (!good) return nullptr;
      return makeWordsCondition(
          state_.index, std::move(words),
          name == "subject_contains" ? TextScope::subject : TextScope::subject_or_body);
    }
    if (name == "subject_matches" || name == "subject_or_body_matches") {
      auto entries = strings(node, name, true);
      if (!entries) return nullptr;
      std::vector<IndexedText> patterns;
      bool good = true;
      for (const Entry& entry : *entries) {
        auto id = state_.index->addPattern(entry.value, environment.max_pattern_memory);
        if (!id) {
          reportAt(entry, "pattern /" + entry.value + "/: " + id.error().message);
          good = false;
          continue;
        }
        patterns.push_back({entry.value, *id});
      }
      if (!good) return nullptr;
      return makePatternsCondition(
          state_.index, std::move(patterns),
          name == "subject_matches" ? TextScope::subject : TextScope::subject_or_body);
    }
    if (name == "header_contains") {
      std::vector<HeaderWords> fields;
      const bool good = headerTables(
          node, name, "words", [&](const std::string& header, const std::vector<Entry>& entries) {
            HeaderWords field{header, {}};
            for (const Entry& entry : entries) {
              if (trim(foldForMatching(entry.value)).empty()) {
                reportAt(entry, "an empty word matches nothing; remove it");
                return false;
              }
              field.words.emplace_back(trim(entry.value));
            }
            fields.push_back(std::move(field));
            return true;
          });
      if (!good) return nullptr;
      return makeHeaderWordsCondition(std::move(fields));
    }
    if (name == "header_matches") {
      std::vector<HeaderPatterns> fields;
      const bool good =
          headerTables(node, name, "patterns",
                       [&](const std::string& header, const std::vector<Entry>& entries) {
                         HeaderPatterns field{header, {}};
                         bool all = true;
                         for (const Entry& entry : entries) {
                           if (auto compiled = pattern(entry)) {
                             field.patterns.push_back(std::move(*compiled));
                           } else {
                             all = false;
                           }
                         }
                         fields.push_back(std::move(field));
                         return all;
                       });
      if (!good) return nullptr;
      return makeHeaderPatternsCondition(std::move(fields));
    }
    if (name == "attachment_name_matches") {
      auto entries = strings(node, name, true);
      if (!entries) return nullptr;
      std::vector<Pattern> patterns;
      bool good = true;
      for (const Entry& entry : *entries) {
        if (auto compiled = pattern(entry)) {
          patterns.push_back(std::move(*compiled));
        } else {
          good = false;
        }
      }
      if (!good) return nullptr;
      return makeAttachmentNameCondition(std::move(patterns));
    }
    if (name == "attachment_extension") {
      auto entries = strings(node, name, true);
      if (!entries) return nullptr;
      std::vector<std::string> extensions;
      bool good = true;
      for (const Entry& entry : *entries) {
        std::string_view extension = trim(entry.value);
        while (extension.starts_with(".")) extension.remove_prefix(1);
        if (extension.empty() || extension.find_first_of("./\\ *") != std::string_view::npos) {
          reportAt(entry, "\"" + entry.value +
                              "\" is not a file extension; write e.g. \"exe\" "
                              "(patterns go in attachment_name_matches)");
          good = false;
          continue;
        }
        extensions.push_back(asciiLower(extension));
      }
      if (!good) return nullptr;
      return makeAttachmentExtensionCondition(std::move(extensions));
    }
    if (name == "attachment_content_type") {
      auto entries = strings(node, name, false);
      if (!entries) return nullptr;
      std::vector<FileKind> kinds;
      const std::vector<std::string_view> names = fileKindNames();
      bool good = true;
      for (const Entry& entry : *entries) {
        if (auto kind = fileKindFromName(asciiLower(entry.value))) {
          kinds.push_back(*kind);
        } else {
          reportAt(entry, "unknown content type \"" + entry.value + "\"" +
                              didYouMean(entry.value, names) + " (known: " + joinNames(names) +
                              ")");
          good = false;
        }
      }
      if (!good) return nullptr;
      return makeAttachmentTypeCondition(std::move(kinds));
    }
    if (name == "attachment_size_over" || name == "message_size_over") {
      auto bytes = size(node, name);
      if (!bytes) return nullptr;
      return name == "message_size_over" ? makeMessageSizeCondition(*bytes)
                                         : makeAttachmentSizeCondition(*bytes);
    }
    if (name == "has_attachment" || name == "attachment_password_protected") {
      auto expected = boolean(node, name);
      if (!expected) return nullptr;
      return name == "has_attachment" ? makeHasAttachmentCondition(*expected)
                                      : makePasswordProtectedCondition(*expected);
    }
    if (name == "spf" || name == "dkim" || name == "dmarc") {
      auto entries = strings(node, name, false);
      if (!entries) return nullptr;
      const std::span<const std::string_view> known =
          name == "spf"    ? std::span<const std::string_view>(kSpfResults)
          : name == "dkim" ? std::span<const std::string_view>(kDkimResults)
                           : std::span<const std::string_view>(kDmarcResults);
      std::vector<std::string> results;
      bool good = true;
      for (const Entry& entry : *entries) {
        const std::string lowered = asciiLower(entry.value);
        if (std::find(known.begin(), known.end(), lowered) == known.end()) {
          reportAt(entry, "\"" + entry.value + "\" is not a " + std::string(name) + " result" +
                              didYouMean(entry.value, known) + " (known: " + joinNames(known) +
                              ")");
          good = false;
          continue;
        }
        results.push_back(lowered);
      }
      if (!good) return nullptr;
      const AuthenticationCheck check = name == "spf"    ? AuthenticationCheck::spf
                                        : name == "dkim" ? AuthenticationCheck::dkim
                                                         : AuthenticationCheck::dmarc;
      return makeAuthenticationCondition(check, std::move(results));
    }
    if (name == "spam" || name == "domain_secured" || name == "received_over_tls" ||
        name == "authenticated_sender") {
      auto expected = boolean(node, name);
      if (!expected) return nullptr;
      const MessageFlag flag = name == "spam"                ? MessageFlag::spam
                               : name == "domain_secured"    ? MessageFlag::domain_secured
                               : name == "received_over_tls" ? MessageFlag::received_over_tls
                                                             : MessageFlag::authenticated_sender;
      return makeFlagCondition(flag, *expected);
    }
    if (name == "classification") {
      auto entries = strings(node, name, false);
      if (!entries) return nullptr;
      std::vector<std::string> classifications;
      for (const Entry& entry : *entries) {
        if (trim(entry.value).empty()) {
          reportAt(entry, "an empty classification matches nothing; remove it");
          return nullptr;
        }
        classifications.emplace_back(trim(entry.value));
      }
      return makeClassificationCondition(std::move(classifications));
    }
    std::string message = "unknown condition \"" + std::string(name) + "\"";
    if (std::find(std::begin(kActionKeys), std::end(kActionKeys), name) != std::end(kActionKeys)) {
      message += ": it is an action; move it to [rule.then]";
    } else {
      message += didYouMean(name, kConditionKeys) + " (see docs/rule-reference.md)";
    }
    report(key.source(), std::move(message));
    return nullptr;
  }

  // ---- actions ----

  void loadActions(const toml::node& node, Rule& rule) {
    const toml::table* table = node.as_table();
    if (table == nullptr) {
      report(node, "\"then\" must be a table: write [rule.then] under the rule");
      return;
    }
    const auto entries = entriesInFileOrder(*table);
    for (const auto& [key, value] : entries) {
      if (auto action = loadAction(*key, *value, rule)) rule.actions.push_back(std::move(action));
    }
  }

  std::optional<std::vector<std::string>> addresses(const toml::node& node, std::string_view key) {
    auto entries = strings(node, key, false);
    if (!entries) return std::nullopt;
    std::vector<std::string> out;
    bool good = true;
    for (const Entry& entry : *entries) {
      if (auto problem = checkAddress(entry.value)) {
        reportAt(entry, *problem);
        good = false;
        continue;
      }
      out.push_back(entry.value);
    }
    if (!good) return std::nullopt;
    return out;
  }

  std::optional<std::string> headerText(const toml::node& node, std::string_view what) {
    const auto* text = node.as_string();
    if (text == nullptr || text->get().empty()) {
      report(node, std::string(what) + " must be a non-empty string");
      return std::nullopt;
    }
    if (auto problem = checkHeaderValue(text->get())) {
      report(node, *problem);
      return std::nullopt;
    }
    return text->get();
  }

  std::unique_ptr<Action> loadHeaderEdits(const toml::node& node, std::string_view key,
                                          HeaderEdit::Kind kind) {
    std::vector<const toml::table*> tables;
    if (const toml::table* table = node.as_table()) {
      tables.push_back(table);
    } else if (const toml::array* array = node.as_array();
               array != nullptr && array->is_array_of_tables() && !array->empty()) {
      for (const toml::node& element : *array) tables.push_back(element.as_table());
    } else {
      report(node, std::string(key) +
                       " takes {name = \"X-Example\", value = \"...\"} or a "
                       "list of them");
      return nullptr;
    }
    std::vector<HeaderEdit> edits;
    bool good = true;
    for (const toml::table* table : tables) {
      for (auto&& [field, value] : *table) {
        if (field.str() != "name" && field.str() != "value") {
          report(field.source(),
                 "unknown key \"" + std::string(field.str()) + "\" in " + std::string(key) +
                     didYouMean(field.str(), std::array<std::string_view, 2>{"name", "value"}));
          good = false;
        }
      }
      const toml::node* name = table->get("name");
      const toml::node* value = table->get("value");
      if (name == nullptr || !name->is_string() || value == nullptr) {
        report(*table, std::string(key) + " needs name = \"X-Example\" and value = \"...\"");
        good = false;
        continue;
      }
      if (auto problem = checkHeaderName(name->as_string()->get())) {
        report(*name, *problem);
        good = false;
        continue;
      }
      auto text = headerText(*value, "the header value");
      if (!text) {
        good = false;
        continue;
      }
      edits.push_back({kind, name->as_string()->get(), *text});
    }
    if (!good) return nullptr;
    return makeHeaderEditAction(kind, std::move(edits));
  }

  std::optional<std::string> disclaimerText(const toml::table& table, std::string_view key,
                                            std::string_view file_key) {
    const toml::node* inline_text = table.get(key);
    const toml::node* file = table.get(file_key);
    if (inline_text != nullptr && file != nullptr) {
      report(*file,
             "give either " + std::string(key) + " or " + std::string(file_key) + ", not both");
      return std::nullopt;
    }
    std::string text;
    const toml::node* where = inline_text != nullptr ? inline_text : file;
    if (where == nullptr) return std::string();
    if (!where->is_string()) {
      report(*where, std::string(where == file ? file_key : key) + " must be a string");
      return std::nullopt;
    }
    if (inline_text != nullptr) {
      text = inline_text->as_string()->get();
    } else {
      std::filesystem::path path(file->as_string()->get());
      if (path.is_relative()) path = directory_ / path;
      ReadFile read = readWholeFile(path);
      if (!read.error.empty()) {
        report(*file, "cannot read \"" + path.string() + "\": " + read.error +
                          "; check the path (relative paths start at the rule file's folder)");
        return std::nullopt;
      }
      text = std::move(read.text);
    }
    if (text.size() > state_.environment.max_disclaimer_bytes) {
      report(*where, "the disclaimer is " + std::to_string(text.size()) + " bytes; keep it under " +
                         std::to_string(state_.environment.max_disclaimer_bytes));
      return std::nullopt;
    }
    if (!isValidUtf8(text)) {
      report(*where, "the disclaimer is not valid UTF-8; save it as UTF-8");
      return std::nullopt;
    }
    return text;
  }

  std::unique_ptr<Action> loadAction(const toml::key& key, const toml::node& node,
                                     const Rule& rule) {
    const std::string_view name = key.str();
    auto requireTrue = [&](std::string_view what) -> bool {
      auto value = boolean(node, name);
      if (!value) return false;
      if (!*value) {
        report(node, std::string(name) + " = false does nothing; remove the line (" +
                         std::string(what) + ")");
        return false;
      }
      return true;
    };
    if (name == "require_tls") {
      if (!requireTrue("a later rule cannot lower a TLS requirement")) return nullptr;
      return makeRequireTlsAction();
    }
    if (name == "delete") {
      if (!requireTrue("delete = true drops the message silently")) return nullptr;
      return makeDeleteAction();
    }
    if (name == "reject") {
      Rejection rejection;
      rejection.text = "Message refused by policy";
      if (const auto* flag = node.as_boolean()) {
        if (!flag->get()) {
          report(node, "reject = false does nothing; remove the line");
          return nullptr;
        }
      } else if (const toml::table* table = node.as_table()) {
        constexpr std::string_view kKeys[] = {"code", "status", "text"};
        bool good = true;
        for (auto&& [field, value] : *table) {
          if (std::find(std::begin(kKeys), std::end(kKeys), field.str()) == std::end(kKeys)) {
            report(field.source(), "unknown key \"" + std::string(field.str()) + "\" in reject" +
                                       didYouMean(field.str(), kKeys) +
                                       " (known: code, status, text)");
            good = false;
          }
        }
        if (!good) return nullptr;
        if (const toml::node* code = table->get("code")) {
          const auto* value = code->as_integer();
          if (value == nullptr) {
            report(*code, "code must be an integer such as 550");
            return nullptr;
          }
          rejection.code = static_cast<int>(std::clamp<std::int64_t>(value->get(), -1, 1000));
          // A temporary code without a status gets the matching temporary status.
          if (table->get("status") == nullptr && rejection.code / 100 == 4) {
            rejection.enhanced = "4.7.1";
          }
        }
        if (const toml::node* status = table->get("status")) {
          if (!status->is_string()) {
            report(*status, "status must be a string such as \"5.7.1\"");
            return nullptr;
          }
          rejection.enhanced = status->as_string()->get();
        }
        if (const toml::node* text = table->get("text")) {
          if (!text->is_string() || text->as_string()->get().empty()) {
            report(*text, "text must be a non-empty string");
            return nullptr;
          }
          rejection.text = text->as_string()->get();
        }
      } else {
        report(node, "reject takes {code = 550, status = \"5.7.1\", text = \"...\"} or true");
        return nullptr;
      }
      if (auto problem = checkRejection(rejection)) {
        report(node, *problem);
        return nullptr;
      }
      return makeRejectAction(std::move(rejection));
    }
    if (name == "quarantine") {
      std::string reason = "rule \"" + rule.name + "\"";
      if (const auto* flag = node.as_boolean()) {
        if (!flag->get()) {
          report(node, "quarantine = false does nothing; remove the line");
          return nullptr;
        }
      } else if (const auto* text = node.as_string(); text != nullptr && !text->get().empty()) {
        if (auto problem = checkHeaderValue(text->get())) {
          report(node, *problem);
          return nullptr;
        }
        reason = text->get();
      } else {
        report(node, "quarantine takes true or a reason, e.g. quarantine = \"DMARC failure\"");
        return nullptr;
      }
      return makeQuarantineAction(std::move(reason));
    }
    if (name == "redirect_to" || name == "add_to" || name == "add_cc" || name == "add_bcc") {
      auto list = addresses(node, name);
      if (!list) return nullptr;
      if (name == "redirect_to") return makeRedirectAction(std::move(*list));
      const RecipientField field = name == "add_to"   ? RecipientField::to
                                   : name == "add_cc" ? RecipientField::cc
                                                      : RecipientField::bcc;
      return makeAddRecipientsAction(field, std::move(*list));
    }
    if (name == "add_header") return loadHeaderEdits(node, name, HeaderEdit::Kind::add);
    if (name == "set_header") return loadHeaderEdits(node, name, HeaderEdit::Kind::set);
    if (name == "remove_header") {
      auto entries = strings(node, name, false);
      if (!entries) return nullptr;
      std::vector<HeaderEdit> edits;
      bool good = true;
      for (const Entry& entry : *entries) {
        if (auto problem = checkHeaderName(entry.value)) {
          reportAt(entry, *problem);
          good = false;
          continue;
        }
        edits.push_back({HeaderEdit::Kind::remove, entry.value, ""});
      }
      if (!good) return nullptr;
      return makeHeaderEditAction(HeaderEdit::Kind::remove, std::move(edits));
    }
    if (name == "prepend_subject") {
      auto prefix = headerText(node, name);
      if (!prefix) return nullptr;
      return makePrependSubjectAction(std::move(*prefix));
    }
    if (name == "set_classification") {
      auto classification = headerText(node, name);
      if (!classification) return nullptr;
      return makeSetClassificationAction(std::move(*classification));
    }
    if (name == "route_via") {
      const auto* text = node.as_string();
      if (text == nullptr) {
        report(node, "route_via takes the name of a [[send_connector]]");
        return nullptr;
      }
      const auto& connectors = state_.environment.send_connectors;
      if (std::find(connectors.begin(), connectors.end(), text->get()) == connectors.end()) {
        std::vector<std::string_view> names(connectors.begin(), connectors.end());
        report(node, "no [[send_connector]] is named \"" + text->get() + "\"" +
                         didYouMean(text->get(), names) +
                         (names.empty() ? std::string(" (none are configured)")
                                        : " (configured: " + joinNames(names) + ")"));
        return nullptr;
      }
      return makeRouteViaAction(text->get());
    }
    if (name == "set_spam") {
      auto value = boolean(node, name);
      if (!value) return nullptr;
      return makeSetSpamAction(*value);
    }
    if (name == "disclaimer") {
      const toml::table* table = node.as_table();
      if (table == nullptr) {
        report(node, "disclaimer takes {text = \"...\", html = \"...\", signed = \"wrap\"}");
        return nullptr;
      }
      constexpr std::string_view kKeys[] = {"text", "html", "text_file", "html_file", "signed"};
      bool good = true;
      for (auto&& [field, value] : *table) {
        if (std::find(std::begin(kKeys), std::end(kKeys), field.str()) == std::end(kKeys)) {
          report(field.source(), "unknown key \"" + std::string(field.str()) + "\" in disclaimer" +
                                     didYouMean(field.str(), kKeys) +
                                     " (known: " + joinNames(kKeys) + ")");
          good = false;
        }
      }
      mime::Disclaimer disclaimer;
      auto text = disclaimerText(*table, "text", "text_file");
      auto html = disclaimerText(*table, "html", "html_file");
      if (!good || !text || !html) return nullptr;
      if (text->empty() && html->empty()) {
        report(node,
               "the disclaimer needs text (or text_file), and html (or html_file) for "
               "HTML parts if the text should not be used there");
        return nullptr;
      }
      disclaimer.text = std::move(*text);
      disclaimer.html = std::move(*html);
      if (const toml::node* signed_node = table->get("signed")) {
        const auto* value = signed_node->as_string();
        if (value != nullptr && value->get() == "wrap") {
          disclaimer.signed_content = mime::Disclaimer::SignedContent::wrap;
        } else if (value != nullptr && value->get() == "skip") {
          disclaimer.signed_content = mime::Disclaimer::SignedContent::skip;
        } else {
          report(*signed_node,
                 "signed must be \"wrap\" (the signed original becomes an "
                 "attachment) or \"skip\" (signed messages get no disclaimer)");
          return nullptr;
        }
      }
      return makeDisclaimerAction(std::move(disclaimer));
    }
    std::string message = "unknown action \"" + std::string(name) + "\"";
    if (name == "stop_processing" || name == "stop") {
      message += ": stop processing is the rule's own key: write stop = true next to name";
    } else if (std::find(std::begin(kConditionKeys), std::end(kConditionKeys), name) !=
               std::end(kConditionKeys)) {
      message += ": it is a condition; move it to [rule.if] (or [rule.unless])";
    } else {
      message += didYouMean(name, kActionKeys) + " (see docs/rule-reference.md)";
    }
    report(key.source(), std::move(message));
    return nullptr;
  }

  LoadState& state_;
  std::string file_;
  std::filesystem::path directory_;
  std::vector<RuleProblem> problems_;
};

std::optional<toml::table> parseToml(std::string_view text, const std::string& source,
                                     std::vector<RuleProblem>& problems) {
  try {
    return toml::parse(text, source);
  } catch (const toml::parse_error& error) {
    problems.push_back({source, static_cast<int>(error.source().begin.line),
                        static_cast<int>(error.source().begin.column),
                        "TOML syntax error: " + std::string(error.description()) +
                            "; fix the syntax (see https://toml.io), then check again"});
    return std::nullopt;
  }
}

void loadFileInto(LoadState& state, const std::filesystem::path& file) {
  ReadFile read = readWholeFile(file);
  if (!read.error.empty()) {
    state.problems.push_back(
        {file.string(), 0, 0,
         "cannot read rule file: " + read.error + "; check the path and its permissions"});
    return;
  }
  auto root = parseToml(read.text, file.string(), state.problems);
  if (!root) return;
  FileLoader loader(state, file.string(), file.parent_path());
  loader.loadRuleFile(*root);
}

RuleLoad finish(LoadState& state) {
  state.index->build(state.environment.max_pattern_set_memory);
  RuleLoad load;
  load.rules = std::make_shared<const RuleSet>(std::move(state.rules));
  load.problems = std::move(state.problems);
  return load;
}

}  // namespace

RuleLoad loadRulesText(std::string_view text, std::string_view source_name,
                       const RuleEnvironment& environment) {
  LoadState state(environment);
  const std::string source(source_name);
  if (auto root = parseToml(text, source, state.problems)) {
    FileLoader loader(state, source, environment.base_directory);
    loader.loadRuleFile(*root);
  }
  return finish(state);
}

RuleLoad loadRulesFile(const std::filesystem::path& file, const RuleEnvironment& environment) {
  LoadState state(environment);
  loadFileInto(state, file);
  return finish(state);
}

RuleLoad loadRulesFromConfig(const std::filesystem::path& config_file,
                             const RuleEnvironment& environment) {
  LoadState state(environment);
  ReadFile read = readWholeFile(config_file);
  if (!read.error.empty()) {
    state.problems.push_back(
        {config_file.string(), 0, 0,
         "cannot read configuration file: " + read.error + "; check the path and its permissions"});
    return finish(state);
  }
  auto root = parseToml(read.text, config_file.string(), state.problems);
  if (!root) return finish(state);
  const std::filesystem::path directory = config_file.parent_path();
  std::vector<std::filesystem::path> files;
  {
    FileLoader loader(state, config_file.string(), directory);
    if (const toml::node* rules = root->get("rule")) loader.loadRuleArray(*rules);
    // [rules] files: the config loader checks their shape; here they are read.
    if (const toml::table* settings = root->get_as<toml::table>("rules")) {
      if (const toml::array* list = settings->get_as<toml::array>("files")) {
        for (const toml::node& element : *list) {
          const auto* name = element.as_string();
          if (name == nullptr || name->get().empty()) continue;
          std::filesystem::path path(name->get());
          if (path.is_relative()) path = directory / path;
          std::error_code error;
          if (!std::filesystem::is_regular_file(path, error)) {
            loader.report(element, "rule file \"" + path.string() +
                                       "\" does not exist or is not a file; fix the path "
                                       "(relative paths start at the configuration's folder)");
            continue;
          }
          files.push_back(std::move(path));
        }
      }
    }
  }
  for (const std::filesystem::path& file : files) loadFileInto(state, file);
  return finish(state);
}

std::string formatRuleProblems(const std::vector<RuleProblem>& problems) {
  std::string out;
  for (const RuleProblem& problem : problems) {
    out += problem.file;
    if (problem.line > 0) {
      out += ":" + std::to_string(problem.line) + ":" + std::to_string(problem.column);
    }
    out += ": " + problem.message + "\n";
  }
  return out;
}

}  // namespace bulwark::policy
