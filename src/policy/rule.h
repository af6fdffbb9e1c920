// Transport rules (MISSION.md 5): conditions, exceptions and actions, evaluated in priority
// order in enforce or test mode, each decision explained. Evaluation is pure: it reads
// MessageFacts and writes the intended effects into MessageChanges, which the rules stage
// (src/pipeline/rules_stage) applies in one place. The facts come from the message: untrusted.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mime/mime_edit.h"
#include "mime/mime_message.h"

namespace bulwark::policy {

// Which domains are "inside the organisation" (the local domains, and any listed in the rules
// configuration); everything else is outside.
struct Organisation {
  std::vector<std::string> domains;  // lower-case; "*.example.com" covers subdomains
  bool isInside(std::string_view address_or_domain) const;
};

// What the rules look at. Built by the rules stage from the pipeline's MessageContext, or by
// `bulwark rules test` from a message file and command-line options.
struct MessageFacts {
  std::string sender;                   // MAIL FROM; "" for <>
  std::vector<std::string> recipients;  // RCPT TO
  std::string from_address;             // the RFC5322.From address ("" when none or ambiguous)
  std::string client_address;
  bool received_over_tls = false;
  bool authenticated_sender = false;  // AUTH, or a relay network client
  bool domain_secured = false;        // arrived over Domain Security (a verified partner)
  // Sender-authentication results as written in Authentication-Results ("pass", "fail", ...;
  // "none" when not checked). dkim is the best result over the signatures.
  std::string spf = "none";
  std::string dkim = "none";
  std::string dmarc = "none";
  bool spam = false;                             // a spam verdict from an earlier stage or rule
  std::string classification;                    // X-Bulwark-Classification as set by us
  std::uint64_t size = 0;                        // bytes of the message
  std::string_view raw;                          // the message bytes
  const mime::ParsedMessage* message = nullptr;  // its MIME view; never null during evaluation
  const Organisation* organisation = nullptr;    // never null during evaluation
};

struct Rejection {
  int code = 550;  // 5xx (or 4xx for a temporary refusal)
  std::string enhanced = "5.7.1";
  std::string text;
};

struct HeaderEdit {
  enum class Kind { add, set, remove };
  Kind kind = Kind::add;
  std::string name;
  std::string value;
};

// The effects of the actions of every enforce-mode rule that matched, in rule order. A later
// rule's choice of the same single-valued effect (classification, route) replaces an earlier
// one; lists accumulate.
struct MessageChanges {
  bool require_tls = false;               // the envelope's REQUIRETLS-like requirement (outbound)
  std::optional<Rejection> reject;        // refuse the message (SMTP reply before the 250)
  bool discard = false;                   // accept and drop silently
  std::optional<std::string> quarantine;  // accept into hold/, with this reason
  std::vector<std::string> redirect_to;   // replaces every recipient when not empty
  std::vector<std::string> add_to;        // envelope recipient, and the To field
  std::vector<std::string> add_cc;        // envelope recipient, and the Cc field
  std::vector<std::string> add_bcc;       // envelope recipient only
  std::vector<HeaderEdit> header_edits;
  std::string subject_prefix;  // prefixes of several rules, concatenated in order
  std::optional<mime::Disclaimer> disclaimer;
  std::optional<std::string> classification;
  std::optional<std::string> route_connector;  // a [[send_connector]] name
  std::optional<bool> spam;
  // Later actions of later issues ("apply S/MIME", "apply rights protection") add their own
  // fields here; the stage that applies them reads them.

  bool stopsDelivery() const { return reject.has_value() || discard || quarantine.has_value(); }
};

class MessageScan;  // policy/message_scan.h: per-message text work shared by all conditions

class Condition {
 public:
  virtual ~Condition() = default;
  virtual std::string_view name() const = 0;  // the TOML key, e.g. "subject_contains"
  // nullopt when it does not match; else what matched, in words, for the trace and
  // `bulwark rules test` ("subject contains \"top secret\"").
  virtual std::optional<std::string> match(const MessageFacts& facts) const = 0;
  // The same, sharing the folded texts and word/pattern hits of one evaluation with the other
  // conditions (RuleSet::evaluate uses this, so 1,000 word rules scan the body once).
  virtual std::optional<std::string> matchScanned(const MessageFacts& facts,
                                                  MessageScan& scan) const {
    (void)scan;
    return match(facts);
  }
};

class Action {
 public:
  virtual ~Action() = default;
  virtual std::string_view name() const = 0;  // the TOML key, e.g. "require_tls"
  // Records the effect; returns what it does, in words ("require TLS for outbound delivery").
  virtual std::string apply(MessageChanges& changes) const = 0;
};

enum class RuleMode { enforce, test };

struct Rule {
  std::string name;
  int priority = 0;  // lower runs first; equal priorities keep file order
  RuleMode mode = RuleMode::enforce;
  bool stop_processing = false;  // a match ends the evaluation (after its actions)
  std::vector<std::unique_ptr<Condition>> conditions;  // all must match (AND); none: always
  std::vector<std::unique_ptr<Condition>> exceptions;  // any match vetoes the rule
  std::vector<std::unique_ptr<Action>> actions;
  std::string source;  // file it came from
  int line = 0;
};

struct RuleMatch {
  std::string rule;
  RuleMode mode = RuleMode::enforce;
  std::vector<std::string> reasons;  // one per condition, what matched
  std::vector<std::string> actions;  // what each action does (test mode: would do)
  bool stopped = false;              // stop_processing ended the evaluation here
};

// A rule whose conditions matched but an exception vetoed it (for the trace and `rules test`).
struct RuleVeto {
  std::string rule;
  RuleMode mode = RuleMode::enforce;
  std::vector<std::string> reasons;  // what its conditions matched
  std::string exception;             // what the vetoing exception matched
};

struct Evaluation {
  std::vector<RuleMatch> matches;  // in evaluation order, enforce and test
  std::vector<RuleVeto> vetoes;    // in evaluation order
  MessageChanges changes;          // enforce-mode effects only
};

class RuleSet {
 public:
  RuleSet() = default;
  explicit RuleSet(std::vector<Rule> rules);  // sorts by priority (stable)
  Evaluation evaluate(const MessageFacts& facts) const;
  const std::vector<Rule>& rules() const { return rules_; }
  bool empty() const { return rules_.empty(); }

 private:
  std::vector<Rule> rules_;
};

}  // namespace bulwark::policy
