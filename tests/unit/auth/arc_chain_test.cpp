// ARC validation and sealing (RFC 8617 5.1, 5.2): the structure checks, the cv= rules, one and
// several hops with RSA and Ed25519, tampering after a seal, oldest-pass, and the limits.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "auth/arc.h"
#include "support/fake_resolver.h"

namespace bulwark::auth {
namespace {

constexpr std::string_view kRsaPem = R"(-----BEGIN PRIVATE KEY-----
MIICdgIBADANBgkqhkiG9w0BAQEFAASCAmAwggJcAgEAAoGBALX2VaAp9DkGhNaG
W5qJfXTgfdW7uJb/ZaO4B4grDQoL645eBlt/OuZ1jBhpUgtnU4LpfxO35FkMvVNG
5EeQ4z5QIQbyUjsSGj0UIidDV/g690tOe1Hs9Yc0YeAvi9kJUnNZQtXTeJjsmpLL
46P0eUBeRmF2bcu6N+kTv/Vk9GxvAgMBAAECgYAG2MgMCMgZxTcGY3Pa8sV3umLB
whiGBgIrEOenpgcNk7k/WCZhFv5+YXnuCTh/GVo5GNQhR9Ad0a7mDUrVrov+YgNk
710SYgZbXnK4vxe9C3AKL3Uq3R9jlBd3R8JRnsP4efuWkMYNvzKocirfAFlr7Kuz
DReBDNU65d0aAfsfgQJBANgMKRjJQUFLaG/mk2EhRhTYmPQ2nQQgCNnwK5UKI++5
XjNoIHjYoBlcK+7cSOGqTs0SwlkkxXTPGfhbLhGVTyECQQDXnI3WATddtSXySjHn
j8CPeuu1e3xn35gnDX0KdRtYjOlYF7FfINossAJJr9MpMBVE1c30iIroXWrrOZsy
cxmPAkEAvQF2ep6mne7QgQTg7lpjqx0KQqv8lX1JARChsBNc+P3cMXDo54/sEAOY
07CXegS6R6IfsEkBDX2ZJLLwDKXowQJAfyOUy426DSrFboLrvIUa4kB0f3aKnGHP
wa+FfUYi0ut8qXKHJ/YiUNmU78ibNp1g3U9J/BkL+AsmAgDdEDmo5wJAbjmiHrrd
JAMnHZhnhL5BSQ4j2zNbQ3A3XNBnL54gwYA2PQv3eF4O5I4GzZVc/bqyGhH3Y+Q4
Ws/ID0GLa2MHeA==
-----END PRIVATE KEY-----
)";

constexpr std::string_view kEd25519Pem = R"(-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIOCDdERsFXiO5Z0HJ/GRhCH9/pgyjOMHGp7htWpMfIAJ
-----END PRIVATE KEY-----
)";

constexpr std::string_view kMessage =
    "From: Alice <alice@origin.example>\r\n"
    "To: list@lists.example\r\n"
    "Subject: Hello\r\n"
    "Date: Thu, 14 Jan 2021 15:00:01 -0800\r\n"
    "Message-ID: <1@origin.example>\r\n"
    "\r\n"
    "Hello there.\r\n";

class ArcChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    list_key_ = publish(DkimKey::fromPem("lists.example", "arc", kRsaPem));
    forwarder_key_ = publish(DkimKey::fromPem("forward.example", "ed", kEd25519Pem));
  }

  DkimKey publish(Result<DkimKey> key) {
    EXPECT_TRUE(key.has_value()) << key.error().message;
    resolver_.txt_records[key->selector() + "._domainkey." + key->domain()] = {key->dnsRecord()};
    return *key;
  }

  // One hop: validate what arrived, then prepend our set; returns the new message.
  std::string hop(const std::string& message, const DkimKey& key, ArcSealOptions options = {}) {
    const ArcValidation validation = validateArc(resolver_, message);
    options.authserv_id = "mx." + key.domain();
    options.authentication_results =
        "arc=" + std::string(arcResultName(validation.result)) + "; spf=pass";
    auto sealed = sealArc(message, validation, key, options);
    EXPECT_TRUE(sealed.has_value()) << sealed.error().message;
    return (sealed ? *sealed : std::string()) + message;
  }

  testing::FakeResolver resolver_;
  DkimKey list_key_ = *DkimKey::fromPem("lists.example", "arc", kRsaPem);
  DkimKey forwarder_key_ = *DkimKey::fromPem("forward.example", "ed", kEd25519Pem);
};

TEST_F(ArcChainTest, NoArcFieldsIsNone) {
  const ArcValidation validation = validateArc(resolver_, kMessage);
  EXPECT_EQ(validation.result, ArcResult::none);
  EXPECT_EQ(validation.instances, 0u);
  EXPECT_TRUE(validation.sealers.empty());
}

TEST_F(ArcChainTest, OneRsaHopPasses) {
  const std::string sealed = hop(std::string(kMessage), list_key_);
  ASSERT_TRUE(sealed.starts_with("ARC-Seal: a=rsa-sha256;\r\n\tb=")) << sealed;
  EXPECT_NE(sealed.find("cv=none; d=lists.example; i=1; s=arc;"), std::string::npos) << sealed;
  EXPECT_NE(sealed.find("ARC-Authentication-Results: i=1; mx.lists.example; arc=none; "
                        "spf=pass\r\n"),
            std::string::npos)
      << sealed;
  const ArcValidation validation = validateArc(resolver_, sealed);
  EXPECT_EQ(validation.result, ArcResult::pass) << validation.reason;
  EXPECT_EQ(validation.instances, 1u);
  EXPECT_EQ(validation.oldest_pass, 0);
  EXPECT_EQ(validation.sealers, std::vector<std::string>{"lists.example"});
}

TEST_F(ArcChainTest, TwoHopsRsaThenEd25519Pass) {
  const std::string twice = hop(hop(std::string(kMessage), list_key_), forwarder_key_);
  EXPECT_NE(twice.find("a=ed25519-sha256"), std::string::npos);
  EXPECT_NE(twice.find("cv=pass; d=forward.example; i=2"), std::string::npos) << twice;
  const ArcValidation validation = validateArc(resolver_, twice);
  EXPECT_EQ(validation.result, ArcResult::pass) << validation.reason;
  EXPECT_EQ(validation.instances, 2u);
  EXPECT_EQ(validation.oldest_pass, 0);
  EXPECT_EQ(validation.sealers, (std::vector<std::string>{"forward.example", "lists.example"}));
}

TEST_F(ArcChainTest, BodyChangedAfterSealingFails) {
  std::string sealed = hop(std::string(kMessage), list_key_);
  sealed.replace(sealed.find("Hello there."), 12, "Buy things!!");
  const ArcValidation validation = validateArc(resolver_, sealed);
  EXPECT_EQ(validation.result, ArcResult::fail);
  EXPECT_NE(validation.reason.find("body hash"), std::string::npos) << validation.reason;
}

TEST_F(ArcChainTest, ChangedResultsBreakTheSeal) {
  std::string sealed = hop(std::string(kMessage), list_key_);
  sealed.replace(sealed.find("spf=pass"), 8, "spf=fail");
  const ArcValidation validation = validateArc(resolver_, sealed);
  EXPECT_EQ(validation.result, ArcResult::fail);
  EXPECT_NE(validation.reason.find("ARC-Seal signature did not verify"), std::string::npos)
      << validation.reason;
}

// A mailing list validates the chain, changes the Subject, and seals: the chain still passes,
// and oldest-pass tells the first AMS that no longer verifies (RFC 8617 5.2 step 6).
TEST_F(ArcChainTest, ModifiedByTheSecondHopGivesOldestPass) {
  std::string first = hop(std::string(kMessage), list_key_);
  const ArcValidation arrived = validateArc(resolver_, first);
  ASSERT_EQ(arrived.result, ArcResult::pass);
  first.replace(first.find("Subject: Hello"), 14, "Subject: [list] Hello");
  ArcSealOptions options;
  options.authserv_id = "mx.forward.example";
  options.authentication_results = "arc=pass";
  auto seal = sealArc(first, arrived, forwarder_key_, options);
  ASSERT_TRUE(seal.has_value()) << seal.error().message;
  const ArcValidation validation = validateArc(resolver_, *seal + first);
  EXPECT_EQ(validation.result, ArcResult::pass) << validation.reason;
  EXPECT_EQ(validation.oldest_pass, 2);
}

// A hop that finds a broken chain seals with cv=fail over its own set only (RFC 8617 5.1.2);
// after that nobody adds to the chain (5.1 step 2).
TEST_F(ArcChainTest, BrokenChainIsSealedAsFailedThenLeftAlone) {
  std::string sealed = hop(std::string(kMessage), list_key_);
  sealed.replace(sealed.find("Hello there."), 12, "Buy things!!");
  const std::string failed = hop(sealed, forwarder_key_);
  EXPECT_NE(failed.find("cv=fail; d=forward.example; i=2"), std::string::npos) << failed;
  const ArcValidation validation = validateArc(resolver_, failed);
  EXPECT_EQ(validation.result, ArcResult::fail);
  EXPECT_NE(validation.reason.find("cv=fail"), std::string::npos) << validation.reason;
  auto third = sealArc(failed, validation, list_key_,
                       {.authserv_id = "mx.lists.example", .authentication_results = "arc=fail"});
  ASSERT_TRUE(third.has_value()) << third.error().message;
  EXPECT_EQ(*third, "");
}

TEST_F(ArcChainTest, SealingPastTheInstanceLimitIsRefused) {
  ArcSealOptions options;
  options.max_instances = 2;
  const std::string twice = hop(hop(std::string(kMessage), list_key_, options), list_key_, options);
  const ArcValidation validation = validateArc(resolver_, twice, {.max_instances = 2});
  ASSERT_EQ(validation.result, ArcResult::pass) << validation.reason;
  options.authserv_id = "mx.lists.example";
  auto third = sealArc(twice, validation, list_key_, options);
  ASSERT_FALSE(third.has_value());
  EXPECT_EQ(third.error().code, "limit");
}

TEST_F(ArcChainTest, ValidationPastTheInstanceLimitFails) {
  const std::string three = hop(hop(hop(std::string(kMessage), list_key_), list_key_), list_key_);
  EXPECT_EQ(validateArc(resolver_, three).result, ArcResult::pass);
  const ArcValidation limited = validateArc(resolver_, three, {.max_instances = 2});
  EXPECT_EQ(limited.result, ArcResult::fail);
  EXPECT_NE(limited.reason.find("beyond the limit of 2"), std::string::npos) << limited.reason;
}

TEST_F(ArcChainTest, ResultsThatWouldEndTheFieldAreRefused) {
  ArcSealOptions options;
  options.authserv_id = "mx.lists.example";
  options.authentication_results = "spf=pass\r\nBcc: victim@example.com";
  auto sealed = sealArc(kMessage, validateArc(resolver_, kMessage), list_key_, options);
  ASSERT_FALSE(sealed.has_value());
  EXPECT_EQ(sealed.error().code, "syntax");
}

TEST_F(ArcChainTest, KeyUnderTheMinimumSizeFails) {
  const std::string sealed = hop(std::string(kMessage), list_key_);
  const ArcValidation validation = validateArc(resolver_, sealed, {.minimum_rsa_bits = 2048});
  EXPECT_EQ(validation.result, ArcResult::fail);
  EXPECT_NE(validation.reason.find("1024 bits"), std::string::npos) << validation.reason;
}

TEST_F(ArcChainTest, KeyLookupFailureFails) {
  const std::string sealed = hop(std::string(kMessage), list_key_);
  resolver_.failing.insert("arc._domainkey.lists.example");
  const ArcValidation validation = validateArc(resolver_, sealed);
  EXPECT_EQ(validation.result, ArcResult::fail);
  EXPECT_NE(validation.reason.find("arc._domainkey.lists.example"), std::string::npos)
      << validation.reason;
}

// The AMS keeps DKIM's x= (RFC 8617 4.1.2): once past it, the newest AMS no longer verifies.
TEST_F(ArcChainTest, ExpiredMessageSignatureFails) {
  std::string sealed = hop(std::string(kMessage), list_key_);
  const std::size_t tag = sealed.find("ARC-Message-Signature: a=");
  ASSERT_NE(tag, std::string::npos);
  sealed.insert(tag + std::string_view("ARC-Message-Signature:").size(), " x=1000;");
  const ArcValidation validation = validateArc(resolver_, sealed);
  EXPECT_EQ(validation.result, ArcResult::fail);
  EXPECT_NE(validation.reason.find("expired"), std::string::npos) << validation.reason;
}

// l= beyond any body (even beyond 64 bits) is a failed AMS, not an exception or a wrap-around.
TEST_F(ArcChainTest, BodyLengthBeyondTheBodyFails) {
  std::string sealed = hop(std::string(kMessage), list_key_);
  const std::size_t tag = sealed.find("ARC-Message-Signature: a=");
  ASSERT_NE(tag, std::string::npos);
  sealed.insert(tag + std::string_view("ARC-Message-Signature:").size(),
                " l=99999999999999999999;");
  const ArcValidation validation = validateArc(resolver_, sealed);
  EXPECT_EQ(validation.result, ArcResult::fail);
  EXPECT_NE(validation.reason.find("l= is longer than the body"), std::string::npos)
      << validation.reason;
}

// Hand-made chains: the structure is judged before any key is fetched (RFC 8617 5.2 steps 1-3).
std::string set(unsigned instance, std::string_view cv) {
  const std::string i = std::to_string(instance);
  return "ARC-Seal: i=" + i + "; a=rsa-sha256; cv=" + std::string(cv) +
         "; d=x.example; s=s; b=AAAA\r\n"
         "ARC-Message-Signature: i=" +
         i +
         "; a=rsa-sha256; d=x.example; s=s; h=from; "
         "bh=AAAA; b=AAAA\r\n"
         "ARC-Authentication-Results: i=" +
         i + "; x.example; spf=pass\r\n";
}

struct StructureCase {
  const char* name;
  std::string header;
  const char* reason;
};

void PrintTo(const StructureCase& structure_case, std::ostream* out) {
  *out << structure_case.name;
}

class ArcStructureTest : public ::testing::TestWithParam<StructureCase> {};

TEST_P(ArcStructureTest, FailsWithTheReason) {
  testing::FakeResolver resolver;  // empty: a key lookup would fail for another reason
  const ArcValidation validation = validateArc(resolver, GetParam().header + std::string(kMessage));
  EXPECT_EQ(validation.result, ArcResult::fail);
  EXPECT_EQ(validation.instances, 0u);
  EXPECT_NE(validation.reason.find(GetParam().reason), std::string::npos) << validation.reason;
}

INSTANTIATE_TEST_SUITE_P(
    Chains, ArcStructureTest,
    ::testing::Values(
        StructureCase{"gap", set(3, "pass") + set(1, "none"), "without gaps"},
        StructureCase{"duplicate_seal", set(1, "none") + "ARC-Seal: i=1; cv=none\r\n",
                      "two ARC-Seal fields with i=1"},
        StructureCase{"first_says_pass", set(1, "pass"), "i=1 must say cv=none"},
        StructureCase{"second_says_none", set(2, "none") + set(1, "none"), "i=2 must say cv=pass"},
        StructureCase{"newest_says_fail", set(2, "fail") + set(1, "none"), "cv=fail"},
        StructureCase{"instance_zero", set(0, "none"), "invalid i= value"},
        StructureCase{"results_without_instance",
                      "ARC-Authentication-Results: x.example; i=1; spf=pass\r\n",
                      "does not start with i=N;"},
        StructureCase{"seal_syntax", "ARC-Seal: i=1; a=rsa-sha256;; cv=none\r\n", "empty tag"},
        StructureCase{"missing_signature",
                      "ARC-Seal: i=1; a=rsa-sha256; cv=none; d=x.example; s=s; b=AAAA\r\n"
                      "ARC-Authentication-Results: i=1; x.example; spf=pass\r\n",
                      "no ARC-Message-Signature for i=1"}),
    [](const ::testing::TestParamInfo<StructureCase>& info) { return info.param.name; });

}  // namespace
}  // namespace bulwark::auth
