// DKIM verification: tag checks (RFC 6376 3.5, 6.1.1), key lookup outcomes (6.1.2), l= (3.4.5,
// 8.2), the RFC 8301 rules (rsa-sha1, the 1024-bit floor) and the max_signatures limit.
#include <gtest/gtest.h>

#include "auth/dkim.h"
#include "unit/auth/dkim_test_support.h"

namespace bulwark::auth {
namespace {

using bulwark::testing::FakeResolver;
using namespace bulwark::auth::testing;

constexpr Canonicalization kRelaxed = Canonicalization::relaxed;
constexpr Canonicalization kSimple = Canonicalization::simple;

class DkimVerify : public ::testing::Test {
 protected:
  DkimVerify() : key_(makeKey("rsa")), pem_(generatedKeyPem("rsa")) { publish(resolver_, key_); }

  // The message signed with `tags` (a relaxed/relaxed signature over From and Subject by
  // default), and what verifying it gives.
  DkimSignatureResult verifyWith(const std::string& tags,
                                 std::string message = std::string(kMessage),
                                 std::optional<std::size_t> length = std::nullopt,
                                 bool sha1 = false, const DkimVerifyOptions& options = {}) {
    std::string field = handMadeSignature(message, key_, pem_, tags, {"from", "subject"}, kRelaxed,
                                          kRelaxed, length, sha1);
    auto results = verifyDkim(resolver_, field + message, options);
    EXPECT_EQ(results.size(), 1u);
    return results.empty() ? DkimSignatureResult{} : results[0];
  }

  static std::string tags(std::string extra = "") {
    return "v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=sel; h=from:subject" + extra;
  }

  FakeResolver resolver_;
  DkimKey key_;
  std::string pem_;
};

TEST_F(DkimVerify, HandMadeSignaturePasses) {
  auto result = verifyWith(tags());
  EXPECT_EQ(result.result, DkimResult::pass) << result.reason;
  EXPECT_FALSE(result.signature_prefix.empty());
  EXPECT_EQ(result.signature_prefix.size(), 8u);
}

TEST_F(DkimVerify, NoSignatureGivesNoResult) {
  EXPECT_TRUE(verifyDkim(resolver_, kMessage).empty());
}

TEST_F(DkimVerify, TagErrorsArePermanent) {
  struct Case {
    std::string tags;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=sel; h=from:subject", "no v= tag"},
      {"v=2; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=sel; h=from:subject",
       "v=2 is not 1"},
      {"v=1; a=rsa-sha512; c=relaxed/relaxed; d=example.com; s=sel; h=from:subject",
       "unknown algorithm rsa-sha512"},
      {"v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=sel; h=subject",
       "h= does not include From"},
      {"v=1; a=rsa-sha256; c=relaxed/relaxed; s=sel; h=from:subject", "required tag d= is missing"},
      {"v=1; a=rsa-sha256; c=fancy/relaxed; d=example.com; s=sel; h=from:subject",
       "unknown canonicalization fancy"},
      {tags("; i=alice@example.org"), "i= domain is not d= or a subdomain of it"},
      {tags("; i=alice@badexample.com"), "i= domain is not d= or a subdomain of it"},
      {tags("; q=https"), "q= does not offer dns/txt"},
      {tags("; t=1000; x=999"), "x= is before t="},
      {tags("; x=1000"), "signature expired (x=1000)"},
      {tags("; l=12a"), "l= is not a number"},
      {"v=1; a=rsa-sha256; d=legitimate.com(.attacker.com; s=sel; h=from",
       "d=legitimate.com(.attacker.com is not a domain name"},
  };
  for (const Case& test : cases) {
    auto result = verifyWith(test.tags);
    EXPECT_EQ(result.result, DkimResult::permerror) << test.tags;
    EXPECT_EQ(result.reason, test.reason) << test.tags;
  }
}

TEST_F(DkimVerify, IdentityInASubdomainAndQuotedPrintablePass) {
  auto result = verifyWith(tags("; i=alice=40mail.example.com"));
  EXPECT_EQ(result.result, DkimResult::pass) << result.reason;
  EXPECT_EQ(result.identity, "alice@mail.example.com");
}

TEST_F(DkimVerify, ExpiryIsCheckedAgainstTheGivenTime) {
  DkimVerifyOptions options;
  options.now = std::chrono::system_clock::time_point(std::chrono::seconds(1500));
  EXPECT_EQ(
      verifyWith(tags("; t=1000; x=2000"), std::string(kMessage), std::nullopt, false, options)
          .result,
      DkimResult::pass);
  options.now = std::chrono::system_clock::time_point(std::chrono::seconds(2001));
  EXPECT_EQ(
      verifyWith(tags("; t=1000; x=2000"), std::string(kMessage), std::nullopt, false, options)
          .result,
      DkimResult::permerror);
}

TEST_F(DkimVerify, LengthLimitedBodyPassesFlaggedWithItsUnsignedBytes) {
  const std::string canonical =
      canonicalBody(kRelaxed, kMessage.substr(mime::bodyOffset(kMessage)));
  std::string message = std::string(kMessage);
  std::string field =
      handMadeSignature(message, key_, pem_, tags("; l=" + std::to_string(canonical.size())),
                        {"from", "subject"}, kRelaxed, kRelaxed, canonical.size());
  std::string extended = field + message + "Buy now!\r\n";
  auto results = verifyDkim(resolver_, extended);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].result, DkimResult::pass) << results[0].reason;
  EXPECT_TRUE(results[0].body_length_limited);
  // The two empty lines that ended the signed body now precede text: they count as well.
  EXPECT_EQ(results[0].unsigned_body_bytes, std::string("\r\n\r\nBuy now!\r\n").size());

  std::string shortened = field + message.substr(0, message.find("the numbers")) + "\r\n";
  results = verifyDkim(resolver_, shortened);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].result, DkimResult::fail);
  EXPECT_EQ(results[0].reason, "l= is longer than the body");
}

TEST_F(DkimVerify, HugeLengthIsLongerThanTheBody) {
  auto result = verifyWith(tags("; l=99999999999999999999999999999"));
  EXPECT_EQ(result.result, DkimResult::fail);
  EXPECT_EQ(result.reason, "l= is longer than the body");
}

TEST_F(DkimVerify, RsaSha1IsPolicyUnlessAccepted) {
  auto refused =
      verifyWith("v=1; a=rsa-sha1; c=relaxed/relaxed; d=example.com; s=sel; h=from:subject",
                 std::string(kMessage), std::nullopt, true);
  EXPECT_EQ(refused.result, DkimResult::policy);
  EXPECT_EQ(refused.reason, "rsa-sha1 is not accepted (RFC 8301)");
  DkimVerifyOptions options;
  options.accept_rsa_sha1 = true;
  auto accepted =
      verifyWith("v=1; a=rsa-sha1; c=relaxed/relaxed; d=example.com; s=sel; h=from:subject",
                 std::string(kMessage), std::nullopt, true, options);
  EXPECT_EQ(accepted.result, DkimResult::pass) << accepted.reason;
}

TEST_F(DkimVerify, KeyLookupOutcomes) {
  resolver_.failing.insert("sel._domainkey.example.com");
  auto temporary = verifyWith(tags());
  EXPECT_EQ(temporary.result, DkimResult::temperror);
  resolver_.failing.clear();
  resolver_.txt_records.clear();
  auto absent = verifyWith(tags());
  EXPECT_EQ(absent.result, DkimResult::permerror);
  EXPECT_EQ(absent.reason, "no key at sel._domainkey.example.com");
  resolver_.txt_records["sel._domainkey.example.com"] = {"v=DKIM1; k=rsa; p="};
  auto revoked = verifyWith(tags());
  EXPECT_EQ(revoked.result, DkimResult::permerror);
  EXPECT_EQ(revoked.reason, "key revoked (empty p=) (sel._domainkey.example.com)");
  // Several records: the first usable one is taken.
  resolver_.txt_records["sel._domainkey.example.com"] = {"garbage", key_.dnsRecord()};
  EXPECT_EQ(verifyWith(tags()).result, DkimResult::pass);
}

TEST_F(DkimVerify, KeyRecordFlagsAndRestrictions) {
  const std::string record = key_.dnsRecord();
  const std::string key_value = record.substr(record.find("p="));
  auto withRecord = [&](const std::string& text) {
    resolver_.txt_records["sel._domainkey.example.com"] = {text};
    return verifyWith(tags("; i=@mail.example.com"));
  };
  auto testing = withRecord("v=DKIM1; t=y; " + key_value);
  EXPECT_EQ(testing.result, DkimResult::pass);
  EXPECT_TRUE(testing.testing);
  auto strict = withRecord("v=DKIM1; t=s; " + key_value);
  EXPECT_EQ(strict.result, DkimResult::permerror);
  EXPECT_EQ(strict.reason, "key record t=s requires i= in exactly d=");
  auto sha1_only = withRecord("v=DKIM1; h=sha1; " + key_value);
  EXPECT_EQ(sha1_only.result, DkimResult::permerror);
  EXPECT_EQ(withRecord("v=DKIM1; h=sha1:sha256; s=email; " + key_value).result, DkimResult::pass);
  EXPECT_EQ(withRecord("v=DKIM1; k=ed25519; " + key_value).result, DkimResult::permerror);
}

TEST_F(DkimVerify, RsaKeysUnderTheFloorAreRefused) {
  // A valid signature, but the record holds a 768-bit key: refused before any check.
  resolver_.txt_records["sel._domainkey.example.com"] = {
      makeKeyRecordFromPem(generatedKeyPem("rsa", 768))};
  auto result = verifyWith(tags());
  EXPECT_EQ(result.result, DkimResult::permerror);
  EXPECT_EQ(result.reason, "RSA key of 768 bits is too short (RFC 8301)");
  // The floor is a parameter: our 2048-bit key under a 4096-bit floor.
  publish(resolver_, key_);
  DkimVerifyOptions options;
  options.minimum_rsa_bits = 4096;
  EXPECT_EQ(verifyWith(tags(), std::string(kMessage), std::nullopt, false, options).result,
            DkimResult::permerror);
  options.minimum_rsa_bits = 2048;
  EXPECT_EQ(verifyWith(tags(), std::string(kMessage), std::nullopt, false, options).result,
            DkimResult::pass);
}

TEST_F(DkimVerify, SignaturesPastTheLimitAreNotVerified) {
  std::string message(kMessage);
  for (int index = 0; index < 3; ++index) {
    message =
        handMadeSignature(message, key_, pem_, tags(), {"from", "subject"}, kRelaxed, kRelaxed) +
        message;
  }
  DkimVerifyOptions options;
  options.max_signatures = 2;
  auto results = verifyDkim(resolver_, message, options);
  ASSERT_EQ(results.size(), 3u);
  // The top signature was made last, over a message that had the other two: it passes too.
  EXPECT_EQ(results[0].result, DkimResult::pass) << results[0].reason;
  EXPECT_EQ(results[1].result, DkimResult::pass) << results[1].reason;
  EXPECT_EQ(results[2].result, DkimResult::permerror);
  EXPECT_EQ(results[2].reason, "more than 2 signatures; this one was not verified");
  options.max_signatures = 3;
  EXPECT_EQ(verifyDkim(resolver_, message, options)[2].result, DkimResult::pass);
}

TEST_F(DkimVerify, SeveralSignaturesShareOneKeyLookup) {
  std::string message(kMessage);
  std::string simple_relaxed = tags();
  replaceOnce(simple_relaxed, "c=relaxed/relaxed", "c=simple/relaxed");
  message = handMadeSignature(message, key_, pem_, simple_relaxed, {"from", "subject"}, kSimple,
                              kRelaxed) +
            message;
  message =
      handMadeSignature(message, key_, pem_, tags(), {"from", "subject"}, kRelaxed, kRelaxed) +
      message;
  resolver_.txt_queries.clear();
  auto results = verifyDkim(resolver_, message);
  EXPECT_EQ(resolver_.txt_queries.size(), 1u);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].result, DkimResult::pass);
  EXPECT_EQ(results[1].result, DkimResult::pass);
}

}  // namespace
}  // namespace bulwark::auth
