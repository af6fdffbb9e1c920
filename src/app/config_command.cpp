// `bulwark config check FILE` validates a configuration file and the transport rules it names
// without starting anything and lists every problem as file:line:column; `bulwark config default`
// prints the embedded default (docs/configuration.md, docs/rules.md). The files are the
// administrator's; they are only read, never acted on.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>

#include "app/commands.h"
#include "app/configured_rules.h"
#include "common/config.h"
#include "common/config_loader.h"
#include "policy/rule_loader.h"

namespace bulwark::app {
namespace {

void printCount(const std::string& path, std::size_t count) {
  std::cerr << path << ": " << count << (count == 1 ? " problem\n" : " problems\n");
}

int checkCommand(const std::string& path) {
  const ConfigLoad result = loadConfigFile(path);
  if (!result.ok()) {
    // The rules are checked once the configuration loads: they name its send connectors.
    std::cerr << formatProblems(path, result.problems);
    printCount(path, result.problems.size());
    return 1;
  }
  const policy::RuleLoad rules = loadConfiguredRules(result.config);
  if (!rules.ok()) {
    std::cerr << policy::formatRuleProblems(rules.problems);
    printCount(path, rules.problems.size());
    return 1;
  }
  std::cout << path << ": OK";
  if (rules.rules && !rules.rules->empty()) {
    std::size_t test_mode = 0;
    for (const policy::Rule& rule : rules.rules->rules()) {
      if (rule.mode == policy::RuleMode::test) ++test_mode;
    }
    std::cout << " (" << rules.rules->rules().size() << " transport rules, " << test_mode
              << " in test mode)";
  }
  std::cout << "\n";
  return 0;
}

int defaultCommand() {
  std::cout << kEmbeddedDefaultConfig;
  return 0;
}

}  // namespace

void addConfigCommand(CLI::App& app, Action& action) {
  auto* config = app.add_subcommand("config", "Check a configuration file, or print the default");
  config->require_subcommand(1);

  auto* check = config->add_subcommand(
      "check",
      "Validate a configuration file and its transport rules and report every problem with "
      "its line; exit 1 if there is any");
  // The option outlives this function: CLI11 writes to it during parsing, the action reads it.
  auto path = std::make_shared<std::string>();
  check->add_option("file", *path, "The TOML configuration file")->required();
  check->callback([&action, path] { action = [path] { return checkCommand(*path); }; });

  auto* print_default = config->add_subcommand(
      "default", "Print the embedded default configuration (a starting point for a file)");
  print_default->callback([&action] { action = defaultCommand; });
}

}  // namespace bulwark::app
