// configForTool; see tool_config.h.
#include "app/tool_config.h"

#include "common/config_loader.h"

#include <iostream>

namespace bulwark::app {

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
