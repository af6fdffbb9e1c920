// RulesStage: facts from the context, a trace note per matching rule (enforce and test), and each
// enforce-mode effect applied to the context (verdicts, recipients, header edits, subject,
// disclaimer, classification, spam, route, TLS requirement); [rules] unparseable_action.
#include "pipeline/rules_stage.h"

#include <gtest/gtest.h>

#include "mime/header_fields.h"
#include "mime/header_scan.h"
#include "policy/rule_loader.h"

namespace bulwark::pipeline {
namespace {

class RulesStageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.local_domains = {LocalDomain{}};  // example.test, Maildir
    config_.local_domains.front().name = "example.test";
    SendConnector partners;
    partners.name = "partners";
    partners.domains = {"partner.test"};
    config_.send_connectors = {partners};
    context_.queue_id = "Q1";
    context_.sender = "someone@outside.test";
    context_.recipients = {"bob@example.test"};
    context_.client_address = "192.0.2.1";
    context_.data =
        "Received: from x by y\r\n"
        "From: Someone <someone@outside.test>\r\n"
        "To: bob@example.test\r\n"
        "Subject: The plan\r\n"
        "\r\n"
        "This is top secret.\r\n";
  }

  // Loads `rules` (TOML [[rule]] tables) and runs the stage on context_.
  Verdict run(const std::string& rules) {
    policy::RuleEnvironment environment;
    environment.send_connectors = {"partners"};
    environment.organisation.domains = {"example.test"};
    auto load = policy::loadRulesText(rules, "test.toml", environment);
    EXPECT_TRUE(load.ok()) << policy::formatRuleProblems(load.problems);
    policy::Organisation organisation;
    organisation.domains = {"example.test"};
    RulesStage stage(config_, load.rules, organisation);
    return stage.process(context_);
  }

  std::string notes() const {
    std::string all;
    for (const auto& note : context_.trace_notes) all += note + "\n";
    return all;
  }

  Config config_;
  MessageContext context_;
};

TEST_F(RulesStageTest, TopSecretRaisesTheTlsRequirementAndExplainsItself) {
  auto verdict = run(R"(
[[rule]]
name = "Top secret"
[rule.if]
subject_or_body_contains = ["top secret"]
[rule.then]
require_tls = true
)");
  EXPECT_EQ(verdict.kind, Verdict::Kind::proceed);
  EXPECT_TRUE(context_.rule_requires_tls);
  EXPECT_FALSE(context_.require_tls) << "the rule's requirement is not RFC 8689's stricter one";
  ASSERT_EQ(context_.trace_notes.size(), 1u);
  const std::string& note = context_.trace_notes.front();
  EXPECT_EQ(note.rfind("rule=\"Top secret\" mode=enforce matched: ", 0), 0u) << note;
  EXPECT_NE(note.find("top secret"), std::string::npos) << note;
  EXPECT_NE(note.find(" actions: "), std::string::npos) << note;
}

TEST_F(RulesStageTest, NoMatchChangesNothingAndAClientRequirementIsNeverLowered) {
  context_.require_tls = true;  // REQUIRETLS from the client
  const std::string before = context_.data;
  auto verdict = run(R"(
[[rule]]
name = "Never"
[rule.if]
subject_contains = ["holiday"]
[rule.then]
prepend_subject = "[X] "
)");
  EXPECT_EQ(verdict.kind, Verdict::Kind::proceed);
  EXPECT_TRUE(context_.require_tls);
  EXPECT_EQ(context_.data, before);
  EXPECT_TRUE(context_.trace_notes.empty());
}

TEST_F(RulesStageTest, RejectUsesTheRulesReplyAndKeepsTheRuleNameOutOfIt) {
  auto verdict = run(R"(
[[rule]]
name = "Secret policy name"
[rule.if]
subject_or_body_contains = ["top secret"]
[rule.then]
reject = { code = 550, status = "5.7.1", text = "Not accepted here" }
)");
  ASSERT_EQ(verdict.kind, Verdict::Kind::reject);
  EXPECT_EQ(verdict.reply.code, 550);
  EXPECT_EQ(verdict.reply.enhanced, "5.7.1");
  ASSERT_EQ(verdict.reply.lines.size(), 1u);
  EXPECT_EQ(verdict.reply.lines.front(), "Not accepted here");
  EXPECT_EQ(verdict.reply.render().find("Secret policy name"), std::string::npos);
  EXPECT_NE(verdict.reason.find("Secret policy name"), std::string::npos);
}

TEST_F(RulesStageTest, TemporaryRejectionDefers) {
  auto verdict = run(R"(
[[rule]]
name = "Later"
[rule.then]
reject = { code = 451, status = "4.7.1", text = "Try later" }
)");
  EXPECT_EQ(verdict.kind, Verdict::Kind::defer);
  EXPECT_EQ(verdict.reply.code, 451);
}

TEST_F(RulesStageTest, TestModeRecordsWhatItWouldDoAndDoesNothing) {
  const std::string before = context_.data;
  auto verdict = run(R"(
[[rule]]
name = "Trial"
mode = "test"
[rule.if]
subject_or_body_contains = ["top secret"]
[rule.then]
reject = true
prepend_subject = "[TRIAL] "
require_tls = true
)");
  EXPECT_EQ(verdict.kind, Verdict::Kind::proceed);
  EXPECT_FALSE(context_.require_tls);
  EXPECT_FALSE(context_.rule_requires_tls) << "test mode changes nothing";
  EXPECT_EQ(context_.data, before);
  ASSERT_EQ(context_.trace_notes.size(), 1u);
  EXPECT_EQ(context_.trace_notes.front().rfind("rule=\"Trial\" mode=test matched: ", 0), 0u);
  EXPECT_NE(context_.trace_notes.front().find(" would: "), std::string::npos);
}

TEST_F(RulesStageTest, DmarcFailQuarantinesWithTheReason) {
  auth::DmarcOutcome dmarc;
  dmarc.result = auth::DmarcResult::fail;
  context_.dmarc = dmarc;
  auto verdict = run(R"(
[[rule]]
name = "Spoofed"
[rule.if]
dmarc = ["fail"]
[rule.then]
quarantine = "DMARC fail"
)");
  ASSERT_EQ(verdict.kind, Verdict::Kind::quarantine);
  EXPECT_NE(verdict.reason.find("\"Spoofed\""), std::string::npos) << verdict.reason;
  EXPECT_NE(verdict.reason.find("DMARC fail"), std::string::npos) << verdict.reason;
  context_.dmarc->result = auth::DmarcResult::pass;
  context_.trace_notes.clear();
  EXPECT_EQ(run(R"(
[[rule]]
name = "Spoofed"
[rule.if]
dmarc = ["fail"]
[rule.then]
quarantine = "DMARC fail"
)")
                .kind,
            Verdict::Kind::proceed);
}

TEST_F(RulesStageTest, DeleteDiscards) {
  auto verdict = run(R"(
[[rule]]
name = "Drop"
[rule.then]
delete = true
)");
  EXPECT_EQ(verdict.kind, Verdict::Kind::discard);
}

TEST_F(RulesStageTest, RedirectAndAddedRecipientsChangeTheEnvelopeAndTheFields) {
  auto verdict = run(R"(
[[rule]]
name = "Redirect"
priority = 1
[rule.then]
redirect_to = ["review@example.test"]

[[rule]]
name = "Copies"
priority = 2
[rule.then]
add_to = ["carol@example.test"]
add_cc = ["dave@partner.test"]
add_bcc = ["audit@example.test"]
)");
  EXPECT_EQ(verdict.kind, Verdict::Kind::proceed);
  EXPECT_EQ(context_.recipients,
            (std::vector<std::string>{"review@example.test", "carol@example.test",
                                      "dave@partner.test", "audit@example.test"}));
  EXPECT_EQ(mime::findHeaderValue(context_.data, "To").value_or(""),
            "bob@example.test, carol@example.test");
  EXPECT_EQ(mime::findHeaderValue(context_.data, "Cc").value_or(""), "dave@partner.test");
  EXPECT_EQ(context_.data.find("audit@"), std::string::npos) << "Bcc stays out of the message";
  EXPECT_TRUE(context_.forwarded) << "a copy now leaves this machine";
}

TEST_F(RulesStageTest, MessageEditsAreAppliedToTheData) {
  context_.data.insert(0, "X-Remove-Me: 1\r\n");
  auto verdict = run(R"(
[[rule]]
name = "Edits"
[rule.then]
add_header = { name = "X-Policy", value = "checked" }
remove_header = ["X-Remove-Me"]
prepend_subject = "[SECRET] "
set_classification = "Confidential"
set_spam = true
route_via = "partners"
disclaimer = { text = "Confidential.", signed = "wrap" }
)");
  EXPECT_EQ(verdict.kind, Verdict::Kind::proceed);
  EXPECT_EQ(mime::findHeaderValue(context_.data, "X-Policy").value_or(""), "checked");
  EXPECT_FALSE(mime::findHeaderValue(context_.data, "X-Remove-Me").has_value());
  EXPECT_EQ(mime::findHeaderValue(context_.data, "Subject").value_or(""), "[SECRET] The plan");
  EXPECT_EQ(mime::findHeaderValue(context_.data, "X-Bulwark-Classification").value_or(""),
            "Confidential");
  EXPECT_EQ(context_.classification, "Confidential");
  EXPECT_TRUE(context_.spam);
  EXPECT_EQ(mime::findHeaderValue(context_.data, "X-Bulwark-Spam").value_or("").rfind("yes", 0),
            0u);
  EXPECT_EQ(context_.route_connector, "partners");
  EXPECT_NE(context_.data.find("This is top secret.\r\n\r\nConfidential.\r\n"), std::string::npos)
      << context_.data;
  EXPECT_NE(notes().find("rules_disclaimer=\"appended to 1 text part\""), std::string::npos)
      << notes();
}

TEST_F(RulesStageTest, ClassificationAndFactsComeFromEarlierStages) {
  // The partner header the SMTP server adds for Domain Security, and the authentication results.
  context_.data.insert(0, "X-Bulwark-Classification: Partner Mail\r\n");
  context_.partner_domain = "partner.test";
  auth::SpfOutcome spf;
  spf.result = auth::SpfResult::pass;
  context_.spf = spf;
  auth::DkimSignatureResult failed;
  failed.result = auth::DkimResult::fail;
  auth::DkimSignatureResult passed;
  passed.result = auth::DkimResult::pass;
  context_.dkim = {failed, passed};
  context_.tls = true;
  policy::Organisation organisation;
  RulesStage stage(config_, std::make_shared<const policy::RuleSet>(), organisation);
  mime::ParsedMessage parsed;
  const policy::MessageFacts facts = stage.factsFor(context_, parsed);
  EXPECT_EQ(facts.classification, "Partner Mail");
  EXPECT_TRUE(facts.domain_secured);
  EXPECT_EQ(facts.spf, "pass");
  EXPECT_EQ(facts.dkim, "pass") << "the best of the signatures";
  EXPECT_EQ(facts.dmarc, "none");
  EXPECT_EQ(facts.from_address, "someone@outside.test");
  EXPECT_TRUE(facts.received_over_tls);
  EXPECT_FALSE(facts.authenticated_sender);
  EXPECT_EQ(facts.size, context_.data.size());
  context_.auth_user = "bob";
  EXPECT_TRUE(stage.factsFor(context_, parsed).authenticated_sender);
  context_.data.insert(0, "From: second@outside.test\r\n");
  EXPECT_EQ(stage.factsFor(context_, parsed).from_address, "") << "two From fields: ambiguous";
}

// A message nested deeper than [rules] mime_max_depth: its text is out of the rules' sight.
class RulesStageLimitTest : public RulesStageTest {
 protected:
  void SetUp() override {
    RulesStageTest::SetUp();
    config_.rules.mime_max_depth = 2;
    std::string body = "This is top secret.\r\n";
    for (int level = 4; level >= 1; --level) {
      const std::string boundary = "b" + std::to_string(level);
      body = "Content-Type: multipart/mixed; boundary=\"" + boundary + "\"\r\n\r\n--" + boundary +
             "\r\n" + (level == 4 ? "Content-Type: text/plain\r\n\r\n" : "") + body + "\r\n--" +
             boundary + "--\r\n";
    }
    context_.data = "From: someone@outside.test\r\nSubject: nested\r\nMIME-Version: 1.0\r\n" + body;
  }
  static constexpr const char* kRules = R"(
[[rule]]
name = "Any"
[rule.then]
prepend_subject = "[seen] "
)";
};

TEST_F(RulesStageLimitTest, QuarantinedByDefault) {
  auto verdict = run(kRules);
  ASSERT_EQ(verdict.kind, Verdict::Kind::quarantine);
  EXPECT_NE(verdict.reason.find("mime_max_depth 2"), std::string::npos) << verdict.reason;
  EXPECT_NE(notes().find("unparseable_action=quarantine"), std::string::npos) << notes();
}

TEST_F(RulesStageLimitTest, RejectedWhenConfigured) {
  config_.rules.unparseable_action = "reject";
  auto verdict = run(kRules);
  ASSERT_EQ(verdict.kind, Verdict::Kind::reject);
  EXPECT_EQ(verdict.reply.code, 554);
  EXPECT_EQ(verdict.reply.enhanced, "5.6.0");
}

TEST_F(RulesStageLimitTest, DeliveredWithTheRulesStillRunWhenConfigured) {
  config_.rules.unparseable_action = "deliver";
  auto verdict = run(kRules);
  EXPECT_EQ(verdict.kind, Verdict::Kind::proceed);
  EXPECT_NE(notes().find("unparseable_action=deliver"), std::string::npos);
  EXPECT_EQ(mime::findHeaderValue(context_.data, "Subject").value_or(""), "[seen] nested");
}

TEST_F(RulesStageLimitTest, WithinTheLimitNothingHappens) {
  config_.rules.mime_max_depth = 20;
  auto verdict = run(kRules);
  EXPECT_EQ(verdict.kind, Verdict::Kind::proceed);
  EXPECT_EQ(notes().find("unparseable"), std::string::npos) << notes();
}

// The From address the rules see, shared with `bulwark rules test`: only an unambiguous one.
TEST(RulesStageFromAddressTest, OnlyOneFieldWithOneMailboxCounts) {
  EXPECT_EQ(RulesStage::fromAddress("From: Ann <Ann@Example.COM>\r\n\r\nbody\r\n"),
            "Ann@example.com");
  EXPECT_EQ(RulesStage::fromAddress("From: a@example.com\r\nFrom: b@example.net\r\n\r\n"), "");
  EXPECT_EQ(RulesStage::fromAddress("From: a@example.com, b@example.net\r\n\r\n"), "");
  EXPECT_EQ(RulesStage::fromAddress("To: a@example.com\r\n\r\n"), "");
}

TEST(RulesStageUnparseableVerdictTest, EachActionHasItsVerdict) {
  const Verdict reject = RulesStage::unparseableVerdict("reject", "why");
  EXPECT_EQ(reject.kind, Verdict::Kind::reject);
  EXPECT_EQ(reject.reply.code, 554);
  EXPECT_EQ(reject.reply.enhanced, "5.6.0");
  EXPECT_EQ(RulesStage::unparseableVerdict("quarantine", "why").kind, Verdict::Kind::quarantine);
  EXPECT_EQ(RulesStage::unparseableVerdict("deliver", "why").kind, Verdict::Kind::proceed);
}

}  // namespace
}  // namespace bulwark::pipeline
