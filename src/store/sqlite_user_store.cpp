// The SQLite user store (user_store.h). Names come from the administrator's command line or from
// SMTP AUTH (untrusted); they are only ever bound as parameters. Hashes are never logged.
#include "common/strings.h"
#include "store/sqlite.h"
#include "store/user_store.h"

#include <mutex>

namespace bulwark::store {
namespace {

using namespace sqlite;

constexpr int kSchemaVersion = 1;
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS users (
  name_key TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  created_us INTEGER NOT NULL
);
)sql";

std::int64_t nowMicroseconds() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

StoredUser userFrom(Statement& statement) {
  StoredUser user;
  user.name = statement.text(0);
  user.password_hash = statement.text(1);
  user.created = std::chrono::system_clock::time_point(
      std::chrono::microseconds(statement.integer(2)));
  return user;
}

class SqliteUserStore final : public UserStore {
 public:
  explicit SqliteUserStore(Database database) : database_(std::move(database)) {}

  Result<std::optional<StoredUser>> find(std::string_view name) override {
    std::lock_guard lock(mutex_);
    auto statement = Statement::prepare(
        database_.get(), "SELECT name, password_hash, created_us FROM users WHERE name_key = ?1");
    if (!statement) return statement.error();
    statement->bind(1, asciiLower(name));
    int code = statement->step();
    if (code == SQLITE_DONE) return std::optional<StoredUser>();
    if (code != SQLITE_ROW) return sqliteError(database_.get(), "reading the user store");
    return std::optional<StoredUser>(userFrom(*statement));
  }

  Result<void> put(std::string_view name, std::string_view password_hash) override {
    std::lock_guard lock(mutex_);
    auto statement = Statement::prepare(
        database_.get(),
        "INSERT INTO users (name_key, name, password_hash, created_us) VALUES (?1, ?2, ?3, ?4) "
        "ON CONFLICT(name_key) DO UPDATE SET password_hash = excluded.password_hash");
    if (!statement) return statement.error();
    statement->bind(1, asciiLower(name));
    statement->bind(2, name);
    statement->bind(3, password_hash);
    statement->bind(4, nowMicroseconds());
    if (statement->step() != SQLITE_DONE) {
      return sqliteError(database_.get(), "writing the user store");
    }
    return {};
  }

  Result<bool> remove(std::string_view name) override {
    std::lock_guard lock(mutex_);
    auto statement = Statement::prepare(database_.get(), "DELETE FROM users WHERE name_key = ?1");
    if (!statement) return statement.error();
    statement->bind(1, asciiLower(name));
    if (statement->step() != SQLITE_DONE) {
      return sqliteError(database_.get(), "writing the user store");
    }
    return sqlite3_changes(database_.get()) > 0;
  }

  Result<std::vector<StoredUser>> list() override {
    std::lock_guard lock(mutex_);
    auto statement = Statement::prepare(
        database_.get(), "SELECT name, password_hash, created_us FROM users ORDER BY name_key");
    if (!statement) return statement.error();
    std::vector<StoredUser> users;
    int code;
    while ((code = statement->step()) == SQLITE_ROW) users.push_back(userFrom(*statement));
    if (code != SQLITE_DONE) return sqliteError(database_.get(), "reading the user store");
    return users;
  }

 private:
  std::mutex mutex_;
  Database database_;
};

}  // namespace

Result<std::unique_ptr<UserStore>> openSqliteUserStore(const std::filesystem::path& path) {
  auto database = openDatabase(path, "user store", false);
  if (!database) return database.error();
  auto schema = ensureSchema(database->get(), path, "user store", kSchema, kSchemaVersion);
  if (!schema) return schema.error();
  return std::unique_ptr<UserStore>(std::make_unique<SqliteUserStore>(std::move(*database)));
}

}  // namespace bulwark::store
