// Tests of the SQLite trace store (src/store/sqlite_trace_store.cpp, docs/trace.md): every search
// criterion, wildcards with literal '%'/'_', time ranges, ordering, concurrency, and a second
// store object reading while the first writes, as `bulwark trace` does beside `bulwark serve`.
#include "store/trace_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace bulwark::store {
namespace {

using namespace std::chrono_literals;
using std::chrono::system_clock;

// A fixed instant (2026-11-24T10:00:00Z) so that times in assertions are readable.
const system_clock::time_point kBase =
    system_clock::time_point(std::chrono::sys_days(std::chrono::year(2026) / 11 / 24)) + 10h;

class TraceStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "bulwark-trace-XXXXXX");
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    directory_ = pattern;
    path_ = directory_ / "store" / "trace.sqlite";
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }

  std::unique_ptr<TraceStore> open() {
    auto store = openSqliteTraceStore(path_);
    EXPECT_TRUE(store.has_value()) << (store ? "" : store.error().message);
    return store ? std::move(*store) : nullptr;
  }

  static TraceEvent event(system_clock::time_point time, std::string queue_id, std::string sender,
                          std::vector<std::string> recipients, std::string status = "received") {
    TraceEvent made;
    made.time = time;
    made.queue_id = std::move(queue_id);
    made.message_id = "<" + made.queue_id + "@mail.example.test>";
    made.status = std::move(status);
    made.sender = std::move(sender);
    made.recipients = std::move(recipients);
    made.client_address = "192.0.2.1";
    made.helo = "client.example.test";
    made.tls_version = "TLSv1.3";
    made.tls_cipher = "TLS_AES_256_GCM_SHA384";
    made.size = 1234;
    made.detail = "250 2.0.0 queued";
    return made;
  }

  static std::vector<std::string> queueIds(const std::vector<TraceEvent>& events) {
    std::vector<std::string> ids;
    for (const auto& found : events) ids.push_back(found.queue_id);
    return ids;
  }

  std::vector<std::string> find(TraceStore& store, const TraceQuery& query) {
    auto found = store.search(query);
    EXPECT_TRUE(found.has_value()) << (found ? "" : found.error().message);
    return found ? queueIds(*found) : std::vector<std::string>{};
  }

  // Three events a minute apart: Q1 oldest, Q3 newest.
  void recordThree(TraceStore& store) {
    store.record(event(kBase, "Q1", "Alice@Example.TEST", {"bob@example.test"}));
    store.record(event(kBase + 1min, "Q2", "carol@other.test",
                       {"Dave@Example.test", "erin@example.test"}, "delivered"));
    store.record(event(kBase + 2min, "Q3", "alice@example.test", {"frank@far.test"}, "deferred"));
    store.flush();
  }

  std::filesystem::path directory_;
  std::filesystem::path path_;
};

TEST_F(TraceStoreTest, EveryFieldRoundTripsNewestFirst) {
  auto store = open();
  ASSERT_TRUE(store);
  TraceEvent full = event(kBase + 123456us, "Q1", "alice@example.test",
                          {"z@example.test", "a@example.test", "m@example.test"});
  full.auth_user = "alice";
  full.size = 98765;
  full.detail = std::string("with\0nul and \xff byte", 20);
  store->record(full);
  store->record(event(kBase + 1s, "Q2", "", {"x@example.test"}));
  store->flush();

  auto found = store->search({});
  ASSERT_TRUE(found.has_value());
  ASSERT_EQ(found->size(), 2u);
  EXPECT_EQ((*found)[0].queue_id, "Q2");
  EXPECT_EQ((*found)[0].sender, "");
  const TraceEvent& read = (*found)[1];
  EXPECT_EQ(read.time, full.time);  // microseconds are kept
  EXPECT_EQ(read.queue_id, full.queue_id);
  EXPECT_EQ(read.message_id, full.message_id);
  EXPECT_EQ(read.status, full.status);
  EXPECT_EQ(read.sender, full.sender);
  EXPECT_EQ(read.recipients, full.recipients);  // in the order recorded
  EXPECT_EQ(read.client_address, full.client_address);
  EXPECT_EQ(read.helo, full.helo);
  EXPECT_EQ(read.tls_version, full.tls_version);
  EXPECT_EQ(read.tls_cipher, full.tls_cipher);
  EXPECT_EQ(read.auth_user, full.auth_user);
  EXPECT_EQ(read.size, full.size);
  EXPECT_EQ(read.detail, full.detail);
}

TEST_F(TraceStoreTest, SearchesBySenderCaseInsensitively) {
  auto store = open();
  ASSERT_TRUE(store);
  recordThree(*store);
  TraceQuery query;
  query.sender = "ALICE@example.test";
  EXPECT_EQ(find(*store, query), (std::vector<std::string>{"Q3", "Q1"}));
  query.sender = "<alice@example.test>";
  EXPECT_EQ(find(*store, query), (std::vector<std::string>{"Q3", "Q1"}));
  query.sender = "alice@example";  // exact, not a prefix
  EXPECT_TRUE(find(*store, query).empty());
}

TEST_F(TraceStoreTest, SearchesByRecipient) {
  auto store = open();
  ASSERT_TRUE(store);
  recordThree(*store);
  TraceQuery query;
  query.recipient = "dave@EXAMPLE.test";
  EXPECT_EQ(find(*store, query), (std::vector<std::string>{"Q2"}));
  query.recipient = "erin@example.test";
  auto found = store->search(query);
  ASSERT_TRUE(found.has_value());
  ASSERT_EQ(found->size(), 1u);
  // The event comes back with all its recipients, not only the one that matched.
  EXPECT_EQ((*found)[0].recipients,
            (std::vector<std::string>{"Dave@Example.test", "erin@example.test"}));
}

TEST_F(TraceStoreTest, SearchesByMessageIdWithOrWithoutBrackets) {
  auto store = open();
  ASSERT_TRUE(store);
  recordThree(*store);
  TraceQuery query;
  query.message_id = "<Q2@mail.example.test>";
  EXPECT_EQ(find(*store, query), (std::vector<std::string>{"Q2"}));
  query.message_id = "Q2@mail.example.test";
  EXPECT_EQ(find(*store, query), (std::vector<std::string>{"Q2"}));
  query.message_id = "Q2@mail";
  EXPECT_TRUE(find(*store, query).empty());
}

TEST_F(TraceStoreTest, SearchesByQueueIdAndStatus) {
  auto store = open();
  ASSERT_TRUE(store);
  recordThree(*store);
  TraceQuery query;
  query.queue_id = "Q1";
  EXPECT_EQ(find(*store, query), (std::vector<std::string>{"Q1"}));
  query = {};
  query.status = "deferred";
  EXPECT_EQ(find(*store, query), (std::vector<std::string>{"Q3"}));
  query.status = "Delivered";
  EXPECT_EQ(find(*store, query), (std::vector<std::string>{"Q2"}));
  query.status = "bounced";
  EXPECT_TRUE(find(*store, query).empty());
}

TEST_F(TraceStoreTest, CombinesCriteria) {
  auto store = open();
  ASSERT_TRUE(store);
  recordThree(*store);
  TraceQuery query;
  query.sender = "alice@example.test";
  query.status = "received";
  EXPECT_EQ(find(*store, query), (std::vector<std::string>{"Q1"}));
  query.recipient = "frank@far.test";
  EXPECT_TRUE(find(*store, query).empty());
}

TEST_F(TraceStoreTest, NullSenderIsFoundByAngleBrackets) {
  auto store = open();
  ASSERT_TRUE(store);
  store->record(event(kBase, "BOUNCE", "", {"alice@example.test"}, "bounced"));
  store->record(event(kBase, "Q1", "alice@example.test", {"bob@example.test"}));
  store->flush();
  TraceQuery query;
  query.sender = "<>";
  EXPECT_EQ(find(*store, query), (std::vector<std::string>{"BOUNCE"}));
}

TEST_F(TraceStoreTest, StarIsAWildcard) {
  auto store = open();
  ASSERT_TRUE(store);
  recordThree(*store);
  TraceQuery query;
  query.sender = "*@example.test";
  EXPECT_EQ(find(*store, query), (std::vector<std::string>{"Q3", "Q1"}));
  query.sender = "ALICE*";
  EXPECT_EQ(find(*store, query), (std::vector<std::string>{"Q3", "Q1"}));
  query.sender = "c*l@*.test";
  EXPECT_EQ(find(*store, query), (std::vector<std::string>{"Q2"}));
  query.sender = "*";
  EXPECT_EQ(find(*store, query).size(), 3u);
  query = {};
  query.recipient = "*@example.test";
  EXPECT_EQ(find(*store, query), (std::vector<std::string>{"Q2", "Q1"}));
  query.recipient = "*@far.test";
  EXPECT_EQ(find(*store, query), (std::vector<std::string>{"Q3"}));
}

TEST_F(TraceStoreTest, PercentUnderscoreAndBackslashAreLiteral) {
  auto store = open();
  ASSERT_TRUE(store);
  store->record(event(kBase, "UNDERSCORE", "a_b@x.test", {"r_1@x.test"}));
  store->record(event(kBase, "LETTER", "axb@x.test", {"rx1@x.test"}));
  store->record(event(kBase, "PERCENT", "a%b@x.test", {"r%1@x.test"}));
  store->record(event(kBase, "LONG", "azzb@x.test", {"rzz1@x.test"}));
  store->record(event(kBase, "BACKSLASH", "a\\b@x.test", {"r\\1@x.test"}));
  store->flush();
  auto sender = [&](std::string pattern) {
    TraceQuery query;
    query.sender = std::move(pattern);
    auto ids = find(*store, query);
    std::sort(ids.begin(), ids.end());
    return ids;
  };
  auto recipient = [&](std::string pattern) {
    TraceQuery query;
    query.recipient = std::move(pattern);
    auto ids = find(*store, query);
    std::sort(ids.begin(), ids.end());
    return ids;
  };
  using Ids = std::vector<std::string>;
  EXPECT_EQ(sender("a_b@x.test"), Ids{"UNDERSCORE"});
  EXPECT_EQ(sender("a_b*"), Ids{"UNDERSCORE"});
  EXPECT_EQ(sender("a%b*"), Ids{"PERCENT"});
  EXPECT_EQ(sender("a%*"), Ids{"PERCENT"});
  EXPECT_EQ(sender("a\\b*"), Ids{"BACKSLASH"});
  EXPECT_EQ(sender("*%*"), Ids{"PERCENT"});
  EXPECT_EQ(sender("a*b@x.test"), (Ids{"BACKSLASH", "LETTER", "LONG", "PERCENT", "UNDERSCORE"}));
  EXPECT_EQ(recipient("r_*"), Ids{"UNDERSCORE"});
  EXPECT_EQ(recipient("r%*"), Ids{"PERCENT"});
  EXPECT_EQ(recipient("*\\1@x.test"), Ids{"BACKSLASH"});
  // A value that is SQL is only a value.
  EXPECT_TRUE(sender("x' OR '1'='1").empty());
}

TEST_F(TraceStoreTest, TimeRangeIsSinceInclusiveUntilExclusive) {
  auto store = open();
  ASSERT_TRUE(store);
  recordThree(*store);
  TraceQuery query;
  query.since = kBase + 1min;
  EXPECT_EQ(find(*store, query), (std::vector<std::string>{"Q3", "Q2"}));
  query.until = kBase + 2min;
  EXPECT_EQ(find(*store, query), (std::vector<std::string>{"Q2"}));
  query.since = kBase + 1min + 1us;
  EXPECT_TRUE(find(*store, query).empty());
  query = {};
  query.until = kBase + 1us;
  EXPECT_EQ(find(*store, query), (std::vector<std::string>{"Q1"}));
}

TEST_F(TraceStoreTest, LimitKeepsTheNewest) {
  auto store = open();
  ASSERT_TRUE(store);
  for (int index = 0; index < 20; ++index) {
    store->record(event(kBase + index * 1s, "Q" + std::to_string(index), "s@example.test",
                        {"r@example.test"}));
  }
  store->flush();
  TraceQuery query;
  query.limit = 3;
  EXPECT_EQ(find(*store, query), (std::vector<std::string>{"Q19", "Q18", "Q17"}));
  query.limit = 0;  // all
  EXPECT_EQ(find(*store, query).size(), 20u);
}

TEST_F(TraceStoreTest, EqualTimesComeInReverseRecordingOrder) {
  auto store = open();
  ASSERT_TRUE(store);
  store->record(event(kBase, "FIRST", "s@example.test", {}));
  store->record(event(kBase, "SECOND", "s@example.test", {}));
  store->record(event(kBase - 1h, "OLDER", "s@example.test", {}));
  store->flush();
  EXPECT_EQ(find(*store, {}), (std::vector<std::string>{"SECOND", "FIRST", "OLDER"}));
}

TEST_F(TraceStoreTest, ConcurrentRecordFromEightThreads) {
  auto store = open();
  ASSERT_TRUE(store);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 400;
  std::vector<std::thread> threads;
  for (int thread = 0; thread < kThreads; ++thread) {
    threads.emplace_back([&, thread] {
      for (int index = 0; index < kPerThread; ++index) {
        store->record(event(kBase + index * 1ms,
                            "T" + std::to_string(thread) + "-" + std::to_string(index),
                            "thread" + std::to_string(thread) + "@example.test",
                            {"r" + std::to_string(index) + "@example.test"}));
        if (index % 100 == 0) store->flush();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  store->flush();
  TraceQuery query;
  query.limit = 0;
  EXPECT_EQ(find(*store, query).size(), static_cast<std::size_t>(kThreads * kPerThread));
  query.sender = "thread3@example.test";
  auto found = store->search(query);
  ASSERT_TRUE(found.has_value());
  ASSERT_EQ(found->size(), static_cast<std::size_t>(kPerThread));
  for (const auto& read : *found) {
    ASSERT_EQ(read.recipients.size(), 1u);
    // Each event kept its own recipient, however the batches interleaved.
    std::string index = read.queue_id.substr(read.queue_id.find('-') + 1);
    EXPECT_EQ(read.recipients[0], "r" + index + "@example.test");
  }
}

TEST_F(TraceStoreTest, SecondStoreReadsWhileFirstWrites) {
  auto writer = open();
  ASSERT_TRUE(writer);
  auto reader = open();  // as `bulwark trace` would, with its own connections
  ASSERT_TRUE(reader);
  constexpr int kEvents = 3000;
  std::atomic<bool> done{false};
  std::thread producer([&] {
    for (int index = 0; index < kEvents; ++index) {
      writer->record(event(kBase + index * 1ms, "W" + std::to_string(index), "w@example.test",
                           {"a@example.test", "b@example.test"}));
      if (index % 250 == 0) std::this_thread::sleep_for(1ms);
    }
    writer->flush();
    done = true;
  });
  TraceQuery query;
  query.limit = 0;
  std::size_t previous = 0;
  int searches = 0;
  bool finished = false;
  while (!finished) {
    finished = done.load();  // read before searching: the last search then sees everything
    auto found = reader->search(query);
    ASSERT_TRUE(found.has_value()) << found.error().message;
    ++searches;
    EXPECT_GE(found->size(), previous);
    previous = found->size();
    // A batch is one transaction: no event is ever seen without its recipients.
    for (const auto& read : *found) ASSERT_EQ(read.recipients.size(), 2u);
  }
  producer.join();
  EXPECT_EQ(previous, static_cast<std::size_t>(kEvents));
  EXPECT_GE(searches, 1);
}

TEST_F(TraceStoreTest, SchemaIsCreatedOnceAndReopened) {
  {
    auto store = open();
    ASSERT_TRUE(store);
    recordThree(*store);
  }
  {
    auto store = open();
    ASSERT_TRUE(store);
    EXPECT_EQ(find(*store, {}).size(), 3u);
    store->record(event(kBase + 1h, "Q4", "s@example.test", {}));
    store->flush();
    EXPECT_EQ(find(*store, {}).size(), 4u);
  }
  sqlite3* database = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &database), SQLITE_OK);
  auto scalar = [&](const char* sql) {
    sqlite3_stmt* statement = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(database, sql, -1, &statement, nullptr), SQLITE_OK);
    EXPECT_EQ(sqlite3_step(statement), SQLITE_ROW);
    std::string value = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
    sqlite3_finalize(statement);
    return value;
  };
  EXPECT_EQ(scalar("PRAGMA user_version"), "1");
  EXPECT_EQ(scalar("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table'"), "2");
  EXPECT_EQ(scalar("SELECT count(*) FROM trace_events"), "4");
  EXPECT_EQ(scalar("SELECT count(*) FROM trace_recipients"), "4");
  sqlite3_close(database);
}

TEST_F(TraceStoreTest, RecipientSearchUsesTheAddressIndex) {
  { auto store = open(); }
  sqlite3* database = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &database), SQLITE_OK);
  sqlite3_stmt* statement = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(database,
                               "EXPLAIN QUERY PLAN SELECT event_id FROM trace_recipients "
                               "WHERE address_key = ?1",
                               -1, &statement, nullptr),
            SQLITE_OK);
  std::string plan;
  while (sqlite3_step(statement) == SQLITE_ROW) {
    plan += reinterpret_cast<const char*>(sqlite3_column_text(statement, 3));
  }
  sqlite3_finalize(statement);
  sqlite3_close(database);
  EXPECT_NE(plan.find("trace_recipients_address"), std::string::npos) << plan;
}

TEST_F(TraceStoreTest, DestructorCommitsWhatWasRecorded) {
  {
    auto store = open();
    ASSERT_TRUE(store);
    for (int index = 0; index < 1200; ++index) {
      store->record(event(kBase, "Q" + std::to_string(index), "s@example.test", {}));
    }
  }
  auto store = open();
  ASSERT_TRUE(store);
  TraceQuery query;
  query.limit = 0;
  EXPECT_EQ(find(*store, query).size(), 1200u);
}

TEST_F(TraceStoreTest, RefusesANewerSchema) {
  std::filesystem::create_directories(path_.parent_path());
  sqlite3* database = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &database), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(database, "PRAGMA user_version=99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(database);
  auto store = openSqliteTraceStore(path_);
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code, "store");
  EXPECT_NE(store.error().message.find("99"), std::string::npos) << store.error().message;
}

TEST_F(TraceStoreTest, ReportsAnUnopenablePath) {
  std::filesystem::create_directories(directory_);
  { std::ofstream(directory_ / "file") << "not a directory"; }
  auto store = openSqliteTraceStore(directory_ / "file" / "trace.sqlite");
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code, "store");
}

TEST_F(TraceStoreTest, FlushWithNothingRecordedReturns) {
  auto store = open();
  ASSERT_TRUE(store);
  store->flush();
  EXPECT_TRUE(find(*store, {}).empty());
}

}  // namespace
}  // namespace bulwark::store
