// DKIM key records (RFC 6376 3.6.1, RFC 8463 4): tags, flags, key formats and what is refused.
#include "auth/dkim_key_record.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "unit/auth/dkim_test_support.h"

namespace bulwark::auth {
namespace {

using namespace bulwark::auth::testing;

// The RFC 8463 A.2 Ed25519 record.
constexpr std::string_view kEd25519Record =
    "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

std::string rsaKeyValue() {
  std::string record = makeKey("rsa").dnsRecord();
  return record.substr(record.find("p=") + 2);
}

TEST(DkimKeyRecord, RsaAndEd25519Keys) {
  auto rsa = parseDkimKeyRecord("v=DKIM1; k=rsa; p=" + rsaKeyValue());
  ASSERT_TRUE(rsa.has_value()) << rsa.error().message;
  EXPECT_EQ(rsa->type, DkimKeyType::rsa);
  EXPECT_EQ(rsa->bits, 2048u);
  auto ed25519 = parseDkimKeyRecord(kEd25519Record);
  ASSERT_TRUE(ed25519.has_value()) << ed25519.error().message;
  EXPECT_EQ(ed25519->type, DkimKeyType::ed25519);
  EXPECT_FALSE(ed25519->testing);
}

TEST(DkimKeyRecord, DefaultsAndIgnoredTags) {
  // No v=, no k= (rsa), folded p=, and tags RFC 6376 does not know (g= of RFC 4871, n=, x=).
  std::string value = rsaKeyValue();
  auto key = parseDkimKeyRecord("g=*; n=a note; zz=1; p=" + value.substr(0, 40) + " \t" +
                                value.substr(40));
  ASSERT_TRUE(key.has_value()) << key.error().message;
  EXPECT_EQ(key->type, DkimKeyType::rsa);
  EXPECT_TRUE(key->hashes.empty());
}

TEST(DkimKeyRecord, BareRsaPublicKeyIsAccepted) {
  // PKCS#1 RSAPublicKey instead of SubjectPublicKeyInfo: drop the 24-byte SPKI prefix of a
  // 2048-bit key.
  auto der = net::base64Decode(rsaKeyValue());
  ASSERT_TRUE(der.has_value());
  auto key = parseDkimKeyRecord("p=" + net::base64Encode(der->substr(24)));
  ASSERT_TRUE(key.has_value()) << key.error().message;
  EXPECT_EQ(key->bits, 2048u);
}

TEST(DkimKeyRecord, FlagsHashesAndServices) {
  auto key = parseDkimKeyRecord(std::string(kEd25519Record) + "; t=y:s; h=sha256; s=email:*");
  ASSERT_TRUE(key.has_value()) << key.error().message;
  EXPECT_TRUE(key->testing);
  EXPECT_TRUE(key->strict);
  EXPECT_EQ(key->hashes, std::vector<std::string>{"sha256"});
}

TEST(DkimKeyRecord, Refusals) {
  struct Case {
    std::string record;
    std::string code;
    std::string message;
  };
  const std::string ed25519_key = "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
  const std::vector<Case> cases = {
      {"v=DKIM2; " + ed25519_key, "syntax", "key record v= is not DKIM1"},
      {"k=ed25519; v=DKIM1; " + ed25519_key, "syntax", "key record v= is not the first tag"},
      {"v=DKIM1; k=dsa; " + ed25519_key, "unsupported", "key record k=dsa is not known"},
      {"v=DKIM1; k=ed25519", "syntax", "key record has no p="},
      {"v=DKIM1; k=ed25519; p=", "revoked", "key revoked (empty p=)"},
      {"v=DKIM1; k=ed25519; p= ", "revoked", "key revoked (empty p=)"},
      {"v=DKIM1; k=ed25519; p=!!!!", "syntax", "key record p= is not base64"},
      {"v=DKIM1; k=ed25519; p=AAAA", "syntax", "key record p= is not a valid ed25519 key"},
      {"v=DKIM1; k=rsa; p=AAAA", "syntax", "key record p= is not a valid rsa key"},
      {"v=DKIM1; s=tlsrpt; " + ed25519_key + "; k=ed25519", "unsupported",
       "key record s= does not include email"},
      {"v=DKIM1; p=a; p=b", "syntax", "key record: tag p= appears twice"},
      {"", "syntax", "key record has no p="},
  };
  for (const Case& test : cases) {
    auto key = parseDkimKeyRecord(test.record);
    ASSERT_FALSE(key.has_value()) << test.record;
    EXPECT_EQ(key.error().code, test.code) << test.record;
    EXPECT_EQ(key.error().message, test.message) << test.record;
  }
}

TEST(DkimKeyRecord, Ed25519KeyOfAnotherLengthIsRefused) {
  // 31 and 33 bytes around the one valid length.
  EXPECT_FALSE(parseDkimKeyRecord("k=ed25519; p=" + net::base64Encode(std::string(31, 'a'))));
  EXPECT_FALSE(parseDkimKeyRecord("k=ed25519; p=" + net::base64Encode(std::string(33, 'a'))));
}

TEST(DkimKeyRecord, ParsedRecordsAreCachedByTextUpToTheLimit) {
  const std::string record = std::string(kEd25519Record) + "; n=cache test";
  auto first = parseDkimKeyRecord(record);
  auto again = parseDkimKeyRecord(record);
  ASSERT_TRUE(first && again);
  EXPECT_EQ(first->key.get(), again->key.get());
  // Past the limit the cache starts again empty: the record is parsed anew.
  for (std::size_t index = 0; index < kDkimKeyCacheEntries; ++index) {
    ASSERT_TRUE(parseDkimKeyRecord(std::string(kEd25519Record) + "; n=" + std::to_string(index)));
  }
  auto later = parseDkimKeyRecord(record);
  ASSERT_TRUE(later);
  EXPECT_NE(first->key.get(), later->key.get());
  EXPECT_EQ(later->type, DkimKeyType::ed25519);
}

TEST(DkimKeyRecord, KeyWithoutPreparedContextsStillVerifies) {
  // A DkimPublicKey put together by hand: the contexts are made on use.
  for (const char* type : {"rsa", "ed25519"}) {
    const DkimKey signer = makeKey(type);
    auto parsed = parseDkimKeyRecord(signer.dnsRecord());
    ASSERT_TRUE(parsed) << parsed.error().message;
    DkimPublicKey key;
    key.type = parsed->type;
    key.key = parsed->key;
    auto signature = signer.signData("some data");
    ASSERT_TRUE(signature);
    EXPECT_TRUE(verifyDkimSignatureData(key, false, "some data", *signature)) << type;
    EXPECT_FALSE(verifyDkimSignatureData(key, false, "other data", *signature)) << type;
  }
}

TEST(DkimKeyRecord, OneKeySignsAndVerifiesOnManyThreads) {
  // The keyring's keys and the cached public keys are shared by the intake threads; every
  // operation works on its own copy of the prepared contexts.
  for (const char* type : {"rsa", "ed25519"}) {
    const DkimKey signer = makeKey(type);
    auto key = parseDkimKeyRecord(signer.dnsRecord());
    ASSERT_TRUE(key) << key.error().message;
    std::atomic<int> verified{0};
    std::vector<std::thread> threads;
    for (int thread = 0; thread < 4; ++thread) {
      threads.emplace_back([&, thread] {
        for (int round = 0; round < 20; ++round) {
          const std::string data = "thread " + std::to_string(thread) + " round " +
                                   std::to_string(round);
          auto signature = signer.signData(data);
          if (signature && verifyDkimSignatureData(*key, false, data, *signature) &&
              !verifyDkimSignatureData(*key, false, data + ".", *signature)) {
            ++verified;
          }
        }
      });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(verified.load(), 80) << type;
  }
}

}  // namespace
}  // namespace bulwark::auth
