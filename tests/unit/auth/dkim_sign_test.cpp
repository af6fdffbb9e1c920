// DKIM signing: round trips through our verifier for both key types and all four
// canonicalisation pairs, tampering, over-signing, folding, and the keyring's files.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <thread>

#include "auth/dkim.h"
#include "auth/tag_list.h"
#include "mime/header_fields.h"
#include "unit/auth/dkim_test_support.h"

namespace bulwark::auth {
namespace {

using bulwark::testing::FakeResolver;
using namespace bulwark::auth::testing;

struct Pair {
  const char* type;
  Canonicalization header;
  Canonicalization body;
};

class DkimRoundTrip : public ::testing::TestWithParam<Pair> {};

TEST_P(DkimRoundTrip, SignedMessageVerifies) {
  const Pair pair = GetParam();
  DkimKey key = makeKey(pair.type);
  FakeResolver resolver;
  publish(resolver, key);
  DkimSignOptions options;
  options.header_canonicalization = pair.header;
  options.body_canonicalization = pair.body;
  auto field = signDkim(kMessage, key, options);
  ASSERT_TRUE(field.has_value()) << field.error().message;
  std::string signed_message = *field + std::string(kMessage);
  auto results = verifyDkim(resolver, signed_message);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].result, DkimResult::pass) << results[0].reason;
  EXPECT_EQ(results[0].domain, "example.com");
  EXPECT_EQ(results[0].selector, "sel");
  EXPECT_EQ(results[0].identity, "@example.com");
  EXPECT_EQ(results[0].algorithm,
            std::string(pair.type) == "rsa" ? "rsa-sha256" : "ed25519-sha256");
  EXPECT_FALSE(results[0].body_length_limited);

  std::string tampered_body = signed_message;
  replaceOnce(tampered_body, "numbers", "NUMBERS");
  auto body_results = verifyDkim(resolver, tampered_body);
  ASSERT_EQ(body_results.size(), 1u);
  EXPECT_EQ(body_results[0].result, DkimResult::fail);
  EXPECT_EQ(body_results[0].reason, "body hash did not verify");

  std::string tampered_header = signed_message;
  replaceOnce(tampered_header, "Quarterly", "Quarterlx");
  auto header_results = verifyDkim(resolver, tampered_header);
  ASSERT_EQ(header_results.size(), 1u);
  EXPECT_EQ(header_results[0].result, DkimResult::fail);
  EXPECT_EQ(header_results[0].reason, "signature did not verify");
}

INSTANTIATE_TEST_SUITE_P(
    KeyTypesAndCanonicalizations, DkimRoundTrip,
    ::testing::Values(Pair{"rsa", Canonicalization::simple, Canonicalization::simple},
                      Pair{"rsa", Canonicalization::simple, Canonicalization::relaxed},
                      Pair{"rsa", Canonicalization::relaxed, Canonicalization::simple},
                      Pair{"rsa", Canonicalization::relaxed, Canonicalization::relaxed},
                      Pair{"ed25519", Canonicalization::simple, Canonicalization::simple},
                      Pair{"ed25519", Canonicalization::simple, Canonicalization::relaxed},
                      Pair{"ed25519", Canonicalization::relaxed, Canonicalization::simple},
                      Pair{"ed25519", Canonicalization::relaxed, Canonicalization::relaxed}));

TEST(DkimSign, RelaxedSurvivesRefoldingAndSimpleDoesNot) {
  DkimKey key = makeKey("rsa");
  FakeResolver resolver;
  publish(resolver, key);
  DkimSignOptions relaxed;
  DkimSignOptions simple;
  simple.header_canonicalization = Canonicalization::simple;
  simple.body_canonicalization = Canonicalization::simple;
  for (auto* options : {&relaxed, &simple}) {
    auto field = signDkim(kMessage, key, *options);
    ASSERT_TRUE(field.has_value());
    std::string message = *field + std::string(kMessage);
    replaceOnce(message, "Quarterly   report\r\n\t", "Quarterly report\r\n   ");
    replaceOnce(message, "are in.\t \r\n", "are in.\r\n");
    auto results = verifyDkim(resolver, message);
    ASSERT_EQ(results.size(), 1u);
    EXPECT_EQ(results[0].result, options == &relaxed ? DkimResult::pass : DkimResult::fail);
  }
}

TEST(DkimSign, OversigningMakesAnAddedFromFail) {
  DkimKey key = makeKey("ed25519");
  FakeResolver resolver;
  publish(resolver, key);
  DkimSignOptions oversigned;
  DkimSignOptions plain;
  plain.oversigned.clear();
  for (auto* options : {&oversigned, &plain}) {
    auto field = signDkim(kMessage, key, *options);
    ASSERT_TRUE(field.has_value());
    std::string message = "From: Mallory <ceo@example.com>\r\n" + *field + std::string(kMessage);
    auto results = verifyDkim(resolver, message);
    ASSERT_EQ(results.size(), 1u);
    // Without over-signing the added From above is not covered: the bottom-most one is.
    EXPECT_EQ(results[0].result, options == &oversigned ? DkimResult::fail : DkimResult::pass);
  }
}

TEST(DkimSign, FieldListsOversignedNamesOnceMoreAndNeverLength) {
  DkimKey key = makeKey("rsa");
  DkimSignOptions options;
  options.now = std::chrono::system_clock::time_point(std::chrono::seconds(1800000000));
  options.expiry = std::chrono::hours(24 * 7);
  auto field = signDkim(kMessage, key, options);
  ASSERT_TRUE(field.has_value());
  const std::string header = *field + "\r\n";
  auto fields = mime::headerFields(header);
  ASSERT_EQ(fields.size(), 1u);
  auto tags = parseTagList(fields[0].value);
  ASSERT_TRUE(tags.has_value());
  EXPECT_FALSE(findTag(*tags, "l"));
  EXPECT_EQ(findTag(*tags, "t").value_or(""), "1800000000");
  EXPECT_EQ(findTag(*tags, "x").value_or(""), "1800604800");
  EXPECT_EQ(findTag(*tags, "c").value_or(""), "relaxed/relaxed");
  std::string names = withoutWhitespace(*findTag(*tags, "h"));
  // From, To, Subject, Date, Message-ID occur once: each twice in h=; Reply-To and Cc are absent
  // but over-signed: once (null); List-Id is absent and not over-signed: not at all.
  EXPECT_NE(names.find("from:from"), std::string::npos) << names;
  EXPECT_NE(names.find("subject:subject"), std::string::npos);
  EXPECT_NE(names.find("reply-to"), std::string::npos);
  EXPECT_EQ(names.find("reply-to:reply-to"), std::string::npos);
  EXPECT_EQ(names.find("list-id"), std::string::npos);
  EXPECT_EQ(names.find("received"), std::string::npos);
}

TEST(DkimSign, LinesStayUnder78Columns) {
  DkimSignOptions options;
  options.headers.push_back("X-A-Rather-Long-Header-Name-That-Someone-Invented-For-Tracking");
  for (const char* type : {"rsa", "ed25519"}) {
    auto field = signDkim(kMessage, makeKey(type), options);
    ASSERT_TRUE(field.has_value());
    EXPECT_TRUE(field->ends_with("\r\n"));
    std::size_t start = 0;
    while (start < field->size()) {
      std::size_t end = field->find("\r\n", start);
      ASSERT_NE(end, std::string::npos);
      EXPECT_LE(end - start, 78u) << field->substr(start, end - start);
      if (start > 0) {
        EXPECT_EQ((*field)[start], ' ');
      }
      start = end + 2;
    }
  }
}

TEST(DkimSign, MessageWithoutFromIsRefused) {
  auto field = signDkim("Subject: x\r\n\r\nbody\r\n", makeKey("ed25519"));
  ASSERT_FALSE(field.has_value());
  EXPECT_EQ(field.error().message, "the message has no From field");
}

TEST(DkimKey, PemKeysOfBothTypesAndTheirRecords) {
  DkimKey rsa = makeKey("rsa", "s2027", "Example.COM");
  EXPECT_EQ(rsa.domain(), "example.com");
  EXPECT_EQ(rsa.algorithm(), DkimAlgorithm::rsa_sha256);
  EXPECT_TRUE(rsa.dnsRecord().starts_with("v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A"));
  DkimKey ed25519 = makeKey("ed25519");
  EXPECT_EQ(ed25519.algorithm(), DkimAlgorithm::ed25519_sha256);
  EXPECT_EQ(ed25519.dnsRecord().size(), std::string("v=DKIM1; k=ed25519; p=").size() + 44);
}

TEST(DkimKey, RefusesShortRsaBadNamesAndGarbage) {
  auto short_key = DkimKey::fromPem("example.com", "s", generatedKeyPem("rsa", 768));
  ASSERT_FALSE(short_key.has_value());
  EXPECT_EQ(short_key.error().code, "weak");
  auto floor_key = DkimKey::fromPem("example.com", "s", generatedKeyPem("rsa", 1024));
  EXPECT_TRUE(floor_key.has_value());
  EXPECT_FALSE(DkimKey::fromPem("exa mple.com", "s", generatedKeyPem("ed25519")).has_value());
  EXPECT_FALSE(DkimKey::fromPem("example.com", "../s", generatedKeyPem("ed25519")).has_value());
  EXPECT_FALSE(DkimKey::fromPem("example.com", "s", "not a key").has_value());
  EXPECT_FALSE(DkimKey::fromEd25519Seed("example.com", "s", "short").has_value());
}

class TemporaryDirectory {
 public:
  TemporaryDirectory() {
    std::string pattern = (std::filesystem::temp_directory_path() / "dkim-keyring-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TemporaryDirectory() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

void writeKey(const std::filesystem::path& file, const std::string& pem, mode_t mode) {
  std::filesystem::create_directories(file.parent_path());
  std::ofstream(file) << pem;
  ASSERT_EQ(chmod(file.c_str(), mode), 0);
}

TEST(DkimKeyring, EveryKeyOfTheDomainSignsAndNewKeysAppear) {
  TemporaryDirectory directory;
  writeKey(directory.path() / "example.com" / "rsa2027.key", generatedKeyPem("rsa"), 0600);
  writeKey(directory.path() / "example.com" / "ed2027.key", generatedKeyPem("ed25519"), 0600);
  writeKey(directory.path() / "example.com" / "open.key", generatedKeyPem("ed25519"), 0644);
  writeKey(directory.path() / "example.com" / "broken.key", "garbage", 0600);
  DkimKeyring keyring(directory.path());
  auto keys = keyring.keysFor("EXAMPLE.com");
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].selector(), "ed2027");
  EXPECT_EQ(keys[1].selector(), "rsa2027");
  EXPECT_TRUE(keyring.keysFor("example.org").empty());

  FakeResolver resolver;
  for (const auto& key : keys) publish(resolver, key);
  std::string fields = keyring.sign("example.com", kMessage);
  auto results = verifyDkim(resolver, fields + std::string(kMessage));
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].result, DkimResult::pass);
  EXPECT_EQ(results[1].result, DkimResult::pass);
  EXPECT_TRUE(keyring.sign("example.org", kMessage).empty());

  // Rotation: a new selector appears, an old one goes, without a new keyring.
  writeKey(directory.path() / "example.com" / "next.key", generatedKeyPem("ed25519"), 0600);
  std::filesystem::remove(directory.path() / "example.com" / "rsa2027.key");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  keys = keyring.keysFor("example.com");
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].selector(), "ed2027");
  EXPECT_EQ(keys[1].selector(), "next");
}

}  // namespace
}  // namespace bulwark::auth
