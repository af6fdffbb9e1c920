// Tests of the rule environment a configuration gives (src/app/configured_rules.cpp): inside
// domains, send connectors, MIME limits, the rules of the file and of its rule files (relative to
// it), and problems with their file, line and column.
#include "app/configured_rules.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/config_loader.h"

namespace bulwark::app {
namespace {

namespace fs = std::filesystem;

class TemporaryFolder {
 public:
  TemporaryFolder() {
    path_ = fs::temp_directory_path() / ("bulwark-configured-rules-" + std::to_string(::getpid()) +
                                         "-" + std::to_string(counter_++));
    fs::create_directories(path_);
  }
  ~TemporaryFolder() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  fs::path write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name) << text;
    return path_ / name;
  }
  const fs::path& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

Config loadConfig(const fs::path& file) {
  ConfigLoad load = loadConfigFile(file.string());
  EXPECT_TRUE(load.ok()) << formatProblems(file.string(), load.problems);
  return std::move(load.config);
}

TEST(ConfiguredRulesTest, LocalAndInternalDomainsAreInsideOnceLowerCase) {
  TemporaryFolder folder;
  const Config config = loadConfig(folder.write(
      "bulwark.toml",
      "[[local_domain]]\nname = \"Example.TEST\"\n\n[[local_domain]]\nname = \"other.test\"\n\n"
      "[rules]\ninternal_domains = [\"branch.test\", \"*.corp.test\", \"example.test\"]\n"
      "mime_max_depth = 7\nmime_max_parts = 33\n\n"
      "[[send_connector]]\nname = \"partners\"\ndomains = [\"partner.test\"]\n"));
  const policy::Organisation organisation = organisationOf(config);
  EXPECT_EQ(organisation.domains,
            (std::vector<std::string>{"example.test", "other.test", "branch.test", "*.corp.test"}));
  const policy::RuleEnvironment environment = ruleEnvironmentOf(config);
  EXPECT_EQ(environment.send_connectors, std::vector<std::string>{"partners"});
  EXPECT_EQ(environment.base_directory, folder.path());
  EXPECT_EQ(environment.organisation.domains, organisation.domains);
  const mime::MimeLimits limits = mimeLimitsOf(config);
  EXPECT_EQ(limits.max_depth, 7u);
  EXPECT_EQ(limits.max_parts, 33u);
}

TEST(ConfiguredRulesTest, TheEmbeddedDefaultHasNoRules) {
  ConfigLoad load = loadConfigText(kEmbeddedDefaultConfig, "<embedded default>");
  ASSERT_TRUE(load.ok());
  const policy::RuleLoad rules = loadConfiguredRules(load.config);
  EXPECT_TRUE(rules.ok());
  ASSERT_NE(rules.rules, nullptr);
  EXPECT_TRUE(rules.rules->empty());
}

TEST(ConfiguredRulesTest, RulesOfTheFileAndOfItsRuleFilesRelativeToIt) {
  TemporaryFolder folder;
  folder.write("more.toml",
               "[[rule]]\nname = \"second\"\n[rule.then]\nprepend_subject = \"[b] \"\n");
  const Config config =
      loadConfig(folder.write("bulwark.toml",
                              "[rules]\nfiles = [\"more.toml\"]\n\n[[rule]]\nname = \"first\"\n"
                              "[rule.then]\nprepend_subject = \"[a] \"\n"));
  const policy::RuleLoad rules = loadConfiguredRules(config);
  ASSERT_TRUE(rules.ok()) << policy::formatRuleProblems(rules.problems);
  ASSERT_EQ(rules.rules->rules().size(), 2u);
  EXPECT_EQ(rules.rules->rules()[0].name, "first");
  EXPECT_EQ(rules.rules->rules()[1].name, "second");
}

TEST(ConfiguredRulesTest, AProblemInARuleFileIsReportedWithItsPosition) {
  TemporaryFolder folder;
  const fs::path rule_file =
      folder.write("more.toml", "[[rule]]\nname = \"x\"\n[rule.then]\nroute_via = \"nowhere\"\n");
  const Config config =
      loadConfig(folder.write("bulwark.toml", "[rules]\nfiles = [\"more.toml\"]\n"));
  const policy::RuleLoad rules = loadConfiguredRules(config);
  ASSERT_EQ(rules.problems.size(), 1u);
  EXPECT_EQ(fs::path(rules.problems[0].file), rule_file);
  EXPECT_EQ(rules.problems[0].line, 4);
  EXPECT_EQ(rules.problems[0].column, 13);
  EXPECT_NE(rules.problems[0].message.find("nowhere"), std::string::npos);
}

}  // namespace
}  // namespace bulwark::app
