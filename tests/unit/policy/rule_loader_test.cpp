// The rule file format: problems with file, line, column and a fix; list files; rule files
// named by the configuration; the limits (rules, list entries, pattern size), each passed.
#include "policy/rule_loader.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "policy_test_support.h"

namespace bulwark::policy {
namespace {

using testing::problemsOf;
using testing::TestMessage;

std::filesystem::path freshDirectory(const std::string& name) {
  const auto directory = std::filesystem::temp_directory_path() / name;
  std::filesystem::remove_all(directory);
  std::filesystem::create_directories(directory);
  return directory;
}

TEST(RuleLoader, ReadsEveryRuleKey) {
  RuleLoad load = loadRulesText(R"(
[[rule]]
name = "top secret needs TLS"
priority = 5
mode = "test"
stop = true
[rule.if]
subject_or_body_contains = ["top secret"]
[rule.unless]
to_scope = "inside"
[rule.then]
require_tls = true
)",
                                "rules.toml", testing::testEnvironment());
  ASSERT_TRUE(load.ok()) << formatRuleProblems(load.problems);
  ASSERT_EQ(load.rules->rules().size(), 1u);
  const Rule& rule = load.rules->rules()[0];
  EXPECT_EQ(rule.name, "top secret needs TLS");
  EXPECT_EQ(rule.priority, 5);
  EXPECT_EQ(rule.mode, RuleMode::test);
  EXPECT_TRUE(rule.stop_processing);
  EXPECT_EQ(rule.conditions.size(), 1u);
  EXPECT_EQ(rule.exceptions.size(), 1u);
  EXPECT_EQ(rule.actions.size(), 1u);
  EXPECT_EQ(rule.source, "rules.toml");
  EXPECT_EQ(rule.line, 2);
}

TEST(RuleLoader, UnknownKeysGetDidYouMean) {
  const std::string problems = problemsOf(R"([[rule]]
name = "x"
priorty = 3
[rule.if]
subjet_contains = "a"
[rule.then]
quarantin = true
)");
  EXPECT_NE(problems.find("test.toml:3:1: unknown rule key \"priorty\"; did you mean "
                          "\"priority\"?"),
            std::string::npos)
      << problems;
  EXPECT_NE(problems.find("test.toml:5:1: unknown condition \"subjet_contains\"; did you mean "
                          "\"subject_contains\"?"),
            std::string::npos)
      << problems;
  EXPECT_NE(problems.find("test.toml:7:1: unknown action \"quarantin\"; did you mean "
                          "\"quarantine\"?"),
            std::string::npos)
      << problems;
}

TEST(RuleLoader, KeysInTheWrongTableSayWhereTheyGo) {
  const std::string problems = problemsOf(R"([[rule]]
name = "x"
subject_contains = "a"
[rule.if]
require_tls = true
[rule.then]
spf = "fail"
quarantine = true
)");
  EXPECT_NE(problems.find("3:1: unknown rule key \"subject_contains\": conditions go in the "
                          "rule's [rule.if] table"),
            std::string::npos)
      << problems;
  EXPECT_NE(problems.find("5:1: unknown condition \"require_tls\": it is an action; move it to "
                          "[rule.then]"),
            std::string::npos)
      << problems;
  EXPECT_NE(problems.find("7:1: unknown action \"spf\": it is a condition"), std::string::npos)
      << problems;
}

TEST(RuleLoader, RuleShapeProblems) {
  const std::string problems = problemsOf(R"([[rule]]
priority = "high"
mode = "enforced"
[rule.then]

[[rule]]
name = "no actions at all"

[[rule]]
name = "dup"
[rule.then]
delete = true

[[rule]]
name = "dup"
stop = "yes"
[rule.then]
delete = true
)");
  EXPECT_NE(problems.find("test.toml:1:1: this rule has no name"), std::string::npos) << problems;
  EXPECT_NE(problems.find("2:12: priority must be an integer"), std::string::npos) << problems;
  EXPECT_NE(problems.find("3:8: mode must be \"enforce\" or \"test\""), std::string::npos);
  EXPECT_NE(problems.find("did you mean \"enforce\"?"), std::string::npos) << problems;
  EXPECT_NE(problems.find("test.toml:6:1: rule \"no actions at all\" has no [rule.then] table"),
            std::string::npos)
      << problems;
  EXPECT_NE(problems.find("test.toml:15:8: rule name \"dup\" is already used by the rule at "
                          "test.toml:9"),
            std::string::npos)
      << problems;
  EXPECT_NE(problems.find("16:8: stop must be true or false, not a string"), std::string::npos)
      << problems;
}

TEST(RuleLoader, EmptyThenTableIsAProblem) {
  const std::string problems = problemsOf("[[rule]]\nname = \"x\"\n[rule.then]\n");
  EXPECT_NE(problems.find("test.toml:3:1: [rule.then] has no actions"), std::string::npos)
      << problems;
}

TEST(RuleLoader, ConditionValueProblems) {
  const std::string problems = problemsOf(R"([[rule]]
name = "x"
[rule.if]
from = ["ok@example.com", "not-an-address"]
from_domain = "user@example.com"
to_scope = "external"
subject_matches = '(unclosed'
spf = ["fial"]
attachment_content_type = ["pfd"]
message_size_over = "ten megabytes"
has_attachment = "yes"
subject_contains = []
header_contains = {name = "X Bad", words = ["a"]}
[rule.then]
delete = true
)");
  EXPECT_NE(problems.find("4:27: \"not-an-address\" is not an email address"), std::string::npos)
      << problems;
  EXPECT_NE(problems.find("5:15: \"user@example.com\" is not a domain"), std::string::npos);
  EXPECT_NE(problems.find("6:12: to_scope must be \"inside\" or \"outside\""), std::string::npos);
  EXPECT_NE(problems.find("7:19: pattern /(unclosed/: invalid pattern (missing )"),
            std::string::npos)
      << problems;
  EXPECT_NE(problems.find("8:8: \"fial\" is not a spf result; did you mean \"fail\"?"),
            std::string::npos)
      << problems;
  EXPECT_NE(problems.find("9:28: unknown content type \"pfd\"; did you mean \"pdf\"?"),
            std::string::npos)
      << problems;
  EXPECT_NE(problems.find("10:21: message_size_over must be a size in bytes"), std::string::npos);
  EXPECT_NE(problems.find("11:18: has_attachment must be true or false, not a string"),
            std::string::npos);
  EXPECT_NE(problems.find("12:20: subject_contains is an empty list"), std::string::npos);
  EXPECT_NE(problems.find("13:27: header name \"X Bad\" may hold only printable ASCII"),
            std::string::npos)
      << problems;
}

TEST(RuleLoader, BadRulesAreDroppedGoodRulesKept) {
  RuleLoad load = loadRulesText(R"([[rule]]
name = "good"
[rule.then]
delete = true
[[rule]]
name = "bad"
[rule.if]
spf = "maybe"
[rule.then]
delete = true
)",
                                "test.toml", testing::testEnvironment());
  EXPECT_EQ(load.problems.size(), 1u);
  ASSERT_EQ(load.rules->rules().size(), 1u);
  EXPECT_EQ(load.rules->rules()[0].name, "good");
}

TEST(RuleLoader, SyntaxErrorHasAPosition) {
  const std::string problems = problemsOf("[[rule]]\nname = \"x\nmode = \"test\"\n");
  EXPECT_NE(problems.find("test.toml:2:"), std::string::npos) << problems;
  EXPECT_NE(problems.find("TOML syntax error"), std::string::npos) << problems;
}

TEST(RuleLoader, RuleTableMustBeAnArrayOfTables) {
  const std::string problems = problemsOf("[rule]\nname = \"x\"\n");
  EXPECT_NE(problems.find("write each rule as [[rule]]"), std::string::npos) << problems;
  const std::string other = problemsOf("[[rules]]\nname = \"x\"\n");
  EXPECT_NE(other.find("unknown key \"rules\" in a rule file"), std::string::npos) << other;
  EXPECT_NE(other.find("did you mean \"rule\"?"), std::string::npos) << other;
}

TEST(RuleLoader, ListFileProblemsPointIntoTheListFile) {
  const auto directory = freshDirectory("policy-list-problems");
  std::ofstream(directory / "senders.txt") << "good@example.com\n# comment\nnot an address\n";
  RuleEnvironment environment = testing::testEnvironment();
  environment.base_directory = directory;
  const std::string problems = problemsOf(
      "[[rule]]\nname = \"x\"\n[rule.if]\nfrom = \"@senders.txt\"\n[rule.then]\ndelete = true\n",
      environment);
  EXPECT_NE(problems.find((directory / "senders.txt").string() +
                          ":3:1: \"not an address\" is not an email address"),
            std::string::npos)
      << problems;
  const std::string missing = problemsOf(
      "[[rule]]\nname = \"x\"\n[rule.if]\nfrom = \"@absent.txt\"\n[rule.then]\ndelete = true\n",
      environment);
  EXPECT_NE(missing.find("test.toml:4:8: cannot read list file"), std::string::npos) << missing;
}

TEST(RuleLoader, WordListFiles) {
  const auto directory = freshDirectory("policy-word-list");
  std::ofstream(directory / "words.txt") << "project falcon\nfalcon-7\n";
  RuleEnvironment environment = testing::testEnvironment();
  environment.base_directory = directory;
  auto rules = testing::loadValid(
      "[[rule]]\nname = \"w\"\n[rule.if]\nsubject_or_body_contains = \"@words.txt\"\n"
      "[rule.then]\nrequire_tls = true\n",
      environment);
  TestMessage message;
  message.addText("About Project  Falcon.");
  Evaluation evaluation = rules->evaluate(message.facts);
  ASSERT_EQ(evaluation.matches.size(), 1u);
  EXPECT_EQ(evaluation.matches[0].reasons.at(0), "body contains \"project falcon\" (part 1)");
}

TEST(RuleLoaderLimits, MaxRules) {
  RuleEnvironment environment = testing::testEnvironment();
  environment.max_rules = 3;
  std::string text;
  for (int index = 0; index < 5; ++index) {
    text += "[[rule]]\nname = \"r" + std::to_string(index) + "\"\n[rule.then]\ndelete = true\n";
  }
  RuleLoad load = loadRulesText(text, "test.toml", environment);
  EXPECT_EQ(load.rules->rules().size(), 3u);
  ASSERT_EQ(load.problems.size(), 1u);
  EXPECT_EQ(load.problems[0].line, 13);
  EXPECT_NE(load.problems[0].message.find("more than 3 rules"), std::string::npos);
  environment.max_rules = 5;
  EXPECT_TRUE(loadRulesText(text, "test.toml", environment).ok());
}

TEST(RuleLoaderLimits, MaxListEntries) {
  const auto directory = freshDirectory("policy-list-limit");
  {
    std::ofstream list(directory / "many.txt");
    for (int index = 0; index < 11; ++index) list << "word" << index << "\n";
  }
  RuleEnvironment environment = testing::testEnvironment();
  environment.base_directory = directory;
  environment.max_list_entries = 10;
  const std::string text =
      "[[rule]]\nname = \"x\"\n[rule.if]\nsubject_contains = \"@many.txt\"\n"
      "[rule.then]\ndelete = true\n";
  const std::string problems = problemsOf(text, environment);
  EXPECT_NE(problems.find("test.toml:4:20: list file"), std::string::npos) << problems;
  EXPECT_NE(problems.find("has more than 10 entries"), std::string::npos) << problems;
  environment.max_list_entries = 11;
  EXPECT_TRUE(loadRulesText(text, "test.toml", environment).ok());
}

TEST(RuleLoaderLimits, PatternProgramSize) {
  // A letter class repeated 100 times compiles past the default 1 MiB budget; 50 fit.
  const std::string big =
      "[[rule]]\nname = \"x\"\n[rule.if]\nsubject_or_body_matches = ['\\pL{100}']\n"
      "[rule.then]\ndelete = true\n";
  const std::string problems = problemsOf(big);
  EXPECT_NE(problems.find("test.toml:4:28: pattern /\\pL{100}/: pattern is too large: its "
                          "compiled program exceeds the limit of 1048576 bytes"),
            std::string::npos)
      << problems;
  // The same limit applies to header and attachment-name patterns.
  EXPECT_NE(problemsOf("[[rule]]\nname = \"x\"\n[rule.if]\nattachment_name_matches = "
                       "'\\pL{100}'\n[rule.then]\ndelete = true\n")
                .find("pattern is too large"),
            std::string::npos);
  EXPECT_TRUE(loadRulesText("[[rule]]\nname = \"x\"\n[rule.if]\nsubject_matches = '\\pL{50}'\n"
                            "[rule.then]\ndelete = true\n",
                            "test.toml", testing::testEnvironment())
                  .ok());
  RuleEnvironment environment = testing::testEnvironment();
  environment.max_pattern_memory = 8 << 20;
  EXPECT_TRUE(loadRulesText(big, "test.toml", environment).ok());
}

TEST(RuleLoaderLimits, PatternSetOutOfMemoryFallsBackToSinglePatterns) {
  RuleEnvironment environment = testing::testEnvironment();
  environment.max_pattern_set_memory = 1;  // no set fits: every pattern runs on its own
  auto rules = testing::loadValid(
      "[[rule]]\nname = \"x\"\n[rule.if]\nsubject_or_body_matches = ['a+b', 'falcon-\\d+']\n"
      "[rule.then]\ndelete = true\n",
      environment);
  TestMessage message;
  message.addText("codename FALCON-42");
  Evaluation evaluation = rules->evaluate(message.facts);
  ASSERT_EQ(evaluation.matches.size(), 1u);
  EXPECT_EQ(evaluation.matches[0].reasons.at(0),
            "body matches /falcon-\\d+/ (\"FALCON-42\") (part 1)");
}

TEST(RuleLoader, ConfigFileRulesAndRuleFiles) {
  const auto directory = freshDirectory("policy-config-rules");
  std::filesystem::create_directories(directory / "rules.d");
  std::ofstream(directory / "rules.d" / "dmarc.toml")
      << "[[rule]]\nname = \"dmarc fail\"\npriority = -1\n[rule.if]\ndmarc = \"fail\"\n"
         "to = \"@vip.txt\"\n[rule.then]\nquarantine = true\n";
  // A list file named in a rule file is relative to that file's folder.
  std::ofstream(directory / "rules.d" / "vip.txt") << "ceo@example.com\n";
  std::ofstream(directory / "bulwark.toml")
      << "hostname = \"mx.example.com\"\n[rules]\nfiles = [\"rules.d/dmarc.toml\"]\n\n"
         "[[rule]]\nname = \"external tag\"\n[rule.if]\nfrom_scope = \"outside\"\n"
         "[rule.then]\nprepend_subject = \"[EXTERNAL] \"\n";
  RuleLoad load = loadRulesFromConfig(directory / "bulwark.toml", testing::testEnvironment());
  ASSERT_TRUE(load.ok()) << formatRuleProblems(load.problems);
  ASSERT_EQ(load.rules->rules().size(), 2u);
  EXPECT_EQ(load.rules->rules()[0].name, "dmarc fail");  // priority -1 first
  EXPECT_EQ(load.rules->rules()[0].source, (directory / "rules.d" / "dmarc.toml").string());
  EXPECT_EQ(load.rules->rules()[1].name, "external tag");

  std::ofstream(directory / "broken.toml")
      << "[rules]\nfiles = [\"rules.d/dmarc.toml\", \"absent.toml\"]\n";
  RuleLoad broken = loadRulesFromConfig(directory / "broken.toml", testing::testEnvironment());
  const std::string problems = formatRuleProblems(broken.problems);
  EXPECT_NE(problems.find((directory / "broken.toml").string() + ":2:32: rule file"),
            std::string::npos)
      << problems;
  EXPECT_NE(problems.find("absent.toml\" does not exist"), std::string::npos) << problems;
}

TEST(RuleLoader, RuleNamesAreUniqueAcrossFiles) {
  const auto directory = freshDirectory("policy-config-duplicates");
  std::ofstream(directory / "more.toml")
      << "[[rule]]\nname = \"same\"\n[rule.then]\ndelete = true\n";
  std::ofstream(directory / "bulwark.toml")
      << "[rules]\nfiles = [\"more.toml\"]\n[[rule]]\nname = \"same\"\n[rule.then]\n"
         "delete = true\n";
  RuleLoad load = loadRulesFromConfig(directory / "bulwark.toml", testing::testEnvironment());
  const std::string problems = formatRuleProblems(load.problems);
  EXPECT_NE(problems.find((directory / "more.toml").string() +
                          ":2:8: rule name \"same\" is already used by the rule at " +
                          (directory / "bulwark.toml").string() + ":3"),
            std::string::npos)
      << problems;
}

TEST(RuleLoader, UnreadableFiles) {
  RuleLoad load = loadRulesFile("/nonexistent/rules.toml", testing::testEnvironment());
  ASSERT_EQ(load.problems.size(), 1u);
  EXPECT_EQ(formatRuleProblems(load.problems),
            "/nonexistent/rules.toml: cannot read rule file: No such file or directory; check "
            "the path and its permissions\n");
  ASSERT_TRUE(load.rules);
  EXPECT_TRUE(load.rules->empty());
}

}  // namespace
}  // namespace bulwark::policy
