// RDATA decoding (src/dns/rdata.h) on hand-made and hostile byte strings: every length must be
// checked, compression pointers refused, names normalised.
#include "dns/rdata.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace bulwark::dns {
namespace {

using Bytes = std::vector<std::uint8_t>;

TEST(NormaliseName, LowerCasesAndDropsTheTrailingDot) {
  EXPECT_EQ(normaliseName("Mail.Example.TEST."), "mail.example.test");
  EXPECT_EQ(normaliseName("example.test"), "example.test");
}

TEST(NormaliseName, RefusesNamesDnsCannotAskAbout) {
  EXPECT_FALSE(normaliseName(""));
  EXPECT_FALSE(normaliseName("."));
  EXPECT_FALSE(normaliseName("a..b"));
  EXPECT_FALSE(normaliseName(".a"));
  EXPECT_FALSE(normaliseName("a b.test"));
  EXPECT_FALSE(normaliseName("a\\046b.test"));
  EXPECT_FALSE(normaliseName("caf\xc3\xa9.test"));
  EXPECT_FALSE(normaliseName(std::string(64, 'a') + ".test"));
  EXPECT_TRUE(normaliseName(std::string(63, 'a') + ".test"));
  std::string longName;
  while (longName.size() < 254) longName += "abcdefg.";
  EXPECT_FALSE(normaliseName(longName));
}

TEST(ParseMxRdata, ReadsPreferenceAndLowerCasedExchange) {
  const Bytes rdata = {0x00, 0x0a, 3, 'M', 'x', '1', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e',
                       4,    't',  'e', 's', 't', 0};
  auto record = parseMxRdata(rdata);
  ASSERT_TRUE(record);
  EXPECT_EQ(record->preference, 10);
  EXPECT_EQ(record->exchange, "mx1.example.test");
}

TEST(ParseMxRdata, NullMxHasAnEmptyExchange) {
  auto record = parseMxRdata(Bytes{0x00, 0x00, 0x00});
  ASSERT_TRUE(record);
  EXPECT_EQ(record->preference, 0);
  EXPECT_EQ(record->exchange, "");
}

TEST(ParseMxRdata, RefusesMalformedData) {
  EXPECT_FALSE(parseMxRdata(Bytes{}));
  EXPECT_FALSE(parseMxRdata(Bytes{0x00, 0x0a}));
  EXPECT_FALSE(parseMxRdata(Bytes{0x00, 0x0a, 5, 'a', 'b'}));            // label past the end
  EXPECT_FALSE(parseMxRdata(Bytes{0x00, 0x0a, 1, 'a'}));                 // no root label
  EXPECT_FALSE(parseMxRdata(Bytes{0x00, 0x0a, 0xc0, 0x0c}));             // compression pointer
  EXPECT_FALSE(parseMxRdata(Bytes{0x00, 0x0a, 1, 'a', 0, 'x'}));         // trailing bytes
  EXPECT_FALSE(parseMxRdata(Bytes{0x00, 0x0a, 3, 'a', '.', 'b', 0}));    // dot inside a label
  EXPECT_FALSE(parseMxRdata(Bytes{0x00, 0x0a, 3, 'a', ' ', 'b', 0}));    // space inside a label
  EXPECT_FALSE(parseMxRdata(Bytes{0x00, 0x0a, 2, 'a', 0x00, 0}));        // NUL inside a label
  Bytes tooLong = {0x00, 0x0a};
  for (int label = 0; label < 5; ++label) {
    tooLong.push_back(63);
    tooLong.insert(tooLong.end(), 63, 'a');
  }
  tooLong.push_back(0);
  EXPECT_FALSE(parseMxRdata(tooLong));  // 321 bytes on the wire, limit 255
}

TEST(ParseAddressRdata, FormatsIpv4AndIpv6) {
  EXPECT_EQ(parseAddressRdata(Bytes{192, 0, 2, 1}), "192.0.2.1");
  Bytes v6(16, 0);
  v6[0] = 0x20;
  v6[1] = 0x01;
  v6[2] = 0x0d;
  v6[3] = 0xb8;
  v6[15] = 1;
  EXPECT_EQ(parseAddressRdata(v6), "2001:db8::1");
  EXPECT_FALSE(parseAddressRdata(Bytes{1, 2, 3}));
  EXPECT_FALSE(parseAddressRdata(Bytes(5, 1)));
  EXPECT_FALSE(parseAddressRdata(Bytes(17, 1)));
}

TEST(ParseTxtRdata, ConcatenatesCharacterStrings) {
  EXPECT_EQ(parseTxtRdata(Bytes{3, 'a', 'b', 'c', 2, 'd', 'e', 0}), "abcde");
  EXPECT_EQ(parseTxtRdata(Bytes{0}), "");
  EXPECT_FALSE(parseTxtRdata(Bytes{4, 'a', 'b'}));
  EXPECT_FALSE(parseTxtRdata(Bytes{1, 'a', 2, 'b'}));
}

TEST(ParsePtrRdata, ReadsOneLowerCasedName) {
  const std::vector<std::uint8_t> rdata = {4, 'M', 'a', 'i', 'L', 4, 't', 'e', 's', 't', 0};
  EXPECT_EQ(parsePtrRdata(rdata), std::optional<std::string>("mail.test"));
  const std::vector<std::uint8_t> root = {0};
  EXPECT_EQ(parsePtrRdata(root), std::nullopt);
  const std::vector<std::uint8_t> trailing = {1, 'a', 0, 7};
  EXPECT_EQ(parsePtrRdata(trailing), std::nullopt);
  const std::vector<std::uint8_t> compressed = {0xc0, 0x0c};
  EXPECT_EQ(parsePtrRdata(compressed), std::nullopt);
}

TEST(ReverseName, BuildsInAddrAndIp6Names) {
  EXPECT_EQ(reverseName("192.0.2.10"), std::optional<std::string>("10.2.0.192.in-addr.arpa"));
  EXPECT_EQ(reverseName("2001:db8::cafe"),
            std::optional<std::string>(
                "e.f.a.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"));
  EXPECT_EQ(reverseName("192.0.2.300"), std::nullopt);
  EXPECT_EQ(reverseName("example.test"), std::nullopt);
  EXPECT_EQ(reverseName(""), std::nullopt);
}

TEST(ParseTlsaRdata, ReadsParametersAndAssociationData) {
  Bytes rdata = {3, 1, 1};
  for (std::uint8_t index = 0; index < 32; ++index) rdata.push_back(index);
  auto record = parseTlsaRdata(rdata);
  ASSERT_TRUE(record);
  EXPECT_EQ(record->usage, 3);
  EXPECT_EQ(record->selector, 1);
  EXPECT_EQ(record->matching_type, 1);
  ASSERT_EQ(record->data.size(), 32u);
  EXPECT_EQ(record->data.front(), 0);
  EXPECT_EQ(record->data.back(), 31);
}

TEST(ParseTlsaRdata, RefusesTruncatedRdata) {
  EXPECT_FALSE(parseTlsaRdata(Bytes{}));
  EXPECT_FALSE(parseTlsaRdata(Bytes{3}));
  EXPECT_FALSE(parseTlsaRdata(Bytes{3, 1}));
  EXPECT_FALSE(parseTlsaRdata(Bytes{3, 1, 1}));  // parameters without association data
  EXPECT_TRUE(parseTlsaRdata(Bytes{3, 1, 0, 0x30}));
}

TEST(ParseTlsaRdata, KeepsWrongDigestLengthsAndUnknownValuesForTheCallerToJudge) {
  // A SHA-256 record with 31 bytes and unknown parameters are unusable (RFC 7671 4), not a broken
  // DNS answer: they parse with their values as published.
  Bytes short_digest = {3, 1, 1};
  short_digest.resize(3 + 31, 0xab);
  auto record = parseTlsaRdata(short_digest);
  ASSERT_TRUE(record);
  EXPECT_EQ(record->data.size(), 31u);
  auto unknown = parseTlsaRdata(Bytes{255, 7, 9, 1, 2});
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->usage, 255);
  EXPECT_EQ(unknown->selector, 7);
  EXPECT_EQ(unknown->matching_type, 9);
  EXPECT_EQ(unknown->data, (std::vector<std::uint8_t>{1, 2}));
}

}  // namespace
}  // namespace bulwark::dns
