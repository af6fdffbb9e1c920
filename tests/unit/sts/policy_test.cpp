// Tests of the MTA-STS parsers (RFC 8461 3.1 TXT record, 3.2 policy file) and of the MX pattern
// match (4.1), with good and bad texts.
#include "sts/policy.h"

#include <gtest/gtest.h>

namespace bulwark::sts {
namespace {

TEST(StsTxtRecord, AcceptsTheRfcExamplesAndExtensions) {
  auto record = parseTxtRecord("v=STSv1; id=20160831085700Z;");
  ASSERT_TRUE(record.has_value()) << record.error().message;
  EXPECT_EQ(record->id, "20160831085700Z");
  EXPECT_EQ(parseTxtRecord("v=STSv1;id=abc").value().id, "abc");
  EXPECT_EQ(parseTxtRecord("v=STSv1;\tid=abc ;  ").value().id, "abc");
  EXPECT_EQ(parseTxtRecord("v=STSv1; ext_1=x:y; id=abc").value().id, "abc");
  // The first id counts.
  EXPECT_EQ(parseTxtRecord("v=STSv1; id=first; id=second").value().id, "first");
  EXPECT_EQ(parseTxtRecord("v=STSv1; id=" + std::string(32, 'a')).value().id, std::string(32, 'a'));
}

TEST(StsTxtRecord, RefusesWhatTheGrammarDoesNotAllow) {
  for (const std::string& bad : std::vector<std::string>{
           "", "v=STSv1", "v=STSv1;", "v=STSv1; ", "v=stsv1; id=abc", "v=STSv2; id=abc",
           "id=abc; v=STSv1", "v=STSv1 id=abc", "v=STSv1; id=", "v=STSv1; id=has-dash",
           "v=STSv1; id=" + std::string(33, 'a'), "v=STSv1; ID=abc", "v=STSv1;; id=abc",
           "v=STSv1; ext=1", "v=STSv1; id=abc; =x", "v=STSv1; id=abc; e=a b",
           "v=STSv1; id=abc; noequals", "v=STSv1; id=abc; e=x=y"}) {
    SCOPED_TRACE(bad);
    auto record = parseTxtRecord(bad);
    ASSERT_FALSE(record.has_value());
    EXPECT_EQ(record.error().code, "syntax");
  }
}

TEST(StsTxtRecord, SelectionKeepsOnlyRecordsStartingWithTheVersion) {
  EXPECT_EQ(selectTxtRecord({"v=spf1 -all", "v=STSv1; id=one"}).value().id, "one");
  EXPECT_FALSE(selectTxtRecord({}).has_value());
  EXPECT_FALSE(selectTxtRecord({"v=spf1 -all"}).has_value());
  // Two candidates: the domain has no usable record (3.1), even when both are valid.
  auto two = selectTxtRecord({"v=STSv1; id=one", "v=STSv1; id=two"});
  ASSERT_FALSE(two.has_value());
  EXPECT_NE(two.error().message.find("exactly one"), std::string::npos);
  // The one candidate must parse.
  EXPECT_FALSE(selectTxtRecord({"v=STSv1; id=bad!"}).has_value());
  // Without the ";" right after the version it is not a candidate.
  EXPECT_FALSE(selectTxtRecord({"v=STSv1 ; id=one"}).has_value());
}

TEST(StsPolicy, ParsesTheRfcExampleWithCrlfOrLf) {
  const std::string crlf =
      "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\n"
      "mx: backupmx.example.com\r\nmax_age: 604800\r\n";
  for (const std::string& text : {crlf, std::string("version: STSv1\nmode: enforce\n"
                                                    "mx: mail.example.com\nmx: *.example.net\n"
                                                    "mx: backupmx.example.com\nmax_age: 604800")}) {
    auto policy = parsePolicy(text);
    ASSERT_TRUE(policy.has_value()) << policy.error().message;
    EXPECT_EQ(policy->mode, Mode::enforce);
    EXPECT_EQ(policy->max_age_seconds, 604800u);
    EXPECT_EQ(policy->mx, (std::vector<std::string>{"mail.example.com", "*.example.net",
                                                    "backupmx.example.com"}));
  }
}

TEST(StsPolicy, ModesUnknownKeysDuplicatesAndWhitespace) {
  auto testing = parsePolicy(
      "version:STSv1\nmode:\ttesting  \nmx: MX.Example.COM\nmax_age: 0\n"
      "future_key: some value with spaces\n\n");
  ASSERT_TRUE(testing.has_value()) << testing.error().message;
  EXPECT_EQ(testing->mode, Mode::testing);
  EXPECT_EQ(testing->max_age_seconds, 0u);
  EXPECT_EQ(testing->mx, std::vector<std::string>{"mx.example.com"});  // lower-cased

  // mode none needs no mx.
  auto none = parsePolicy("version: STSv1\nmode: none\nmax_age: 86400\n");
  ASSERT_TRUE(none.has_value()) << none.error().message;
  EXPECT_EQ(none->mode, Mode::none);
  EXPECT_TRUE(none->mx.empty());

  // A key given twice: the first counts (mx accumulates).
  auto twice = parsePolicy(
      "version: STSv1\nmode: testing\nmode: enforce\nmx: a.test\n"
      "mx: a.test\nmax_age: 10\nmax_age: 20\n");
  ASSERT_TRUE(twice.has_value()) << twice.error().message;
  EXPECT_EQ(twice->mode, Mode::testing);
  EXPECT_EQ(twice->max_age_seconds, 10u);
  EXPECT_EQ(twice->mx, std::vector<std::string>{"a.test"});

  auto maximum = parsePolicy("version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 31557600\n");
  ASSERT_TRUE(maximum.has_value());
  EXPECT_EQ(maximum->max_age_seconds, kMaximumPolicyAgeSeconds);
}

TEST(StsPolicy, RefusesBadPolicies) {
  const std::string valid_rest = "mx: mx.example.com\nmax_age: 86400\n";
  struct Case {
    std::string text;
    std::string says;
  };
  for (const Case& bad : {
           Case{"mode: enforce\n" + valid_rest, "no version"},
           Case{"version: STSv2\nmode: enforce\n" + valid_rest, "version must be STSv1"},
           Case{"version: stsv1\nmode: enforce\n" + valid_rest, "version must be STSv1"},
           Case{"version: STSv1\n" + valid_rest, "no mode"},
           Case{"version: STSv1\nmode: Enforce\n" + valid_rest, "not enforce, testing or none"},
           Case{"version: STSv1\nmode: enforce\nmx: a.test\n", "no max_age"},
           Case{"version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 31557601\n", "up to"},
           Case{"version: STSv1\nmode: enforce\nmx: a.test\nmax_age: -1\n", "max_age"},
           Case{"version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 12345678901\n", "max_age"},
           Case{"version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 1d\n", "max_age"},
           Case{"version: STSv1\nmode: enforce\nmax_age: 86400\n", "lists no mx"},
           Case{"version: STSv1\nmode: testing\nmax_age: 86400\n", "lists no mx"},
           Case{"version: STSv1\nmode: enforce\nmx: *\nmax_age: 86400\n", "not a host name"},
           Case{"version: STSv1\nmode: enforce\nmx: a.*.test\nmax_age: 86400\n", "not a host name"},
           Case{"version: STSv1\nmode: enforce\nmx: *.*.test\nmax_age: 86400\n", "not a host name"},
           Case{"version: STSv1\nmode: enforce\nmx: -a.test\nmax_age: 86400\n", "not a host name"},
           Case{"version: STSv1\nmode: enforce\nmx: a..test\nmax_age: 86400\n", "not a host name"},
           Case{"version: STSv1\nmode: enforce\nmx: a.test.\nmax_age: 86400\n", "not a host name"},
           Case{"version: STSv1\nmode enforce\n" + valid_rest, "line 2: not \"key: value\""},
           Case{"version: STSv1\nmode:\n" + valid_rest, "empty or malformed"},
           Case{"version: STSv1\nmo de: enforce\n" + valid_rest, "is not a key"},
           Case{"version: STSv1\nmode: enforce\x01\n" + valid_rest, "malformed"},
           Case{"<html>not a policy</html>", "line 1"},
       }) {
    SCOPED_TRACE(bad.text);
    auto policy = parsePolicy(bad.text);
    ASSERT_FALSE(policy.has_value());
    EXPECT_EQ(policy.error().code, "syntax");
    EXPECT_NE(policy.error().message.find(bad.says), std::string::npos) << policy.error().message;
  }
}

TEST(StsMxPattern, ExactNamesAndOneLeftmostLabelWildcards) {
  EXPECT_TRUE(mxPatternMatches("mx.example.com", "mx.example.com"));
  EXPECT_TRUE(mxPatternMatches("mx.example.com", "MX.Example.Com."));
  EXPECT_FALSE(mxPatternMatches("mx.example.com", "mx2.example.com"));
  EXPECT_FALSE(mxPatternMatches("mx.example.com", "a.mx.example.com"));
  EXPECT_TRUE(mxPatternMatches("*.example.com", "mx.example.com"));
  EXPECT_TRUE(mxPatternMatches("*.Example.com", "MX.example.COM"));
  EXPECT_FALSE(mxPatternMatches("*.example.com", "example.com"));
  EXPECT_FALSE(mxPatternMatches("*.example.com", "a.b.example.com"));
  EXPECT_FALSE(mxPatternMatches("*.example.com", ".example.com"));
  EXPECT_FALSE(mxPatternMatches("*.example.com", "mxexample.com"));
  EXPECT_FALSE(mxPatternMatches("*.example.com", ""));

  Policy policy;
  policy.mx = {"mail.example.com", "*.example.net"};
  EXPECT_TRUE(policyAllowsHost(policy, "mail.example.com"));
  EXPECT_TRUE(policyAllowsHost(policy, "mx1.example.net"));
  EXPECT_FALSE(policyAllowsHost(policy, "mx1.example.org"));
  EXPECT_FALSE(policyAllowsHost(Policy{}, "mail.example.com"));
}

}  // namespace
}  // namespace bulwark::sts
