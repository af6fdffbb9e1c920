// Routing with DANE (src/queue/dane.h, router.cpp; RFC 7672 2.2, 3.1) over FakeResolver: when
// TLSA records are looked up at all, and what a secure, insecure, bogus, failing or unusable
// answer does to each host's TLS level.
#include "queue/dane.h"
#include "queue/router.h"

#include "support/fake_resolver.h"

#include <gtest/gtest.h>

namespace bulwark::queue {
namespace {

using bulwark::testing::FakeResolver;

dns::TlsaRecord record(std::uint8_t usage, std::uint8_t selector, std::uint8_t matching,
                       std::size_t length) {
  return dns::TlsaRecord{usage, selector, matching, std::vector<std::uint8_t>(length, 0x5a)};
}

class DaneRouting : public ::testing::Test {
 protected:
  // remote.test MX mx.remote.test, everything secure, one DANE-EE record.
  DaneRouting() {
    resolver_.mx_records["remote.test"] = {dns::MxRecord{10, "mx.remote.test"}};
    resolver_.address_records["mx.remote.test"] = {"192.0.2.1", "2001:db8::1"};
    resolver_.tlsa_records["_25._tcp.mx.remote.test"] = {record(3, 1, 1, 32)};
    resolver_.secure = {"remote.test", "mx.remote.test", "_25._tcp.mx.remote.test"};
  }

  Endpoints resolve(std::string_view domain = "remote.test") {
    return resolveEndpoints(resolver_, config_, routeFor(config_, domain), domain);
  }

  FakeResolver resolver_;
  Config config_;
};

TEST_F(DaneRouting, SecureMxAndSecureTlsaGiveDaneOnEveryAddress) {
  auto endpoints = resolve();
  ASSERT_EQ(endpoints.hosts.size(), 2u);
  for (const auto& host : endpoints.hosts) {
    EXPECT_EQ(host.dns_level, TlsLevel::dane);
    EXPECT_EQ(host.tlsa, std::vector<dns::TlsaRecord>{record(3, 1, 1, 32)});
  }
  EXPECT_EQ(resolver_.tlsaQueries(), std::vector<std::string>{"_25._tcp.mx.remote.test"});
}

TEST_F(DaneRouting, TheDeliveryPortNamesTheTlsaRecord) {
  config_.delivery.port = 2525;
  resolver_.tlsa_records["_2525._tcp.mx.remote.test"] = {record(2, 0, 1, 32)};
  resolver_.secure.insert("_2525._tcp.mx.remote.test");
  auto endpoints = resolve();
  ASSERT_FALSE(endpoints.hosts.empty());
  EXPECT_EQ(endpoints.hosts[0].tlsa, std::vector<dns::TlsaRecord>{record(2, 0, 1, 32)});
  EXPECT_EQ(resolver_.tlsaQueries(), std::vector<std::string>{"_2525._tcp.mx.remote.test"});
}

TEST_F(DaneRouting, InsecureMxMeansNoTlsaLookup) {
  resolver_.secure.erase("remote.test");
  auto endpoints = resolve();
  ASSERT_EQ(endpoints.hosts.size(), 2u);
  EXPECT_EQ(endpoints.hosts[0].dns_level, TlsLevel::none);
  EXPECT_TRUE(endpoints.hosts[0].tlsa.empty());
  EXPECT_TRUE(resolver_.tlsaQueries().empty());
}

TEST_F(DaneRouting, InsecureAddressesOfTheMxHostMeanNoTlsaLookup) {
  resolver_.secure.erase("mx.remote.test");
  auto endpoints = resolve();
  ASSERT_EQ(endpoints.hosts.size(), 2u);
  EXPECT_EQ(endpoints.hosts[0].dns_level, TlsLevel::none);
  EXPECT_TRUE(resolver_.tlsaQueries().empty());
}

TEST_F(DaneRouting, TurnedOffMeansNoTlsaLookup) {
  config_.delivery.dane = false;
  auto endpoints = resolve();
  ASSERT_EQ(endpoints.hosts.size(), 2u);
  EXPECT_EQ(endpoints.hosts[0].dns_level, TlsLevel::none);
  EXPECT_TRUE(resolver_.tlsaQueries().empty());
}

TEST_F(DaneRouting, BogusTlsaDefersTheHost) {
  resolver_.bogus.insert("_25._tcp.mx.remote.test");
  auto endpoints = resolve();
  EXPECT_TRUE(endpoints.hosts.empty());
  EXPECT_EQ(endpoints.failure.code, 451);
  ASSERT_FALSE(endpoints.failure.lines.empty());
  EXPECT_NE(endpoints.failure.lines[0].find("_25._tcp.mx.remote.test"), std::string::npos);
  EXPECT_NE(endpoints.failure.lines[0].find("validation failure"), std::string::npos);
}

TEST_F(DaneRouting, FailingTlsaLookupDefersOnlyThatHost) {
  // RFC 7672 2.1.1: the host with the unanswerable TLSA lookup is skipped; the next MX is used.
  resolver_.mx_records["remote.test"].push_back(dns::MxRecord{20, "backup.remote.test"});
  resolver_.address_records["backup.remote.test"] = {"192.0.2.2"};
  resolver_.failing.insert("_25._tcp.mx.remote.test");
  auto endpoints = resolve();
  ASSERT_EQ(endpoints.hosts.size(), 1u);
  EXPECT_EQ(endpoints.hosts[0].host, "backup.remote.test");
  EXPECT_EQ(endpoints.hosts[0].dns_level, TlsLevel::none);  // its addresses are insecure
}

TEST_F(DaneRouting, UnusableRecordsOnlyStillRequireTls) {
  // PKIX-TA/EE (RFC 7672 3.1.3), a digest of the wrong length, an unknown selector.
  resolver_.tlsa_records["_25._tcp.mx.remote.test"] = {record(0, 0, 1, 32), record(1, 1, 1, 32),
                                                       record(3, 1, 1, 31), record(3, 2, 1, 32)};
  auto endpoints = resolve();
  ASSERT_EQ(endpoints.hosts.size(), 2u);
  EXPECT_EQ(endpoints.hosts[0].dns_level, TlsLevel::required);
  EXPECT_TRUE(endpoints.hosts[0].tlsa.empty());
}

TEST_F(DaneRouting, OnlyUsableRecordsReachTheClient) {
  resolver_.tlsa_records["_25._tcp.mx.remote.test"] = {record(1, 1, 1, 32), record(3, 1, 2, 64),
                                                       record(2, 0, 0, 300)};
  auto endpoints = resolve();
  ASSERT_FALSE(endpoints.hosts.empty());
  EXPECT_EQ(endpoints.hosts[0].dns_level, TlsLevel::dane);
  EXPECT_EQ(endpoints.hosts[0].tlsa,
            (std::vector<dns::TlsaRecord>{record(3, 1, 2, 64), record(2, 0, 0, 300)}));
}

TEST_F(DaneRouting, InsecureOrAbsentTlsaLeavesTheRouteLevel) {
  resolver_.secure.erase("_25._tcp.mx.remote.test");
  auto insecure = resolve();
  ASSERT_FALSE(insecure.hosts.empty());
  EXPECT_EQ(insecure.hosts[0].dns_level, TlsLevel::none);
  EXPECT_TRUE(insecure.hosts[0].tlsa.empty());

  resolver_.tlsa_records.clear();
  auto absent = resolve();
  ASSERT_FALSE(absent.hosts.empty());
  EXPECT_EQ(absent.hosts[0].dns_level, TlsLevel::none);
}

TEST_F(DaneRouting, ImplicitMxUsesTheDomainsOwnAddressLookup) {
  resolver_.address_records["implicit.test"] = {"192.0.2.7"};
  resolver_.tlsa_records["_25._tcp.implicit.test"] = {record(3, 1, 1, 32)};
  resolver_.secure.insert("implicit.test");
  resolver_.secure.insert("_25._tcp.implicit.test");
  auto endpoints = resolve("implicit.test");
  ASSERT_EQ(endpoints.hosts.size(), 1u);
  EXPECT_EQ(endpoints.hosts[0].dns_level, TlsLevel::dane);
}

TEST_F(DaneRouting, SmartHostByNameWithSecureAddresses) {
  SendConnector connector;
  connector.name = "relay";
  connector.domains = {"*"};
  connector.smart_host = "mx.remote.test:587";
  config_.send_connectors.push_back(connector);
  resolver_.tlsa_records["_587._tcp.mx.remote.test"] = {record(3, 1, 1, 32)};
  resolver_.secure.insert("_587._tcp.mx.remote.test");
  auto endpoints = resolve("elsewhere.test");
  ASSERT_EQ(endpoints.hosts.size(), 2u);
  EXPECT_EQ(endpoints.hosts[0].dns_level, TlsLevel::dane);
  EXPECT_EQ(endpoints.hosts[0].port, 587);

  // A literal address has no name for TLSA.
  config_.send_connectors[0].smart_host = "[192.0.2.9]:25";
  auto literal = resolve("elsewhere.test");
  ASSERT_EQ(literal.hosts.size(), 1u);
  EXPECT_EQ(literal.hosts[0].dns_level, TlsLevel::none);
  EXPECT_EQ(resolver_.tlsaQueries(), std::vector<std::string>{"_587._tcp.mx.remote.test"});
}

TEST(UsableForSmtp, DaneTaAndDaneEeWithKnownParameters) {
  EXPECT_TRUE(usableForSmtp(record(3, 1, 1, 32)));
  EXPECT_TRUE(usableForSmtp(record(3, 0, 2, 64)));
  EXPECT_TRUE(usableForSmtp(record(2, 0, 1, 32)));
  EXPECT_TRUE(usableForSmtp(record(2, 1, 0, 91)));
  EXPECT_FALSE(usableForSmtp(record(0, 0, 1, 32)));  // PKIX-TA
  EXPECT_FALSE(usableForSmtp(record(1, 1, 1, 32)));  // PKIX-EE
  EXPECT_FALSE(usableForSmtp(record(4, 1, 1, 32)));
  EXPECT_FALSE(usableForSmtp(record(3, 2, 1, 32)));
  EXPECT_FALSE(usableForSmtp(record(3, 1, 3, 32)));
  EXPECT_FALSE(usableForSmtp(record(3, 1, 1, 31)));
  EXPECT_FALSE(usableForSmtp(record(3, 1, 1, 33)));
  EXPECT_FALSE(usableForSmtp(record(3, 1, 2, 32)));
  EXPECT_FALSE(usableForSmtp(record(3, 1, 0, 0)));
}

}  // namespace
}  // namespace bulwark::queue
