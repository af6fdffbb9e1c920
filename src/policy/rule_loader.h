// The rule file format (docs/rules.md): [[rule]] tables in the main configuration file and in
// the files [rules] files names, each with name, priority, mode, stop, and the [rule.if]
// conditions, [rule.unless] exceptions and [rule.then] actions. Every problem names the file,
// line and column and the fix. Rule files are administrator input; list files they name are too.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "policy/rule.h"

namespace bulwark::policy {

struct RuleProblem {
  std::string file;
  int line = 0;
  int column = 0;
  std::string message;
};

// What the rules may refer to, checked at load time.
struct RuleEnvironment {
  std::vector<std::string> send_connectors;  // names route_via may use
  Organisation organisation;
  std::filesystem::path base_directory;    // relative rule files and list files
  std::size_t max_rules = 10000;           // past it: a problem
  std::size_t max_list_entries = 1000000;  // words/addresses from one list file
  // RE2 memory budget of one pattern (RE2::Options::max_mem): a pattern whose compiled program
  // does not fit is a problem. The set of all subject/body patterns gets its own budget; when
  // its automaton outgrows it, patterns run one by one (slower, same answer).
  std::int64_t max_pattern_memory = 1 << 20;
  std::int64_t max_pattern_set_memory = 64 << 20;
  std::size_t max_disclaimer_bytes = 64 * 1024;  // text or HTML of one disclaimer
};

struct RuleLoad {
  std::shared_ptr<const RuleSet> rules;  // set even with problems (holds the good rules)
  std::vector<RuleProblem> problems;
  bool ok() const { return problems.empty(); }
};

// [[rule]] tables of the configuration file plus every file of its [rules] files = [...].
RuleLoad loadRulesFromConfig(const std::filesystem::path& config_file,
                             const RuleEnvironment& environment);
RuleLoad loadRulesFile(const std::filesystem::path& file, const RuleEnvironment& environment);
RuleLoad loadRulesText(std::string_view text, std::string_view source_name,
                       const RuleEnvironment& environment);

// "file:line:column: message" lines, like formatProblems for the configuration.
std::string formatRuleProblems(const std::vector<RuleProblem>& problems);

}  // namespace bulwark::policy
