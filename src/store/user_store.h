// SMTP AUTH accounts kept in the store (MISSION.md 1, receive connectors): a login name and a
// salted password hash, managed with `bulwark user add/delete/list` while the server runs.
// Accounts in the configuration's [[user]] tables come first; these are looked up after them.
#pragma once

#include "common/result.h"

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bulwark::store {

struct StoredUser {
  std::string name;           // as added; looked up case-insensitively
  std::string password_hash;  // "$pbkdf2-sha256$..." (net/password.h)
  std::chrono::system_clock::time_point created{};
};

class UserStore {
 public:
  virtual ~UserStore() = default;
  virtual Result<std::optional<StoredUser>> find(std::string_view name) = 0;
  // Adds the user, or replaces the password of an existing one.
  virtual Result<void> put(std::string_view name, std::string_view password_hash) = 0;
  // False when there was no such user.
  virtual Result<bool> remove(std::string_view name) = 0;
  virtual Result<std::vector<StoredUser>> list() = 0;
};

// SQLite at `path` (WAL; created with its schema if missing). Thread-safe.
Result<std::unique_ptr<UserStore>> openSqliteUserStore(const std::filesystem::path& path);

}  // namespace bulwark::store
