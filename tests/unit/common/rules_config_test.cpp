// [rules]: rule files (relative to the configuration file's folder), internal domains, the
// action for unparseable mail and the MIME limits, each bad value named with line and column.
#include "common/config_loader.h"
#include "config_test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace bulwark {
namespace {

TEST(RulesConfig, DefaultsQuarantineUnparseableMailWithinTheMimeLimits) {
  ConfigLoad loaded = load("");
  ASSERT_TRUE(loaded.ok());
  EXPECT_TRUE(loaded.config.rules.files.empty());
  EXPECT_EQ(loaded.config.rules.unparseable_action, "quarantine");
  EXPECT_EQ(loaded.config.rules.mime_max_depth, 20u);
  EXPECT_EQ(loaded.config.rules.mime_max_parts, 2000u);
}

TEST(RulesConfig, EveryKeyIsRead) {
  ConfigLoad loaded = load(R"([rules]
files = ["/etc/bulwark/rules.toml", "more.toml"]
internal_domains = ["Example.com", "*.example.net"]
unparseable_action = "reject"
mime_max_depth = 5
mime_max_parts = 50
[[rule]]
name = "read by src/policy"
)");
  ASSERT_TRUE(loaded.ok()) << formatProblems("test.toml", loaded.problems);
  const RulesSettings& rules = loaded.config.rules;
  ASSERT_EQ(rules.files.size(), 2u);
  EXPECT_EQ(rules.files[0], "/etc/bulwark/rules.toml");
  EXPECT_EQ(rules.internal_domains, (std::vector<std::string>{"example.com", "*.example.net"}));
  EXPECT_EQ(rules.unparseable_action, "reject");
  EXPECT_EQ(rules.mime_max_depth, 5u);
  EXPECT_EQ(rules.mime_max_parts, 50u);
}

TEST(RulesConfig, RelativeRuleFilesAreRelativeToTheConfigurationFile) {
  const std::filesystem::path folder =
      std::filesystem::temp_directory_path() / ("bulwark-rules-config-" + std::to_string(getpid()));
  std::filesystem::create_directories(folder);
  std::ofstream(folder / "bulwark.toml") << "[rules]\nfiles = [\"rules/a.toml\", \"/abs.toml\"]\n";
  ConfigLoad loaded = loadConfigFile((folder / "bulwark.toml").string());
  std::filesystem::remove_all(folder);
  ASSERT_TRUE(loaded.ok()) << formatProblems("bulwark.toml", loaded.problems);
  ASSERT_EQ(loaded.config.rules.files.size(), 2u);
  EXPECT_EQ(loaded.config.rules.files[0], folder / "rules/a.toml");
  EXPECT_EQ(loaded.config.rules.files[1], "/abs.toml");
}

TEST(RulesConfig, BadValuesNameTheFix) {
  expectProblem("[rules]\nunparseable_action = \"ignore\"\n", 2, 22,
                "use one of quarantine, reject, deliver");
  expectProblem("[rules]\nmime_max_depth = 0\n", 2, 18, "mime_max_depth");
  expectProblem("[rules]\nmime_max_depth = 101\n", 2, 18, "mime_max_depth");
  expectProblem("[rules]\nmime_max_parts = 0\n", 2, 18, "mime_max_parts");
  expectProblem("[rules]\nmime_max_parts = 100001\n", 2, 18, "mime_max_parts");
  expectProblem("[rules]\ninternal_domains = [\"not a domain\"]\n", 2, 21, "internal_domains[1]");
  expectProblem("[rules]\nfiles = [\"\"]\n", 2, 10, "cannot be empty");
  expectProblem("[rules]\nfile = [\"a.toml\"]\n", 2, 1, "did you mean \"files\"");
}

}  // namespace
}  // namespace bulwark
