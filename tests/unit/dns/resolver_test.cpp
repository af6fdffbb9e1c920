// The libunbound resolver (src/dns/unbound_resolver.cpp) answering from local records only: no
// network. The one forwarder is 127.0.0.1 port 9, where nothing listens, so a name outside the
// local data shows how an unreachable upstream is reported (temporary, within the time limit).
#include "dns/resolver.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>
#include <vector>

namespace bulwark::dns {
namespace {

using namespace std::chrono_literals;

ResolverOptions localOptions() {
  ResolverOptions options;
  options.forwarders = {"127.0.0.1@9"};
  options.timeout_seconds = 2;
  options.local_records = {
      "example.test. MX 20 MX2.Example.Test.",
      "example.test. MX 10 mx1.example.test.",
      "example.test. 300 IN MX 30 backup.elsewhere.test.",
      "example.test. TXT \"v=spf1 \" \"ip4:192.0.2.0/24 \" \"-all\"",
      "example.test. TXT \"second record\"",
      "mx1.example.test. A 127.0.0.1",
      "mx1.example.test. A 127.0.0.2",
      "mx1.example.test. AAAA ::1",
      "mx2.example.test. AAAA 2001:db8::2",
      "v4only.example.test. A 192.0.2.4",
      "nullmx.test. MX 0 .",
  };
  return options;
}

std::unique_ptr<Resolver> openLocal() {
  auto resolver = openUnboundResolver(localOptions());
  EXPECT_TRUE(resolver.has_value()) << (resolver ? "" : resolver.error().message);
  return resolver ? std::move(*resolver) : nullptr;
}

std::vector<std::pair<std::uint16_t, std::string>> sorted(const std::vector<MxRecord>& records) {
  std::vector<std::pair<std::uint16_t, std::string>> result;
  for (const auto& record : records) result.emplace_back(record.preference, record.exchange);
  std::sort(result.begin(), result.end());
  return result;
}

TEST(UnboundResolver, MxWithSeveralPreferences) {
  auto resolver = openLocal();
  ASSERT_TRUE(resolver);
  auto answer = resolver->mx("example.test");
  ASSERT_EQ(answer.status, Status::ok) << answer.reason;
  EXPECT_FALSE(answer.secure);
  using Pair = std::pair<std::uint16_t, std::string>;
  EXPECT_EQ(sorted(answer.records),
            (std::vector<Pair>{{10, "mx1.example.test"},
                               {20, "mx2.example.test"},
                               {30, "backup.elsewhere.test"}}));
}

TEST(UnboundResolver, NamesAreNormalised) {
  auto resolver = openLocal();
  ASSERT_TRUE(resolver);
  auto answer = resolver->mx("EXAMPLE.Test.");
  ASSERT_EQ(answer.status, Status::ok) << answer.reason;
  EXPECT_EQ(answer.records.size(), 3u);
  auto addresses = resolver->addresses("Mx1.EXAMPLE.test.");
  EXPECT_EQ(addresses.status, Status::ok);
}

TEST(UnboundResolver, NullMx) {
  auto resolver = openLocal();
  ASSERT_TRUE(resolver);
  auto answer = resolver->mx("nullmx.test");
  ASSERT_EQ(answer.status, Status::ok) << answer.reason;
  ASSERT_EQ(answer.records.size(), 1u);
  EXPECT_EQ(answer.records[0].preference, 0);
  EXPECT_EQ(answer.records[0].exchange, "");
}

TEST(UnboundResolver, AddressesIpv4First) {
  auto resolver = openLocal();
  ASSERT_TRUE(resolver);
  auto answer = resolver->addresses("mx1.example.test");
  ASSERT_EQ(answer.status, Status::ok) << answer.reason;
  ASSERT_EQ(answer.records.size(), 3u);
  std::vector<std::string> v4(answer.records.begin(), answer.records.begin() + 2);
  std::sort(v4.begin(), v4.end());
  EXPECT_EQ(v4, (std::vector<std::string>{"127.0.0.1", "127.0.0.2"}));
  EXPECT_EQ(answer.records[2], "::1");
}

TEST(UnboundResolver, AddressesFromOneFamilyOnly) {
  auto resolver = openLocal();
  ASSERT_TRUE(resolver);
  auto v6 = resolver->addresses("mx2.example.test");
  ASSERT_EQ(v6.status, Status::ok) << v6.reason;
  EXPECT_EQ(v6.records, std::vector<std::string>{"2001:db8::2"});
  auto v4 = resolver->addresses("v4only.example.test");
  ASSERT_EQ(v4.status, Status::ok) << v4.reason;
  EXPECT_EQ(v4.records, std::vector<std::string>{"192.0.2.4"});
}

TEST(UnboundResolver, NxdomainForAMissingNameUnderLocalData) {
  auto resolver = openLocal();
  ASSERT_TRUE(resolver);
  EXPECT_EQ(resolver->mx("missing.example.test").status, Status::nxdomain);
  EXPECT_EQ(resolver->addresses("missing.example.test").status, Status::nxdomain);
  EXPECT_EQ(resolver->txt("missing.example.test").status, Status::nxdomain);
  EXPECT_EQ(resolver->addresses("deeper.mx1.example.test").status, Status::nxdomain);
}

TEST(UnboundResolver, NodataForAMissingType) {
  auto resolver = openLocal();
  ASSERT_TRUE(resolver);
  auto addresses = resolver->addresses("example.test");
  EXPECT_EQ(addresses.status, Status::nodata) << addresses.reason;
  EXPECT_TRUE(addresses.records.empty());
  EXPECT_EQ(resolver->mx("mx1.example.test").status, Status::nodata);
  EXPECT_EQ(resolver->txt("nullmx.test").status, Status::nodata);
}

TEST(UnboundResolver, TxtConcatenatesTheStringsOfEachRecord) {
  auto resolver = openLocal();
  ASSERT_TRUE(resolver);
  auto answer = resolver->txt("example.test");
  ASSERT_EQ(answer.status, Status::ok) << answer.reason;
  auto records = answer.records;
  std::sort(records.begin(), records.end());
  EXPECT_EQ(records, (std::vector<std::string>{"second record", "v=spf1 ip4:192.0.2.0/24 -all"}));
}

TEST(UnboundResolver, InvalidNamesAreAbsentWithoutAsking) {
  auto resolver = openLocal();
  ASSERT_TRUE(resolver);
  EXPECT_EQ(resolver->mx("").status, Status::nxdomain);
  EXPECT_EQ(resolver->mx("a..b").status, Status::nxdomain);
  EXPECT_EQ(resolver->addresses("bad name.test").status, Status::nxdomain);
  EXPECT_EQ(resolver->txt("escape\\046.test").status, Status::nxdomain);
}

TEST(UnboundResolver, UnreachableUpstreamIsTemporaryWithinTheTimeLimit) {
  auto resolver = openLocal();
  ASSERT_TRUE(resolver);
  const auto start = std::chrono::steady_clock::now();
  auto answer = resolver->mx("mail.example.com");
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(answer.status, Status::temporary);
  EXPECT_FALSE(answer.reason.empty());
  EXPECT_LT(elapsed, 3500ms);
  // Both halves of an address lookup share one deadline.
  const auto addressStart = std::chrono::steady_clock::now();
  EXPECT_EQ(resolver->addresses("mail.example.com").status, Status::temporary);
  EXPECT_LT(std::chrono::steady_clock::now() - addressStart, 3500ms);
  // The resolver is still usable after abandoned queries.
  EXPECT_EQ(resolver->mx("example.test").status, Status::ok);
}

TEST(UnboundResolver, ConcurrentLookupsFromEightThreads) {
  auto resolver = openLocal();
  ASSERT_TRUE(resolver);
  std::atomic<int> failures = 0;
  std::vector<std::thread> threads;
  for (int thread = 0; thread < 8; ++thread) {
    threads.emplace_back([&resolver, &failures, thread] {
      for (int round = 0; round < 50; ++round) {
        switch ((thread + round) % 4) {
          case 0:
            if (resolver->mx("example.test").records.size() != 3) ++failures;
            break;
          case 1:
            if (resolver->addresses("mx1.example.test").records.size() != 3) ++failures;
            break;
          case 2:
            if (resolver->txt("example.test").records.size() != 2) ++failures;
            break;
          default:
            if (resolver->mx("missing.example.test").status != Status::nxdomain) ++failures;
        }
      }
    });
  }
  // A lookup stuck on the dead upstream must not hold up the others.
  std::thread slow([&resolver, &failures] {
    if (resolver->mx("slow.example.com").status != Status::temporary) ++failures;
  });
  for (auto& thread : threads) thread.join();
  slow.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(UnboundResolver, BadOptionsAreReportedAtOpen) {
  auto options = localOptions();
  options.forwarders = {"not an address"};
  EXPECT_FALSE(openUnboundResolver(options).has_value());

  options = localOptions();
  options.local_records.push_back("broken.test. MX not-a-number");
  auto broken = openUnboundResolver(options);
  ASSERT_FALSE(broken.has_value());
  EXPECT_NE(broken.error().message.find("broken.test."), std::string::npos);

  options = localOptions();
  options.local_records.push_back(" leading.test. A 192.0.2.1");
  EXPECT_FALSE(openUnboundResolver(options).has_value());

  options = localOptions();
  options.trust_anchor_file = "/nonexistent/root.key";
  EXPECT_FALSE(openUnboundResolver(options).has_value());
}

TEST(UnboundResolver, TrustAnchorLeavesLocalDataAndFailuresAlone) {
  // The root KSK-2017 DS: validation on, but local data is answered before validation and an
  // unreachable upstream stays temporary rather than becoming bogus.
  const auto anchor = std::filesystem::temp_directory_path() / "bulwark-dns-test-root.key";
  {
    std::ofstream file(anchor);
    file << ". IN DS 20326 8 2 "
            "E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n";
  }
  auto options = localOptions();
  options.trust_anchor_file = anchor;
  auto resolver = openUnboundResolver(options);
  ASSERT_TRUE(resolver.has_value()) << resolver.error().message;
  auto local = (*resolver)->mx("example.test");
  EXPECT_EQ(local.status, Status::ok) << local.reason;
  EXPECT_FALSE(local.secure);
  EXPECT_EQ((*resolver)->mx("mail.example.com").status, Status::temporary);
  std::filesystem::remove(anchor);
}

}  // namespace
}  // namespace bulwark::dns
