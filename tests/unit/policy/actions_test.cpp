// Each action of [rule.then]: the effect it records in MessageChanges and its description, and
// the load-time checks of its values.
#include "policy/actions.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "policy_test_support.h"

namespace bulwark::policy {
namespace {

using testing::problemsOf;
using testing::TestMessage;

// One always-matching enforce rule with `actions` (the body of [rule.then]).
Evaluation runActions(std::string_view actions,
                      const RuleEnvironment& environment = testing::testEnvironment()) {
  const std::string text =
      "[[rule]]\nname = \"acting\"\n[rule.then]\n" + std::string(actions) + "\n";
  auto rules = testing::loadValid(text, environment);
  TestMessage message;
  return rules->evaluate(message.facts);
}

std::string problemOfActions(std::string_view actions) {
  return problemsOf("[[rule]]\nname = \"acting\"\n[rule.then]\n" + std::string(actions) + "\n");
}

TEST(Actions, RequireTls) {
  Evaluation evaluation = runActions("require_tls = true");
  EXPECT_TRUE(evaluation.changes.require_tls);
  EXPECT_EQ(evaluation.matches.at(0).actions,
            std::vector<std::string>{"require TLS for outbound delivery"});
  EXPECT_NE(problemOfActions("require_tls = false")
                .find("test.toml:4:15: require_tls = false "
                      "does nothing"),
            std::string::npos);
}

TEST(Actions, RejectWithValidatedStatus) {
  Evaluation evaluation = runActions(
      R"(reject = {code = 550, status = "5.7.1", text = "Confidential mail must not leave"})");
  ASSERT_TRUE(evaluation.changes.reject);
  EXPECT_EQ(evaluation.changes.reject->code, 550);
  EXPECT_EQ(evaluation.changes.reject->enhanced, "5.7.1");
  EXPECT_EQ(evaluation.changes.reject->text, "Confidential mail must not leave");
  EXPECT_TRUE(evaluation.changes.stopsDelivery());
  EXPECT_EQ(evaluation.matches.at(0).actions.at(0),
            "reject with 550 5.7.1 Confidential mail must not leave");

  Evaluation temporary = runActions("reject = {code = 451}");
  EXPECT_EQ(temporary.changes.reject->enhanced, "4.7.1");
  Evaluation plain = runActions("reject = true");
  EXPECT_EQ(plain.changes.reject->code, 550);

  EXPECT_NE(problemOfActions(R"(reject = {code = 550, status = "4.7.1"})")
                .find("does not match reply code 550"),
            std::string::npos);
  EXPECT_NE(problemOfActions("reject = {code = 250}").find("is not a refusal"), std::string::npos);
  EXPECT_NE(problemOfActions(R"(reject = {status = "5.71"})").find("is not class.subject.detail"),
            std::string::npos);
  EXPECT_NE(problemOfActions(R"(reject = {status = "5.7.1234"})").find("class.subject.detail"),
            std::string::npos);
  EXPECT_NE(problemOfActions("reject = {text = \"two\\r\\nlines\"}").find("printable ASCII"),
            std::string::npos);
  EXPECT_NE(problemOfActions(R"(reject = {code = 550, reason = "x"})")
                .find("unknown key \"reason\" in reject"),
            std::string::npos);
}

TEST(Actions, DeleteAndQuarantine) {
  EXPECT_TRUE(runActions("delete = true").changes.discard);
  Evaluation quarantined = runActions("quarantine = true");
  EXPECT_EQ(quarantined.changes.quarantine, "rule \"acting\"");
  EXPECT_EQ(runActions(R"(quarantine = "DMARC failure")").changes.quarantine, "DMARC failure");
  EXPECT_NE(problemOfActions("quarantine = 3").find("quarantine takes true or a reason"),
            std::string::npos);
}

TEST(Actions, RecipientsAreValidatedAddresses) {
  Evaluation evaluation = runActions(
      "redirect_to = \"legal@example.com\"\nadd_to = [\"a@example.com\"]\n"
      "add_cc = \"b@example.com\"\nadd_bcc = [\"archive@example.com\", \"audit@example.com\"]");
  EXPECT_EQ(evaluation.changes.redirect_to, std::vector<std::string>{"legal@example.com"});
  EXPECT_EQ(evaluation.changes.add_to, std::vector<std::string>{"a@example.com"});
  EXPECT_EQ(evaluation.changes.add_cc, std::vector<std::string>{"b@example.com"});
  EXPECT_EQ(evaluation.changes.add_bcc,
            (std::vector<std::string>{"archive@example.com", "audit@example.com"}));
  EXPECT_EQ(evaluation.matches.at(0).actions.at(0),
            "redirect to \"legal@example.com\" instead of the recipients");
  EXPECT_NE(problemOfActions(R"(add_bcc = ["ok@example.com", "not an address"])")
                .find("test.toml:4:30: \"not an address\" is not an email address"),
            std::string::npos);
}

TEST(Actions, HeaderEdits) {
  Evaluation evaluation = runActions(
      "add_header = [{name = \"X-Policy\", value = \"checked\"}, {name = \"X-Two\", value = "
      "\"2\"}]\nset_header = {name = \"X-Bulwark-Zone\", value = \"external\"}\n"
      "remove_header = [\"X-Internal-Route\"]");
  ASSERT_EQ(evaluation.changes.header_edits.size(), 4u);
  EXPECT_EQ(evaluation.changes.header_edits[0].kind, HeaderEdit::Kind::add);
  EXPECT_EQ(evaluation.changes.header_edits[0].name, "X-Policy");
  EXPECT_EQ(evaluation.changes.header_edits[0].value, "checked");
  EXPECT_EQ(evaluation.changes.header_edits[2].kind, HeaderEdit::Kind::set);
  EXPECT_EQ(evaluation.changes.header_edits[3].kind, HeaderEdit::Kind::remove);
  EXPECT_EQ(evaluation.changes.header_edits[3].name, "X-Internal-Route");

  EXPECT_NE(problemOfActions(R"(add_header = {name = "Bad Name", value = "x"})")
                .find("may hold only printable ASCII without spaces or ':'"),
            std::string::npos);
  EXPECT_NE(problemOfActions(R"(add_header = {name = "X-A:", value = "x"})").find("RFC 5322"),
            std::string::npos);
  EXPECT_NE(problemOfActions("set_header = {name = \"X-A\", value = \"a\\r\\nBcc: evil@x.test\"}")
                .find("cannot contain CR, LF or NUL"),
            std::string::npos);
  EXPECT_NE(
      problemOfActions("add_header = {name = \"X-A\", value = \"" + std::string(999, 'v') + "\"}")
          .find("too long"),
      std::string::npos);
  EXPECT_NE(problemOfActions(R"(add_header = {name = "X-A", valeu = "x"})")
                .find("did you mean \"value\"?"),
            std::string::npos);
}

TEST(Actions, SubjectClassificationRouteSpam) {
  Evaluation evaluation = runActions(
      "prepend_subject = \"[EXTERNAL] \"\nset_classification = \"Confidential\"\n"
      "route_via = \"secure-partner\"\nset_spam = true");
  EXPECT_EQ(evaluation.changes.subject_prefix, "[EXTERNAL] ");
  EXPECT_EQ(evaluation.changes.classification, "Confidential");
  EXPECT_EQ(evaluation.changes.route_connector, "secure-partner");
  EXPECT_EQ(evaluation.changes.spam, true);
  EXPECT_EQ(evaluation.matches.at(0).actions,
            (std::vector<std::string>{
                "prepend \"[EXTERNAL] \" to the subject", "set classification \"Confidential\"",
                "route through send connector \"secure-partner\"", "mark as spam"}));
  EXPECT_NE(problemOfActions(R"(route_via = "secure-partnr")")
                .find("no [[send_connector]] is named \"secure-partnr\"; did you mean "
                      "\"secure-partner\"? (configured: secure-partner, smarthost)"),
            std::string::npos);
}

TEST(Actions, Disclaimer) {
  Evaluation evaluation = runActions(
      "disclaimer = {text = \"Sent from outside.\", html = \"<p>Sent from outside.</p>\", "
      "signed = \"skip\"}");
  ASSERT_TRUE(evaluation.changes.disclaimer);
  EXPECT_EQ(evaluation.changes.disclaimer->text, "Sent from outside.");
  EXPECT_EQ(evaluation.changes.disclaimer->html, "<p>Sent from outside.</p>");
  EXPECT_EQ(evaluation.changes.disclaimer->signed_content, mime::Disclaimer::SignedContent::skip);
  Evaluation wrapped = runActions(R"(disclaimer = {text = "x"})");
  EXPECT_EQ(wrapped.changes.disclaimer->signed_content, mime::Disclaimer::SignedContent::wrap);

  EXPECT_NE(problemOfActions(R"(disclaimer = {text = "x", signed = "sign"})")
                .find("signed must be \"wrap\""),
            std::string::npos);
  EXPECT_NE(problemOfActions(R"(disclaimer = {signed = "wrap"})").find("needs text"),
            std::string::npos);
}

TEST(Actions, DisclaimerFromFileAndItsSizeLimit) {
  const auto directory = std::filesystem::temp_directory_path() / "policy-disclaimer-test";
  std::filesystem::create_directories(directory);
  std::ofstream(directory / "disclaimer.txt") << "This message is confidential.\n";
  RuleEnvironment environment = testing::testEnvironment();
  environment.base_directory = directory;
  Evaluation evaluation = runActions(R"(disclaimer = {text_file = "disclaimer.txt"})", environment);
  EXPECT_EQ(evaluation.changes.disclaimer->text, "This message is confidential.\n");

  environment.max_disclaimer_bytes = 10;
  const std::string problems = problemsOf(
      "[[rule]]\nname = \"d\"\n[rule.then]\ndisclaimer = {text_file = \"disclaimer.txt\"}\n",
      environment);
  EXPECT_NE(problems.find("the disclaimer is 30 bytes; keep it under 10"), std::string::npos)
      << problems;
  EXPECT_NE(problemOfActions(R"(disclaimer = {text_file = "/nonexistent/d.txt"})")
                .find("cannot read \"/nonexistent/d.txt\""),
            std::string::npos);
}

TEST(Actions, StopProcessingIsTheRulesOwnKey) {
  EXPECT_NE(problemOfActions("stop_processing = true")
                .find("unknown action \"stop_processing\": stop processing is the rule's own "
                      "key: write stop = true"),
            std::string::npos);
}

TEST(Actions, ValidationHelpers) {
  EXPECT_FALSE(checkHeaderName("X-Good-Name"));
  EXPECT_TRUE(checkHeaderName(""));
  EXPECT_TRUE(checkHeaderName("X\xC3\xA9"));
  EXPECT_FALSE(checkHeaderValue("fine value"));
  EXPECT_TRUE(checkHeaderValue(std::string("nul\0here", 8)));
  EXPECT_FALSE(checkRejection({450, "4.2.0", "try later"}));
  EXPECT_TRUE(checkRejection({450, "5.2.0", "x"}));
  EXPECT_FALSE(checkAddress("user@example.com"));
  EXPECT_FALSE(checkAddress("usér@exämple.com"));  // SMTPUTF8
  EXPECT_TRUE(checkAddress("user@"));
}

}  // namespace
}  // namespace bulwark::policy
