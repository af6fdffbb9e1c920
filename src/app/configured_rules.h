// The transport rules a configuration names (docs/rules.md): what is "inside the organisation",
// which send connectors route_via may name, and the rules of its [[rule]] tables and [rules]
// files, loaded the same way by `bulwark config check`, `bulwark rules test` and the SIGHUP
// check of `bulwark serve`. The configuration and rule files are the administrator's input.
#pragma once

#include "common/config.h"
#include "mime/mime_message.h"
#include "policy/rule_loader.h"

namespace bulwark::app {

// The local domains and [rules] internal_domains, lower-case.
policy::Organisation organisationOf(const Config& config);

// Send connector names, the organisation, and the configuration file's folder for relative paths
// (the process's working directory for the embedded default).
policy::RuleEnvironment ruleEnvironmentOf(const Config& config);

// The [rules] bounds on the MIME view the rules read.
mime::MimeLimits mimeLimitsOf(const Config& config);

// The configuration file's [[rule]] tables and its [rules] files. The embedded default
// (config.source empty) has no rules: an empty set, no problems.
policy::RuleLoad loadConfiguredRules(const Config& config);

}  // namespace bulwark::app
