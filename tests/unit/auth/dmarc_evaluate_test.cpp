// evaluateDmarc (RFC 7489 6.6) over a fake resolver: discovery at the author and the
// Organizational Domain, record selection, p/sp/np, alignment, pct sampling, DNS failures and
// ambiguous authors.
#include "auth/dmarc.h"

#include "support/fake_resolver.h"

#include <gtest/gtest.h>

namespace bulwark::auth {
namespace {

class DmarcEvaluate : public ::testing::Test {
 protected:
  PublicSuffixList suffixes_ = PublicSuffixList::fromText("com\norg\nco.uk\nuk\n");
  testing::FakeResolver resolver_;

  static DmarcInput input(std::string author_domain) {
    DmarcInput input;
    input.author.status = AuthorDomain::Status::single;
    input.author.domain = std::move(author_domain);
    return input;
  }
  static DkimSignatureResult signature(std::string domain, DkimResult result) {
    DkimSignatureResult signature;
    signature.domain = std::move(domain);
    signature.result = result;
    return signature;
  }
  static DmarcOptions sampleAt(unsigned value) {
    DmarcOptions options;
    options.sample = [value] { return value; };
    return options;
  }
};

TEST_F(DmarcEvaluate, AlignedSpfPasses) {
  resolver_.txt_records["_dmarc.example.com"] = {"v=DMARC1; p=reject"};
  DmarcInput in = input("example.com");
  in.spf = SpfResult::pass;
  in.spf_domain = "bounces.example.com";
  DmarcOutcome outcome = evaluateDmarc(resolver_, suffixes_, in);
  EXPECT_EQ(outcome.result, DmarcResult::pass);
  EXPECT_TRUE(outcome.spf_aligned);
  EXPECT_FALSE(outcome.dkim_aligned);
  EXPECT_EQ(outcome.record_domain, "example.com");
  EXPECT_EQ(outcome.policy, DmarcPolicy::reject);
  EXPECT_EQ(outcome.disposition, DmarcPolicy::none);
}

TEST_F(DmarcEvaluate, StrictSpfNeedsTheSameName) {
  resolver_.txt_records["_dmarc.example.com"] = {"v=DMARC1; p=reject; aspf=s"};
  DmarcInput in = input("example.com");
  in.spf = SpfResult::pass;
  in.spf_domain = "bounces.example.com";
  DmarcOutcome outcome = evaluateDmarc(resolver_, suffixes_, in);
  EXPECT_EQ(outcome.result, DmarcResult::fail);
  EXPECT_EQ(outcome.disposition, DmarcPolicy::reject);
}

TEST_F(DmarcEvaluate, SpfAlignsOnlyOnPass) {
  resolver_.txt_records["_dmarc.example.com"] = {"v=DMARC1; p=quarantine"};
  DmarcInput in = input("example.com");
  in.spf = SpfResult::softfail;
  in.spf_domain = "example.com";
  DmarcOutcome outcome = evaluateDmarc(resolver_, suffixes_, in);
  EXPECT_EQ(outcome.result, DmarcResult::fail);
  EXPECT_FALSE(outcome.spf_aligned);
  EXPECT_EQ(outcome.disposition, DmarcPolicy::quarantine);
}

TEST_F(DmarcEvaluate, DkimAnyPassingAlignedSignature) {
  resolver_.txt_records["_dmarc.example.com"] = {"v=DMARC1; p=reject; adkim=s"};
  DmarcInput in = input("example.com");
  in.dkim = {signature("example.com", DkimResult::fail), signature("esp.example", DkimResult::pass),
             signature("example.com", DkimResult::pass)};
  DmarcOutcome outcome = evaluateDmarc(resolver_, suffixes_, in);
  EXPECT_EQ(outcome.result, DmarcResult::pass);
  EXPECT_TRUE(outcome.dkim_aligned);
  EXPECT_EQ(outcome.dkim_domain, "example.com");

  in.dkim = {signature("mail.example.com", DkimResult::pass)};  // relaxed only
  outcome = evaluateDmarc(resolver_, suffixes_, in);
  EXPECT_EQ(outcome.result, DmarcResult::fail);
  EXPECT_EQ(outcome.dkim_domain, "mail.example.com");
}

TEST_F(DmarcEvaluate, OrganizationalRecordAndSubdomainPolicy) {
  resolver_.txt_records["_dmarc.example.co.uk"] = {"v=DMARC1; p=reject; sp=quarantine"};
  resolver_.address_records["mail.example.co.uk"] = {"192.0.2.1"};
  DmarcOutcome outcome = evaluateDmarc(resolver_, suffixes_, input("mail.example.co.uk"));
  EXPECT_EQ(outcome.organizational_domain, "example.co.uk");
  EXPECT_EQ(outcome.record_domain, "example.co.uk");
  EXPECT_EQ(outcome.policy, DmarcPolicy::quarantine);
  EXPECT_EQ(outcome.result, DmarcResult::fail);
}

TEST_F(DmarcEvaluate, NonexistentSubdomainPolicy) {
  resolver_.txt_records["_dmarc.example.com"] = {"v=DMARC1; p=none; sp=quarantine; np=reject"};
  DmarcOutcome ghost = evaluateDmarc(resolver_, suffixes_, input("ghost.example.com"));
  EXPECT_EQ(ghost.policy, DmarcPolicy::reject);
  resolver_.mx_records["real.example.com"] = {{10, "mx.example.com"}};
  DmarcOutcome real = evaluateDmarc(resolver_, suffixes_, input("real.example.com"));
  EXPECT_EQ(real.policy, DmarcPolicy::quarantine);
  resolver_.failing.insert("unknown.example.com");  // not proven absent: sp
  DmarcOutcome unknown = evaluateDmarc(resolver_, suffixes_, input("unknown.example.com"));
  EXPECT_EQ(unknown.policy, DmarcPolicy::quarantine);
}

TEST_F(DmarcEvaluate, RecordSelection) {
  resolver_.txt_records["_dmarc.example.com"] = {"v=spf1 -all", "v=DMARC1; p=reject"};
  EXPECT_EQ(evaluateDmarc(resolver_, suffixes_, input("example.com")).result, DmarcResult::fail);
  resolver_.txt_records["_dmarc.example.com"] = {"v=DMARC1; p=reject", "v=DMARC1; p=none"};
  DmarcOutcome two = evaluateDmarc(resolver_, suffixes_, input("example.com"));
  EXPECT_EQ(two.result, DmarcResult::none);
  EXPECT_EQ(two.reason, "2 DMARC records at _dmarc.example.com");
  resolver_.txt_records["_dmarc.example.com"] = {"v=DMARC1; p=bogus"};
  DmarcOutcome discarded = evaluateDmarc(resolver_, suffixes_, input("example.com"));
  EXPECT_EQ(discarded.result, DmarcResult::none);
  EXPECT_FALSE(discarded.record);
  // The author's own record hides the organizational one, even when it is not usable.
  resolver_.txt_records["_dmarc.example.com"] = {"v=DMARC1; p=reject"};
  resolver_.txt_records["_dmarc.org.example.com"] = {"v=DMARC1; p=bogus"};
  EXPECT_EQ(evaluateDmarc(resolver_, suffixes_, input("org.example.com")).result,
            DmarcResult::none);
}

TEST_F(DmarcEvaluate, NoRecordIsNone) {
  DmarcOutcome outcome = evaluateDmarc(resolver_, suffixes_, input("a.nothing.com"));
  EXPECT_EQ(outcome.result, DmarcResult::none);
  EXPECT_EQ(outcome.reason, "no DMARC record");
}

TEST_F(DmarcEvaluate, TemporaryFailures) {
  resolver_.failing.insert("_dmarc.example.com");
  EXPECT_EQ(evaluateDmarc(resolver_, suffixes_, input("example.com")).result,
            DmarcResult::temperror);
  EXPECT_EQ(evaluateDmarc(resolver_, suffixes_, input("sub.example.com")).result,
            DmarcResult::temperror);  // at the organizational step
  resolver_.bogus.insert("_dmarc.signed.com");
  EXPECT_EQ(evaluateDmarc(resolver_, suffixes_, input("signed.com")).result,
            DmarcResult::temperror);
}

TEST_F(DmarcEvaluate, PercentSampling) {
  resolver_.txt_records["_dmarc.example.com"] = {"v=DMARC1; p=reject; pct=30"};
  EXPECT_EQ(evaluateDmarc(resolver_, suffixes_, input("example.com"), sampleAt(29)).disposition,
            DmarcPolicy::reject);
  DmarcOutcome spared = evaluateDmarc(resolver_, suffixes_, input("example.com"), sampleAt(30));
  EXPECT_EQ(spared.policy, DmarcPolicy::reject);
  EXPECT_EQ(spared.disposition, DmarcPolicy::quarantine);
  resolver_.txt_records["_dmarc.example.com"] = {"v=DMARC1; p=quarantine; pct=0"};
  EXPECT_EQ(evaluateDmarc(resolver_, suffixes_, input("example.com"), sampleAt(0)).disposition,
            DmarcPolicy::none);
  // Without a fixed sample, pct=50 applies the policy to some messages and not to others.
  resolver_.txt_records["_dmarc.example.com"] = {"v=DMARC1; p=reject; pct=50"};
  int rejected = 0;
  for (int index = 0; index < 400; ++index) {
    if (evaluateDmarc(resolver_, suffixes_, input("example.com")).disposition ==
        DmarcPolicy::reject) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 100);
  EXPECT_LT(rejected, 300);
}

TEST_F(DmarcEvaluate, AmbiguousOrMissingAuthorIsPermerror) {
  DmarcInput in;
  in.author = authorDomain("From: a@good.com\r\nFrom: b@evil.com\r\n\r\n");
  DmarcOutcome outcome = evaluateDmarc(resolver_, suffixes_, in);
  EXPECT_EQ(outcome.result, DmarcResult::permerror);
  EXPECT_EQ(outcome.policy, DmarcPolicy::reject);
  EXPECT_EQ(outcome.reason, "2 From fields");
  in.author = authorDomain("Sender: a@good.com\r\n\r\n");
  EXPECT_EQ(evaluateDmarc(resolver_, suffixes_, in).result, DmarcResult::permerror);
}

TEST_F(DmarcEvaluate, Alignment) {
  EXPECT_TRUE(domainsAligned(suffixes_, "example.com", "EXAMPLE.com.", true));
  EXPECT_TRUE(domainsAligned(suffixes_, "a.example.com", "b.example.com", false));
  EXPECT_FALSE(domainsAligned(suffixes_, "a.example.com", "b.example.com", true));
  EXPECT_FALSE(domainsAligned(suffixes_, "a.co.uk", "b.co.uk", false));
  EXPECT_FALSE(domainsAligned(suffixes_, "example.com", "", false));
  EXPECT_FALSE(domainsAligned(suffixes_, ".example.com", "example.com", true));
}

}  // namespace
}  // namespace bulwark::auth
