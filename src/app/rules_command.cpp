// `bulwark rules test` (docs/rules.md): evaluates transport rules against a message file and
// prints which rules match, why, what they do (or would do in test mode) and the message as the
// server would pass it on. It sends nothing and touches no queue. Untrusted: the message file
// (every string from it is escaped before it reaches the terminal); the rule and configuration
// files and the arguments are the administrator's (checked, problems with file:line:column).
#include <arpa/inet.h>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "app/commands.h"
#include "app/configured_rules.h"
#include "auth/address_list.h"
#include "common/config_loader.h"
#include "common/strings.h"
#include "mime/header_fields.h"
#include "mime/header_scan.h"
#include "mime/mime_message.h"
#include "pipeline/message_context.h"
#include "pipeline/rules_stage.h"
#include "policy/rule.h"
#include "policy/rule_loader.h"
#include "store/trace_format.h"

namespace bulwark::app {
namespace {

constexpr int kExitSuccess = 0;
constexpr int kExitRuleProblems = 1;
constexpr int kExitBadArguments = 2;

struct RulesTestOptions {
  std::string rules_file;
  std::string config_file;
  std::string message_file;
  std::optional<std::string> sender;
  std::vector<std::string> recipients;
  std::string client_address;
  bool tls = false;
  bool authenticated = false;
  bool domain_secured = false;
  bool spam = false;
  std::string classification;
  std::string spf = "none";
  std::string dkim = "none";
  std::string dmarc = "none";
  bool show_message = false;
  bool hide_message = false;
  bool json = false;
};

// What the command found, kept apart from how it is printed (text or JSON).
struct RuleReport {
  const policy::Rule* rule = nullptr;
  enum class Outcome { matched, excepted, no_match, not_evaluated } outcome = Outcome::no_match;
  const policy::RuleMatch* match = nullptr;  // matched
  const policy::RuleVeto* veto = nullptr;    // excepted
  std::string failed_condition;              // no_match: the first condition that did not match
};

// The server's view after the rules: the stage's own apply() on a context holding the message.
struct Outcome {
  pipeline::Verdict verdict;
  pipeline::MessageContext context;  // data, recipients, require_tls, route, ... afterwards
  bool message_changed = false;
  std::vector<std::string> notes;  // what apply() noted for the trace (disclaimer, problems)
  // The MIME parser could not read the message, or stopped at a [rules] limit: the server
  // applies [rules] unparseable_action before any rule (empty when readable).
  std::string unreadable;
};

std::string display(std::string_view untrusted) {
  return store::escapeForTerminal(untrusted);
}

std::optional<std::string> readFile(const std::string& path, std::string& problem) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    problem = std::strerror(errno);
    return std::nullopt;
  }
  std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (file.bad()) {
    problem = "read error";
    return std::nullopt;
  }
  return text;
}

// "<a@b>" and "a@b" are the same envelope address; "<>" and "" the null sender.
std::string envelopeAddress(std::string_view text) {
  text = trim(text);
  if (text.size() >= 2 && text.front() == '<' && text.back() == '>') {
    text = text.substr(1, text.size() - 2);
  }
  return std::string(text);
}

bool looksLikeAddress(std::string_view address) {
  const std::size_t at = address.rfind('@');
  return at != std::string_view::npos && at > 0 && at + 1 < address.size() &&
         address.find_first_of(" \t\r\n<>") == std::string_view::npos;
}

std::string mailboxAddress(const auth::Mailbox& mailbox) {
  return mailbox.local_part + "@" + asciiLower(mailbox.domain);
}

// Mailboxes of every field named `name`; fields that do not parse are left out (the rules see
// what could be read, as the server's stage does with the message's own fields).
std::vector<std::string> addressesOfFields(std::string_view message, std::string_view name) {
  std::vector<std::string> addresses;
  for (const mime::HeaderField& field : mime::headerFields(message)) {
    if (!equalsIgnoreCase(field.name, name)) continue;
    auto list = auth::parseAddressList(mime::unfold(field.value));
    if (!list) continue;
    for (const auth::Mailbox& mailbox : list->mailboxes) {
      if (!mailbox.domain.empty()) addresses.push_back(mailboxAddress(mailbox));
    }
  }
  return addresses;
}

// The RFC5322.From address: one From field holding one mailbox, else "" (none or ambiguous).
bool isIpAddress(const std::string& text) {
  unsigned char buffer[16];
  return ::inet_pton(AF_INET, text.c_str(), buffer) == 1 ||
         ::inet_pton(AF_INET6, text.c_str(), buffer) == 1;
}

// Evaluation reports matches and vetoes; for the other rules the conditions are asked again (the
// first that fails is the answer), with the spam verdict and classification that the enforce
// rules before them had set, as evaluation itself does.
std::vector<RuleReport> explain(const policy::RuleSet& rules, const policy::Evaluation& evaluation,
                                const policy::MessageFacts& facts) {
  std::vector<RuleReport> reports;
  policy::MessageFacts current = facts;
  policy::MessageChanges effects_so_far;
  std::size_t next_match = 0;
  std::size_t next_veto = 0;
  bool stopped = false;
  for (const policy::Rule& rule : rules.rules()) {
    RuleReport report;
    report.rule = &rule;
    if (stopped) {
      report.outcome = RuleReport::Outcome::not_evaluated;
    } else if (next_match < evaluation.matches.size() &&
               evaluation.matches[next_match].rule == rule.name) {
      report.outcome = RuleReport::Outcome::matched;
      report.match = &evaluation.matches[next_match++];
      stopped = report.match->stopped;
      if (rule.mode == policy::RuleMode::enforce) {
        for (const auto& action : rule.actions) action->apply(effects_so_far);
        current.spam = effects_so_far.spam.value_or(current.spam);
        if (effects_so_far.classification) current.classification = *effects_so_far.classification;
      }
    } else if (next_veto < evaluation.vetoes.size() &&
               evaluation.vetoes[next_veto].rule == rule.name) {
      report.outcome = RuleReport::Outcome::excepted;
      report.veto = &evaluation.vetoes[next_veto++];
    } else {
      report.outcome = RuleReport::Outcome::no_match;
      for (const auto& condition : rule.conditions) {
        if (!condition->match(current)) {
          report.failed_condition = std::string(condition->name());
          break;
        }
      }
    }
    reports.push_back(std::move(report));
  }
  return reports;
}

std::string_view modeName(policy::RuleMode mode) {
  return mode == policy::RuleMode::test ? "test" : "enforce";
}

std::string_view headerEditName(policy::HeaderEdit::Kind kind) {
  switch (kind) {
    case policy::HeaderEdit::Kind::add: return "add";
    case policy::HeaderEdit::Kind::set: return "set";
    case policy::HeaderEdit::Kind::remove: return "remove";
  }
  return "add";
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += ", ";
    out += display(item);
  }
  return out.empty() ? "-" : out;
}

std::string scopeOf(const policy::Organisation& organisation, const std::string& address) {
  if (address.empty()) return "<>";
  return display(address) + (organisation.isInside(address) ? " (inside)" : " (outside)");
}

std::string_view verdictName(pipeline::Verdict::Kind kind) {
  switch (kind) {
    case pipeline::Verdict::Kind::proceed: return "deliver";
    case pipeline::Verdict::Kind::reject: return "reject";
    case pipeline::Verdict::Kind::defer: return "defer";
    case pipeline::Verdict::Kind::quarantine: return "quarantine";
    case pipeline::Verdict::Kind::discard: return "delete";
  }
  return "deliver";
}

std::string replyText(const smtp::Reply& reply) {
  std::string text = std::to_string(reply.code) + " " + reply.enhanced;
  for (const std::string& line : reply.lines) text += " " + line;
  return text;
}

void printText(const RulesTestOptions& options, std::size_t rule_count,
               const policy::MessageFacts& facts, const mime::ParsedMessage& parsed,
               const std::vector<RuleReport>& reports, const policy::Evaluation& evaluation,
               const Outcome& outcome, bool show_message) {
  std::ostream& out = std::cout;
  const policy::Organisation& organisation = *facts.organisation;
  out << "rules: " << rule_count << " from "
      << (options.rules_file.empty() ? options.config_file : options.rules_file) << "\n";
  out << "message: " << display(options.message_file) << ", " << facts.size << " bytes, "
      << parsed.parts.size() << " MIME part(s), " << parsed.attachments().size()
      << " attachment(s); subject \"" << display(parsed.subject) << "\"\n";
  for (const std::string& problem : parsed.problems) {
    out << "  MIME problem: " << display(problem) << "\n";
  }
  out << "envelope: from " << scopeOf(organisation, facts.sender) << "; to";
  for (const std::string& recipient : facts.recipients) {
    out << " " << scopeOf(organisation, recipient);
  }
  out << "\n  From field: "
      << (facts.from_address.empty() ? "- (none or ambiguous)"
                                     : scopeOf(organisation, facts.from_address))
      << "\n  client " << (facts.client_address.empty() ? "-" : facts.client_address) << ", TLS "
      << (facts.received_over_tls ? "yes" : "no") << ", authenticated "
      << (facts.authenticated_sender ? "yes" : "no") << ", domain-secured "
      << (facts.domain_secured ? "yes" : "no") << "; SPF " << facts.spf << ", DKIM " << facts.dkim
      << ", DMARC " << facts.dmarc << "; spam " << (facts.spam ? "yes" : "no")
      << ", classification " << (facts.classification.empty() ? "-" : display(facts.classification))
      << "\n\n";
  if (!outcome.unreadable.empty()) {
    out << "the server applies [rules] unparseable_action before the rules: "
        << display(outcome.unreadable) << "\n\n";
  }

  std::size_t number = 0;
  std::string stopped_by;
  for (const RuleReport& report : reports) {
    const policy::Rule& rule = *report.rule;
    const bool test = rule.mode == policy::RuleMode::test;
    out << ++number << ". \"" << rule.name << "\" (priority " << rule.priority << ", "
        << modeName(rule.mode) << "): ";
    switch (report.outcome) {
      case RuleReport::Outcome::not_evaluated:
        out << "not evaluated (\"" << stopped_by << "\" stopped processing)\n";
        continue;
      case RuleReport::Outcome::no_match:
        out << "no match";
        if (!report.failed_condition.empty()) {
          out << " (" << report.failed_condition << " does not match)";
        }
        out << "\n";
        continue;
      case RuleReport::Outcome::excepted:
        out << "excepted\n";
        for (const std::string& reason : report.veto->reasons) {
          out << "     because " << display(reason) << "\n";
        }
        out << "     unless  " << display(report.veto->exception) << "\n";
        continue;
      case RuleReport::Outcome::matched: break;
    }
    out << (test ? "would match (test mode: nothing is done)\n" : "matched\n");
    for (const std::string& reason : report.match->reasons) {
      out << "     because " << display(reason) << "\n";
    }
    for (const std::string& action : report.match->actions) {
      out << (test ? "     would   " : "     does    ") << display(action) << "\n";
    }
    if (report.match->stopped) {
      stopped_by = rule.name;
      out << "     stop processing: later rules are not evaluated\n";
    }
  }
  if (reports.empty()) out << "(no rules)\n";

  const pipeline::Verdict& verdict = outcome.verdict;
  const pipeline::MessageContext& after = outcome.context;
  out << "\nresult:\n  " << verdictName(verdict.kind);
  if (verdict.kind == pipeline::Verdict::Kind::reject) {
    out << ": " << display(replyText(verdict.reply));
  } else if (verdict.kind != pipeline::Verdict::Kind::proceed) {
    out << ": " << display(verdict.reason);
  }
  out << "\n  recipients: " << joined(after.recipients) << "\n";
  // A message file carries no REQUIRETLS from a client: the requirement can only be a rule's.
  out << "  TLS required for outbound delivery: "
      << (after.rule_requires_tls || after.require_tls ? "yes (verified TLS on every hop)" : "no")
      << "\n";
  out << "  route via: " << (after.route_connector.empty() ? "-" : after.route_connector) << "\n";
  if (evaluation.changes.classification) {
    out << "  classification: " << display(*evaluation.changes.classification) << "\n";
  }
  if (evaluation.changes.spam) {
    out << "  spam: " << (*evaluation.changes.spam ? "yes" : "no") << "\n";
  }
  for (const std::string& note : outcome.notes) out << "  trace note: " << display(note) << "\n";
  out << "  message: " << (outcome.message_changed ? "changed" : "unchanged") << "\n";
  if (show_message) {
    out << "\n--- message as it would leave the rules ---\n";
    // Line by line, escaped: the message is untrusted and this is a terminal.
    std::string_view text = after.data;
    while (!text.empty()) {
      std::size_t end = text.find('\n');
      std::string_view line = text.substr(0, end);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      out << display(line) << "\n";
      if (end == std::string_view::npos) break;
      text.remove_prefix(end + 1);
    }
    out << "--- end of message ---\n";
  }
}

boost::json::array jsonStrings(const std::vector<std::string>& items) {
  boost::json::array array;
  for (const std::string& item : items) array.emplace_back(store::toValidUtf8(item));
  return array;
}

boost::json::value jsonOptional(const std::optional<std::string>& value) {
  if (!value) return nullptr;
  return boost::json::value(store::toValidUtf8(*value));
}

void printJson(const policy::MessageFacts& facts, const mime::ParsedMessage& parsed,
               const std::vector<RuleReport>& reports, const policy::Evaluation& evaluation,
               const Outcome& outcome, bool show_message) {
  boost::json::object root;

  boost::json::object facts_object;
  facts_object["sender"] = store::toValidUtf8(facts.sender);
  facts_object["recipients"] = jsonStrings(facts.recipients);
  facts_object["from_address"] = store::toValidUtf8(facts.from_address);
  facts_object["client_address"] = facts.client_address;
  facts_object["received_over_tls"] = facts.received_over_tls;
  facts_object["authenticated_sender"] = facts.authenticated_sender;
  facts_object["domain_secured"] = facts.domain_secured;
  facts_object["spf"] = facts.spf;
  facts_object["dkim"] = facts.dkim;
  facts_object["dmarc"] = facts.dmarc;
  facts_object["spam"] = facts.spam;
  facts_object["classification"] = store::toValidUtf8(facts.classification);
  facts_object["size"] = facts.size;
  facts_object["subject"] = store::toValidUtf8(parsed.subject);
  facts_object["mime_status"] = parsed.status == mime::ParsedMessage::Status::ok ? "ok"
                                : parsed.status == mime::ParsedMessage::Status::damaged
                                    ? "damaged"
                                    : "unparseable";
  facts_object["mime_problems"] = jsonStrings(parsed.problems);
  if (outcome.unreadable.empty()) {
    facts_object["unreadable"] = nullptr;
  } else {
    facts_object["unreadable"] = store::toValidUtf8(outcome.unreadable);
  }
  root["facts"] = std::move(facts_object);

  boost::json::array rules;
  boost::json::array matches;
  for (const RuleReport& report : reports) {
    boost::json::object rule;
    rule["name"] = report.rule->name;
    rule["priority"] = report.rule->priority;
    rule["mode"] = modeName(report.rule->mode);
    rule["source"] = report.rule->source;
    rule["line"] = report.rule->line;
    switch (report.outcome) {
      case RuleReport::Outcome::matched: rule["result"] = "matched"; break;
      case RuleReport::Outcome::excepted:
        rule["result"] = "excepted";
        rule["reasons"] = jsonStrings(report.veto->reasons);
        rule["exception"] = store::toValidUtf8(report.veto->exception);
        break;
      case RuleReport::Outcome::no_match:
        rule["result"] = "no match";
        rule["failed_condition"] = report.failed_condition;
        break;
      case RuleReport::Outcome::not_evaluated: rule["result"] = "not evaluated"; break;
    }
    rules.push_back(std::move(rule));
    if (report.match == nullptr) continue;
    boost::json::object match;
    match["rule"] = report.match->rule;
    match["mode"] = modeName(report.match->mode);
    match["reasons"] = jsonStrings(report.match->reasons);
    match["actions"] = jsonStrings(report.match->actions);
    match["stopped"] = report.match->stopped;
    matches.push_back(std::move(match));
  }
  root["rules"] = std::move(rules);
  root["matches"] = std::move(matches);

  const policy::MessageChanges& changes = evaluation.changes;
  const pipeline::MessageContext& after = outcome.context;
  boost::json::object result;
  result["verdict"] = verdictName(outcome.verdict.kind);
  if (outcome.verdict.kind == pipeline::Verdict::Kind::reject) {
    boost::json::array lines;
    for (const std::string& line : outcome.verdict.reply.lines) {
      lines.emplace_back(store::toValidUtf8(line));
    }
    result["reply"] = {{"code", outcome.verdict.reply.code},
                       {"enhanced", outcome.verdict.reply.enhanced},
                       {"lines", std::move(lines)}};
  }
  result["reason"] = store::toValidUtf8(outcome.verdict.reason);
  result["recipients"] = jsonStrings(after.recipients);
  result["require_tls"] = after.rule_requires_tls || after.require_tls;
  if (after.route_connector.empty()) {
    result["route_via"] = nullptr;
  } else {
    result["route_via"] = after.route_connector;
  }
  result["classification"] = jsonOptional(changes.classification);
  if (changes.spam) {
    result["spam"] = *changes.spam;
  } else {
    result["spam"] = nullptr;
  }
  result["notes"] = jsonStrings(outcome.notes);
  root["result"] = std::move(result);

  // The enforce rules' effects as evaluation gathered them, before they were applied.
  boost::json::object changes_object;
  changes_object["require_tls"] = changes.require_tls;
  if (changes.reject) {
    changes_object["reject"] = {{"code", changes.reject->code},
                                {"enhanced", changes.reject->enhanced},
                                {"text", store::toValidUtf8(changes.reject->text)}};
  } else {
    changes_object["reject"] = nullptr;
  }
  changes_object["delete"] = changes.discard;
  changes_object["quarantine"] = jsonOptional(changes.quarantine);
  changes_object["redirect_to"] = jsonStrings(changes.redirect_to);
  changes_object["add_to"] = jsonStrings(changes.add_to);
  changes_object["add_cc"] = jsonStrings(changes.add_cc);
  changes_object["add_bcc"] = jsonStrings(changes.add_bcc);
  boost::json::array header_edits;
  for (const policy::HeaderEdit& edit : changes.header_edits) {
    header_edits.push_back({{"kind", headerEditName(edit.kind)},
                            {"name", store::toValidUtf8(edit.name)},
                            {"value", store::toValidUtf8(edit.value)}});
  }
  changes_object["header_edits"] = std::move(header_edits);
  changes_object["subject_prefix"] = store::toValidUtf8(changes.subject_prefix);
  if (changes.disclaimer) {
    changes_object["disclaimer"] = {
        {"text", store::toValidUtf8(changes.disclaimer->text)},
        {"html", store::toValidUtf8(changes.disclaimer->html)},
        {"signed", changes.disclaimer->signed_content == mime::Disclaimer::SignedContent::skip
                       ? "skip"
                       : "wrap"}};
  } else {
    changes_object["disclaimer"] = nullptr;
  }
  changes_object["classification"] = jsonOptional(changes.classification);
  changes_object["route_via"] = jsonOptional(changes.route_connector);
  if (changes.spam) {
    changes_object["spam"] = *changes.spam;
  } else {
    changes_object["spam"] = nullptr;
  }
  root["changes"] = std::move(changes_object);

  root["message_changed"] = outcome.message_changed;
  if (show_message) {
    root["message"] = store::toValidUtf8(after.data);
  } else {
    root["message"] = nullptr;
  }
  std::cout << boost::json::serialize(root) << "\n";
}

int runRulesTest(const RulesTestOptions& options) {
  const std::string command = "bulwark rules test";
  if (options.rules_file.empty() && options.config_file.empty()) {
    std::cerr << command << ": give the rules with --rules FILE, or a configuration with "
              << "[[rule]] tables with --config FILE\n";
    return kExitBadArguments;
  }
  for (const std::string& recipient : options.recipients) {
    if (!looksLikeAddress(envelopeAddress(recipient))) {
      std::cerr << command << ": --to " << recipient << ": not an address (local@domain)\n";
      return kExitBadArguments;
    }
  }
  if (options.sender) {
    std::string sender = envelopeAddress(*options.sender);
    if (!sender.empty() && !looksLikeAddress(sender)) {
      std::cerr << command << ": --from " << *options.sender
                << ": not an address (local@domain, or <> for the null sender)\n";
      return kExitBadArguments;
    }
  }
  if (!options.client_address.empty() && !isIpAddress(options.client_address)) {
    std::cerr << command << ": --client " << options.client_address
              << ": not an IPv4 or IPv6 address\n";
    return kExitBadArguments;
  }

  // The configuration says what is inside the organisation and which connectors exist, even
  // when the rules come from --rules.
  const std::string config_name =
      options.config_file.empty() ? "<embedded default>" : options.config_file;
  ConfigLoad config_load = options.config_file.empty()
                               ? loadConfigText(kEmbeddedDefaultConfig, config_name)
                               : loadConfigFile(options.config_file);
  if (!config_load.ok()) {
    std::cerr << formatProblems(config_name, config_load.problems);
    std::cerr << command << ": fix the configuration first (bulwark config check)\n";
    return kExitRuleProblems;
  }
  const Config& config = config_load.config;

  policy::RuleLoad rules;
  policy::RuleEnvironment environment = ruleEnvironmentOf(config);
  if (!options.rules_file.empty()) {
    const std::filesystem::path rules_path(options.rules_file);
    // A list file named in a rule file is found next to that file.
    environment.base_directory =
        rules_path.has_parent_path() ? rules_path.parent_path() : std::filesystem::path(".");
    rules = policy::loadRulesFile(rules_path, environment);
  } else {
    rules = loadConfiguredRules(config);
  }
  if (!rules.ok()) {
    std::cerr << policy::formatRuleProblems(rules.problems);
    const std::size_t count = rules.problems.size();
    std::cerr << command << ": " << count << (count == 1 ? " problem" : " problems")
              << " in the rules; nothing was evaluated\n";
    return kExitRuleProblems;
  }

  std::string read_problem;
  std::optional<std::string> message = readFile(options.message_file, read_problem);
  if (!message) {
    std::cerr << command << ": cannot read " << options.message_file << ": " << read_problem
              << "\n";
    return kExitBadArguments;
  }

  const mime::MimeLimits limits = mimeLimitsOf(config);
  const mime::ParsedMessage parsed = mime::parseMessage(*message, limits);
  const policy::Organisation organisation = organisationOf(config);
  policy::MessageFacts facts;
  facts.from_address = pipeline::RulesStage::fromAddress(*message);
  facts.sender = options.sender ? envelopeAddress(*options.sender) : facts.from_address;
  if (options.recipients.empty()) {
    facts.recipients = addressesOfFields(*message, "To");
    for (std::string& address : addressesOfFields(*message, "Cc")) {
      facts.recipients.push_back(std::move(address));
    }
    if (facts.recipients.empty()) {
      std::cerr << command << ": the message has no To or Cc address; name the recipients "
                << "with --to ADDRESS\n";
      return kExitBadArguments;
    }
  } else {
    for (const std::string& recipient : options.recipients) {
      facts.recipients.push_back(envelopeAddress(recipient));
    }
  }
  facts.client_address = options.client_address;
  facts.received_over_tls = options.tls;
  facts.authenticated_sender = options.authenticated;
  facts.domain_secured = options.domain_secured;
  facts.spf = options.spf;
  facts.dkim = options.dkim;
  facts.dmarc = options.dmarc;
  facts.spam = options.spam;
  // X-Bulwark-Classification in a message file was set by us (it is removed from mail that
  // arrives from outside), as the rules stage reads it.
  facts.classification =
      !options.classification.empty()
          ? options.classification
          : mime::findHeaderValue(*message, "X-Bulwark-Classification").value_or("");
  facts.size = message->size();
  facts.raw = *message;
  facts.message = &parsed;
  facts.organisation = &organisation;

  Outcome outcome;
  outcome.unreadable = pipeline::RulesStage::unreadableReason(parsed, limits);
  policy::Evaluation evaluation;
  // As the server: a message it cannot read gets unparseable_action; only "deliver" lets the
  // rules run on what could be read.
  const bool evaluated = outcome.unreadable.empty() || config.rules.unparseable_action == "deliver";
  if (evaluated) evaluation = rules.rules->evaluate(facts);
  const std::vector<RuleReport> reports =
      evaluated ? explain(*rules.rules, evaluation, facts) : std::vector<RuleReport>{};

  // The effects, applied by the server's own code to a context that holds this message.
  pipeline::MessageContext& context = outcome.context;
  context.data = *message;
  context.sender = facts.sender;
  context.recipients = facts.recipients;
  context.client_address = facts.client_address;
  context.tls = facts.received_over_tls;
  context.relay_client = facts.authenticated_sender;
  context.spam = facts.spam;
  context.classification = facts.classification;
  if (!outcome.unreadable.empty() && config.rules.unparseable_action != "deliver") {
    outcome.verdict = pipeline::RulesStage::unparseableVerdict(config.rules.unparseable_action,
                                                               outcome.unreadable);
  } else {
    const pipeline::RulesStage stage(config, rules.rules, organisation);
    outcome.verdict = stage.apply(context, evaluation);
  }
  outcome.notes = context.trace_notes;
  outcome.message_changed = context.data != *message;

  // The message is printed when it changed, unless asked not to; --show-message prints it always.
  const bool show_message =
      !options.hide_message && (options.show_message || outcome.message_changed);
  if (options.json) {
    printJson(facts, parsed, reports, evaluation, outcome, show_message);
  } else {
    printText(options, rules.rules->rules().size(), facts, parsed, reports, evaluation, outcome,
              show_message);
  }
  std::cout.flush();
  return std::cout ? kExitSuccess : kExitRuleProblems;
}

}  // namespace

void addRulesCommand(CLI::App& app, Action& action) {
  auto options = std::make_shared<RulesTestOptions>();
  auto* rules = app.add_subcommand("rules", "Transport rules (docs/rules.md)");
  rules->require_subcommand(1);

  auto* test = rules->add_subcommand(
      "test",
      "Evaluate the rules against a message file: which rules match, why, what they do, and "
      "the message afterwards. Sends nothing; exit 1 if the rules have problems");
  test->add_option("message", options->message_file, "The message file (RFC 5322, .eml)")
      ->required();
  test->add_option("--rules", options->rules_file,
                   "A rule file ([[rule]] tables); default: the configuration's rules")
      ->type_name("FILE");
  test->add_option("-c,--config", options->config_file,
                   "Configuration file: local domains, [rules] internal_domains, send "
                   "connectors, and the rules when --rules is not given")
      ->type_name("FILE");
  test->add_option("--from", options->sender,
                   "Envelope sender (MAIL FROM); default: the message's From address; <> for "
                   "the null sender")
      ->type_name("ADDRESS");
  test->add_option("--to", options->recipients,
                   "Envelope recipient (RCPT TO), repeatable or comma-separated; default: the "
                   "message's To and Cc addresses")
      ->type_name("ADDRESS")
      ->delimiter(',')
      ->allow_extra_args(false);
  test->add_option("--client", options->client_address, "The SMTP client's IP address")
      ->type_name("IP");
  test->add_flag("--tls", options->tls, "The message arrived over TLS");
  test->add_flag("--authenticated", options->authenticated,
                 "The sender authenticated (AUTH) or is in a relay network");
  test->add_flag("--domain-secured", options->domain_secured,
                 "The message arrived from a verified Domain Security partner");
  test->add_flag("--spam", options->spam, "An earlier stage judged the message spam");
  test->add_option("--classification", options->classification,
                   "The classification an earlier rule set")
      ->type_name("NAME");
  test->add_option("--spf", options->spf, "The SPF result (default none)")
      ->check(
          CLI::IsMember({"none", "neutral", "pass", "fail", "softfail", "temperror", "permerror"}));
  test->add_option("--dkim", options->dkim, "The best DKIM result (default none)")
      ->check(
          CLI::IsMember({"none", "pass", "fail", "policy", "neutral", "temperror", "permerror"}));
  test->add_option("--dmarc", options->dmarc, "The DMARC result (default none)")
      ->check(CLI::IsMember({"none", "pass", "fail", "temperror", "permerror"}));
  auto* show = test->add_flag("--show-message", options->show_message,
                              "Print the resulting message even when no rule changed it "
                              "(by default it is printed when it changed)");
  auto* hide = test->add_flag("--no-show-message", options->hide_message,
                              "Never print the resulting message");
  show->excludes(hide);
  test->add_flag("--json", options->json,
                 "One JSON object: facts, rules, matches, changes, message");
  test->callback([&action, options] { action = [options] { return runRulesTest(*options); }; });
}

}  // namespace bulwark::app
