// Loads and validates the TOML configuration (docs/configuration.md). Every problem is reported with
// file, line and column and what to change; loading never stops at the first error.
// Input is trusted (the administrator's file) but may be wrong in any way.
#pragma once

#include "common/config.h"

#include <string>
#include <string_view>
#include <vector>

namespace bulwark {

struct ConfigProblem {
  int line = 0;
  int column = 0;
  std::string message;  // what is wrong and how to fix it
};

struct ConfigLoad {
  Config config;
  std::vector<ConfigProblem> problems;  // empty means config is valid
  bool ok() const { return problems.empty(); }
};

// Parses `text` (named `source_name` in messages). Relative paths in the file are kept as written.
ConfigLoad loadConfigText(std::string_view text, std::string_view source_name);
// Reads the file then calls loadConfigText; a missing file is one problem at line 0.
ConfigLoad loadConfigFile(const std::string& path);

// "file:line:column: message" per problem, one a line.
std::string formatProblems(std::string_view source_name, const std::vector<ConfigProblem>& problems);

}  // namespace bulwark
