// The libunbound resolver (src/dns/unbound_resolver.cpp) answering from local records only: no
// network. The one forwarder is 127.0.0.1 port 9, where nothing listens, so a name outside the
// local data shows how an unreachable upstream is reported (temporary, within the time limit).
#include "dns/resolver.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iterator>
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

TEST(UnboundResolver, AddressesOfOneFamilyAskOnlyThatType) {
  auto resolver = openLocal();
  ASSERT_TRUE(resolver);
  auto v4 = resolver->addresses("mx1.example.test", AddressFamily::ipv4);
  ASSERT_EQ(v4.status, Status::ok) << v4.reason;
  auto records = v4.records;
  std::sort(records.begin(), records.end());
  EXPECT_EQ(records, (std::vector<std::string>{"127.0.0.1", "127.0.0.2"}));
  auto v6 = resolver->addresses("MX1.example.test.", AddressFamily::ipv6);
  ASSERT_EQ(v6.status, Status::ok) << v6.reason;
  EXPECT_EQ(v6.records, std::vector<std::string>{"::1"});
  // The name exists with the other family only: NODATA, which SPF counts as a void lookup.
  EXPECT_EQ(resolver->addresses("v4only.example.test", AddressFamily::ipv6).status,
            Status::nodata);
  EXPECT_EQ(resolver->addresses("mx2.example.test", AddressFamily::ipv4).status, Status::nodata);
  EXPECT_EQ(resolver->addresses("missing.example.test", AddressFamily::ipv4).status,
            Status::nxdomain);
  EXPECT_EQ(resolver->addresses("bad name.test", AddressFamily::ipv6).status, Status::nxdomain);
  EXPECT_EQ(resolver->addresses("mail.example.com", AddressFamily::ipv4).status,
            Status::temporary);
}

TEST(UnboundResolver, PtrBuildsTheReverseNameOfEitherFamily) {
  auto options = localOptions();
  // A record at 2.0.192.in-addr.arpa makes the whole TEST-NET-1 reverse zone local data.
  options.local_records.push_back("2.0.192.in-addr.arpa. TXT \"TEST-NET-1\"");
  options.local_records.push_back("4.2.0.192.in-addr.arpa. PTR V4only.Example.Test.");
  options.local_records.push_back("4.2.0.192.in-addr.arpa. PTR alias.example.test.");
  options.local_records.push_back(
      "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. PTR "
      "mx2.example.test.");
  auto resolver = openUnboundResolver(options);
  ASSERT_TRUE(resolver.has_value()) << resolver.error().message;
  auto v4 = (*resolver)->ptr("192.0.2.4");
  ASSERT_EQ(v4.status, Status::ok) << v4.reason;
  auto names = v4.records;
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"alias.example.test", "v4only.example.test"}));
  auto v6 = (*resolver)->ptr("2001:DB8::2");
  ASSERT_EQ(v6.status, Status::ok) << v6.reason;
  EXPECT_EQ(v6.records, std::vector<std::string>{"mx2.example.test"});
  EXPECT_EQ((*resolver)->ptr("192.0.2.5").status, Status::nxdomain);
  EXPECT_EQ((*resolver)->ptr("not an address").status, Status::nxdomain);
  EXPECT_EQ((*resolver)->ptr("8.8.4.4").status, Status::temporary);  // the closed upstream
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

// ---- TLSA and zone files (DANE, RFC 7672) ----

const std::string kDigest = "337a19541d393af178920ef94572cf8300d0ae7ab9109b7210fafd02ed6b59bf";

std::filesystem::path writeFile(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / name;
  std::ofstream file(path);
  file << text;
  return path;
}

std::string readFile(const std::filesystem::path& path) {
  std::ifstream file(path);
  return std::string(std::istreambuf_iterator<char>(file), {});
}

std::string testZone(const std::string& zone) {
  return "$ORIGIN " + zone + ".\n$TTL 300\n@ IN SOA ns hostmaster 1 3600 600 86400 300\n"
         "@ IN NS ns\nns IN A 127.0.0.1\n@ IN MX 10 mx\nmx IN A 127.0.0.1\n"
         "_25._tcp.mx IN TLSA 3 1 1 " + kDigest + "\n_25._tcp.mx IN TLSA 2 0 1 " + kDigest + "\n";
}

TEST(UnboundResolver, TlsaFromLocalRecordsIsInsecure) {
  auto options = localOptions();
  options.local_records.push_back("_25._tcp.mx1.example.test. TLSA 3 1 1 " + kDigest);
  auto resolver = openUnboundResolver(options);
  ASSERT_TRUE(resolver.has_value()) << resolver.error().message;
  auto answer = (*resolver)->tlsa("_25._tcp.MX1.example.test.");
  ASSERT_EQ(answer.status, Status::ok) << answer.reason;
  EXPECT_FALSE(answer.secure);
  ASSERT_EQ(answer.records.size(), 1u);
  EXPECT_EQ(answer.records[0].usage, 3);
  EXPECT_EQ(answer.records[0].data.size(), 32u);
  EXPECT_EQ(answer.records[0].data[0], 0x33);
  EXPECT_EQ((*resolver)->tlsa("_25._tcp.mx2.example.test").status, Status::nxdomain);
  EXPECT_EQ((*resolver)->tlsa("mx1.example.test").status, Status::nodata);
}

TEST(UnboundResolver, UnsignedZoneFileAnswersOfflineUnderTestAndIsInsecure) {
  // files.test is under RFC 6761's built-in test. zone, and the only forwarder is closed: the
  // answers can only come from the zone file.
  const auto zone = writeFile("bulwark-dns-files.test.zone", testZone("files.test"));
  // An anchor for an unrelated name, so that a system root anchor (which would make this
  // unsigned zone bogus without a network to prove test. unsigned) is not loaded.
  const auto anchor = writeFile("bulwark-dns-elsewhere.ds",
                                "elsewhere.invalid. IN DS 20326 8 2 "
                                "E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n");
  auto options = localOptions();
  options.trust_anchor_file = anchor;
  options.zone_files = {zone};
  auto resolver = openUnboundResolver(options);
  ASSERT_TRUE(resolver.has_value()) << resolver.error().message;
  auto mx = (*resolver)->mx("files.test");
  ASSERT_EQ(mx.status, Status::ok) << mx.reason;
  EXPECT_FALSE(mx.secure);
  ASSERT_EQ(mx.records.size(), 1u);
  EXPECT_EQ(mx.records[0].exchange, "mx.files.test");
  auto tlsa = (*resolver)->tlsa("_25._tcp.mx.files.test");
  ASSERT_EQ(tlsa.status, Status::ok) << tlsa.reason;
  EXPECT_EQ(tlsa.records.size(), 2u);
  EXPECT_EQ((*resolver)->tlsa("_26._tcp.mx.files.test").status, Status::nxdomain);
  EXPECT_EQ((*resolver)->mx("example.test").status, Status::ok);  // local records still work
  std::filesystem::remove(zone);
  std::filesystem::remove(anchor);
}

TEST(UnboundResolver, SignedZoneFileValidatesAndATamperedRecordIsBogus) {
  // ldns-keygen and ldns-signzone (package ldnsutils, scripts/install-deps) sign a zone here.
  const auto directory = std::filesystem::temp_directory_path() / "bulwark-dns-signed";
  std::filesystem::remove_all(directory);
  std::filesystem::create_directories(directory);
  const auto zone = directory / "signed.test.zone";
  {
    std::ofstream file(zone);
    file << testZone("signed.test");
  }
  const std::string command = "cd " + directory.string() +
                              " && key=$(ldns-keygen -a ECDSAP256SHA256 -k signed.test)"
                              " && ldns-signzone signed.test.zone $key && cp $key.ds anchor.ds";
  ASSERT_EQ(std::system(command.c_str()), 0) << "needs ldns-keygen and ldns-signzone";
  auto options = localOptions();
  options.trust_anchor_file = directory / "anchor.ds";
  options.zone_files = {directory / "signed.test.zone.signed"};
  {
    auto resolver = openUnboundResolver(options);
    ASSERT_TRUE(resolver.has_value()) << resolver.error().message;
    auto mx = (*resolver)->mx("signed.test");
    ASSERT_EQ(mx.status, Status::ok) << mx.reason;
    EXPECT_TRUE(mx.secure);
    auto addresses = (*resolver)->addresses("mx.signed.test");
    ASSERT_EQ(addresses.status, Status::ok) << addresses.reason;
    EXPECT_TRUE(addresses.secure);  // A, and the AAAA NODATA proven by NSEC
    auto tlsa = (*resolver)->tlsa("_25._tcp.mx.signed.test");
    ASSERT_EQ(tlsa.status, Status::ok) << tlsa.reason;
    EXPECT_TRUE(tlsa.secure);
    auto absent = (*resolver)->tlsa("_25._tcp.other.signed.test");
    EXPECT_EQ(absent.status, Status::nxdomain);
    EXPECT_TRUE(absent.secure);
  }
  // Change the TLSA data after signing: its RRSIG no longer fits.
  std::string text = readFile(directory / "signed.test.zone.signed");
  const auto tlsaLine = text.find("TLSA\t3 1 1 ");
  ASSERT_NE(tlsaLine, std::string::npos);
  text[text.find(kDigest, tlsaLine)] = '4';
  writeFile("bulwark-dns-signed/signed.test.zone.signed", text);
  {
    auto resolver = openUnboundResolver(options);
    ASSERT_TRUE(resolver.has_value()) << resolver.error().message;
    auto tlsa = (*resolver)->tlsa("_25._tcp.mx.signed.test");
    EXPECT_EQ(tlsa.status, Status::bogus);
    EXPECT_FALSE(tlsa.secure);
    EXPECT_TRUE(tlsa.records.empty());
    EXPECT_TRUE((*resolver)->mx("signed.test").secure);  // the rest of the zone is fine
  }
  std::filesystem::remove_all(directory);
}

TEST(UnboundResolver, ZoneFileProblemsAreReportedAtOpen) {
  auto options = localOptions();
  options.zone_files = {"/nonexistent/zone.test.zone"};
  auto missing = openUnboundResolver(options);
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().message.find("/nonexistent/zone.test.zone"), std::string::npos);

  const auto noSoa = writeFile("bulwark-dns-nosoa.zone", "www.nosoa.test. IN A 192.0.2.1\n");
  options.zone_files = {noSoa};
  auto refused = openUnboundResolver(options);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("no SOA record"), std::string::npos);
  std::filesystem::remove(noSoa);
}

}  // namespace
}  // namespace bulwark::dns
