// parseDmarcRecord and isDmarcRecord (RFC 7489 6.3, 6.4, 6.6.3): tags, defaults, case, errors,
// and the fallbacks the RFC asks for (invalid values left at defaults, rua= keeping a record).
#include "auth/dmarc.h"

#include <gtest/gtest.h>

namespace bulwark::auth {
namespace {

TEST(DmarcRecord, EveryTag) {
  Result<DmarcRecord> record = parseDmarcRecord(
      "v=DMARC1; p=quarantine; sp=reject; np=none; adkim=s; aspf=s; pct=25; "
      "rua=mailto:a@example.com, mailto:b@example.net!10m; ruf=mailto:f@example.com; fo=1:d; "
      "ri=3600; rf=afrf");
  ASSERT_TRUE(record.has_value()) << record.error().message;
  EXPECT_EQ(record->policy, DmarcPolicy::quarantine);
  EXPECT_EQ(record->subdomain_policy, DmarcPolicy::reject);
  EXPECT_EQ(record->nonexistent_subdomain_policy, DmarcPolicy::none);
  EXPECT_TRUE(record->strict_dkim);
  EXPECT_TRUE(record->strict_spf);
  EXPECT_EQ(record->percent, 25u);
  EXPECT_EQ(record->aggregate_addresses,
            (std::vector<std::string>{"mailto:a@example.com", "mailto:b@example.net!10m"}));
  EXPECT_EQ(record->failure_addresses, std::vector<std::string>{"mailto:f@example.com"});
  EXPECT_EQ(record->failure_options, "1:d");
  EXPECT_EQ(record->report_interval, 3600u);
  EXPECT_TRUE(record->ignored.empty());
}

TEST(DmarcRecord, Defaults) {
  Result<DmarcRecord> record = parseDmarcRecord("v=DMARC1; p=reject");
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->policy, DmarcPolicy::reject);
  EXPECT_FALSE(record->subdomain_policy);
  EXPECT_FALSE(record->nonexistent_subdomain_policy);
  EXPECT_FALSE(record->strict_dkim);
  EXPECT_FALSE(record->strict_spf);
  EXPECT_EQ(record->percent, 100u);
  EXPECT_EQ(record->failure_options, "0");
  EXPECT_EQ(record->report_interval, 86400u);
}

TEST(DmarcRecord, KeywordsAreCaseInsensitiveButTheVersionIsNot) {
  Result<DmarcRecord> record = parseDmarcRecord("V = DMARC1 ;P=Reject; SP=NONE; ADKIM=S;;");
  ASSERT_TRUE(record.has_value()) << record.error().message;
  EXPECT_EQ(record->policy, DmarcPolicy::reject);
  EXPECT_EQ(record->subdomain_policy, DmarcPolicy::none);
  EXPECT_TRUE(record->strict_dkim);
  EXPECT_FALSE(parseDmarcRecord("v=dmarc1; p=reject").has_value());
  EXPECT_FALSE(isDmarcRecord("v=DMARC1p=reject"));
  EXPECT_FALSE(isDmarcRecord("p=reject; v=DMARC1"));
  EXPECT_FALSE(isDmarcRecord("v=spf1 -all"));
  EXPECT_TRUE(isDmarcRecord("v=DMARC1"));
}

TEST(DmarcRecord, ErrorsNameTheProblem) {
  EXPECT_EQ(parseDmarcRecord("").error().message, "the DMARC record is empty");
  EXPECT_EQ(parseDmarcRecord("v=DMARC1; pct=100").error().message, "p= is missing");
  EXPECT_EQ(parseDmarcRecord("v=DMARC1; p=bob").error().message,
            "p=bob is not none, quarantine or reject");
  EXPECT_EQ(parseDmarcRecord("v=DMARC1; p=none; sp=bob").error().message,
            "sp= is not none, quarantine or reject");
  EXPECT_EQ(parseDmarcRecord("v=DMARC1; p=none; p=reject").error().message,
            "tag p= appears twice");
}

TEST(DmarcRecord, InvalidValuesKeepTheirDefaults) {
  Result<DmarcRecord> record = parseDmarcRecord(
      "v=DMARC1; p=reject; adkim=x; aspf=bob; pct=101; ri=-1; fo=2; rf=a b; np=maybe; junk; "
      "unknown=tag");
  ASSERT_TRUE(record.has_value()) << record.error().message;
  EXPECT_EQ(record->policy, DmarcPolicy::reject);
  EXPECT_FALSE(record->strict_dkim);
  EXPECT_FALSE(record->strict_spf);
  EXPECT_EQ(record->percent, 100u);
  EXPECT_EQ(record->report_interval, 86400u);
  EXPECT_EQ(record->failure_options, "0");
  EXPECT_FALSE(record->nonexistent_subdomain_policy);
  EXPECT_EQ(record->ignored.size(), 8u);  // every invalid tag; the unknown one silently
}

TEST(DmarcRecord, ValidRuaKeepsARecordWithoutPolicy) {
  Result<DmarcRecord> record = parseDmarcRecord("v=DMARC1; p=bogus; rua=mailto:d@example.org");
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->policy, DmarcPolicy::none);
  EXPECT_EQ(record->aggregate_addresses, std::vector<std::string>{"mailto:d@example.org"});
  ASSERT_EQ(record->ignored.size(), 1u);
  EXPECT_NE(record->ignored[0].find("read as p=none"), std::string::npos);
  // An invalid sp= discards p= too (RFC 7489 6.6.3).
  record = parseDmarcRecord("v=DMARC1; p=reject; sp=x; rua=mailto:d@example.org");
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->policy, DmarcPolicy::none);
  EXPECT_FALSE(parseDmarcRecord("v=DMARC1; rua=not a uri").has_value());
}

TEST(DmarcRecord, PercentBounds) {
  EXPECT_EQ(parseDmarcRecord("v=DMARC1; p=reject; pct=0")->percent, 0u);
  EXPECT_EQ(parseDmarcRecord("v=DMARC1; p=reject; pct=100")->percent, 100u);
  EXPECT_EQ(parseDmarcRecord("v=DMARC1; p=reject; pct=99999999999")->percent, 100u);
}

TEST(DmarcNames, Words) {
  EXPECT_EQ(dmarcPolicyName(DmarcPolicy::quarantine), "quarantine");
  EXPECT_EQ(dmarcResultName(DmarcResult::temperror), "temperror");
}

}  // namespace
}  // namespace bulwark::auth
