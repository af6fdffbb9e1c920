// Entry point of the one binary: dispatches to the subcommands of app/commands.h.
#include "app/commands.h"
#include "mime/mime_message.h"

#include <CLI/CLI.hpp>

int main(int argc, char** argv) {
  // GMime's global tables are set up once, before any thread exists (DESIGN.md "Traps").
  bulwark::mime::initializeMimeLibrary();
  CLI::App app{"Bulwark: secure mail transfer agent and email-security gateway"};
  app.require_subcommand(1);
  bulwark::app::Action action;
  bulwark::app::addServeCommand(app, action);
  bulwark::app::addConfigCommand(app, action);
  bulwark::app::addTraceCommand(app, action);
  bulwark::app::addUserCommand(app, action);
  bulwark::app::addQueueCommand(app, action);
  bulwark::app::addPkiCommand(app, action);
  bulwark::app::addDkimCommand(app, action);
  bulwark::app::addRulesCommand(app, action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // --help prints and exits 0; every usage error exits 2, as the subcommands' own checks do.
    int code = app.exit(error);
    return code == 0 ? 0 : 2;
  }
  return action ? action() : 2;
}
