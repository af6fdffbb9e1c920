// The SQLite DMARC report store (dmarc_report_store.h, docs/dmarc-reports.md): WAL, one counter
// per group of identical report rows rather than one row per message, so a domain sending a
// million messages a day from ten servers costs ten rows. Untrusted: every string of a row came
// from the network; it is only ever bound as a parameter and stored as JSON text.
#include <boost/json.hpp>
#include <map>
#include <mutex>

#include "store/dmarc_report_store.h"
#include "store/sqlite.h"

namespace bulwark::store {
namespace {

using namespace sqlite;

constexpr int kSchemaVersion = 1;
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS dmarc_report_periods (
  domain TEXT NOT NULL,
  period_begin INTEGER NOT NULL,
  period_end INTEGER NOT NULL,
  policy TEXT NOT NULL,
  row_count INTEGER NOT NULL,
  PRIMARY KEY (domain, period_begin)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dmarc_report_rows (
  domain TEXT NOT NULL,
  period_begin INTEGER NOT NULL,
  row_key TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (domain, period_begin, row_key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dmarc_report_domains (
  domain TEXT PRIMARY KEY,
  reported_up_to INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dmarc_report_periods_end ON dmarc_report_periods(period_end);
)sql";

// ---- rows and policies as JSON text -----------------------------------------------------------
// The row's JSON (without its count) is also its group key: the same fields in the same order
// give the same text.

std::string rowKey(const auth::ReportRow& row) {
  boost::json::array dkim;
  for (const auto& result : row.dkim_results) {
    dkim.push_back(boost::json::object{
        {"domain", result.domain}, {"selector", result.selector}, {"result", result.result}});
  }
  boost::json::object object;
  object["source_ip"] = row.source_ip;
  object["disposition"] = row.disposition;
  object["dkim"] = row.dkim;
  object["spf"] = row.spf;
  object["reason"] = row.reason;
  object["envelope_to"] = row.envelope_to;
  object["envelope_from"] = row.envelope_from;
  object["header_from"] = row.header_from;
  object["dkim_results"] = std::move(dkim);
  object["spf_domain"] = row.spf_domain;
  object["spf_scope"] = row.spf_scope;
  object["spf_result"] = row.spf_result;
  return boost::json::serialize(object);
}

std::string stringAt(const boost::json::object& object, std::string_view key) {
  const boost::json::value* value = object.if_contains(key);
  if (value == nullptr || !value->is_string()) return {};
  return std::string(value->get_string());
}

Result<boost::json::object> parseObject(std::string_view text, std::string_view what) {
  boost::system::error_code error;
  // The strings are the network's bytes, not necessarily UTF-8; they are stored as they came.
  boost::json::parse_options options;
  options.allow_invalid_utf8 = true;
  boost::json::value value = boost::json::parse(text, error, {}, options);
  if (error || !value.is_object()) {
    return makeError("corrupt", "DMARC report store: unreadable " + std::string(what));
  }
  return std::move(value.get_object());
}

Result<auth::ReportRow> rowFrom(std::string_view key, std::int64_t count) {
  auto parsed = parseObject(key, "row");
  if (!parsed) return parsed.error();
  const boost::json::object& object = *parsed;
  auth::ReportRow row;
  row.source_ip = stringAt(object, "source_ip");
  row.disposition = stringAt(object, "disposition");
  row.dkim = stringAt(object, "dkim");
  row.spf = stringAt(object, "spf");
  row.reason = stringAt(object, "reason");
  row.envelope_to = stringAt(object, "envelope_to");
  row.envelope_from = stringAt(object, "envelope_from");
  row.header_from = stringAt(object, "header_from");
  if (const auto* dkim = object.if_contains("dkim_results"); dkim && dkim->is_array()) {
    for (const auto& element : dkim->get_array()) {
      if (!element.is_object()) continue;
      const auto& result = element.get_object();
      row.dkim_results.push_back(
          {stringAt(result, "domain"), stringAt(result, "selector"), stringAt(result, "result")});
    }
  }
  row.spf_domain = stringAt(object, "spf_domain");
  row.spf_scope = stringAt(object, "spf_scope");
  row.spf_result = stringAt(object, "spf_result");
  row.count = static_cast<std::uint64_t>(count);
  return row;
}

std::string policyText(const auth::PublishedPolicy& policy) {
  boost::json::array rua;
  for (const auto& uri : policy.rua) rua.emplace_back(uri);
  return boost::json::serialize(boost::json::object{{"domain", policy.domain},
                                                    {"adkim", policy.adkim},
                                                    {"aspf", policy.aspf},
                                                    {"p", policy.p},
                                                    {"sp", policy.sp},
                                                    {"np", policy.np},
                                                    {"pct", policy.pct},
                                                    {"rua", std::move(rua)}});
}

Result<auth::PublishedPolicy> policyFrom(std::string_view text) {
  auto parsed = parseObject(text, "policy");
  if (!parsed) return parsed.error();
  const boost::json::object& object = *parsed;
  auth::PublishedPolicy policy;
  policy.domain = stringAt(object, "domain");
  policy.adkim = stringAt(object, "adkim");
  policy.aspf = stringAt(object, "aspf");
  policy.p = stringAt(object, "p");
  policy.sp = stringAt(object, "sp");
  policy.np = stringAt(object, "np");
  if (const auto* pct = object.if_contains("pct"); pct && pct->is_number()) {
    policy.pct = static_cast<unsigned>(pct->to_number<std::uint64_t>());
  }
  if (const auto* rua = object.if_contains("rua"); rua && rua->is_array()) {
    for (const auto& uri : rua->get_array()) {
      if (uri.is_string()) policy.rua.emplace_back(uri.get_string());
    }
  }
  return policy;
}

// ---- the store --------------------------------------------------------------------------------

class SqliteDmarcReportStore final : public DmarcReportStore {
 public:
  SqliteDmarcReportStore(Database database, DmarcReportStoreLimits limits)
      : database_(std::move(database)), limits_(limits) {}

  Result<DmarcRecordOutcome> record(const std::vector<DmarcReportEntry>& entries) override {
    std::lock_guard lock(mutex_);
    sqlite3* database = database_.get();
    if (auto begun = execute(database, "BEGIN IMMEDIATE", "writing the DMARC report store");
        !begun) {
      return begun.error();
    }
    auto result = recordAll(entries);
    if (!result) {
      sqlite3_exec(database, "ROLLBACK", nullptr, nullptr, nullptr);
      return result.error();
    }
    if (auto committed = execute(database, "COMMIT", "writing the DMARC report store");
        !committed) {
      sqlite3_exec(database, "ROLLBACK", nullptr, nullptr, nullptr);
      return committed.error();
    }
    return result;
  }

  Result<std::vector<DmarcReportPeriod>> duePeriods(std::int64_t now) override {
    std::lock_guard lock(mutex_);
    auto statement =
        Statement::prepare(database_.get(),
                           "SELECT domain, period_begin, period_end FROM dmarc_report_periods "
                           "WHERE period_end <= ?1 AND row_count > 0 ORDER BY period_end, domain");
    if (!statement) return statement.error();
    statement->bind(1, now);
    std::vector<DmarcReportPeriod> periods;
    int code;
    while ((code = statement->step()) == SQLITE_ROW) {
      periods.push_back({statement->text(0), statement->integer(1), statement->integer(2)});
    }
    if (code != SQLITE_DONE) return sqliteError(database_.get(), "reading the DMARC report store");
    return periods;
  }

  Result<DmarcReportContent> load(const DmarcReportPeriod& period) override {
    std::lock_guard lock(mutex_);
    DmarcReportContent content;
    auto policy = Statement::prepare(
        database_.get(),
        "SELECT policy FROM dmarc_report_periods WHERE domain = ?1 AND period_begin = ?2");
    if (!policy) return policy.error();
    policy->bind(1, period.domain);
    policy->bind(2, period.begin);
    int code = policy->step();
    if (code == SQLITE_DONE) {
      return makeError("not_found", "DMARC report store: no period " +
                                        std::to_string(period.begin) + " for " + period.domain);
    }
    if (code != SQLITE_ROW) return sqliteError(database_.get(), "reading the DMARC report store");
    auto published = policyFrom(policy->text(0));
    if (!published) return published.error();
    content.policy = std::move(*published);

    auto rows = Statement::prepare(
        database_.get(),
        "SELECT row_key, count FROM dmarc_report_rows WHERE domain = ?1 AND period_begin = ?2 "
        "ORDER BY count DESC, row_key");
    if (!rows) return rows.error();
    rows->bind(1, period.domain);
    rows->bind(2, period.begin);
    while ((code = rows->step()) == SQLITE_ROW) {
      auto row = rowFrom(rows->text(0), rows->integer(1));
      if (!row) return row.error();
      content.rows.push_back(std::move(*row));
    }
    if (code != SQLITE_DONE) return sqliteError(database_.get(), "reading the DMARC report store");
    return content;
  }

  Result<void> markReported(const DmarcReportPeriod& period) override {
    std::lock_guard lock(mutex_);
    sqlite3* database = database_.get();
    if (auto begun = execute(database, "BEGIN IMMEDIATE", "writing the DMARC report store");
        !begun) {
      return begun.error();
    }
    auto done = markReportedInTransaction(period);
    const char* end = done ? "COMMIT" : "ROLLBACK";
    if (auto finished = execute(database, end, "writing the DMARC report store"); !finished) {
      sqlite3_exec(database, "ROLLBACK", nullptr, nullptr, nullptr);
      return finished.error();
    }
    return done;
  }

  Result<std::int64_t> reportedUpTo(std::string_view domain) override {
    std::lock_guard lock(mutex_);
    return reportedUpToLocked(domain);
  }

 private:
  Result<std::int64_t> reportedUpToLocked(std::string_view domain) {
    auto statement = Statement::prepare(
        database_.get(), "SELECT reported_up_to FROM dmarc_report_domains WHERE domain = ?1");
    if (!statement) return statement.error();
    statement->bind(1, domain);
    int code = statement->step();
    if (code == SQLITE_DONE) return std::int64_t{0};
    if (code != SQLITE_ROW) return sqliteError(database_.get(), "reading the DMARC report store");
    return statement->integer(0);
  }

  Result<DmarcRecordOutcome> recordAll(const std::vector<DmarcReportEntry>& entries) {
    sqlite3* database = database_.get();
    auto upsert_period = Statement::prepare(
        database,
        "INSERT INTO dmarc_report_periods (domain, period_begin, period_end, policy, row_count) "
        "VALUES (?1, ?2, ?3, ?4, 0) ON CONFLICT(domain, period_begin) DO UPDATE SET "
        "policy = excluded.policy, period_end = excluded.period_end");
    if (!upsert_period) return upsert_period.error();
    auto add_count = Statement::prepare(database,
                                        "UPDATE dmarc_report_rows SET count = count + ?4 "
                                        "WHERE domain = ?1 AND period_begin = ?2 AND row_key = ?3");
    if (!add_count) return add_count.error();
    auto claim_row =
        Statement::prepare(database,
                           "UPDATE dmarc_report_periods SET row_count = row_count + 1 "
                           "WHERE domain = ?1 AND period_begin = ?2 AND row_count < ?3");
    if (!claim_row) return claim_row.error();
    auto insert_row =
        Statement::prepare(database,
                           "INSERT INTO dmarc_report_rows (domain, period_begin, row_key, count) "
                           "VALUES (?1, ?2, ?3, ?4)");
    if (!insert_row) return insert_row.error();

    auto failed = [&] { return sqliteError(database, "writing the DMARC report store"); };
    std::map<std::string, std::int64_t, std::less<>> reported;  // per domain, read once a batch
    DmarcRecordOutcome outcome;
    for (const auto& entry : entries) {
      const DmarcReportPeriod& period = entry.period;
      auto known = reported.find(period.domain);
      if (known == reported.end()) {
        auto up_to = reportedUpToLocked(period.domain);
        if (!up_to) return up_to.error();
        known = reported.emplace(period.domain, *up_to).first;
      }
      if (period.end <= known->second) {
        outcome.already_reported += entry.row.count;
        continue;
      }
      upsert_period->reset();
      upsert_period->bind(1, period.domain);
      upsert_period->bind(2, period.begin);
      upsert_period->bind(3, period.end);
      upsert_period->bind(4, policyText(entry.policy));
      if (upsert_period->step() != SQLITE_DONE) return failed();

      const std::string key = rowKey(entry.row);
      const auto count = static_cast<std::int64_t>(entry.row.count);
      add_count->reset();
      add_count->bind(1, period.domain);
      add_count->bind(2, period.begin);
      add_count->bind(3, key);
      add_count->bind(4, count);
      if (add_count->step() != SQLITE_DONE) return failed();
      if (sqlite3_changes(database) > 0) {
        outcome.counted += entry.row.count;
        continue;
      }
      claim_row->reset();
      claim_row->bind(1, period.domain);
      claim_row->bind(2, period.begin);
      claim_row->bind(3, static_cast<std::int64_t>(limits_.max_rows_per_report));
      if (claim_row->step() != SQLITE_DONE) return failed();
      if (sqlite3_changes(database) == 0) {
        outcome.over_limit += entry.row.count;
        continue;
      }
      insert_row->reset();
      insert_row->bind(1, period.domain);
      insert_row->bind(2, period.begin);
      insert_row->bind(3, key);
      insert_row->bind(4, count);
      if (insert_row->step() != SQLITE_DONE) return failed();
      outcome.counted += entry.row.count;
    }
    return outcome;
  }

  Result<void> markReportedInTransaction(const DmarcReportPeriod& period) {
    sqlite3* database = database_.get();
    auto failed = [&] { return sqliteError(database, "writing the DMARC report store"); };
    for (const char* sql : {"DELETE FROM dmarc_report_rows WHERE domain = ?1 AND period_begin = ?2",
                            "DELETE FROM dmarc_report_periods "
                            "WHERE domain = ?1 AND period_begin = ?2"}) {
      auto statement = Statement::prepare(database, sql);
      if (!statement) return statement.error();
      statement->bind(1, period.domain);
      statement->bind(2, period.begin);
      if (statement->step() != SQLITE_DONE) return failed();
    }
    auto mark = Statement::prepare(
        database,
        "INSERT INTO dmarc_report_domains (domain, reported_up_to) VALUES (?1, ?2) "
        "ON CONFLICT(domain) DO UPDATE SET "
        "reported_up_to = max(reported_up_to, excluded.reported_up_to)");
    if (!mark) return mark.error();
    mark->bind(1, period.domain);
    mark->bind(2, period.end);
    if (mark->step() != SQLITE_DONE) return failed();
    return {};
  }

  std::mutex mutex_;
  Database database_;
  DmarcReportStoreLimits limits_;
};

}  // namespace

Result<std::unique_ptr<DmarcReportStore>> openSqliteDmarcReportStore(
    const std::filesystem::path& path, DmarcReportStoreLimits limits) {
  auto database = openDatabase(path, "DMARC report store", false);
  if (!database) return database.error();
  auto schema = ensureSchema(database->get(), path, "DMARC report store", kSchema, kSchemaVersion);
  if (!schema) return schema.error();
  return std::unique_ptr<DmarcReportStore>(
      std::make_unique<SqliteDmarcReportStore>(std::move(*database), limits));
}

}  // namespace bulwark::store
