// Tests of the MTA-STS delivery decision (RFC 8461 4, 5): which MX hosts are tried, at which TLS
// level, what defers, and what the evidence says, per mode.
#include "sts/apply.h"

#include <gtest/gtest.h>

namespace bulwark::sts {
namespace {

std::vector<smtp::ClientEndpoint> mxHosts() {
  return {{"mx1.remote.test", "127.0.0.11", 25},
          {"mx1.remote.test", "::1", 25},
          {"backup.elsewhere.test", "127.0.0.12", 25},
          {"mx2.remote.test", "127.0.0.13", 25}};
}

ActivePolicy policyOf(Mode mode, std::vector<std::string> mx, bool from_cache = false) {
  ActivePolicy active;
  active.domain = "remote.test";
  active.id = "20260101";
  active.policy.mode = mode;
  active.policy.mx = std::move(mx);
  active.policy.max_age_seconds = 86400;
  active.from_cache = from_cache;
  return active;
}

std::vector<std::string> names(const DeliveryPlan& plan) {
  std::vector<std::string> result;
  for (const auto& endpoint : plan.hosts) result.push_back(endpoint.host + "/" + endpoint.address);
  return result;
}

TEST(StsApply, WithoutPolicyNothingChanges) {
  const DeliveryPlan plan = applyPolicy(std::nullopt, mxHosts(), TlsLevel::opportunistic);
  EXPECT_EQ(plan.hosts.size(), 4u);
  EXPECT_EQ(plan.tls, TlsLevel::opportunistic);
  EXPECT_FALSE(plan.refusal.has_value());
  EXPECT_TRUE(plan.evidence.empty());
}

TEST(StsApply, EnforceTriesOnlyListedHostsAtLevelMtaSts) {
  const DeliveryPlan plan =
      applyPolicy(policyOf(Mode::enforce, {"*.remote.test"}), mxHosts(), TlsLevel::opportunistic);
  EXPECT_EQ(names(plan),
            (std::vector<std::string>{"mx1.remote.test/127.0.0.11", "mx1.remote.test/::1",
                                      "mx2.remote.test/127.0.0.13"}));
  EXPECT_EQ(plan.tls, TlsLevel::mta_sts);
  EXPECT_FALSE(plan.refusal.has_value());
  EXPECT_EQ(plan.evidence, "mta-sts=enforce id=20260101 skipped=\"backup.elsewhere.test\"");
}

TEST(StsApply, EnforceWithNoListedHostDefersAndSaysWhy) {
  const DeliveryPlan plan =
      applyPolicy(policyOf(Mode::enforce, {"mail.remote.test"}, true), mxHosts(), TlsLevel::none);
  EXPECT_TRUE(plan.hosts.empty());
  ASSERT_TRUE(plan.refusal.has_value());
  EXPECT_EQ(plan.refusal->code, 451);
  EXPECT_EQ(plan.refusal->enhanced, "4.7.5");
  ASSERT_EQ(plan.refusal->lines.size(), 1u);
  EXPECT_NE(plan.refusal->lines[0].find("MTA-STS policy of remote.test (id 20260101, mode enforce) "
                                        "lists none of its mail servers (mx1.remote.test, "
                                        "backup.elsewhere.test, mx2.remote.test)"),
            std::string::npos)
      << plan.refusal->lines[0];
  EXPECT_EQ(plan.evidence.rfind("mta-sts=enforce id=20260101 (cached)", 0), 0u) << plan.evidence;
}

TEST(StsApply, EnforceSatisfiesRequireTlsAndNeverWeakensAStrongerLevel) {
  // REQUIRETLS asked for verify: enforce gives mta_sts, a verified certificate as well.
  EXPECT_EQ(
      applyPolicy(policyOf(Mode::enforce, {"*.remote.test"}), mxHosts(), TlsLevel::verify).tls,
      TlsLevel::mta_sts);
  EXPECT_GE(TlsLevel::mta_sts, TlsLevel::verify);
  EXPECT_EQ(applyPolicy(policyOf(Mode::enforce, {"*.remote.test"}), mxHosts(), TlsLevel::dane).tls,
            TlsLevel::dane);
  EXPECT_EQ(
      applyPolicy(policyOf(Mode::enforce, {"*.remote.test"}), mxHosts(), TlsLevel::mutual).tls,
      TlsLevel::mutual);
}

TEST(StsApply, TestingDeliversAsBeforeAndRecordsWhatEnforceWouldRefuse) {
  const DeliveryPlan plan =
      applyPolicy(policyOf(Mode::testing, {"mx1.remote.test"}), mxHosts(), TlsLevel::opportunistic);
  EXPECT_EQ(plan.hosts.size(), 4u);
  EXPECT_EQ(plan.tls, TlsLevel::opportunistic);
  EXPECT_FALSE(plan.refusal.has_value());
  EXPECT_EQ(plan.evidence,
            "mta-sts=testing id=20260101 policy-failure=\"enforce would not try "
            "backup.elsewhere.test, mx2.remote.test: not in the policy's mx list\"");
  // Every host listed: nothing to report.
  EXPECT_EQ(applyPolicy(policyOf(Mode::testing, {"*.remote.test", "*.elsewhere.test"}), mxHosts(),
                        TlsLevel::opportunistic)
                .evidence,
            "mta-sts=testing id=20260101");
}

TEST(StsApply, ModeNoneIsLikeNoPolicy) {
  const DeliveryPlan plan = applyPolicy(policyOf(Mode::none, {}), mxHosts(), TlsLevel::required);
  EXPECT_EQ(plan.hosts.size(), 4u);
  EXPECT_EQ(plan.tls, TlsLevel::required);
  EXPECT_FALSE(plan.refusal.has_value());
  EXPECT_EQ(plan.evidence, "mta-sts=none id=20260101");
}

}  // namespace
}  // namespace bulwark::sts
