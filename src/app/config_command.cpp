// `bulwark config check FILE` validates a configuration file without starting anything and lists
// every problem as file:line:column; `bulwark config default` prints the embedded default
// (docs/configuration.md). The file is the administrator's; it is only read, never acted on.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>

#include "app/commands.h"
#include "common/config.h"
#include "common/config_loader.h"

namespace bulwark::app {
namespace {

int checkCommand(const std::string& path) {
  const ConfigLoad result = loadConfigFile(path);
  if (result.ok()) {
    std::cout << path << ": OK\n";
    return 0;
  }
  std::cerr << formatProblems(path, result.problems);
  const std::size_t count = result.problems.size();
  std::cerr << path << ": " << count << (count == 1 ? " problem\n" : " problems\n");
  return 1;
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
      "Validate a configuration file and report every problem with its line; exit 1 if "
      "there is any");
  // The option outlives this function: CLI11 writes to it during parsing, the action reads it.
  auto path = std::make_shared<std::string>();
  check->add_option("file", *path, "The TOML configuration file")->required();
  check->callback([&action, path] { action = [path] { return checkCommand(*path); }; });

  auto* print_default = config->add_subcommand(
      "default", "Print the embedded default configuration (a starting point for a file)");
  print_default->callback([&action] { action = defaultCommand; });
}

}  // namespace bulwark::app
