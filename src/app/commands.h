// The subcommands of the `bulwark` binary. Each adds itself to the CLI and sets `action` to what
// runs when it is chosen; main() runs that action and exits with its return value.
#pragma once

#include <functional>

namespace CLI {
class App;
}

namespace bulwark::app {

using Action = std::function<int()>;

void addServeCommand(CLI::App& app, Action& action);
void addConfigCommand(CLI::App& app, Action& action);
void addTraceCommand(CLI::App& app, Action& action);
void addUserCommand(CLI::App& app, Action& action);
void addQueueCommand(CLI::App& app, Action& action);
void addPkiCommand(CLI::App& app, Action& action);
void addDkimCommand(CLI::App& app, Action& action);
void addRulesCommand(CLI::App& app, Action& action);

}  // namespace bulwark::app
