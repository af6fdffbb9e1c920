// RulesStage; see rules_stage.h and docs/rules-in-the-server.md. Facts come from the context
// (RFC 5322 From for from_address, the authentication stage's RFC 7208 / 6376 / 7489 results);
// the effects are applied to context.data through mime_edit and to the envelope fields of the
// context, which the intake turns into the queue envelope after the pipeline.
#include "pipeline/rules_stage.h"

#include <algorithm>

#include "auth/address_list.h"
#include "common/log.h"
#include "common/strings.h"
#include "mime/header_fields.h"
#include "mime/header_scan.h"
#include "mime/mime_edit.h"

namespace bulwark::pipeline {
namespace {

std::string joined(const std::vector<std::string>& items, std::string_view separator) {
  std::string text;
  for (const auto& item : items) {
    if (!text.empty()) text += separator;
    text += item;
  }
  return text;
}

// The most favourable result over the signatures: a message with one good signature passes,
// whatever else it carries (RFC 6376 6.1: each signature is judged on its own).
std::string bestDkimResult(const std::vector<auth::DkimSignatureResult>& signatures) {
  static constexpr auth::DkimResult kOrder[] = {
      auth::DkimResult::pass,      auth::DkimResult::neutral,   auth::DkimResult::policy,
      auth::DkimResult::temperror, auth::DkimResult::permerror, auth::DkimResult::fail};
  for (auth::DkimResult result : kOrder) {
    for (const auto& signature : signatures) {
      if (signature.result == result) return std::string(auth::dkimResultName(result));
    }
  }
  return "none";
}

void addRecipients(std::vector<std::string>& recipients, const std::vector<std::string>& added) {
  for (const auto& address : added) {
    const bool present = std::any_of(
        recipients.begin(), recipients.end(),
        [&](const std::string& existing) { return equalsIgnoreCase(existing, address); });
    if (!present) recipients.push_back(address);
  }
}

// Adds addresses to the To or Cc field (one field, the old addresses first).
Result<void> addToAddressField(std::string& message, std::string_view name,
                               const std::vector<std::string>& addresses) {
  std::string value;
  for (const auto& field : mime::headerFields(message)) {
    if (equalsIgnoreCase(field.name, name)) {
      const std::string existing = mime::unfold(field.value);
      if (!existing.empty()) value += (value.empty() ? "" : ", ") + existing;
    }
  }
  for (const auto& address : addresses) value += (value.empty() ? "" : ", ") + address;
  return mime::setHeader(message, name, value);
}

}  // namespace

RulesStage::RulesStage(const Config& config, std::shared_ptr<const policy::RuleSet> rules,
                       policy::Organisation organisation)
    : config_(config), rules_(std::move(rules)), organisation_(std::move(organisation)) {
  limits_.max_depth = config.rules.mime_max_depth;
  limits_.max_parts = config.rules.mime_max_parts;
}

policy::MessageFacts RulesStage::factsFor(const MessageContext& context,
                                          const mime::ParsedMessage& parsed) const {
  policy::MessageFacts facts;
  facts.sender = context.sender;
  facts.recipients = context.recipients;
  facts.from_address = fromAddress(context.data);
  facts.client_address = context.client_address;
  facts.received_over_tls = context.tls;
  facts.authenticated_sender = context.fromOurUsers();
  facts.domain_secured = !context.partner_domain.empty();
  if (context.spf) facts.spf = std::string(auth::spfResultName(context.spf->result));
  facts.dkim = bestDkimResult(context.dkim);
  if (context.dmarc) facts.dmarc = std::string(auth::dmarcResultName(context.dmarc->result));
  facts.spam = context.spam;
  // Ours either way: X-Bulwark- fields from outside were removed on arrival.
  facts.classification =
      !context.classification.empty()
          ? context.classification
          : mime::findHeaderValue(context.data, "X-Bulwark-Classification").value_or("");
  facts.size = context.data.size();
  facts.raw = context.data;
  facts.message = &parsed;
  facts.organisation = &organisation_;
  return facts;
}

std::string RulesStage::fromAddress(std::string_view message) {
  const mime::HeaderField* from = nullptr;
  const auto fields = mime::headerFields(message);
  for (const auto& field : fields) {
    if (!equalsIgnoreCase(field.name, "From")) continue;
    if (from != nullptr) return {};
    from = &field;
  }
  if (from == nullptr) return {};
  auto list = auth::parseAddressList(mime::unfold(from->value));
  if (!list || list->mailboxes.size() != 1) return {};
  const auth::Mailbox& mailbox = list->mailboxes.front();
  return mailbox.local_part + "@" + asciiLower(mailbox.domain);
}

std::string RulesStage::traceNote(const policy::RuleMatch& match) {
  std::string note = "rule=\"" + match.rule + "\"";
  if (match.mode == policy::RuleMode::test) {
    note += " mode=test matched: " + joined(match.reasons, "; ") +
            " would: " + joined(match.actions, "; ");
  } else {
    note += " mode=enforce matched: " + joined(match.reasons, "; ") +
            " actions: " + joined(match.actions, "; ");
  }
  if (match.stopped) note += " (stop)";
  return note;
}

Verdict RulesStage::unparseableVerdict(std::string_view action, const std::string& reason) {
  if (action == "reject") {
    return Verdict::reject(smtp::Reply{554, "5.6.0", {"Message content could not be parsed"}},
                           "rules: " + reason);
  }
  if (action == "deliver") return Verdict::proceed();
  return Verdict::quarantine("rules: " + reason);
}

Verdict RulesStage::unparseable(MessageContext& context, const std::string& reason) const {
  const std::string& action = config_.rules.unparseable_action;
  context.note("rules=\"" + reason + "\" unparseable_action=" + action);
  log::info("{}: rules: {}; unparseable_action={}", context.queue_id, reason, action);
  return unparseableVerdict(action, reason);
}

std::string RulesStage::unreadableReason(const mime::ParsedMessage& parsed,
                                         const mime::MimeLimits& limits) {
  if (parsed.status == mime::ParsedMessage::Status::unparseable) {
    return "unparseable MIME: " + joined(parsed.problems, "; ");
  }
  if (parsed.limit_exceeded) {
    // Text past the limit would be invisible to the rules: as unsafe as no structure at all.
    return "MIME past the [rules] limits (mime_max_depth " + std::to_string(limits.max_depth) +
           ", mime_max_parts " + std::to_string(limits.max_parts) +
           "): " + joined(parsed.problems, "; ");
  }
  return "";
}

Verdict RulesStage::process(MessageContext& context) {
  // No rules: nothing reads the MIME view, so it is not built.
  if (!rules_ || rules_->empty()) return Verdict::proceed();
  const mime::ParsedMessage parsed = mime::parseMessage(context.data, limits_);
  const std::string problem = unreadableReason(parsed, limits_);
  if (!problem.empty()) {
    Verdict verdict = unparseable(context, problem);
    if (verdict.kind != Verdict::Kind::proceed) return verdict;
  } else if (parsed.status == mime::ParsedMessage::Status::damaged) {
    context.note("rules_mime=\"damaged: " + joined(parsed.problems, "; ") + "\"");
  }

  const policy::MessageFacts facts = factsFor(context, parsed);
  const policy::Evaluation evaluation = rules_->evaluate(facts);
  for (const auto& match : evaluation.matches) {
    std::string note = traceNote(match);
    log::info("{}: {}", context.queue_id, note);
    context.note(std::move(note));
  }
  return apply(context, evaluation);
}

Verdict RulesStage::apply(MessageContext& context, const policy::Evaluation& evaluation) const {
  const policy::MessageChanges& changes = evaluation.changes;
  std::vector<std::string> enforced;
  std::string header_names;  // the same names, fit for a quoted-string
  for (const auto& match : evaluation.matches) {
    if (match.mode != policy::RuleMode::enforce) continue;
    enforced.push_back("\"" + match.rule + "\"");
    if (!header_names.empty()) header_names += ", ";
    for (char c : match.rule) {
      if (c != '"' && c != '\\' && c != '\r' && c != '\n') header_names += c;
    }
  }
  const std::string by = "transport rule " + joined(enforced, ", ");
  // The rule's name goes to the trace (the verdict's reason), never into the SMTP reply.
  if (changes.reject) {
    const policy::Rejection& rejection = *changes.reject;
    smtp::Reply reply{rejection.code,
                      rejection.enhanced,
                      {rejection.text.empty() ? "Message refused by policy" : rejection.text}};
    return Verdict::reject(std::move(reply), by);
  }
  if (changes.discard) {
    Verdict verdict;
    verdict.kind = Verdict::Kind::discard;
    verdict.reason = by;
    return verdict;
  }

  auto problem = [&](std::string what) {
    log::warning("{}: rules: {}", context.queue_id, what);
    context.note("rules_problem=\"" + what + "\"");
  };
  // Envelope effects. The TLS requirement is only ever raised (REQUIRETLS from the client
  // stays whatever a rule says).
  if (changes.require_tls) context.rule_requires_tls = true;
  if (!changes.redirect_to.empty()) context.recipients = changes.redirect_to;
  addRecipients(context.recipients, changes.add_to);
  addRecipients(context.recipients, changes.add_cc);
  addRecipients(context.recipients, changes.add_bcc);
  if (changes.route_connector) context.route_connector = *changes.route_connector;

  // Message effects, on context.data (the signing stage after this signs and seals the result).
  if (!changes.add_to.empty()) {
    if (auto added = addToAddressField(context.data, "To", changes.add_to); !added) {
      problem("To: " + added.error().message);
    }
  }
  if (!changes.add_cc.empty()) {
    if (auto added = addToAddressField(context.data, "Cc", changes.add_cc); !added) {
      problem("Cc: " + added.error().message);
    }
  }
  for (const auto& edit : changes.header_edits) {
    Result<void> done;
    switch (edit.kind) {
      case policy::HeaderEdit::Kind::add:
        done = mime::addHeader(context.data, edit.name, edit.value);
        break;
      case policy::HeaderEdit::Kind::set:
        done = mime::setHeader(context.data, edit.name, edit.value);
        break;
      case policy::HeaderEdit::Kind::remove: mime::removeHeader(context.data, edit.name); break;
    }
    if (!done) problem(edit.name + ": " + done.error().message);
  }
  if (!changes.subject_prefix.empty()) {
    if (auto prefixed = mime::prependSubject(context.data, changes.subject_prefix); !prefixed) {
      problem("subject prefix: " + prefixed.error().message);
    }
  }
  if (changes.disclaimer) {
    auto outcome = mime::appendDisclaimer(context.data, *changes.disclaimer, limits_);
    if (!outcome) {
      problem("disclaimer: " + outcome.error().message);
    } else {
      context.note("rules_disclaimer=\"" + outcome->how + "\"");
    }
  }
  if (changes.classification) {
    context.classification = *changes.classification;
    if (auto set =
            mime::setHeader(context.data, "X-Bulwark-Classification", *changes.classification);
        !set) {
      problem("classification: " + set.error().message);
    }
  }
  if (changes.spam) {
    context.spam = *changes.spam;
    mime::removeHeader(context.data, "X-Bulwark-Spam");
    if (*changes.spam) {
      context.spam_reason = by;
      context.prependHeader("X-Bulwark-Spam: yes; reason=\"transport rule " + header_names +
                            "\"\r\n");
    } else {
      context.spam_reason.clear();
    }
  }
  // The recipients may have changed: a copy that now leaves this machine makes the message
  // forwarded, so the signing stage ARC-seals it (RFC 8617 5.1).
  for (const auto& recipient : context.recipients) {
    if (!config_.storedHere(recipient)) context.forwarded = true;
  }
  if (changes.quarantine) return Verdict::quarantine(by + ": " + *changes.quarantine);
  return Verdict::proceed();
}

}  // namespace bulwark::pipeline
