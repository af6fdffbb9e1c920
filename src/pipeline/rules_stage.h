// The rules stage (MISSION.md 5, DESIGN.md pipeline "rules"): after sender authentication and
// before signing, it evaluates the transport rules on the message's facts and applies the
// enforce-mode effects in one place: refuse, discard, quarantine, recipients, header edits,
// subject prefix, disclaimer, classification, route and the TLS requirement. Every matching rule
// (test mode too) leaves a trace note. The message is untrusted; the rules are the
// administrator's.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/config.h"
#include "mime/mime_message.h"
#include "pipeline/stage.h"
#include "policy/rule.h"

namespace bulwark::pipeline {

class RulesStage final : public Stage {
 public:
  // `organisation`: what is inside (app::organisationOf: local domains and [rules]
  // internal_domains). The MIME limits and unparseable_action come from config.rules.
  RulesStage(const Config& config, std::shared_ptr<const policy::RuleSet> rules,
             policy::Organisation organisation);
  std::string_view name() const override { return "rules"; }
  // Never fails open or closed on a dependency (it has none): a message the MIME parser cannot
  // read, or one past the [rules] MIME limits, gets [rules] unparseable_action.
  Verdict process(MessageContext& context) override;

  // The facts the rules read, from what SMTP and the earlier stages found. `parsed` and the
  // stage's organisation must outlive the facts.
  policy::MessageFacts factsFor(const MessageContext& context,
                                const mime::ParsedMessage& parsed) const;
  // The trace note of one rule: `rule="name" mode=enforce matched: ... actions: ...`.
  static std::string traceNote(const policy::RuleMatch& match);
  // The RFC5322.From address (local part @ lower-case domain) when the message has exactly one
  // From field holding one mailbox; empty otherwise (nobody can say which address counts).
  static std::string fromAddress(std::string_view message);
  // The verdict of [rules] unparseable_action (quarantine, reject or deliver) for `reason`.
  static Verdict unparseableVerdict(std::string_view action, const std::string& reason);
  // Why the rules cannot read `parsed` safely (no MIME structure at all, or text past a limit
  // they would not see); empty when they can. What [rules] unparseable_action acts on.
  static std::string unreadableReason(const mime::ParsedMessage& parsed,
                                      const mime::MimeLimits& limits);
  // Applies the enforce-mode effects that change the message or its envelope; returns the
  // verdict of the ones that stop delivery (proceed when none does). Public so that `bulwark
  // rules test` shows exactly what the server would pass on.
  Verdict apply(MessageContext& context, const policy::Evaluation& evaluation) const;

 private:
  Verdict unparseable(MessageContext& context, const std::string& reason) const;

  const Config& config_;
  std::shared_ptr<const policy::RuleSet> rules_;
  policy::Organisation organisation_;
  mime::MimeLimits limits_;
};

}  // namespace bulwark::pipeline
