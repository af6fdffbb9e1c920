// How the offline subcommands (trace, user) find the data directory `bulwark serve` uses:
// --data-dir when given, else the configuration file's data_dir, else the embedded default's.
#pragma once

#include "common/config.h"

#include <optional>
#include <string>
#include <string_view>

namespace bulwark::app {

// Prints the configuration's problems (and a hint naming `command`) and returns nullopt when the
// configuration does not load.
std::optional<Config> configForTool(const std::string& config_file, const std::string& data_dir,
                                    std::string_view command);

}  // namespace bulwark::app
