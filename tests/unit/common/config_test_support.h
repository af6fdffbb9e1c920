// Helpers shared by the configuration tests: load a TOML text as the file "test.toml" and check
// that it yields exactly one problem, at a line and column, whose message says the given thing.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "common/config_loader.h"

namespace bulwark {

inline ConfigLoad load(std::string_view text) {
  return loadConfigText(text, "test.toml");
}

// The one problem of `result`, or a failure listing all of them (and an empty problem).
inline ConfigProblem onlyProblem(const ConfigLoad& result) {
  EXPECT_EQ(result.problems.size(), 1u) << formatProblems("test.toml", result.problems);
  return result.problems.empty() ? ConfigProblem{} : result.problems.front();
}

inline void expectProblem(std::string_view text, int line, int column, std::string_view fragment) {
  const ConfigProblem problem = onlyProblem(load(text));
  EXPECT_EQ(problem.line, line) << problem.message;
  EXPECT_EQ(problem.column, column) << problem.message;
  EXPECT_THAT(problem.message, ::testing::HasSubstr(std::string(fragment)));
}

}  // namespace bulwark
