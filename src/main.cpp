// Entry point of the one binary: dispatches to the subcommands of app/commands.h.
#include "app/commands.h"

#include <CLI/CLI.hpp>

int main(int argc, char** argv) {
  CLI::App app{"Bulwark: secure mail transfer agent and email-security gateway"};
  app.require_subcommand(1);
  bulwark::app::Action action;
  bulwark::app::addServeCommand(app, action);
  bulwark::app::addConfigCommand(app, action);
  bulwark::app::addTraceCommand(app, action);
  bulwark::app::addUserCommand(app, action);
  CLI11_PARSE(app, argc, argv);
  return action ? action() : 2;
}
