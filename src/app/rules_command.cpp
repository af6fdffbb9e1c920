// `bulwark rules test` (docs/rules.md): evaluates transport rules against a message file and
// prints which rules match, why, what they do (or would do in test mode) and the message as the
// server would pass it on. It sends nothing and touches no queue. Untrusted: the message file
// (every string from it is escaped before it reaches the terminal); the rule and configuration
// files and the arguments are the administrator's (checked, problems with file:line:column).
#include <CLI/CLI.hpp>
#include <arpa/inet.h>

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
#include "app/message_preview.h"
#include "auth/address_list.h"
#include "common/config_loader.h"
#include "common/strings.h"
#include "mime/header_fields.h"
#include "mime/mime_message.h"
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
  enum class Outcome { matched, no_match, not_evaluated } outcome = Outcome::no_match;
  const policy::RuleMatch* match = nullptr;
  std::string why_not;  // no_match: the first condition that failed, or the exception that vetoed
};

std::string display(std::string_view untrusted) { return store::escapeForTerminal(untrusted); }

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
std::string singleFromAddress(std::string_view message) {
  int fields = 0;
  for (const mime::HeaderField& field : mime::headerFields(message)) {
    if (equalsIgnoreCase(field.name, "From")) ++fields;
  }
  if (fields != 1) return "";
  std::vector<std::string> addresses = addressesOfFields(message, "From");
  return addresses.size() == 1 ? addresses.front() : "";
}

bool isIpAddress(const std::string& text) {
  unsigned char buffer[16];
  return ::inet_pton(AF_INET, text.c_str(), buffer) == 1 ||
         ::inet_pton(AF_INET6, text.c_str(), buffer) == 1;
}

// Why a rule that did not match did not: evaluation only reports matches, so the conditions are
// asked again, in the rule's order (the first that fails is the answer; if none fails an
// exception vetoed the rule).
std::string whyNot(const policy::Rule& rule, const policy::MessageFacts& facts) {
  for (const auto& condition : rule.conditions) {
    if (!condition->match(facts)) return std::string(condition->name()) + " does not match";
  }
  for (const auto& exception : rule.exceptions) {
    if (auto reason = exception->match(facts)) return "excepted: " + *reason;
  }
  return "";
}

std::vector<RuleReport> explain(const policy::RuleSet& rules, const policy::Evaluation& evaluation,
                                const policy::MessageFacts& facts) {
  std::vector<RuleReport> reports;
  std::size_t next_match = 0;
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
    } else {
      report.outcome = RuleReport::Outcome::no_match;
      report.why_not = whyNot(rule, facts);
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

void printText(const RulesTestOptions& options, std::size_t rule_count,
               const policy::MessageFacts& facts, const mime::ParsedMessage& parsed,
               const std::vector<RuleReport>& reports, const policy::Evaluation& evaluation,
               const MessagePreview& preview, bool show_message) {
  std::ostream& out = std::cout;
  const policy::Organisation& organisation = *facts.organisation;
  out << "rules: " << rule_count << " from "
      << (options.rules_file.empty() ? options.config_file : options.rules_file) << "\n";
  out << "message: " << display(options.message_file) << ", " << facts.size << " bytes, "
      << parsed.parts.size() << " MIME part(s), " << parsed.attachments().size()
      << " attachment(s); subject \"" << display(parsed.subject) << "\"\n";
  if (parsed.status != mime::ParsedMessage::Status::ok) {
    out << "  MIME: "
        << (parsed.status == mime::ParsedMessage::Status::damaged ? "damaged" : "unparseable")
        << "\n";
  }
  for (const std::string& problem : parsed.problems) out << "  MIME problem: " << display(problem)
                                                         << "\n";
  out << "envelope: from " << scopeOf(organisation, facts.sender) << "; to";
  for (const std::string& recipient : facts.recipients) {
    out << " " << scopeOf(organisation, recipient);
  }
  out << "\n  From field: " << (facts.from_address.empty() ? "- (none or ambiguous)"
                                                          : scopeOf(organisation, facts.from_address))
      << "\n  client " << (facts.client_address.empty() ? "-" : facts.client_address)
      << ", TLS " << (facts.received_over_tls ? "yes" : "no") << ", authenticated "
      << (facts.authenticated_sender ? "yes" : "no") << ", domain-secured "
      << (facts.domain_secured ? "yes" : "no") << "; SPF " << facts.spf << ", DKIM "
      << facts.dkim << ", DMARC " << facts.dmarc << "; spam " << (facts.spam ? "yes" : "no")
      << ", classification " << (facts.classification.empty() ? "-" : facts.classification)
      << "\n\n";

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
        out << "no match" << (report.why_not.empty() ? "" : " (" + display(report.why_not) + ")")
            << "\n";
        continue;
      case RuleReport::Outcome::matched:
        break;
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

  const policy::MessageChanges& changes = evaluation.changes;
  out << "\nresult:\n";
  if (changes.reject) {
    out << "  reject: " << changes.reject->code << " " << changes.reject->enhanced << " "
        << display(changes.reject->text) << "\n";
  } else if (changes.discard) {
    out << "  delete: accepted and dropped silently\n";
  } else if (changes.quarantine) {
    out << "  quarantine: " << display(*changes.quarantine) << "\n";
  } else {
    out << "  deliver\n";
  }
  out << "  recipients: " << joined(preview.recipients) << "\n";
  out << "  TLS required for outbound delivery: " << (preview.require_tls ? "yes" : "no") << "\n";
  out << "  route via: " << (changes.route_connector ? *changes.route_connector : "-") << "\n";
  if (changes.classification) out << "  classification: " << *changes.classification << "\n";
  if (changes.spam) out << "  spam: " << (*changes.spam ? "yes" : "no") << "\n";
  for (const std::string& edit : preview.edits) out << "  message: " << display(edit) << "\n";
  for (const std::string& problem : preview.problems) {
    out << "  message edit refused: " << display(problem) << "\n";
  }
  if (preview.edits.empty() && preview.problems.empty()) out << "  message: unchanged\n";
  if (show_message) {
    out << "\n--- message as it would leave the rules ---\n";
    // Line by line, escaped: the message is untrusted and this is a terminal.
    std::string_view text = preview.message;
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

void printJson(const policy::MessageFacts& facts, const mime::ParsedMessage& parsed,
               const std::vector<RuleReport>& reports, const policy::Evaluation& evaluation,
               const MessagePreview& preview, bool show_message) {
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
  facts_object["classification"] = facts.classification;
  facts_object["size"] = facts.size;
  facts_object["subject"] = store::toValidUtf8(parsed.subject);
  facts_object["mime_status"] = parsed.status == mime::ParsedMessage::Status::ok ? "ok"
                                : parsed.status == mime::ParsedMessage::Status::damaged
                                    ? "damaged"
                                    : "unparseable";
  facts_object["mime_problems"] = jsonStrings(parsed.problems);
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
    rule["result"] = report.outcome == RuleReport::Outcome::matched     ? "matched"
                     : report.outcome == RuleReport::Outcome::no_match ? "no match"
                                                                       : "not evaluated";
    if (report.outcome == RuleReport::Outcome::no_match) {
      rule["why_not"] = store::toValidUtf8(report.why_not);
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
  boost::json::object changes_object;
  changes_object["require_tls"] = preview.require_tls;
  if (changes.reject) {
    changes_object["reject"] = {{"code", changes.reject->code},
                                {"enhanced", changes.reject->enhanced},
                                {"text", changes.reject->text}};
  } else {
    changes_object["reject"] = nullptr;
  }
  changes_object["delete"] = changes.discard;
  if (changes.quarantine) {
    changes_object["quarantine"] = *changes.quarantine;
  } else {
    changes_object["quarantine"] = nullptr;
  }
  changes_object["recipients"] = jsonStrings(preview.recipients);
  changes_object["redirect_to"] = jsonStrings(changes.redirect_to);
  changes_object["add_to"] = jsonStrings(changes.add_to);
  changes_object["add_cc"] = jsonStrings(changes.add_cc);
  changes_object["add_bcc"] = jsonStrings(changes.add_bcc);
  boost::json::array header_edits;
  for (const policy::HeaderEdit& edit : changes.header_edits) {
    header_edits.push_back(
        {{"kind", headerEditName(edit.kind)}, {"name", edit.name}, {"value", edit.value}});
  }
  changes_object["header_edits"] = std::move(header_edits);
  changes_object["subject_prefix"] = changes.subject_prefix;
  if (changes.disclaimer) {
    changes_object["disclaimer"] = {
        {"text", changes.disclaimer->text},
        {"html", changes.disclaimer->html},
        {"signed", changes.disclaimer->signed_content == mime::Disclaimer::SignedContent::skip
                       ? "skip"
                       : "wrap"}};
  } else {
    changes_object["disclaimer"] = nullptr;
  }
  if (changes.classification) {
    changes_object["classification"] = *changes.classification;
  } else {
    changes_object["classification"] = nullptr;
  }
  if (changes.route_connector) {
    changes_object["route_via"] = *changes.route_connector;
  } else {
    changes_object["route_via"] = nullptr;
  }
  if (changes.spam) {
    changes_object["spam"] = *changes.spam;
  } else {
    changes_object["spam"] = nullptr;
  }
  changes_object["edits"] = jsonStrings(preview.edits);
  changes_object["edit_problems"] = jsonStrings(preview.problems);
  root["changes"] = std::move(changes_object);

  root["message_changed"] = preview.message_changed;
  if (show_message) {
    root["message"] = store::toValidUtf8(preview.message);
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

  const mime::ParsedMessage parsed = mime::parseMessage(*message, mimeLimitsOf(config));
  const policy::Organisation organisation = organisationOf(config);
  policy::MessageFacts facts;
  facts.from_address = singleFromAddress(*message);
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
  facts.classification = options.classification;
  facts.size = message->size();
  facts.raw = *message;
  facts.message = &parsed;
  facts.organisation = &organisation;

  const policy::Evaluation evaluation = rules.rules->evaluate(facts);
  const std::vector<RuleReport> reports = explain(*rules.rules, evaluation, facts);
  const MessagePreview preview =
      previewMessageChanges(*message, facts.recipients, evaluation.changes, mimeLimitsOf(config));

  // The message is printed when it changed, unless asked not to; --show-message prints it always.
  const bool show_message =
      !options.hide_message && (options.show_message || preview.message_changed);
  if (options.json) {
    printJson(facts, parsed, reports, evaluation, preview, show_message);
  } else {
    printText(options, rules.rules->rules().size(), facts, parsed, reports, evaluation, preview,
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
      ->check(CLI::IsMember(
          {"none", "neutral", "pass", "fail", "softfail", "temperror", "permerror"}));
  test->add_option("--dkim", options->dkim, "The best DKIM result (default none)")
      ->check(CLI::IsMember(
          {"none", "pass", "fail", "policy", "neutral", "temperror", "permerror"}));
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
