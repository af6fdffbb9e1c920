// The SQLite policy cache; see cache.h. One row per domain; times in microseconds since the epoch,
// as in the other stores. A row whose text no longer parses is reported and treated as absent.
#include "sts/cache.h"

#include "common/log.h"
#include "store/sqlite.h"

#include <mutex>

namespace bulwark::sts {
namespace {

using namespace store::sqlite;

constexpr int kSchemaVersion = 1;
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS mta_sts_policies (
  domain TEXT PRIMARY KEY,
  id TEXT NOT NULL,
  policy TEXT NOT NULL,
  fetched_us INTEGER NOT NULL,
  expires_us INTEGER NOT NULL
);
)sql";

std::int64_t toMicroseconds(std::chrono::system_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch()).count();
}

std::chrono::system_clock::time_point fromMicroseconds(std::int64_t value) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::microseconds(value)));
}

class SqlitePolicyCache final : public PolicyCache {
 public:
  explicit SqlitePolicyCache(Database database) : database_(std::move(database)) {}

  Result<std::optional<CachedPolicy>> find(std::string_view domain) override {
    std::lock_guard lock(mutex_);
    auto statement = Statement::prepare(
        database_.get(),
        "SELECT id, policy, fetched_us, expires_us FROM mta_sts_policies WHERE domain = ?1");
    if (!statement) return statement.error();
    statement->bind(1, domain);
    const int code = statement->step();
    if (code == SQLITE_DONE) return std::optional<CachedPolicy>();
    if (code != SQLITE_ROW) return sqliteError(database_.get(), "reading the MTA-STS cache");
    CachedPolicy entry;
    entry.domain = std::string(domain);
    entry.id = statement->text(0);
    entry.text = statement->text(1);
    entry.fetched = fromMicroseconds(statement->integer(2));
    entry.expires = fromMicroseconds(statement->integer(3));
    auto parsed = parsePolicy(entry.text);
    if (!parsed) {
      log::warning("mta-sts: the cached policy of {} does not parse ({}); ignoring it", domain,
                   parsed.error().message);
      return std::optional<CachedPolicy>();
    }
    entry.policy = std::move(*parsed);
    return std::optional<CachedPolicy>(std::move(entry));
  }

  Result<void> put(const CachedPolicy& entry) override {
    std::lock_guard lock(mutex_);
    auto statement = Statement::prepare(
        database_.get(),
        "INSERT INTO mta_sts_policies (domain, id, policy, fetched_us, expires_us) "
        "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(domain) DO UPDATE SET id = excluded.id, "
        "policy = excluded.policy, fetched_us = excluded.fetched_us, "
        "expires_us = excluded.expires_us");
    if (!statement) return statement.error();
    statement->bind(1, entry.domain);
    statement->bind(2, entry.id);
    statement->bind(3, entry.text);
    statement->bind(4, toMicroseconds(entry.fetched));
    statement->bind(5, toMicroseconds(entry.expires));
    if (statement->step() != SQLITE_DONE) {
      return sqliteError(database_.get(), "writing the MTA-STS cache");
    }
    return {};
  }

 private:
  std::mutex mutex_;
  Database database_;
};

}  // namespace

Result<std::unique_ptr<PolicyCache>> openSqlitePolicyCache(const std::filesystem::path& path) {
  auto database = openDatabase(path, "MTA-STS cache", false);
  if (!database) return database.error();
  auto schema = ensureSchema(database->get(), path, "MTA-STS cache", kSchema, kSchemaVersion);
  if (!schema) return schema.error();
  return std::unique_ptr<PolicyCache>(std::make_unique<SqlitePolicyCache>(std::move(*database)));
}

}  // namespace bulwark::sts
