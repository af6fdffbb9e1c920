// Rule evaluation (rule.h): priority order, conditions ANDed, exceptions veto, test-mode rules
// recorded with what they would do, enforce-mode actions recorded into MessageChanges, stop.
#include "policy/rule.h"

#include <algorithm>

#include "common/strings.h"
#include "policy/message_scan.h"

namespace bulwark::policy {

bool Organisation::isInside(std::string_view address_or_domain) const {
  const std::size_t at = address_or_domain.rfind('@');
  std::string domain = asciiLower(at == std::string_view::npos ? address_or_domain
                                                               : address_or_domain.substr(at + 1));
  while (!domain.empty() && domain.back() == '.') domain.pop_back();
  if (domain.empty()) return false;
  for (const std::string& entry : domains) {
    if (entry.starts_with("*.")) {
      const std::string_view parent = std::string_view(entry).substr(1);  // ".example.com"
      if (domain.size() > parent.size() && domain.ends_with(parent)) return true;
    } else if (equalsIgnoreCase(entry, domain)) {
      return true;
    }
  }
  return false;
}

RuleSet::RuleSet(std::vector<Rule> rules) : rules_(std::move(rules)) {
  std::stable_sort(rules_.begin(), rules_.end(), [](const Rule& left, const Rule& right) {
    return left.priority < right.priority;
  });
}

Evaluation RuleSet::evaluate(const MessageFacts& facts) const {
  Evaluation evaluation;
  // Later rules see the spam verdict and classification earlier enforce rules set.
  MessageFacts current = facts;
  MessageScan scan(current);
  for (const Rule& rule : rules_) {
    RuleMatch match;
    bool matched = true;
    for (const auto& condition : rule.conditions) {
      auto reason = condition->matchScanned(current, scan);
      if (!reason) {
        matched = false;
        break;
      }
      match.reasons.push_back(std::move(*reason));
    }
    if (!matched) continue;
    bool vetoed = false;
    for (const auto& exception : rule.exceptions) {
      if (auto reason = exception->matchScanned(current, scan)) {
        evaluation.vetoes.push_back(
            {rule.name, rule.mode, std::move(match.reasons), std::move(*reason)});
        vetoed = true;
        break;
      }
    }
    if (vetoed) continue;
    if (rule.conditions.empty()) match.reasons.emplace_back("no conditions: every message");
    match.rule = rule.name;
    match.mode = rule.mode;
    if (rule.mode == RuleMode::enforce) {
      for (const auto& action : rule.actions) {
        match.actions.push_back(action->apply(evaluation.changes));
      }
      current.spam = evaluation.changes.spam.value_or(current.spam);
      if (evaluation.changes.classification) {
        current.classification = *evaluation.changes.classification;
      }
      match.stopped = rule.stop_processing;
    } else {
      // Test mode: what it would do, into changes nobody applies; its stop does not stop the
      // enforce rules after it.
      MessageChanges would_be;
      for (const auto& action : rule.actions) {
        match.actions.push_back(action->apply(would_be));
      }
      if (rule.stop_processing) match.actions.emplace_back("stop processing further rules");
    }
    const bool stop = match.stopped;
    evaluation.matches.push_back(std::move(match));
    if (stop) break;
  }
  return evaluation;
}

}  // namespace bulwark::policy
