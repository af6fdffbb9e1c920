// `bulwark user`: SMTP AUTH accounts. `hash` turns a password into the form [[user]]
// password_hash expects; `add`, `delete` and `list` manage the accounts in the user store, which
// a running server consults at every AUTH (no restart). Passwords are read from stdin, never from
// the command line (where `ps` would show them), and never printed.
#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <ctime>
#include <iostream>
#include <memory>
#include <string>

#include "app/commands.h"
#include "app/tool_config.h"
#include "net/password.h"
#include "store/user_store.h"

namespace bulwark::app {
namespace {

struct UserOptions {
  std::string config_file;
  std::string data_dir;
  std::string name;
};

// One line from stdin, without echo when it is a terminal; nullopt when empty.
std::optional<std::string> readPassword(std::string_view prompt) {
  bool terminal = ::isatty(STDIN_FILENO);
  termios saved{};
  if (terminal) {
    std::cerr << prompt << std::flush;
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
  if (password.empty()) return std::nullopt;
  return password;
}

int hashCommand() {
  auto password = readPassword("Password: ");
  if (!password) {
    std::cerr << "bulwark user hash: empty password\n";
    return 2;
  }
  std::cout << net::hashPassword(*password) << "\n";
  return 0;
}

std::unique_ptr<store::UserStore> openStore(const UserOptions& options) {
  auto config = configForTool(options.config_file, options.data_dir, "user");
  if (!config) return nullptr;
  std::error_code error;
  std::filesystem::create_directories(config->storeDirectory(), error);
  auto users = store::openSqliteUserStore(config->storeDirectory() / "users.sqlite");
  if (!users) {
    std::cerr << "bulwark user: " << users.error().message << "\n";
    return nullptr;
  }
  return std::move(*users);
}

bool validName(std::string_view name) {
  if (name.empty() || name.size() > 320) return false;
  for (unsigned char c : name) {
    if (c <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

int addCommand(const UserOptions& options) {
  if (!validName(options.name)) {
    std::cerr << "bulwark user add: the name must be 1-320 characters without spaces or "
                 "control characters\n";
    return 2;
  }
  auto users = openStore(options);
  if (!users) return 1;
  auto password = readPassword("Password for " + options.name + ": ");
  if (!password) {
    std::cerr << "bulwark user add: empty password\n";
    return 2;
  }
  auto stored = users->put(options.name, net::hashPassword(*password));
  if (!stored) {
    std::cerr << "bulwark user add: " << stored.error().message << "\n";
    return 1;
  }
  std::cout << "user " << options.name << " saved\n";
  return 0;
}

int deleteCommand(const UserOptions& options) {
  auto users = openStore(options);
  if (!users) return 1;
  auto removed = users->remove(options.name);
  if (!removed) {
    std::cerr << "bulwark user delete: " << removed.error().message << "\n";
    return 1;
  }
  if (!*removed) {
    std::cerr << "bulwark user delete: no user " << options.name << " in the store\n";
    return 1;
  }
  std::cout << "user " << options.name << " deleted\n";
  return 0;
}

int listCommand(const UserOptions& options) {
  auto users = openStore(options);
  if (!users) return 1;
  auto all = users->list();
  if (!all) {
    std::cerr << "bulwark user list: " << all.error().message << "\n";
    return 1;
  }
  for (const auto& user : *all) {
    std::time_t created = std::chrono::system_clock::to_time_t(user.created);
    std::tm parts{};
    localtime_r(&created, &parts);
    char date[32];
    std::strftime(date, sizeof date, "%Y-%m-%d %H:%M", &parts);
    std::cout << user.name << "\t" << date << "\n";
  }
  return 0;
}

}  // namespace

void addUserCommand(CLI::App& app, Action& action) {
  auto options = std::make_shared<UserOptions>();
  auto* user = app.add_subcommand("user", "Manage SMTP AUTH users");
  user->require_subcommand(1);
  auto* hash = user->add_subcommand(
      "hash", "Read a password on stdin and print its password_hash for [[user]] in the config");
  hash->callback([&action] { action = hashCommand; });

  auto* add = user->add_subcommand("add",
                                   "Add a user to the store (password read on stdin), "
                                   "or change its password");
  add->add_option("name", options->name, "Login name, usually an address")->required();
  addDataLocationOptions(add, options->config_file, options->data_dir, "the user store");
  add->callback([&action, options] { action = [options] { return addCommand(*options); }; });

  auto* remove = user->add_subcommand("delete", "Remove a user from the store");
  remove->add_option("name", options->name, "Login name")->required();
  addDataLocationOptions(remove, options->config_file, options->data_dir, "the user store");
  remove->callback([&action, options] { action = [options] { return deleteCommand(*options); }; });

  auto* list = user->add_subcommand("list", "List the users in the store");
  addDataLocationOptions(list, options->config_file, options->data_dir, "the user store");
  list->callback([&action, options] { action = [options] { return listCommand(*options); }; });
}

}  // namespace bulwark::app
