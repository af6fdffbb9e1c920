// The SQLite message trace store (trace_store.h, docs/trace.md): WAL mode so that `bulwark trace`
// in another process reads while `bulwark serve` writes; one writer thread commits batches.
// Untrusted: every string of a TraceEvent came from the network; it is only ever bound as a
// parameter, never put into SQL text, and never logged.
#include "common/log.h"
#include "common/strings.h"
#include "store/sqlite.h"
#include "store/trace_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <limits>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

namespace bulwark::store {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Version 1 is the first schema; a newer file is refused rather than misread.
constexpr int kSchemaVersion = 1;
// One transaction per batch: big enough to amortise the commit, small enough that a reader
// never waits long and a lost batch (crash, full disk) is small.
constexpr std::size_t kBatchSize = 500;
// Past this many uncommitted events (the disk is stuck) new ones are dropped, so a broken store
// costs trace events but never the server's memory.
constexpr std::size_t kMaxPending = 100000;
constexpr int kBusyAttempts = 3;
constexpr auto kLogInterval = std::chrono::seconds(10);

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS trace_events (
  id INTEGER PRIMARY KEY,
  time_us INTEGER NOT NULL,
  queue_id TEXT NOT NULL,
  message_id TEXT NOT NULL,
  message_id_key TEXT NOT NULL,
  status TEXT NOT NULL,
  sender TEXT NOT NULL,
  sender_key TEXT NOT NULL,
  client_address TEXT NOT NULL,
  helo TEXT NOT NULL,
  tls_version TEXT NOT NULL,
  tls_cipher TEXT NOT NULL,
  auth_user TEXT NOT NULL,
  size INTEGER NOT NULL,
  detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS trace_recipients (
  event_id INTEGER NOT NULL REFERENCES trace_events(id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  address TEXT NOT NULL,
  address_key TEXT NOT NULL,
  PRIMARY KEY (event_id, position)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS trace_events_time ON trace_events(time_us);
CREATE INDEX IF NOT EXISTS trace_events_queue_id ON trace_events(queue_id, time_us);
CREATE INDEX IF NOT EXISTS trace_events_message_id ON trace_events(message_id_key, time_us);
CREATE INDEX IF NOT EXISTS trace_events_sender ON trace_events(sender_key, time_us);
CREATE INDEX IF NOT EXISTS trace_events_status ON trace_events(status, time_us);
CREATE INDEX IF NOT EXISTS trace_recipients_address ON trace_recipients(address_key);
)sql";

constexpr const char* kInsertEvent = R"sql(
INSERT INTO trace_events (time_us, queue_id, message_id, message_id_key, status, sender,
  sender_key, client_address, helo, tls_version, tls_cipher, auth_user, size, detail)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
)sql";

constexpr const char* kInsertRecipient =
    "INSERT INTO trace_recipients (event_id, position, address, address_key) "
    "VALUES (?1, ?2, ?3, ?4)";

constexpr const char* kSelectRecipients =
    "SELECT address FROM trace_recipients WHERE event_id = ?1 ORDER BY position";

using namespace sqlite;

// ---- search keys ------------------------------------------------------------------------------

std::string stripAngleBrackets(std::string_view text) {
  text = trim(text);
  if (text.size() >= 2 && text.front() == '<' && text.back() == '>') {
    text = text.substr(1, text.size() - 2);
  }
  return std::string(text);
}

// Search columns hold this form: ASCII lower case (SMTP treats domains case-insensitively and
// practically every local part too), no angle brackets.
std::string addressKey(std::string_view address) {
  return asciiLower(stripAngleBrackets(address));
}

std::int64_t toMicroseconds(std::chrono::system_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch()).count();
}

std::chrono::system_clock::time_point fromMicroseconds(std::int64_t microseconds) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::microseconds(microseconds)));
}

using Parameter = std::variant<std::string, std::int64_t>;

// Adds "column = ?" or, with '*' in the pattern, "column LIKE ? ESCAPE '\'" where every '%',
// '_' and '\' of the administrator's text is literal and only '*' matches anything.
void addAddressCondition(std::string_view column, std::string_view pattern, std::string& where,
                         std::vector<Parameter>& parameters) {
  std::string key = addressKey(pattern);
  if (key.find('*') == std::string::npos) {
    where += std::string(column) + " = ?";
    parameters.emplace_back(std::move(key));
    return;
  }
  std::string like;
  for (char c : key) {
    if (c == '*') {
      like += '%';
    } else {
      if (c == '%' || c == '_' || c == '\\') like += '\\';
      like += c;
    }
  }
  where += std::string(column) + " LIKE ? ESCAPE '\\'";
  parameters.emplace_back(std::move(like));
}

// ---- the store --------------------------------------------------------------------------------

class SqliteTraceStore final : public TraceStore {
 public:
  SqliteTraceStore(std::filesystem::path path, Database writer, Database reader,
                   Statement insert_event, Statement insert_recipient)
      : path_(std::move(path)),
        writer_(std::move(writer)),
        reader_(std::move(reader)),
        insert_event_(std::move(insert_event)),
        insert_recipient_(std::move(insert_recipient)) {
    thread_ = std::thread([this] { writeLoop(); });
  }

  ~SqliteTraceStore() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    work_available_.notify_one();
    thread_.join();  // the writer drains the queue before it returns
  }

  SqliteTraceStore(const SqliteTraceStore&) = delete;
  SqliteTraceStore& operator=(const SqliteTraceStore&) = delete;

  void record(TraceEvent event) override {
    {
      std::lock_guard lock(mutex_);
      if (pending_.size() >= kMaxPending) {
        ++overflow_dropped_;
        return;
      }
      pending_.push_back(std::move(event));
      ++recorded_;
    }
    work_available_.notify_one();
  }

  void flush() override {
    std::unique_lock lock(mutex_);
    std::uint64_t target = recorded_;
    batch_done_.wait(lock, [&] { return processed_ >= target; });
  }

  Result<std::vector<TraceEvent>> search(const TraceQuery& query) override {
    std::string where;
    std::vector<Parameter> parameters;
    auto next = [&] { where += where.empty() ? " WHERE " : " AND "; };
    if (query.sender) {
      next();
      addAddressCondition("sender_key", *query.sender, where, parameters);
    }
    if (query.recipient) {
      next();
      where += "id IN (SELECT event_id FROM trace_recipients WHERE ";
      addAddressCondition("address_key", *query.recipient, where, parameters);
      where += ")";
    }
    if (query.message_id) {
      next();
      where += "message_id_key = ?";
      parameters.emplace_back(addressKey(*query.message_id));
    }
    if (query.queue_id) {
      next();
      where += "queue_id = ?";
      parameters.emplace_back(std::string(trim(*query.queue_id)));
    }
    if (query.status) {
      next();
      where += "status = ?";
      parameters.emplace_back(asciiLower(trim(*query.status)));
    }
    if (query.since) {
      next();
      where += "time_us >= ?";
      parameters.emplace_back(toMicroseconds(*query.since));
    }
    if (query.until) {
      next();
      where += "time_us < ?";
      parameters.emplace_back(toMicroseconds(*query.until));
    }
    // SQLite reads a negative LIMIT as none; 0 in TraceQuery means "all".
    std::int64_t limit = -1;
    if (query.limit != 0 && query.limit <= std::numeric_limits<std::int64_t>::max()) {
      limit = static_cast<std::int64_t>(query.limit);
    }
    parameters.emplace_back(limit);
    std::string sql =
        "SELECT id, time_us, queue_id, message_id, status, sender, client_address, helo, "
        "tls_version, tls_cipher, auth_user, size, detail FROM trace_events" +
        where + " ORDER BY time_us DESC, id DESC LIMIT ?";

    std::lock_guard lock(reader_mutex_);
    sqlite3* database = reader_.get();
    // One read transaction: the events and their recipients come from the same snapshot.
    if (auto begun = execute(database, "BEGIN", "searching the trace store"); !begun) {
      return begun.error();
    }
    auto result = runSearch(database, sql, parameters);
    sqlite3_exec(database, "COMMIT", nullptr, nullptr, nullptr);
    return result;
  }

 private:
  static Result<std::vector<TraceEvent>> runSearch(sqlite3* database, const std::string& sql,
                                                   const std::vector<Parameter>& parameters) {
    auto events = Statement::prepare(database, sql);
    if (!events) return events.error();
    auto recipients = Statement::prepare(database, kSelectRecipients);
    if (!recipients) return recipients.error();
    int index = 1;
    for (const auto& parameter : parameters) {
      std::visit([&](const auto& value) { events->bind(index, value); }, parameter);
      ++index;
    }
    std::vector<TraceEvent> found;
    int code;
    while ((code = events->step()) == SQLITE_ROW) {
      TraceEvent event;
      std::int64_t id = events->integer(0);
      event.time = fromMicroseconds(events->integer(1));
      event.queue_id = events->text(2);
      event.message_id = events->text(3);
      event.status = events->text(4);
      event.sender = events->text(5);
      event.client_address = events->text(6);
      event.helo = events->text(7);
      event.tls_version = events->text(8);
      event.tls_cipher = events->text(9);
      event.auth_user = events->text(10);
      event.size = static_cast<std::uint64_t>(std::max<std::int64_t>(0, events->integer(11)));
      event.detail = events->text(12);
      recipients->bind(1, id);
      int recipient_code;
      while ((recipient_code = recipients->step()) == SQLITE_ROW) {
        event.recipients.push_back(recipients->text(0));
      }
      if (recipient_code != SQLITE_DONE) return sqliteError(database, "searching the trace store");
      recipients->reset();
      found.push_back(std::move(event));
    }
    if (code != SQLITE_DONE) return sqliteError(database, "searching the trace store");
    return found;
  }

  void writeLoop() {
    for (;;) {
      std::vector<TraceEvent> batch;
      std::uint64_t dropped = 0;
      {
        std::unique_lock lock(mutex_);
        work_available_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
        if (pending_.empty()) return;  // stopping, and everything is written
        std::size_t count = std::min(pending_.size(), kBatchSize);
        batch.reserve(count);
        for (std::size_t index = 0; index < count; ++index) {
          batch.push_back(std::move(pending_.front()));
          pending_.pop_front();
        }
        dropped = std::exchange(overflow_dropped_, 0);
      }
      if (dropped != 0) noteLost(dropped, "the queue of uncommitted events was full");
      commitWithRetry(batch);
      {
        std::lock_guard lock(mutex_);
        processed_ += batch.size();
      }
      batch_done_.notify_all();
    }
  }

  void commitWithRetry(const std::vector<TraceEvent>& batch) {
    for (int attempt = 1;; ++attempt) {
      int code = commit(batch);
      if (code == SQLITE_OK) return;
      int primary = code & 0xff;
      bool busy = primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
      if (busy && attempt < kBusyAttempts) continue;  // busy_timeout already waited
      noteLost(batch.size(), sqlite3_errstr(code));
      return;
    }
  }

  // One transaction for the batch; returns the SQLite code of the first failure.
  int commit(const std::vector<TraceEvent>& batch) {
    sqlite3* database = writer_.get();
    int code = sqlite3_exec(database, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    if (code != SQLITE_OK) return code;
    for (const auto& event : batch) {
      code = insert(event);
      if (code != SQLITE_OK) {
        sqlite3_exec(database, "ROLLBACK", nullptr, nullptr, nullptr);
        return code;
      }
    }
    code = sqlite3_exec(database, "COMMIT", nullptr, nullptr, nullptr);
    if (code != SQLITE_OK) sqlite3_exec(database, "ROLLBACK", nullptr, nullptr, nullptr);
    return code;
  }

  int insert(const TraceEvent& event) {
    auto& statement = insert_event_;
    statement.reset();
    auto size = static_cast<std::int64_t>(
        std::min<std::uint64_t>(event.size, std::numeric_limits<std::int64_t>::max()));
    statement.bind(1, toMicroseconds(event.time));
    statement.bind(2, event.queue_id);
    statement.bind(3, event.message_id);
    statement.bind(4, addressKey(event.message_id));
    statement.bind(5, asciiLower(event.status));
    statement.bind(6, event.sender);
    statement.bind(7, addressKey(event.sender));
    statement.bind(8, event.client_address);
    statement.bind(9, event.helo);
    statement.bind(10, event.tls_version);
    statement.bind(11, event.tls_cipher);
    statement.bind(12, event.auth_user);
    statement.bind(13, size);
    statement.bind(14, event.detail);
    int code = statement.step();
    statement.reset();
    if (code != SQLITE_DONE) return code;
    std::int64_t id = sqlite3_last_insert_rowid(writer_.get());
    std::int64_t position = 0;
    for (const auto& recipient : event.recipients) {
      auto& child = insert_recipient_;
      child.reset();
      child.bind(1, id);
      child.bind(2, position++);
      child.bind(3, recipient);
      child.bind(4, addressKey(recipient));
      code = child.step();
      child.reset();
      if (code != SQLITE_DONE) return code;
    }
    return SQLITE_OK;
  }

  // Logged at most every kLogInterval so a full disk does not also flood the log; only counts
  // and SQLite's reason, never event contents.
  void noteLost(std::uint64_t count, std::string_view reason) {
    lost_since_log_ += count;
    auto now = SteadyClock::now();
    if (last_log_ != SteadyClock::time_point{} && now - last_log_ < kLogInterval) return;
    log::error("trace store {}: {} trace events lost ({})", path_.string(), lost_since_log_,
               reason);
    lost_since_log_ = 0;
    last_log_ = now;
  }

  const std::filesystem::path path_;
  Database writer_;  // used only by thread_
  Database reader_;  // used only under reader_mutex_
  Statement insert_event_;
  Statement insert_recipient_;
  std::mutex reader_mutex_;

  std::mutex mutex_;  // guards the members up to thread_
  std::condition_variable work_available_;
  std::condition_variable batch_done_;
  std::deque<TraceEvent> pending_;
  std::uint64_t recorded_ = 0;   // events accepted by record()
  std::uint64_t processed_ = 0;  // events the writer has committed or given up on
  std::uint64_t overflow_dropped_ = 0;
  bool stopping_ = false;
  std::thread thread_;

  // Writer thread only.
  std::uint64_t lost_since_log_ = 0;
  SteadyClock::time_point last_log_{};
};

}  // namespace

Result<std::unique_ptr<TraceStore>> openSqliteTraceStore(const std::filesystem::path& path) {
  if (path.has_parent_path()) {
    std::error_code error;
    std::filesystem::create_directories(path.parent_path(), error);
    if (error) {
      return makeError("store", "cannot create directory " + path.parent_path().string() +
                                    " for the trace store: " + error.message());
    }
  }
  auto writer = openDatabase(path, "trace store", false);
  if (!writer) return writer.error();
  if (auto schema = ensureSchema(writer->get(), path, "trace store", kSchema, kSchemaVersion); !schema) {
    return schema.error();
  }
  auto reader = openDatabase(path, "trace store", true);
  if (!reader) return reader.error();
  auto insert_event = Statement::prepare(writer->get(), kInsertEvent);
  if (!insert_event) return insert_event.error();
  auto insert_recipient = Statement::prepare(writer->get(), kInsertRecipient);
  if (!insert_recipient) return insert_recipient.error();
  return std::unique_ptr<TraceStore>(
      new SqliteTraceStore(path, std::move(*writer), std::move(*reader), std::move(*insert_event),
                           std::move(*insert_recipient)));
}

}  // namespace bulwark::store
