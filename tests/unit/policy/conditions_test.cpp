// Each condition of [rule.if], through the loader and RuleSet::evaluate on a hand-built MIME
// view: what matches, what does not, and the reason it gives.
#include "policy/conditions.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "policy_test_support.h"

namespace bulwark::policy {
namespace {

using testing::matchOne;
using testing::TestMessage;

std::string reasonOf(std::string_view conditions, const MessageFacts& facts) {
  auto reasons = matchOne(conditions, facts);
  if (!reasons || reasons->empty()) return "<no match>";
  return reasons->front();
}

TEST(AddressConditions, FromExactWildcardAndCase) {
  TestMessage message;
  message.facts.from_address = "Alice@Example.COM";
  EXPECT_EQ(reasonOf(R"(from = "alice@example.com")", message.facts),
            "from \"Alice@Example.COM\" matches \"alice@example.com\"");
  EXPECT_EQ(reasonOf(R"(from = ["nobody@example.com", "*@example.com"])", message.facts),
            "from \"Alice@Example.COM\" matches \"*@example.com\"");
  EXPECT_EQ(reasonOf(R"(from = "ali*@*.com")", message.facts),
            "from \"Alice@Example.COM\" matches \"ali*@*.com\"");
  EXPECT_FALSE(matchOne(R"(from = "*@example.org")", message.facts));
}

TEST(AddressConditions, FromFallsBackToTheEnvelopeSender) {
  TestMessage message;
  message.facts.from_address.clear();
  message.facts.sender = "bounce@lists.example.org";
  EXPECT_TRUE(matchOne(R"(from = "*@lists.example.org")", message.facts));
  message.facts.sender.clear();
  EXPECT_FALSE(matchOne(R"(from = "*")", message.facts));
}

TEST(AddressConditions, ToMatchesAnyRecipient) {
  TestMessage message;
  message.facts.recipients = {"carol@example.com", "dave@partner.test"};
  EXPECT_EQ(reasonOf(R"(to = "dave@partner.test")", message.facts),
            "recipient \"dave@partner.test\" matches \"dave@partner.test\"");
  EXPECT_FALSE(matchOne(R"(to = "eve@partner.test")", message.facts));
}

TEST(AddressConditions, ListFileEntries) {
  const auto directory = std::filesystem::temp_directory_path() / "policy-test-lists";
  std::filesystem::create_directories(directory);
  {
    std::ofstream list(directory / "vips.txt");
    list << "# VIPs\n\nceo@example.com\r\n  *@board.example.com  \n";
  }
  RuleEnvironment environment = testing::testEnvironment();
  environment.base_directory = directory;
  auto rules = testing::loadValid(
      "[[rule]]\nname = \"vip\"\n[rule.if]\nto = \"@vips.txt\"\n[rule.then]\nrequire_tls = true\n",
      environment);
  TestMessage message;
  message.facts.recipients = {"someone@board.example.com"};
  EXPECT_EQ(rules->evaluate(message.facts).matches.size(), 1u);
  message.facts.recipients = {"CEO@example.com"};
  EXPECT_EQ(rules->evaluate(message.facts).matches.size(), 1u);
  message.facts.recipients = {"intern@example.com"};
  EXPECT_TRUE(rules->evaluate(message.facts).matches.empty());
}

TEST(DomainConditions, ExactAndSubdomains) {
  TestMessage message;
  message.facts.from_address = "x@mail.Partner.test";
  EXPECT_EQ(reasonOf(R"(from_domain = "*.partner.test")", message.facts),
            "from domain \"mail.Partner.test\" matches \"*.partner.test\"");
  EXPECT_FALSE(matchOne(R"(from_domain = "partner.test")", message.facts));
  message.facts.from_address = "x@partner.test";
  EXPECT_TRUE(matchOne(R"(from_domain = "partner.test")", message.facts));
  EXPECT_FALSE(matchOne(R"(from_domain = "*.partner.test")", message.facts));
  message.facts.recipients = {"a@example.com", "b@other.test"};
  EXPECT_TRUE(matchOne(R"(to_domain = "other.test")", message.facts));
}

TEST(ScopeConditions, InsideAndOutside) {
  TestMessage message;  // organisation: example.com, *.corp.example
  message.facts.from_address = "alice@example.com";
  EXPECT_EQ(reasonOf(R"(from_scope = "inside")", message.facts),
            "from \"alice@example.com\" is inside the organisation");
  EXPECT_FALSE(matchOne(R"(from_scope = "outside")", message.facts));
  message.facts.from_address = "mallory@evil.test";
  EXPECT_TRUE(matchOne(R"(from_scope = "outside")", message.facts));
  message.facts.from_address = "hr@berlin.corp.example";
  EXPECT_TRUE(matchOne(R"(from_scope = "inside")", message.facts));
}

TEST(ScopeConditions, ToScopeMatchesWhenAnyRecipientIsInThatScope) {
  TestMessage message;
  message.facts.recipients = {"carol@example.com", "dave@partner.test"};
  EXPECT_EQ(reasonOf(R"(to_scope = "outside")", message.facts),
            "recipient \"dave@partner.test\" is outside the organisation");
  EXPECT_EQ(reasonOf(R"(to_scope = "inside")", message.facts),
            "recipient \"carol@example.com\" is inside the organisation");
  message.facts.recipients = {"carol@example.com"};
  EXPECT_FALSE(matchOne(R"(to_scope = "outside")", message.facts));
}

TEST(TextConditions, SubjectContainsWholeWordsCaseInsensitive) {
  TestMessage message;
  message.setSubject("Re: TOP  Secret plans");
  message.addText("nothing here");
  EXPECT_EQ(reasonOf(R"(subject_contains = ["classified", "top secret"])", message.facts),
            "subject contains \"top secret\"");
  EXPECT_FALSE(matchOne(R"(subject_contains = "plan")", message.facts));
  EXPECT_FALSE(matchOne(R"(subject_contains = "nothing")", message.facts));
}

TEST(TextConditions, SubjectOrBodyNamesThePart) {
  TestMessage message;
  message.setSubject("quarterly figures");
  message.addText("Hello,\nsee attached.");
  message.addText("This is top\n  secret.", "text/html");
  EXPECT_EQ(reasonOf(R"(subject_or_body_contains = "top secret")", message.facts),
            "body contains \"top secret\" (part 2)");
  EXPECT_EQ(reasonOf(R"(subject_or_body_contains = "Quarterly")", message.facts),
            "subject contains \"Quarterly\"");
}

TEST(TextConditions, BodyInAnyScript) {
  TestMessage message;
  message.addText("Документ СОВЕРШЕННО СЕКРЕТНО");
  EXPECT_EQ(reasonOf(R"(subject_or_body_contains = "совершенно секретно")", message.facts),
            "body contains \"совершенно секретно\" (part 1)");
}

TEST(TextConditions, SubjectAndBodyPatterns) {
  TestMessage message;
  message.setSubject("Invoice INV-2024-0042");
  message.addText("card 4111 1111 1111 1111 expires");
  EXPECT_EQ(reasonOf(R"(subject_matches = 'inv-\d{4}-\d+')", message.facts),
            "subject matches /inv-\\d{4}-\\d+/ (\"INV-2024-0042\")");
  EXPECT_EQ(reasonOf(R"(subject_or_body_matches = '\b(?:\d{4} ){3}\d{4}\b')", message.facts),
            "body matches /\\b(?:\\d{4} ){3}\\d{4}\\b/ (\"4111 1111 1111 1111\") (part 1)");
  EXPECT_FALSE(matchOne(R"(subject_matches = '\d{4} \d{4}')", message.facts));
  // "(?-i)" turns case-insensitivity off.
  EXPECT_FALSE(matchOne(R"(subject_matches = '(?-i)inv-')", message.facts));
}

TEST(TextConditions, ManyRulesShareOneScan) {
  std::string text;
  for (int index = 0; index < 200; ++index) {
    text += "[[rule]]\nname = \"r" + std::to_string(index) +
            "\"\n[rule.if]\nsubject_or_body_contains = [\"w" + std::to_string(index) +
            "\"]\nsubject_or_body_matches = 'p" + std::to_string(index) +
            "x'\n[rule.then]\nset_spam = true\n";
  }
  auto rules = testing::loadValid(text);
  TestMessage message;
  message.addText("w7 P7X w150 p150x w199");
  Evaluation evaluation = rules->evaluate(message.facts);
  ASSERT_EQ(evaluation.matches.size(), 2u);
  EXPECT_EQ(evaluation.matches[0].rule, "r7");
  EXPECT_EQ(evaluation.matches[1].rule, "r150");
}

TEST(HeaderConditions, ContainsAndMatches) {
  TestMessage message;
  message.parsed.headers.emplace_back("X-Mailer", "Mass Mailer Pro 9");
  message.parsed.headers.emplace_back("x-priority", "1 (Highest)");
  EXPECT_EQ(
      reasonOf(R"(header_contains = {name = "x-mailer", words = ["mailer pro"]})", message.facts),
      "header x-mailer contains \"mailer pro\"");
  EXPECT_FALSE(
      matchOne(R"(header_contains = {name = "X-Mailer", words = ["mail"]})", message.facts));
  EXPECT_EQ(reasonOf(R"(header_matches = [{name = "X-Other", patterns = ["."]},
                       {name = "X-Priority", patterns = ['^1\b']}])",
                     message.facts),
            "header X-Priority matches /^1\\b/ (\"1\")");
}

TEST(AttachmentConditions, NameExtensionAndSize) {
  TestMessage message;
  message.addText("see attached");
  message.addAttachment("Invoice.PDF.exe. ", std::string(2000, 'x'));
  EXPECT_EQ(reasonOf(R"(attachment_extension = [".js", "EXE"])", message.facts),
            "attachment \"Invoice.PDF.exe. \" has extension \"exe\"");
  EXPECT_EQ(reasonOf(R"(attachment_name_matches = '\.pdf\.')", message.facts),
            "attachment \"Invoice.PDF.exe. \" name matches /\\.pdf\\./");
  EXPECT_EQ(reasonOf(R"(attachment_size_over = "1KB")", message.facts),
            "attachment \"Invoice.PDF.exe. \" is 2000 bytes (over 1024)");
  EXPECT_FALSE(matchOne(R"(attachment_size_over = 2000)", message.facts));
}

TEST(AttachmentConditions, TrueContentTypeIgnoresTheName) {
  TestMessage message;
  std::string executable = "MZ";
  executable.resize(128, '\0');
  message.addAttachment("report.pdf", executable, "application/pdf");
  EXPECT_EQ(reasonOf(R"(attachment_content_type = ["exe", "elf"])", message.facts),
            "attachment \"report.pdf\" content is exe (by its magic bytes; declared "
            "\"application/pdf\")");
  EXPECT_FALSE(matchOne(R"(attachment_content_type = "pdf")", message.facts));
}

TEST(AttachmentConditions, HasAttachment) {
  TestMessage message;
  message.addText("plain");
  EXPECT_EQ(reasonOf("has_attachment = false", message.facts), "message has no attachment");
  EXPECT_FALSE(matchOne("has_attachment = true", message.facts));
  message.addAttachment("a.txt", "a");
  message.addAttachment("", "b");
  EXPECT_EQ(reasonOf("has_attachment = true", message.facts),
            "message has 2 attachments (first: attachment \"a.txt\")");
}

TEST(AttachmentConditions, PasswordProtected) {
  TestMessage message;
  message.addAttachment("plain.pdf", "%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<</Root 1 0 R>>");
  EXPECT_FALSE(matchOne("attachment_password_protected = true", message.facts));
  EXPECT_TRUE(matchOne("attachment_password_protected = false", message.facts));
  message.addAttachment("locked.pdf",
                        "%PDF-1.7\ntrailer\n<</Root 1 0 R /Encrypt 5 0 R /ID [<a><b>]>>");
  EXPECT_EQ(reasonOf("attachment_password_protected = true", message.facts),
            "attachment \"locked.pdf\" is password protected: PDF is encrypted (/Encrypt in its "
            "trailer)");
}

TEST(MessageConditions, Size) {
  TestMessage message;
  message.facts.size = 11 * 1024 * 1024;
  EXPECT_EQ(reasonOf(R"(message_size_over = "10 MiB")", message.facts),
            "message is 11534336 bytes (over 10485760)");
  EXPECT_FALSE(matchOne(R"(message_size_over = "11MB")", message.facts));
}

TEST(MessageConditions, AuthenticationResults) {
  TestMessage message;
  message.facts.spf = "softfail";
  message.facts.dkim = "pass";
  message.facts.dmarc = "fail";
  EXPECT_EQ(reasonOf(R"(spf = ["fail", "SoftFail"])", message.facts), "spf result is \"softfail\"");
  EXPECT_FALSE(matchOne(R"(dkim = ["fail", "none"])", message.facts));
  EXPECT_EQ(reasonOf(R"(dmarc = "fail")", message.facts), "dmarc result is \"fail\"");
}

TEST(MessageConditions, FlagsAndClassification) {
  TestMessage message;
  message.facts.received_over_tls = true;
  message.facts.classification = "Confidential";
  EXPECT_EQ(reasonOf("received_over_tls = true", message.facts), "received over TLS");
  EXPECT_EQ(reasonOf("authenticated_sender = false", message.facts), "sender is not authenticated");
  EXPECT_FALSE(matchOne("domain_secured = true", message.facts));
  EXPECT_FALSE(matchOne("spam = true", message.facts));
  message.facts.spam = true;
  message.facts.domain_secured = true;
  EXPECT_EQ(reasonOf("spam = true", message.facts), "spam verdict is set");
  EXPECT_EQ(reasonOf("domain_secured = true", message.facts), "received over Domain Security");
  EXPECT_EQ(reasonOf(R"(classification = ["Public", "confidential"])", message.facts),
            "classification is \"Confidential\"");
  message.facts.classification.clear();
  EXPECT_FALSE(matchOne(R"(classification = "Confidential")", message.facts));
}

TEST(MessageConditions, AllConditionsOfARuleMustMatch) {
  TestMessage message;
  message.facts.dmarc = "fail";
  message.facts.from_address = "ceo@example.com";
  message.facts.authenticated_sender = false;
  auto reasons =
      matchOne("from_domain = \"example.com\"\ndmarc = \"fail\"\nauthenticated_sender = false",
               message.facts);
  ASSERT_TRUE(reasons);
  EXPECT_EQ(*reasons,
            (std::vector<std::string>{"from domain \"example.com\" matches \"example.com\"",
                                      "dmarc result is \"fail\"", "sender is not authenticated"}));
  message.facts.dmarc = "pass";
  EXPECT_FALSE(matchOne("from_domain = \"example.com\"\ndmarc = \"fail\"", message.facts));
}

TEST(MessageConditions, ReasonsQuoteUntrustedTextSafely) {
  EXPECT_EQ(quoteForReason("a\r\nb"), "\"a??b\"");
  const std::string cut = quoteForReason(std::string(79, 'a') + "é" + "zzz");
  EXPECT_EQ(cut, "\"" + std::string(79, 'a') + "...\"");
}

TEST(MessageConditions, ConditionWorksWithoutASharedScan) {
  auto index = std::make_shared<TextIndex>();
  std::vector<IndexedText> words{{"Top Secret", index->addWord("Top Secret")}};
  index->build();
  auto condition = makeWordsCondition(index, words, TextScope::subject_or_body);
  TestMessage message;
  message.addText("this is top secret");
  EXPECT_EQ(condition->match(message.facts), "body contains \"Top Secret\" (part 1)");
  EXPECT_EQ(condition->name(), "subject_or_body_contains");
}

TEST(Wildcards, MatchLikeShellGlobsWithoutBacktrackingBlowUp) {
  EXPECT_TRUE(wildcardMatch("*@example.com", "a@example.com"));
  EXPECT_TRUE(wildcardMatch("a*b*c", "aXXbYYc"));
  EXPECT_FALSE(wildcardMatch("a*b*c", "aXXbYY"));
  EXPECT_TRUE(wildcardMatch("*", ""));
  EXPECT_FALSE(wildcardMatch("*a*a*a*a*a*b", std::string(5000, 'a')));
}

}  // namespace
}  // namespace bulwark::policy
