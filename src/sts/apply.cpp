// applyPolicy; see apply.h.
#include "sts/apply.h"

#include <algorithm>

namespace bulwark::sts {
namespace {

// The distinct host names among `hosts` that the policy does not list, in order.
std::vector<std::string> unlistedHosts(const Policy& policy,
                                       const std::vector<smtp::ClientEndpoint>& hosts) {
  std::vector<std::string> names;
  for (const auto& endpoint : hosts) {
    if (policyAllowsHost(policy, endpoint.host)) continue;
    if (std::find(names.begin(), names.end(), endpoint.host) == names.end()) {
      names.push_back(endpoint.host);
    }
  }
  return names;
}

std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (const auto& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}

}  // namespace

DeliveryPlan applyPolicy(const std::optional<ActivePolicy>& policy,
                         std::vector<smtp::ClientEndpoint> hosts, TlsLevel tls) {
  DeliveryPlan plan;
  plan.tls = tls;
  if (!policy) {
    plan.hosts = std::move(hosts);
    return plan;
  }
  const Policy& rules = policy->policy;
  plan.evidence = std::string("mta-sts=") + modeName(rules.mode) + " id=" + policy->id;
  if (policy->from_cache) plan.evidence += " (cached)";
  const std::vector<std::string> unlisted = unlistedHosts(rules, hosts);

  switch (rules.mode) {
    case Mode::none: plan.hosts = std::move(hosts); return plan;
    case Mode::testing:
      // RFC 8461 5: deliver as without a policy; only report what enforce would refuse.
      if (!unlisted.empty()) {
        plan.evidence += " policy-failure=\"enforce would not try " + joined(unlisted) +
                         ": not in the policy's mx list\"";
      }
      plan.hosts = std::move(hosts);
      return plan;
    case Mode::enforce: break;
  }
  std::copy_if(
      hosts.begin(), hosts.end(), std::back_inserter(plan.hosts),
      [&](const smtp::ClientEndpoint& endpoint) { return policyAllowsHost(rules, endpoint.host); });
  if (!unlisted.empty()) plan.evidence += " skipped=\"" + joined(unlisted) + "\"";
  plan.tls = std::max(tls, TlsLevel::mta_sts);
  if (plan.hosts.empty()) {
    plan.refusal =
        smtp::Reply{451,
                    "4.7.5",
                    {"MTA-STS policy of " + policy->domain + " (id " + policy->id +
                     ", mode enforce) lists none of its mail servers (" + joined(unlisted) +
                     "); not delivering to a server the policy does not name"}};
  }
  return plan;
}

}  // namespace bulwark::sts
