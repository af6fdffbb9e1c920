// Thin RAII over SQLite's C API, shared by the SQLite stores (trace, users): open with WAL and a
// busy timeout, prepared statements with bound parameters only, versioned schema creation that is
// safe when two processes open a new file at once.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace bulwark::store::sqlite {

// Long enough to ride out another process's checkpoint or schema creation.
inline constexpr int kBusyTimeoutMilliseconds = 5000;

struct DatabaseCloser {
  void operator()(sqlite3* database) const { sqlite3_close_v2(database); }
};
using Database = std::unique_ptr<sqlite3, DatabaseCloser>;

struct StatementFinalizer {
  void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};

Error sqliteError(sqlite3* database, std::string_view what);

class Statement {
 public:
  Statement() = default;

  static Result<Statement> prepare(sqlite3* database, std::string_view sql);

  // Parameters are numbered from 1, as in SQLite.
  int bind(int index, std::string_view text) {
    return sqlite3_bind_text(statement_.get(), index, text.data(), static_cast<int>(text.size()),
                             SQLITE_TRANSIENT);
  }
  int bind(int index, std::int64_t value) {
    return sqlite3_bind_int64(statement_.get(), index, value);
  }
  int step() { return sqlite3_step(statement_.get()); }
  void reset() {
    sqlite3_reset(statement_.get());
    sqlite3_clear_bindings(statement_.get());
  }

  // Columns are numbered from 0. Reads by length, so a NUL inside a value survives.
  std::string text(int column);
  std::int64_t integer(int column) { return sqlite3_column_int64(statement_.get(), column); }

 private:
  std::unique_ptr<sqlite3_stmt, StatementFinalizer> statement_;
};

// Runs SQL without results (pragmas, schema, transaction control).
Result<void> execute(sqlite3* database, const char* sql, std::string_view what);
Result<std::int64_t> queryInteger(sqlite3* database, const char* sql);

// Opens (creating) `path` in WAL mode with synchronous=NORMAL; `store_name` ("trace store")
// names it in errors. `read_only_queries` sets query_only for connections that only search.
Result<Database> openDatabase(const std::filesystem::path& path, std::string_view store_name,
                              bool read_only_queries);

// Creates `schema_sql` under PRAGMA user_version `version` if the file is new; refuses a file
// with a newer version rather than misreading it.
Result<void> ensureSchema(sqlite3* database, const std::filesystem::path& path,
                          std::string_view store_name, const char* schema_sql, int version);

}  // namespace bulwark::store::sqlite
