// configForTool; see tool_config.h.
#include "app/tool_config.h"

#include <CLI/CLI.hpp>
#include <iostream>

#include "common/config_loader.h"

namespace bulwark::app {

void addDataLocationOptions(CLI::App* command, std::string& config_file, std::string& data_dir,
                            std::string_view holds) {
  command
      ->add_option("-c,--config", config_file,
                   "Configuration file whose data_dir holds " + std::string(holds) +
                       " (default: the embedded default's)")
      ->type_name("FILE");
  command->add_option("--data-dir", data_dir, "Data directory; overrides the configuration's")
      ->type_name("DIR");
}

std::optional<Config> configForTool(const std::string& config_file, const std::string& data_dir,
                                    std::string_view command) {
  Config config;
  if (!data_dir.empty()) {
    config.data_dir = data_dir;
    return config;
  }
  const std::string source = config_file.empty() ? "<embedded default>" : config_file;
  ConfigLoad load = config_file.empty() ? loadConfigText(kEmbeddedDefaultConfig, source)
                                        : loadConfigFile(config_file);
  if (!load.ok()) {
    std::cerr << formatProblems(source, load.problems);
    std::cerr << "bulwark " << command
              << ": fix the configuration, or name the data directory with --data-dir\n";
    return std::nullopt;
  }
  return std::move(load.config);
}

}  // namespace bulwark::app
