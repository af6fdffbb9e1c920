// How the offline subcommands (trace, queue, user) find the data directory `bulwark serve` uses:
// --data-dir when given, else the configuration file's data_dir, else the embedded default's.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/config.h"

namespace CLI {
class App;
}

namespace bulwark::app {

// Adds `-c/--config FILE` and `--data-dir DIR` to `command`; `holds` names what the data
// directory holds for that command ("the trace store", "the queue").
void addDataLocationOptions(CLI::App* command, std::string& config_file, std::string& data_dir,
                            std::string_view holds);

// Prints the configuration's problems (and a hint naming `command`) and returns nullopt when the
// configuration does not load.
std::optional<Config> configForTool(const std::string& config_file, const std::string& data_dir,
                                    std::string_view command);

}  // namespace bulwark::app
