// [authentication] and [[dmarc_override]]: every key read, bad values named with line, column
// and the fix.
#include "config_test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace bulwark {
namespace {

TEST(AuthenticationConfig, DefaultsVerifyRejectQuarantineAndSign) {
  ConfigLoad loaded = load("");
  ASSERT_TRUE(loaded.ok());
  const AuthenticationSettings& settings = loaded.config.authentication;
  EXPECT_TRUE(settings.verify);
  EXPECT_TRUE(settings.dkim_sign);
  EXPECT_EQ(settings.dmarc_reject_action, AuthenticationAction::reject);
  EXPECT_EQ(settings.dmarc_quarantine_action, AuthenticationAction::quarantine);
  EXPECT_EQ(settings.dmarc_none_action, AuthenticationAction::none);
  EXPECT_EQ(settings.ambiguous_from_action, AuthenticationAction::reject);
  EXPECT_EQ(settings.spf_fail_action, AuthenticationAction::none);
  EXPECT_TRUE(settings.arc_seal_domain.empty());
  EXPECT_EQ(loaded.config.authservId(), loaded.config.hostname);
}

TEST(AuthenticationConfig, EveryKeyIsRead) {
  ConfigLoad loaded = load(R"(hostname = "mx.example.com"
[authentication]
verify = false
authserv_id = "Gateway.Example.com"
public_suffix_list = "/etc/psl.dat"
dmarc_reject_action = "quarantine"
dmarc_quarantine_action = "spam"
dmarc_none_action = "spam"
ambiguous_from_action = "quarantine"
spf_fail_action = "reject"
trusted_arc_sealers = ["Lists.Example.org"]
dkim_sign = false
arc_seal_domain = "example.com"
arc_seal_selector = "arc2026"

[[dmarc_override]]
domain = "Partner.example"
action = "none"

[[dmarc_override]]
domain = "other.example"
action = "spam"
)");
  ASSERT_TRUE(loaded.ok()) << formatProblems("test.toml", loaded.problems);
  const AuthenticationSettings& settings = loaded.config.authentication;
  EXPECT_FALSE(settings.verify);
  EXPECT_FALSE(settings.dkim_sign);
  EXPECT_EQ(loaded.config.authservId(), "gateway.example.com");
  EXPECT_EQ(settings.public_suffix_list, "/etc/psl.dat");
  EXPECT_EQ(settings.dmarc_reject_action, AuthenticationAction::quarantine);
  EXPECT_EQ(settings.dmarc_quarantine_action, AuthenticationAction::spam);
  EXPECT_EQ(settings.dmarc_none_action, AuthenticationAction::spam);
  EXPECT_EQ(settings.ambiguous_from_action, AuthenticationAction::quarantine);
  EXPECT_EQ(settings.spf_fail_action, AuthenticationAction::reject);
  EXPECT_EQ(settings.trusted_arc_sealers, std::vector<std::string>{"lists.example.org"});
  EXPECT_EQ(settings.arc_seal_domain, "example.com");
  EXPECT_EQ(settings.arc_seal_selector, "arc2026");
  ASSERT_EQ(settings.dmarc_overrides.size(), 2u);
  ASSERT_NE(settings.overrideFor("PARTNER.example"), nullptr);
  EXPECT_EQ(settings.overrideFor("partner.example")->action, AuthenticationAction::none);
  EXPECT_EQ(settings.overrideFor("other.example")->action, AuthenticationAction::spam);
  EXPECT_EQ(settings.overrideFor("third.example"), nullptr);
}

TEST(AuthenticationConfig, BadValuesNameTheFix) {
  expectProblem("[authentication]\ndmarc_reject_action = \"drop\"\n", 2, 23,
                "use one of none, spam, quarantine, reject");
  expectProblem("[authentication]\nverify = \"yes\"\n", 2, 10, "write true or false");
  expectProblem("[authentication]\nauthserv_id = \"not a name\"\n", 2, 15, "authserv_id");
  expectProblem("[authentication]\narc_seal_domain = \"example.com\"\n", 2, 19,
                "arc_seal_domain and arc_seal_selector go together");
  expectProblem("[authentication]\narc_seal_domain = \"example.com\"\narc_seal_selector = \"a b\"\n",
                3, 21, "is not a selector");
  // The keyring loads only keys whose selector DkimKey accepts: the configuration refuses the
  // rest rather than leave the server looking for a key it can never load.
  const std::string sealing = "[authentication]\narc_seal_domain = \"example.com\"\n";
  for (const std::string& selector :
       std::vector<std::string>{"arc_1", "a..b", "-arc", "arc-", ".arc", std::string(64, 'a')}) {
    expectProblem(sealing + "arc_seal_selector = \"" + selector + "\"\n", 3, 21,
                  "is not a selector");
  }
  for (const std::string& selector :
       std::vector<std::string>{"20260101", "arc.2026", std::string(63, 'a')}) {
    EXPECT_TRUE(load(sealing + "arc_seal_selector = \"" + selector + "\"\n").ok()) << selector;
  }
  expectProblem("[authentication]\ntrusted_arc_sealers = [\"*.example.org\"]\n", 2, 24,
                "trusted_arc_sealers[1]");
  expectProblem("[authentication]\ndmarc_policy = \"reject\"\n", 2, 1, "unknown key");
  expectProblem("dkim_sign = true\n", 1, 1, "it belongs in the [authentication] table");
}

TEST(AuthenticationConfig, OverridesNeedDomainAndActionOnce) {
  expectProblem("[[dmarc_override]]\naction = \"none\"\n", 1, 1, "domain is missing");
  expectProblem("[[dmarc_override]]\ndomain = \"a.example\"\n", 1, 1, "action is missing");
  expectProblem("[[dmarc_override]]\ndomain = \"a.example\"\naction = \"allow\"\n", 3, 10,
                "is not an action");
  expectProblem(
      "[[dmarc_override]]\ndomain = \"a.example\"\naction = \"none\"\n"
      "[[dmarc_override]]\ndomain = \"A.example\"\naction = \"spam\"\n",
      5, 10, "already has an override at line 1");
}

}  // namespace
}  // namespace bulwark
