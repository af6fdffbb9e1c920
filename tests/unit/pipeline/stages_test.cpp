// The authentication and signing stages over a FakeResolver: results into one
// Authentication-Results field, the configured action for each DMARC outcome, forged results
// removed, our users' mail signed and never checked, DNS trouble failing open, reports recorded.
#include "auth/authentication_results.h"
#include "auth/dkim.h"
#include "mime/header_fields.h"
#include "pipeline/authentication_stage.h"
#include "pipeline/signing_stage.h"
#include "support/fake_resolver.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>

namespace bulwark::pipeline {
namespace {

namespace fs = std::filesystem;

// A fresh Ed25519 private key as PEM (cheap to make; the DKIM tests cover RSA).
std::string newEd25519Pem() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  BIO* memory = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(memory, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* bytes = nullptr;
  long size = BIO_get_mem_data(memory, &bytes);
  std::string pem(bytes, static_cast<std::size_t>(size));
  BIO_free(memory);
  EVP_PKEY_free(key);
  return pem;
}

std::string fieldValue(const std::string& message, std::string_view name) {
  for (const auto& field : mime::headerFields(message)) {
    if (field.name == name) return mime::unfold(field.value);
  }
  return {};
}

std::size_t fieldCount(const std::string& message, std::string_view name) {
  std::size_t count = 0;
  for (const auto& field : mime::headerFields(message)) count += field.name == name ? 1 : 0;
  return count;
}

class AuthenticationStageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.hostname = "mx.example.test";
    suffixes_ = std::make_shared<const auth::PublicSuffixList>(
        auth::PublicSuffixList::fromText("test\n"));
    auto key = auth::DkimKey::fromPem("good.test", "s1", newEd25519Pem());
    ASSERT_TRUE(key) << key.error().message;
    sender_key_ = std::make_unique<auth::DkimKey>(*key);
    resolver_.txt_records["s1._domainkey.good.test"] = {sender_key_->dnsRecord()};
    resolver_.txt_records["good.test"] = {"v=spf1 ip4:192.0.2.1 -all"};
    resolver_.txt_records["_dmarc.good.test"] = {"v=DMARC1; p=reject; rua=mailto:r@good.test"};
    for (const char* policy : {"reject", "quarantine", "none"}) {
      const std::string domain = std::string(policy) + ".test";
      resolver_.txt_records[domain] = {"v=spf1 -all"};
      resolver_.txt_records["_dmarc." + domain] = {"v=DMARC1; p=" + std::string(policy)};
    }
  }

  MessageContext inbound(const std::string& from_domain, bool sign = false,
                         const std::string& extra_headers = "") {
    MessageContext context;
    context.queue_id = "TESTID";
    context.sender = "someone@" + from_domain;
    context.recipients = {"alice@example.test"};
    context.client_address = "192.0.2.1";
    context.helo = "client.good.test";
    std::string message = extra_headers + "From: Someone <someone@" + from_domain +
                          ">\r\nTo: alice@example.test\r\nSubject: hello\r\n"
                          "Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n\r\nHello.\r\n";
    if (sign) {
      auto signature = auth::signDkim(message, *sender_key_);
      EXPECT_TRUE(signature) << signature.error().message;
      message = *signature + message;
    }
    context.data = "Received: from client.good.test\r\n" + message;
    return context;
  }

  Verdict run(MessageContext& context) {
    AuthenticationStage stage(config_, resolver_, suffixes_,
                              [this](const auth::DmarcEvaluation& evaluation) {
                                recorded_.push_back(evaluation);
                              });
    return stage.process(context);
  }

  Config config_;
  testing::FakeResolver resolver_;
  std::shared_ptr<const auth::PublicSuffixList> suffixes_;
  std::unique_ptr<auth::DkimKey> sender_key_;
  std::vector<auth::DmarcEvaluation> recorded_;
};

TEST_F(AuthenticationStageTest, AlignedSignatureAndSpfPassProceedWithOneResultsField) {
  MessageContext context = inbound("good.test", true);
  Verdict verdict = run(context);
  EXPECT_EQ(verdict.kind, Verdict::Kind::proceed);
  ASSERT_EQ(fieldCount(context.data, "Authentication-Results"), 1u);
  auto parsed = auth::parseAuthenticationResults(fieldValue(context.data, "Authentication-Results"));
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->authserv_id, "mx.example.test");
  std::map<std::string, std::string> results;
  for (const auto& method : parsed->results) results[method.method] = method.result;
  EXPECT_EQ(results["spf"], "pass");
  EXPECT_EQ(results["dkim"], "pass");
  EXPECT_EQ(results["arc"], "none");
  EXPECT_EQ(results["dmarc"], "pass");
  ASSERT_TRUE(context.dmarc);
  EXPECT_TRUE(context.dmarc->dkim_aligned);
  ASSERT_EQ(recorded_.size(), 1u) << "good.test asks for aggregate reports";
  EXPECT_EQ(recorded_[0].header_from, "good.test");
  EXPECT_EQ(recorded_[0].source_ip, "192.0.2.1");
  ASSERT_FALSE(context.trace_notes.empty());
  EXPECT_EQ(context.trace_notes[0], "spf=pass dkim=pass/good.test arc=none dmarc=pass");
}

TEST_F(AuthenticationStageTest, ForgedResultsUnderOurIdAreRemovedOthersKept) {
  MessageContext context =
      inbound("good.test", false,
              "Authentication-Results: MX.example.test; dmarc=pass\r\n"
              "Authentication-Results: mx.example.test ; broken ((\r\n"
              "Authentication-Results: elsewhere.example; spf=pass\r\n");
  run(context);
  EXPECT_EQ(fieldCount(context.data, "Authentication-Results"), 2u);
  EXPECT_NE(context.data.find("elsewhere.example; spf=pass"), std::string::npos);
  EXPECT_EQ(context.data.find("MX.example.test; dmarc=pass"), std::string::npos) << context.data;
  EXPECT_EQ(context.data.find("broken (("), std::string::npos) << context.data;
}

TEST_F(AuthenticationStageTest, RejectPolicyRefusesWith550) {
  MessageContext context = inbound("reject.test");
  Verdict verdict = run(context);
  EXPECT_EQ(verdict.kind, Verdict::Kind::reject);
  EXPECT_EQ(verdict.reply.code, 550);
  EXPECT_EQ(verdict.reply.enhanced, "5.7.1");
  EXPECT_NE(verdict.reply.lines.front().find("dmarc=fail for reject.test"), std::string::npos);
}

TEST_F(AuthenticationStageTest, QuarantinePolicyQuarantines) {
  MessageContext context = inbound("quarantine.test");
  EXPECT_EQ(run(context).kind, Verdict::Kind::quarantine);
}

TEST_F(AuthenticationStageTest, LocalPolicyForPolicyNoneMarksSpam) {
  MessageContext plain = inbound("none.test");
  EXPECT_EQ(run(plain).kind, Verdict::Kind::proceed);
  EXPECT_EQ(fieldCount(plain.data, "X-Bulwark-Spam"), 0u) << "default: p=none only records";

  config_.authentication.dmarc_none_action = AuthenticationAction::spam;
  MessageContext marked = inbound("none.test");
  EXPECT_EQ(run(marked).kind, Verdict::Kind::proceed);
  EXPECT_TRUE(marked.spam);
  EXPECT_NE(fieldValue(marked.data, "X-Bulwark-Spam").find("yes"), std::string::npos);
}

TEST_F(AuthenticationStageTest, ConfiguredActionsReplaceThePublishedPolicy) {
  config_.authentication.dmarc_reject_action = AuthenticationAction::quarantine;
  MessageContext context = inbound("reject.test");
  EXPECT_EQ(run(context).kind, Verdict::Kind::quarantine);
}

TEST_F(AuthenticationStageTest, PerDomainOverrideWins) {
  config_.authentication.dmarc_overrides.push_back({"reject.test", AuthenticationAction::none, 1});
  MessageContext context = inbound("reject.test");
  EXPECT_EQ(run(context).kind, Verdict::Kind::proceed);
  EXPECT_EQ(context.dmarc->result, auth::DmarcResult::fail) << "the result is still recorded";
}

TEST_F(AuthenticationStageTest, AmbiguousAuthorIsRefusedByDefault) {
  MessageContext context = inbound("good.test", true, "From: ceo@reject.test\r\n");
  Verdict verdict = run(context);
  EXPECT_EQ(verdict.kind, Verdict::Kind::reject);
  EXPECT_NE(verdict.reason.find("ambiguous From"), std::string::npos);
}

TEST_F(AuthenticationStageTest, OurUsersMailIsNotChecked) {
  MessageContext context = inbound("reject.test");
  context.auth_user = "bob@example.test";
  EXPECT_EQ(run(context).kind, Verdict::Kind::proceed);
  EXPECT_EQ(fieldCount(context.data, "Authentication-Results"), 0u);
  MessageContext relayed = inbound("reject.test");
  relayed.relay_client = true;
  EXPECT_EQ(run(relayed).kind, Verdict::Kind::proceed);
}

TEST_F(AuthenticationStageTest, DnsTroubleFailsOpenWithTemperror) {
  resolver_.failing = {"reject.test", "_dmarc.reject.test"};
  MessageContext context = inbound("reject.test");
  EXPECT_EQ(run(context).kind, Verdict::Kind::proceed);
  EXPECT_EQ(context.spf->result, auth::SpfResult::temperror);
  EXPECT_EQ(context.dmarc->result, auth::DmarcResult::temperror);
}

TEST_F(AuthenticationStageTest, SpfFailActionQuotesTheDomainsExplanation) {
  config_.authentication.spf_fail_action = AuthenticationAction::reject;
  resolver_.txt_records["strict.test"] = {"v=spf1 -all exp=why.strict.test"};
  resolver_.txt_records["why.strict.test"] = {"Only our servers send for %{d}"};
  MessageContext context = inbound("strict.test");
  Verdict verdict = run(context);
  ASSERT_EQ(verdict.kind, Verdict::Kind::reject);
  EXPECT_NE(verdict.reply.lines.front().find("spf=fail for strict.test: Only our servers send for "
                                             "strict.test"),
            std::string::npos)
      << verdict.reply.lines.front();
}

TEST_F(AuthenticationStageTest, SpfTakenAtMailFromIsUsed) {
  MessageContext context = inbound("reject.test");
  auth::SpfOutcome earlier;
  earlier.result = auth::SpfResult::pass;
  earlier.identity = "mailfrom";
  earlier.domain = "reject.test";
  earlier.sender = context.sender;
  context.spf = earlier;
  EXPECT_EQ(run(context).kind, Verdict::Kind::proceed) << "aligned SPF pass from MAIL FROM";
}

class SigningStageTest : public AuthenticationStageTest {
 protected:
  void SetUp() override {
    AuthenticationStageTest::SetUp();
    directory_ = fs::temp_directory_path() /
                 ("bulwark-signing-" + std::to_string(::getpid()) + "-" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(directory_ / "example.test");
    for (const char* name : {"s1.key", "s2.key"}) {
      std::ofstream(directory_ / "example.test" / name) << newEd25519Pem();
      // The keyring skips keys others can read, as ssh does.
      fs::permissions(directory_ / "example.test" / name,
                      fs::perms::owner_read | fs::perms::owner_write);
    }
    keyring_ = std::make_shared<auth::DkimKeyring>(directory_);
  }
  void TearDown() override { fs::remove_all(directory_); }

  fs::path directory_;
  std::shared_ptr<auth::DkimKeyring> keyring_;
};

TEST_F(SigningStageTest, OurUsersMailIsSignedWithEveryKeyOfTheFromDomain) {
  MessageContext context = inbound("example.test");
  context.auth_user = "someone@example.test";
  SigningStage stage(config_, resolver_, keyring_);
  EXPECT_EQ(stage.process(context).kind, Verdict::Kind::proceed);
  EXPECT_EQ(fieldCount(context.data, "DKIM-Signature"), 2u);
  for (const auto& key : keyring_->keysFor("example.test")) {
    resolver_.txt_records[key.selector() + "._domainkey.example.test"] = {key.dnsRecord()};
  }
  auto results = auth::verifyDkim(resolver_, context.data);
  ASSERT_EQ(results.size(), 2u);
  for (const auto& result : results) {
    EXPECT_EQ(result.result, auth::DkimResult::pass) << result.reason;
  }
}

TEST_F(SigningStageTest, StrangersMailIsNeverSigned) {
  MessageContext context = inbound("example.test");
  SigningStage stage(config_, resolver_, keyring_);
  stage.process(context);
  EXPECT_EQ(fieldCount(context.data, "DKIM-Signature"), 0u);
}

TEST_F(SigningStageTest, SigningCanBeTurnedOff) {
  config_.authentication.dkim_sign = false;
  MessageContext context = inbound("example.test");
  context.relay_client = true;
  SigningStage(config_, resolver_, keyring_).process(context);
  EXPECT_EQ(fieldCount(context.data, "DKIM-Signature"), 0u);
}

TEST_F(SigningStageTest, ForwardedMailFromOutsideIsArcSealedWhenConfigured) {
  config_.authentication.arc_seal_domain = "example.test";
  config_.authentication.arc_seal_selector = "s1";
  MessageContext context = inbound("good.test", true);
  context.forwarded = true;
  run(context);  // the authentication stage first, as in serve
  SigningStage(config_, resolver_, keyring_).process(context);
  EXPECT_EQ(fieldCount(context.data, "ARC-Seal"), 1u);
  EXPECT_EQ(fieldCount(context.data, "ARC-Message-Signature"), 1u);
  EXPECT_NE(fieldValue(context.data, "ARC-Authentication-Results").find("dmarc=pass"),
            std::string::npos);
  for (const auto& key : keyring_->keysFor("example.test")) {
    resolver_.txt_records[key.selector() + "._domainkey.example.test"] = {key.dnsRecord()};
  }
  EXPECT_EQ(auth::validateArc(resolver_, context.data).result, auth::ArcResult::pass);

  MessageContext local = inbound("good.test", true);
  SigningStage(config_, resolver_, keyring_).process(local);
  EXPECT_EQ(fieldCount(local.data, "ARC-Seal"), 0u) << "stored here: not forwarded";
}

TEST_F(SigningStageTest, PassingArcChainOfATrustedSealerOverridesADmarcFailure) {
  // A forwarder (example.test) seals mail from reject.test that fails DMARC at the next hop
  // (SPF -all, no signature): RFC 8617 7.2 lets a trusted sealer vouch for it.
  config_.authentication.arc_seal_domain = "example.test";
  config_.authentication.arc_seal_selector = "s1";
  MessageContext forwarded = inbound("reject.test");
  forwarded.forwarded = true;
  SigningStage(config_, resolver_, keyring_).process(forwarded);
  ASSERT_EQ(fieldCount(forwarded.data, "ARC-Seal"), 1u);
  for (const auto& key : keyring_->keysFor("example.test")) {
    resolver_.txt_records[key.selector() + "._domainkey.example.test"] = {key.dnsRecord()};
  }

  MessageContext untrusted = inbound("reject.test");
  untrusted.data = forwarded.data;
  EXPECT_EQ(run(untrusted).kind, Verdict::Kind::reject) << "no sealer is trusted by default";
  ASSERT_TRUE(untrusted.arc);
  EXPECT_EQ(untrusted.arc->result, auth::ArcResult::pass);

  config_.authentication.trusted_arc_sealers = {"other.test", "EXAMPLE.test"};
  MessageContext trusted = inbound("reject.test");
  trusted.data = forwarded.data;
  EXPECT_EQ(run(trusted).kind, Verdict::Kind::proceed);
  ASSERT_TRUE(trusted.dmarc);
  EXPECT_EQ(trusted.dmarc->result, auth::DmarcResult::fail) << "recorded as it is";
  EXPECT_EQ(trusted.trace_notes.back(), "dmarc_override=arc:EXAMPLE.test");

  config_.authentication.trusted_arc_sealers = {"other.test"};
  MessageContext other = inbound("reject.test");
  other.data = forwarded.data;
  EXPECT_EQ(run(other).kind, Verdict::Kind::reject) << "only the newest seal's domain counts";
}

}  // namespace
}  // namespace bulwark::pipeline
