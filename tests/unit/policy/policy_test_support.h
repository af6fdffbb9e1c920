// Helpers for the policy unit tests: a hand-built MIME view (mime::ParsedMessage is a plain
// struct, so the tests do not depend on the parser) and rule text loaded with loadRulesText.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "policy/rule.h"
#include "policy/rule_loader.h"

namespace bulwark::policy::testing {

// A message with facts pointing at it; not copyable (facts hold pointers into it).
struct TestMessage {
  TestMessage() {
    mime::MimePart root;
    root.content_type = "multipart/mixed";
    root.is_multipart = true;
    parsed.parts.push_back(root);
    organisation.domains = {"example.com", "*.corp.example"};
    facts.sender = "alice@example.com";
    facts.from_address = "alice@example.com";
    facts.recipients = {"bob@partner.test"};
    facts.message = &parsed;
    facts.organisation = &organisation;
  }
  TestMessage(const TestMessage&) = delete;
  TestMessage& operator=(const TestMessage&) = delete;

  void addText(std::string text, std::string content_type = "text/plain") {
    mime::MimePart part;
    part.index = parsed.parts.size();
    part.depth = 1;
    part.section = std::to_string(parsed.parts.size());
    part.content_type = std::move(content_type);
    part.text = text;
    part.content = std::move(text);
    parsed.parts[0].children.push_back(part.index);
    parsed.parts.push_back(std::move(part));
  }
  void addAttachment(std::string filename, std::string content,
                     std::string content_type = "application/octet-stream") {
    mime::MimePart part;
    part.index = parsed.parts.size();
    part.depth = 1;
    part.section = std::to_string(parsed.parts.size());
    part.content_type = std::move(content_type);
    part.disposition = "attachment";
    part.filename = std::move(filename);
    part.is_attachment = true;
    part.content = std::move(content);
    parsed.parts[0].children.push_back(part.index);
    parsed.parts.push_back(std::move(part));
  }
  void setSubject(std::string subject) {
    parsed.subject = subject;
    parsed.headers.emplace_back("Subject", std::move(subject));
  }

  mime::ParsedMessage parsed;
  Organisation organisation;
  MessageFacts facts;
};

inline RuleEnvironment testEnvironment() {
  RuleEnvironment environment;
  environment.send_connectors = {"secure-partner", "smarthost"};
  environment.organisation.domains = {"example.com"};
  return environment;
}

// Loads rule text that must be valid (the test fails with the problems otherwise).
inline std::shared_ptr<const RuleSet> loadValid(
    std::string_view text, const RuleEnvironment& environment = testEnvironment()) {
  RuleLoad load = loadRulesText(text, "test.toml", environment);
  EXPECT_TRUE(load.ok()) << formatRuleProblems(load.problems);
  return load.rules;
}

// One rule with `conditions` (the body of [rule.if]) and quarantine as its action; the reasons
// when it matches, nothing when it does not.
inline std::optional<std::vector<std::string>> matchOne(std::string_view conditions,
                                                        const MessageFacts& facts) {
  const std::string text = "[[rule]]\nname = \"under test\"\n[rule.if]\n" +
                           std::string(conditions) + "\n[rule.then]\nquarantine = true\n";
  auto rules = loadValid(text);
  if (!rules || rules->empty()) return std::nullopt;
  Evaluation evaluation = rules->evaluate(facts);
  if (evaluation.matches.empty()) return std::nullopt;
  return evaluation.matches.front().reasons;
}

// The problems of rule text that must be invalid, formatted "file:line:column: message".
inline std::string problemsOf(std::string_view text,
                              const RuleEnvironment& environment = testEnvironment()) {
  RuleLoad load = loadRulesText(text, "test.toml", environment);
  EXPECT_FALSE(load.ok()) << "expected problems in:\n" << text;
  return formatRuleProblems(load.problems);
}

}  // namespace bulwark::policy::testing
