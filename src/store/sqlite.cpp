// SQLite helpers; see sqlite.h.
#include "store/sqlite.h"

#include "common/log.h"

namespace bulwark::store::sqlite {

Error sqliteError(sqlite3* database, std::string_view what) {
  return makeError("store", std::string(what) + ": " + sqlite3_errmsg(database));
}

Result<Statement> Statement::prepare(sqlite3* database, std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  int code = sqlite3_prepare_v2(database, sql.data(), static_cast<int>(sql.size()), &raw, nullptr);
  Statement statement;
  statement.statement_.reset(raw);
  if (code != SQLITE_OK) return sqliteError(database, "preparing a store statement");
  return statement;
}

std::string Statement::text(int column) {
  const auto* bytes = sqlite3_column_text(statement_.get(), column);
  int size = sqlite3_column_bytes(statement_.get(), column);
  if (bytes == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(bytes), static_cast<std::size_t>(size));
}

// Runs SQL without results (pragmas, schema, transaction control).
Result<void> execute(sqlite3* database, const char* sql, std::string_view what) {
  char* message = nullptr;
  int code = sqlite3_exec(database, sql, nullptr, nullptr, &message);
  if (code == SQLITE_OK) return {};
  std::string text = message != nullptr ? message : sqlite3_errstr(code);
  sqlite3_free(message);
  return makeError("store", std::string(what) + ": " + text);
}

Result<std::int64_t> queryInteger(sqlite3* database, const char* sql) {
  auto statement = Statement::prepare(database, sql);
  if (!statement) return statement.error();
  if (statement->step() != SQLITE_ROW) return sqliteError(database, "reading a store");
  return statement->integer(0);
}

Result<Database> openDatabase(const std::filesystem::path& path, std::string_view store_name,
                              bool read_only_queries) {
  const std::string name(store_name);
  sqlite3* raw = nullptr;
  // NOMUTEX: each connection is used by one thread at a time (the writer thread, or searches
  // under their own mutex), so SQLite's own locking would only cost.
  int code =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  Database database(raw);
  if (code != SQLITE_OK) {
    std::string reason = raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(code);
    return makeError("store", "cannot open " + name + " " + path.string() + ": " + reason);
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, kBusyTimeoutMilliseconds);

  auto mode = Statement::prepare(raw, "PRAGMA journal_mode=WAL");
  if (!mode) return mode.error();
  if (mode->step() != SQLITE_ROW) {
    return sqliteError(raw, "setting WAL mode on " + name + " " + path.string());
  }
  if (mode->text(0) != "wal") {
    // Still correct, only readers and the writer now block each other (e.g. on a network
    // file system that cannot share memory for the WAL index).
    log::warning("{} {}: WAL mode unavailable, using {}", name, path.string(), mode->text(0));
  }
  // NORMAL in WAL mode: a power loss may lose the last commits but never corrupts the file;
  // stores hold trace and directory data, not what the 250 reply promises.
  if (auto done =
          execute(raw, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;", "configuring " + name);
      !done) {
    return done.error();
  }
  if (read_only_queries) {
    if (auto done = execute(raw, "PRAGMA query_only=ON", "configuring " + name); !done) {
      return done.error();
    }
  }
  return database;
}

Result<void> ensureSchema(sqlite3* database, const std::filesystem::path& path,
                          std::string_view store_name, const char* schema_sql, int version_wanted) {
  const std::string name(store_name);
  const std::string creating = "creating " + name + " schema";
  auto version = queryInteger(database, "PRAGMA user_version");
  if (!version) return version.error();
  if (*version == version_wanted) return {};
  if (*version > version_wanted) {
    return makeError("store", name + " " + path.string() + " has schema version " +
                                  std::to_string(*version) + ", newer than this program's " +
                                  std::to_string(version_wanted) + "; upgrade bulwark");
  }
  // Two processes may open a new file at once: IMMEDIATE takes the write lock first, and the
  // version is read again under it so only one of them creates the schema.
  if (auto begun = execute(database, "BEGIN IMMEDIATE", creating); !begun) {
    return begun.error();
  }
  auto rollback = [&](Error error) -> Result<void> {
    sqlite3_exec(database, "ROLLBACK", nullptr, nullptr, nullptr);
    return error;
  };
  version = queryInteger(database, "PRAGMA user_version");
  if (!version) return rollback(version.error());
  if (*version == 0) {
    if (auto created = execute(database, schema_sql, creating); !created) {
      return rollback(created.error());
    }
    std::string set_version = "PRAGMA user_version=" + std::to_string(version_wanted);
    if (auto set = execute(database, set_version.c_str(), creating); !set) {
      return rollback(set.error());
    }
  }
  if (auto committed = execute(database, "COMMIT", creating); !committed) {
    return rollback(committed.error());
  }
  return {};
}

}  // namespace bulwark::store::sqlite
