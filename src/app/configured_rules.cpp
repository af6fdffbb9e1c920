// The rule environment of a configuration; see configured_rules.h.
#include "app/configured_rules.h"

#include <algorithm>
#include <memory>

#include "common/strings.h"

namespace bulwark::app {

policy::Organisation organisationOf(const Config& config) {
  policy::Organisation organisation;
  auto add = [&organisation](std::string_view domain) {
    std::string lower = asciiLower(domain);
    if (std::find(organisation.domains.begin(), organisation.domains.end(), lower) ==
        organisation.domains.end()) {
      organisation.domains.push_back(std::move(lower));
    }
  };
  for (const LocalDomain& domain : config.local_domains) add(domain.name);
  for (const std::string& domain : config.rules.internal_domains) add(domain);
  return organisation;
}

policy::RuleEnvironment ruleEnvironmentOf(const Config& config) {
  policy::RuleEnvironment environment;
  for (const SendConnector& connector : config.send_connectors) {
    environment.send_connectors.push_back(connector.name);
  }
  environment.organisation = organisationOf(config);
  environment.base_directory =
      config.source.empty() ? std::filesystem::path(".") : config.source.parent_path();
  if (environment.base_directory.empty()) environment.base_directory = ".";
  return environment;
}

mime::MimeLimits mimeLimitsOf(const Config& config) {
  mime::MimeLimits limits;
  limits.max_depth = config.rules.mime_max_depth;
  limits.max_parts = config.rules.mime_max_parts;
  return limits;
}

policy::RuleLoad loadConfiguredRules(const Config& config) {
  if (config.source.empty()) {
    policy::RuleLoad load;
    load.rules = std::make_shared<const policy::RuleSet>();
    return load;
  }
  return policy::loadRulesFromConfig(config.source, ruleEnvironmentOf(config));
}

}  // namespace bulwark::app
