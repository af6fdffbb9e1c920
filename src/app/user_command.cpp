// `bulwark user hash`: turns a password into the form [[user]] password_hash expects, so that no
// clear-text password ever needs to be in the configuration. Reads the password from stdin.
#include "app/commands.h"
#include "net/password.h"

#include <CLI/CLI.hpp>
#include <termios.h>
#include <unistd.h>

#include <iostream>
#include <string>

namespace bulwark::app {
namespace {

int hashCommand() {
  bool terminal = ::isatty(STDIN_FILENO);
  termios saved{};
  if (terminal) {
    std::cerr << "Password: " << std::flush;
    tcgetattr(STDIN_FILENO, &saved);
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string password;
  std::getline(std::cin, password);
  if (terminal) {
    tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    std::cerr << "\n";
  }
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.empty()) {
    std::cerr << "bulwark user hash: empty password\n";
    return 2;
  }
  std::cout << net::hashPassword(password) << "\n";
  return 0;
}

}  // namespace

void addUserCommand(CLI::App& app, Action& action) {
  auto* user = app.add_subcommand("user", "Manage SMTP AUTH users");
  user->require_subcommand(1);
  auto* hash = user->add_subcommand(
      "hash", "Read a password on stdin and print its password_hash for [[user]] in the config");
  hash->callback([&action] { action = hashCommand; });
}

}  // namespace bulwark::app
