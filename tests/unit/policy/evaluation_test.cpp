// RuleSet::evaluate: priority order (stable for equal priorities), conditions ANDed, exceptions
// veto, test mode records without effect, stop ends the evaluation, later rules see earlier
// verdicts.
#include <gtest/gtest.h>

#include "policy_test_support.h"

namespace bulwark::policy {
namespace {

using testing::loadValid;
using testing::TestMessage;

std::vector<std::string> ruleNames(const Evaluation& evaluation) {
  std::vector<std::string> names;
  for (const RuleMatch& match : evaluation.matches) names.push_back(match.rule);
  return names;
}

TEST(Evaluation, PriorityOrderStableForEqualPriorities) {
  auto rules = loadValid(R"(
[[rule]]
name = "late"
priority = 10
[rule.then]
prepend_subject = "[late] "
[[rule]]
name = "first of equals"
[rule.then]
prepend_subject = "[a] "
[[rule]]
name = "early"
priority = -5
[rule.then]
prepend_subject = "[early] "
[[rule]]
name = "second of equals"
[rule.then]
prepend_subject = "[b] "
)");
  TestMessage message;
  Evaluation evaluation = rules->evaluate(message.facts);
  EXPECT_EQ(ruleNames(evaluation),
            (std::vector<std::string>{"early", "first of equals", "second of equals", "late"}));
  EXPECT_EQ(evaluation.changes.subject_prefix, "[early] [a] [b] [late] ");
  EXPECT_EQ(evaluation.matches[0].reasons,
            std::vector<std::string>{"no conditions: every message"});
}

TEST(Evaluation, ExceptionsVetoAndAreRecorded) {
  auto rules = loadValid(R"(
[[rule]]
name = "external disclaimer"
[rule.if]
to_scope = "outside"
[rule.unless]
subject_contains = "no disclaimer"
from = "ceo@example.com"
[rule.then]
disclaimer = {text = "External mail."}
)");
  TestMessage message;
  message.setSubject("hello");
  Evaluation applied = rules->evaluate(message.facts);
  EXPECT_EQ(ruleNames(applied), std::vector<std::string>{"external disclaimer"});
  EXPECT_TRUE(applied.changes.disclaimer);
  EXPECT_TRUE(applied.vetoes.empty());

  message.facts.from_address = "ceo@example.com";
  Evaluation vetoed = rules->evaluate(message.facts);
  EXPECT_TRUE(vetoed.matches.empty());
  EXPECT_FALSE(vetoed.changes.disclaimer);
  ASSERT_EQ(vetoed.vetoes.size(), 1u);
  EXPECT_EQ(vetoed.vetoes[0].rule, "external disclaimer");
  EXPECT_EQ(vetoed.vetoes[0].reasons,
            std::vector<std::string>{"recipient \"bob@partner.test\" is outside the organisation"});
  EXPECT_EQ(vetoed.vetoes[0].exception, "from \"ceo@example.com\" matches \"ceo@example.com\"");
}

TEST(Evaluation, TestModeRecordsWouldBeActionsWithoutEffect) {
  auto rules = loadValid(R"(
[[rule]]
name = "trial quarantine"
mode = "test"
stop = true
[rule.if]
dmarc = "fail"
[rule.then]
quarantine = "DMARC failure"
[[rule]]
name = "tag"
[rule.then]
add_header = {name = "X-Checked", value = "yes"}
)");
  TestMessage message;
  message.facts.dmarc = "fail";
  Evaluation evaluation = rules->evaluate(message.facts);
  // The test rule's stop does not stop the rules after it.
  ASSERT_EQ(ruleNames(evaluation), (std::vector<std::string>{"trial quarantine", "tag"}));
  const RuleMatch& trial = evaluation.matches[0];
  EXPECT_EQ(trial.mode, RuleMode::test);
  EXPECT_FALSE(trial.stopped);
  EXPECT_EQ(trial.reasons, std::vector<std::string>{"dmarc result is \"fail\""});
  EXPECT_EQ(trial.actions, (std::vector<std::string>{"quarantine (DMARC failure)",
                                                     "stop processing further rules"}));
  EXPECT_FALSE(evaluation.changes.quarantine);
  EXPECT_FALSE(evaluation.changes.stopsDelivery());
  EXPECT_EQ(evaluation.changes.header_edits.size(), 1u);
}

TEST(Evaluation, StopEndsTheEvaluationAfterItsActions) {
  auto rules = loadValid(R"(
[[rule]]
name = "secret"
priority = 1
stop = true
[rule.if]
subject_or_body_contains = "top secret"
[rule.then]
require_tls = true
set_classification = "Secret"
[[rule]]
name = "never reached"
priority = 2
[rule.then]
set_classification = "Public"
)");
  TestMessage message;
  message.addText("This is TOP SECRET.");
  Evaluation evaluation = rules->evaluate(message.facts);
  ASSERT_EQ(ruleNames(evaluation), std::vector<std::string>{"secret"});
  EXPECT_TRUE(evaluation.matches[0].stopped);
  EXPECT_TRUE(evaluation.changes.require_tls);
  EXPECT_EQ(evaluation.changes.classification, "Secret");

  TestMessage plain;
  plain.addText("nothing special");
  Evaluation other = rules->evaluate(plain.facts);
  EXPECT_EQ(ruleNames(other), std::vector<std::string>{"never reached"});
  EXPECT_EQ(other.changes.classification, "Public");
}

TEST(Evaluation, LaterRulesSeeEarlierVerdicts) {
  auto rules = loadValid(R"(
[[rule]]
name = "mark spam"
[rule.if]
subject_contains = "viagra"
[rule.then]
set_spam = true
set_classification = "Junk"
[[rule]]
name = "quarantine spam"
[rule.if]
spam = true
classification = "junk"
[rule.then]
quarantine = true
)");
  TestMessage message;
  message.setSubject("cheap VIAGRA");
  Evaluation evaluation = rules->evaluate(message.facts);
  EXPECT_EQ(ruleNames(evaluation), (std::vector<std::string>{"mark spam", "quarantine spam"}));
  EXPECT_EQ(evaluation.changes.quarantine, "rule \"quarantine spam\"");
  // The caller's facts are not changed.
  EXPECT_FALSE(message.facts.spam);
}

TEST(Evaluation, SingleValuedEffectsTakeTheLastRuleListsAccumulate) {
  auto rules = loadValid(R"(
[[rule]]
name = "one"
[rule.then]
route_via = "smarthost"
add_bcc = "a@example.com"
[[rule]]
name = "two"
[rule.then]
route_via = "secure-partner"
add_bcc = "b@example.com"
)");
  TestMessage message;
  Evaluation evaluation = rules->evaluate(message.facts);
  EXPECT_EQ(evaluation.changes.route_connector, "secure-partner");
  EXPECT_EQ(evaluation.changes.add_bcc,
            (std::vector<std::string>{"a@example.com", "b@example.com"}));
}

TEST(Evaluation, EmptyRuleSet) {
  RuleSet rules;
  TestMessage message;
  Evaluation evaluation = rules.evaluate(message.facts);
  EXPECT_TRUE(evaluation.matches.empty());
  EXPECT_FALSE(evaluation.changes.stopsDelivery());
  EXPECT_TRUE(rules.empty());
}

TEST(Organisation, InsideByDomainAndSubdomainPattern) {
  Organisation organisation{{"example.com", "*.corp.example"}};
  EXPECT_TRUE(organisation.isInside("user@EXAMPLE.com"));
  EXPECT_TRUE(organisation.isInside("example.com."));
  EXPECT_FALSE(organisation.isInside("user@sub.example.com"));
  EXPECT_TRUE(organisation.isInside("a@b.corp.example"));
  EXPECT_FALSE(organisation.isInside("a@corp.example"));
  EXPECT_FALSE(organisation.isInside("a@evilcorp.example"));
  EXPECT_FALSE(organisation.isInside(""));
}

}  // namespace
}  // namespace bulwark::policy
