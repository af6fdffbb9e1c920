// Tests of MTA-STS policy discovery and caching (RFC 8461 3, 5.1) with a fake resolver, a fake
// fetcher and the real SQLite cache in a temporary directory: when a policy is fetched, when the
// cache answers, what a failed refresh keeps, and that the cache survives a restart.
#include "sts/discovery.h"

#include "support/fake_clock.h"
#include "support/fake_policy_fetcher.h"
#include "support/fake_resolver.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace bulwark::sts {
namespace {

using bulwark::testing::FakeClock;
using bulwark::testing::FakePolicyFetcher;
using bulwark::testing::FakeResolver;
using std::chrono::hours;
using std::chrono::seconds;

const std::string kEnforce =
    "version: STSv1\r\nmode: enforce\r\nmx: mx.remote.test\r\nmax_age: 86400\r\n";
const std::string kTesting =
    "version: STSv1\r\nmode: testing\r\nmx: *.remote.test\r\nmax_age: 3600\r\n";

class PolicyDiscoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = std::filesystem::temp_directory_path() /
                 ("bulwark-sts-discovery-" + std::to_string(::getpid()) + "-" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(directory_);
    std::filesystem::create_directories(directory_);
    reopen();
  }
  void TearDown() override {
    discovery_.reset();
    cache_.reset();
    std::filesystem::remove_all(directory_);
  }

  // A new cache connection and discovery, as after a restart.
  void reopen() {
    discovery_.reset();
    cache_.reset();
    auto cache = openSqlitePolicyCache(directory_ / "mta-sts.sqlite");
    ASSERT_TRUE(cache.has_value()) << cache.error().message;
    cache_ = std::move(*cache);
    discovery_ = std::make_unique<PolicyDiscovery>(resolver_, fetcher_, *cache_, clock_);
  }

  void publish(const std::string& id, const std::string& policy) {
    resolver_.txt_records["_mta-sts.remote.test"] = {"v=STSv1; id=" + id + ";"};
    fetcher_.policies["remote.test"] = policy;
  }

  std::filesystem::path directory_;
  FakeClock clock_;
  FakeResolver resolver_;
  FakePolicyFetcher fetcher_;
  std::unique_ptr<PolicyCache> cache_;
  std::unique_ptr<PolicyDiscovery> discovery_;
};

TEST_F(PolicyDiscoveryTest, NoRecordAndNoCacheMeansNoPolicyAndNoFetch) {
  fetcher_.policies["remote.test"] = kEnforce;  // served, but not announced by DNS
  EXPECT_FALSE(discovery_->policyFor("remote.test").has_value());
  EXPECT_EQ(fetcher_.fetches, 0);
}

TEST_F(PolicyDiscoveryTest, FetchedOnceThenAnsweredFromTheCacheWhileTheIdMatches) {
  publish("one", kEnforce);
  auto first = discovery_->policyFor("Remote.Test");
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->domain, "remote.test");
  EXPECT_EQ(first->id, "one");
  EXPECT_EQ(first->policy.mode, Mode::enforce);
  EXPECT_FALSE(first->from_cache);
  EXPECT_EQ(fetcher_.fetches, 1);

  clock_.advance(hours(23));
  auto second = discovery_->policyFor("remote.test");
  ASSERT_TRUE(second.has_value());
  EXPECT_TRUE(second->from_cache);
  EXPECT_EQ(second->policy.mx, std::vector<std::string>{"mx.remote.test"});
  EXPECT_EQ(fetcher_.fetches, 1);
}

TEST_F(PolicyDiscoveryTest, NewIdIsFetchedAndReplacesTheCachedPolicy) {
  publish("one", kEnforce);
  ASSERT_TRUE(discovery_->policyFor("remote.test").has_value());
  publish("two", kTesting);
  auto changed = discovery_->policyFor("remote.test");
  ASSERT_TRUE(changed.has_value());
  EXPECT_EQ(changed->id, "two");
  EXPECT_EQ(changed->policy.mode, Mode::testing);
  EXPECT_EQ(fetcher_.fetches, 2);
  auto stored = cache_->find("remote.test");
  ASSERT_TRUE(stored.has_value() && stored->has_value());
  EXPECT_EQ((*stored)->id, "two");
  EXPECT_EQ((*stored)->expires - (*stored)->fetched, seconds(3600));
}

TEST_F(PolicyDiscoveryTest, ExpiredPolicyIsFetchedAgainEvenWithTheSameId) {
  publish("one", kEnforce);
  ASSERT_TRUE(discovery_->policyFor("remote.test").has_value());
  clock_.advance(seconds(86400));
  auto refreshed = discovery_->policyFor("remote.test");
  ASSERT_TRUE(refreshed.has_value());
  EXPECT_FALSE(refreshed->from_cache);
  EXPECT_EQ(fetcher_.fetches, 2);
}

TEST_F(PolicyDiscoveryTest, FailedRefreshKeepsTheCachedUnexpiredPolicy) {
  publish("one", kEnforce);
  ASSERT_TRUE(discovery_->policyFor("remote.test").has_value());
  // A new id announced, but the policy host is gone (or blocked by an attacker).
  resolver_.txt_records["_mta-sts.remote.test"] = {"v=STSv1; id=two;"};
  fetcher_.policies.clear();
  auto kept = discovery_->policyFor("remote.test");
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->id, "one");
  EXPECT_TRUE(kept->from_cache);
  EXPECT_EQ(kept->policy.mode, Mode::enforce);
  // An invalid new policy is a failed refresh too.
  resolver_.txt_records["_mta-sts.remote.test"] = {"v=STSv1; id=three;"};
  fetcher_.policies["remote.test"] = "version: STSv1\nmode: enforce\n";
  auto still = discovery_->policyFor("remote.test");
  ASSERT_TRUE(still.has_value());
  EXPECT_EQ(still->id, "one");
  // Once the cached policy has expired, nothing is left.
  clock_.advance(seconds(86400));
  EXPECT_FALSE(discovery_->policyFor("remote.test").has_value());
}

TEST_F(PolicyDiscoveryTest, RecordGoneOrDnsFailingKeepsTheCachedPolicy) {
  publish("one", kEnforce);
  ASSERT_TRUE(discovery_->policyFor("remote.test").has_value());
  resolver_.txt_records.erase("_mta-sts.remote.test");
  auto without_record = discovery_->policyFor("remote.test");
  ASSERT_TRUE(without_record.has_value());
  EXPECT_EQ(without_record->id, "one");
  resolver_.failing.insert("_mta-sts.remote.test");
  EXPECT_TRUE(discovery_->policyFor("remote.test").has_value());
  resolver_.failing.clear();
  resolver_.txt_records["_mta-sts.remote.test"] = {"v=STSv1; id=a;", "v=STSv1; id=b;"};
  EXPECT_TRUE(discovery_->policyFor("remote.test").has_value());
  EXPECT_EQ(fetcher_.fetches, 1);
}

TEST_F(PolicyDiscoveryTest, PolicyUnavailableWithoutCacheMeansNoPolicy) {
  resolver_.txt_records["_mta-sts.remote.test"] = {"v=STSv1; id=one;"};
  EXPECT_FALSE(discovery_->policyFor("remote.test").has_value());  // 404
  EXPECT_EQ(fetcher_.fetches, 1);
  // Two usable-looking records: no usable record, so no fetch at all.
  resolver_.txt_records["_mta-sts.other.test"] = {"v=STSv1; id=a;", "v=STSv1; id=b;"};
  fetcher_.policies["other.test"] = kEnforce;
  EXPECT_FALSE(discovery_->policyFor("other.test").has_value());
  EXPECT_EQ(fetcher_.fetches, 1);
}

TEST_F(PolicyDiscoveryTest, FailedFetchIsNotRepeatedForAWhile) {
  resolver_.txt_records["_mta-sts.remote.test"] = {"v=STSv1; id=one;"};
  EXPECT_FALSE(discovery_->policyFor("remote.test").has_value());
  EXPECT_FALSE(discovery_->policyFor("remote.test").has_value());
  EXPECT_EQ(fetcher_.fetches, 1);
  // A new id is a new policy: fetched at once.
  publish("two", kEnforce);
  EXPECT_TRUE(discovery_->policyFor("remote.test").has_value());
  EXPECT_EQ(fetcher_.fetches, 2);
  // After the pause the failing id is tried again.
  resolver_.txt_records["_mta-sts.other.test"] = {"v=STSv1; id=x;"};
  EXPECT_FALSE(discovery_->policyFor("other.test").has_value());
  EXPECT_EQ(fetcher_.fetches, 3);
  clock_.advance(PolicyDiscovery::kPauseAfterFailedFetch);
  EXPECT_FALSE(discovery_->policyFor("other.test").has_value());
  EXPECT_EQ(fetcher_.fetches, 4);
}

TEST_F(PolicyDiscoveryTest, CacheSurvivesARestart) {
  publish("one", kEnforce);
  ASSERT_TRUE(discovery_->policyFor("remote.test").has_value());
  reopen();
  resolver_.txt_records["_mta-sts.remote.test"] = {"v=STSv1; id=two;"};
  fetcher_.policies.clear();
  auto after = discovery_->policyFor("remote.test");
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->id, "one");
  EXPECT_EQ(after->policy.mx, std::vector<std::string>{"mx.remote.test"});
}

TEST_F(PolicyDiscoveryTest, AddressLiteralsAndOddNamesHaveNoPolicy) {
  resolver_.txt_records["_mta-sts.[127.0.0.1]"] = {"v=STSv1; id=one;"};
  EXPECT_FALSE(discovery_->policyFor("[127.0.0.1]").has_value());
  EXPECT_FALSE(discovery_->policyFor("").has_value());
  EXPECT_FALSE(discovery_->policyFor("a\r\nb.test").has_value());
  EXPECT_EQ(fetcher_.fetches, 0);
}

}  // namespace
}  // namespace bulwark::sts
