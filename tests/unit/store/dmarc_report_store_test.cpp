// Tests of the SQLite DMARC report store (src/store/sqlite_dmarc_report_store.cpp): identical
// rows are counted in one group, periods come due when they end, a reported period is gone and
// stays gone after reopening, the row limit per report, and strings from the network survive.
#include "store/dmarc_report_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

namespace bulwark::store {
namespace {

constexpr std::int64_t kDay = 86400;
constexpr std::int64_t kMonday = 1795392000;  // 2026-11-23T00:00:00Z

class DmarcReportStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "bulwark-dmarc-XXXXXX");
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    directory_ = pattern;
    path_ = directory_ / "dmarc-reports.sqlite";
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }

  std::unique_ptr<DmarcReportStore> open(DmarcReportStoreLimits limits = {}) {
    auto store = openSqliteDmarcReportStore(path_, limits);
    EXPECT_TRUE(store.has_value()) << (store ? "" : store.error().message);
    return store ? std::move(*store) : nullptr;
  }

  static DmarcReportEntry entry(std::string domain, std::int64_t begin, std::string source_ip,
                                std::string disposition = "none") {
    DmarcReportEntry made;
    made.period = {domain, begin, begin + kDay};
    made.policy.domain = domain;
    made.policy.p = "reject";
    made.policy.rua = {"mailto:dmarc@" + domain + "!10m"};
    made.row.source_ip = std::move(source_ip);
    made.row.disposition = std::move(disposition);
    made.row.header_from = domain;
    made.row.envelope_from = domain;
    made.row.dkim_results.push_back({domain, "s1", "pass"});
    made.row.spf_domain = domain;
    made.row.spf_result = "pass";
    return made;
  }

  std::filesystem::path directory_;
  std::filesystem::path path_;
};

TEST_F(DmarcReportStoreTest, IdenticalRowsShareOneCounter) {
  auto store = open();
  ASSERT_TRUE(store);
  std::vector<DmarcReportEntry> batch = {entry("example.com", kMonday, "192.0.2.1"),
                                         entry("example.com", kMonday, "192.0.2.1"),
                                         entry("example.com", kMonday, "192.0.2.2"),
                                         entry("example.com", kMonday, "192.0.2.1", "reject")};
  auto recorded = store->record(batch);
  ASSERT_TRUE(recorded) << recorded.error().message;
  EXPECT_EQ(recorded->counted, 4u);
  ASSERT_TRUE(store->record({entry("example.com", kMonday, "192.0.2.1")}));

  auto content = store->load({"example.com", kMonday, kMonday + kDay});
  ASSERT_TRUE(content) << content.error().message;
  ASSERT_EQ(content->rows.size(), 3u);
  // Largest group first.
  EXPECT_EQ(content->rows[0].source_ip, "192.0.2.1");
  EXPECT_EQ(content->rows[0].disposition, "none");
  EXPECT_EQ(content->rows[0].count, 3u);
  EXPECT_EQ(content->rows[1].count, 1u);
  EXPECT_EQ(content->rows[2].count, 1u);
  EXPECT_EQ(content->rows[0].dkim_results.size(), 1u);
  EXPECT_EQ(content->rows[0].dkim_results[0].selector, "s1");
  EXPECT_EQ(content->rows[0].spf_result, "pass");
  EXPECT_EQ(content->policy.p, "reject");
  EXPECT_EQ(content->policy.rua, std::vector<std::string>{"mailto:dmarc@example.com!10m"});
}

TEST_F(DmarcReportStoreTest, PolicyIsTheLastOneSeen) {
  auto store = open();
  ASSERT_TRUE(store);
  auto later = entry("example.com", kMonday, "192.0.2.1");
  later.policy.p = "quarantine";
  later.policy.np = "reject";
  later.policy.pct = 20;
  ASSERT_TRUE(store->record({entry("example.com", kMonday, "192.0.2.1"), later}));
  auto content = store->load({"example.com", kMonday, kMonday + kDay});
  ASSERT_TRUE(content);
  EXPECT_EQ(content->policy.p, "quarantine");
  EXPECT_EQ(content->policy.np, "reject");
  EXPECT_EQ(content->policy.pct, 20u);
}

TEST_F(DmarcReportStoreTest, PeriodsComeDueWhenTheyEnd) {
  auto store = open();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->record({entry("example.com", kMonday, "192.0.2.1"),
                             entry("example.org", kMonday, "192.0.2.1"),
                             entry("example.com", kMonday + kDay, "192.0.2.1")}));
  auto due = store->duePeriods(kMonday + kDay - 1);
  ASSERT_TRUE(due);
  EXPECT_TRUE(due->empty());
  due = store->duePeriods(kMonday + kDay);
  ASSERT_TRUE(due);
  ASSERT_EQ(due->size(), 2u);
  EXPECT_EQ((*due)[0].domain, "example.com");
  EXPECT_EQ((*due)[0].begin, kMonday);
  EXPECT_EQ((*due)[0].end, kMonday + kDay);
  EXPECT_EQ((*due)[1].domain, "example.org");
  due = store->duePeriods(kMonday + 2 * kDay);
  ASSERT_TRUE(due);
  EXPECT_EQ(due->size(), 3u);
}

TEST_F(DmarcReportStoreTest, ReportedPeriodIsGoneAfterReopeningAndLateRowsAreRefused) {
  {
    auto store = open();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->record({entry("example.com", kMonday, "192.0.2.1"),
                               entry("example.com", kMonday + kDay, "192.0.2.1")}));
    ASSERT_TRUE(store->markReported({"example.com", kMonday, kMonday + kDay}));
  }
  auto store = open();  // as after a restart
  ASSERT_TRUE(store);
  auto up_to = store->reportedUpTo("example.com");
  ASSERT_TRUE(up_to);
  EXPECT_EQ(*up_to, kMonday + kDay);
  EXPECT_EQ(*store->reportedUpTo("example.org"), 0);
  auto due = store->duePeriods(kMonday + 3 * kDay);
  ASSERT_TRUE(due);
  ASSERT_EQ(due->size(), 1u);  // only the second day, never the first again
  EXPECT_EQ((*due)[0].begin, kMonday + kDay);
  EXPECT_FALSE(store->load({"example.com", kMonday, kMonday + kDay}));

  // A row for the reported day (a clock step back) would make a second report of it.
  auto late = store->record({entry("example.com", kMonday, "192.0.2.9")});
  ASSERT_TRUE(late);
  EXPECT_EQ(late->already_reported, 1u);
  EXPECT_EQ(late->counted, 0u);
  due = store->duePeriods(kMonday + 3 * kDay);
  ASSERT_TRUE(due);
  EXPECT_EQ(due->size(), 1u);
}

TEST_F(DmarcReportStoreTest, RowsPastTheLimitAreDroppedWhileKnownGroupsKeepCounting) {
  DmarcReportStoreLimits limits;
  limits.max_rows_per_report = 2;
  auto store = open(limits);
  ASSERT_TRUE(store);
  auto recorded = store->record(
      {entry("example.com", kMonday, "192.0.2.1"), entry("example.com", kMonday, "192.0.2.2"),
       entry("example.com", kMonday, "192.0.2.3"), entry("example.com", kMonday, "192.0.2.1"),
       entry("example.org", kMonday, "192.0.2.3")});
  ASSERT_TRUE(recorded);
  EXPECT_EQ(recorded->counted, 4u);
  EXPECT_EQ(recorded->over_limit, 1u);
  auto content = store->load({"example.com", kMonday, kMonday + kDay});
  ASSERT_TRUE(content);
  ASSERT_EQ(content->rows.size(), 2u);
  EXPECT_EQ(content->rows[0].count, 2u);
  // The limit is per domain and period: example.org has its own.
  EXPECT_EQ(store->load({"example.org", kMonday, kMonday + kDay})->rows.size(), 1u);
}

TEST_F(DmarcReportStoreTest, NetworkStringsSurviveAsWritten) {
  auto store = open();
  ASSERT_TRUE(store);
  auto hostile = entry("example.com", kMonday, "192.0.2.1");
  static constexpr char kInjection[] = "x'); DROP TABLE dmarc_report_rows; --\"\\\0\xff";
  hostile.row.envelope_from = std::string(kInjection, sizeof kInjection - 1);
  hostile.row.dkim_results.push_back({"<b>", "", "fail"});
  ASSERT_TRUE(store->record({hostile}));
  auto content = store->load({"example.com", kMonday, kMonday + kDay});
  ASSERT_TRUE(content);
  ASSERT_EQ(content->rows.size(), 1u);
  EXPECT_EQ(content->rows[0].envelope_from, hostile.row.envelope_from);
  ASSERT_EQ(content->rows[0].dkim_results.size(), 2u);
  EXPECT_EQ(content->rows[0].dkim_results[1].domain, "<b>");
}

}  // namespace
}  // namespace bulwark::store
