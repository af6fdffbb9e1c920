// check_host() and the identities (src/auth/spf.h) over FakeResolver: record selection and DNS
// failures (RFC 7208 4.4, 4.5), each limit of 4.6.4 at and past its value (defaults and set by
// the caller), include/redirect (5.2, 6.1), explanations (6.2), ptr and %{p} (5.5, 7.3), and the
// HELO and MAIL FROM identities (2.3, 2.4).
#include <gtest/gtest.h>

#include <string>

#include "auth/spf.h"
#include "support/fake_resolver.h"

namespace bulwark::auth {
namespace {

using testing::FakeResolver;

SpfRequest request(std::string client, std::string sender = "user@example.com",
                   std::string helo = "mail.example.net") {
  SpfRequest value;
  value.client_address = std::move(client);
  value.sender = std::move(sender);
  value.helo = std::move(helo);
  value.receiver = "mx.receiver.test";
  return value;
}

SpfResult resultFor(FakeResolver& resolver, const std::string& record,
                    const std::string& client = "192.0.2.1", const SpfLimits& limits = {}) {
  resolver.txt_records["example.com"] = {record};
  return checkSender(resolver, request(client), limits).result;
}

TEST(SpfCheck, RecordSelection) {
  FakeResolver resolver;
  EXPECT_EQ(checkSender(resolver, request("192.0.2.1")).result, SpfResult::none);  // NXDOMAIN
  resolver.txt_records["example.com"] = {"some verification token", "v=spf10 +all"};
  EXPECT_EQ(checkSender(resolver, request("192.0.2.1")).result, SpfResult::none);
  resolver.txt_records["example.com"] = {"v=spf1 +all", "V=SPF1 -all"};
  auto two = checkSender(resolver, request("192.0.2.1"));
  EXPECT_EQ(two.result, SpfResult::permerror);
  EXPECT_NE(two.problem.find("more than one"), std::string::npos);
  resolver.txt_records["example.com"] = {"token", "v=spf1 ip4:192.0.2.0/24 -all"};
  auto pass = checkSender(resolver, request("192.0.2.1"));
  EXPECT_EQ(pass.result, SpfResult::pass);
  EXPECT_EQ(pass.mechanism, "ip4:192.0.2.0/24");
  EXPECT_EQ(pass.identity, "mailfrom");
  EXPECT_EQ(pass.domain, "example.com");
  EXPECT_EQ(pass.sender, "user@example.com");
  resolver.txt_records["example.com"] = {"v=spf1 a:example.com:8080 -all"};
  EXPECT_EQ(checkSender(resolver, request("192.0.2.1")).result, SpfResult::permerror);
  // Well-formed, but names nothing DNS can ask about: no match, not an error.
  resolver.txt_records["example.com"] = {"v=spf1 a:bad..name -all"};
  EXPECT_EQ(checkSender(resolver, request("192.0.2.1")).result, SpfResult::fail);
}

TEST(SpfCheck, DnsFailuresAreTemperror) {
  FakeResolver resolver;
  resolver.failing.insert("example.com");
  auto outcome = checkSender(resolver, request("192.0.2.1"));
  EXPECT_EQ(outcome.result, SpfResult::temperror);
  EXPECT_FALSE(outcome.problem.empty());
  FakeResolver bogus;
  bogus.bogus.insert("example.com");
  EXPECT_EQ(checkSender(bogus, request("192.0.2.1")).result, SpfResult::temperror);
  FakeResolver deeper;
  deeper.failing.insert("host.example.com");
  EXPECT_EQ(resultFor(deeper, "v=spf1 a:host.example.com -all"), SpfResult::temperror);
}

TEST(SpfCheck, QualifiersAndDefault) {
  FakeResolver resolver;
  EXPECT_EQ(resultFor(resolver, "v=spf1 -all"), SpfResult::fail);
  EXPECT_EQ(resultFor(resolver, "v=spf1 ~all"), SpfResult::softfail);
  EXPECT_EQ(resultFor(resolver, "v=spf1 ?all"), SpfResult::neutral);
  EXPECT_EQ(resultFor(resolver, "v=spf1 ip4:198.51.100.0/24"), SpfResult::neutral);
  auto outcome = checkSender(resolver, request("192.0.2.1"));
  EXPECT_EQ(outcome.mechanism, "default");
}

TEST(SpfCheck, AddressMechanismsLookAtTheClientFamilyOnly) {
  FakeResolver resolver;
  resolver.address_records["host.example.com"] = {"192.0.2.10", "2001:db8::10"};
  resolver.address_records["v6only.example.com"] = {"2001:db8::20"};
  const std::string record = "v=spf1 a:host.example.com/24 -all";
  EXPECT_EQ(resultFor(resolver, record, "192.0.2.99"), SpfResult::pass);
  EXPECT_EQ(resultFor(resolver, record, "2001:db8::99"), SpfResult::fail);  // /24 is IPv4's
  EXPECT_EQ(resultFor(resolver, "v=spf1 a:host.example.com//64 -all", "2001:db8::99"),
            SpfResult::pass);
  // An IPv4-mapped IPv6 client is an IPv4 client.
  EXPECT_EQ(resultFor(resolver, record, "::ffff:192.0.2.10"), SpfResult::pass);
  EXPECT_EQ(resultFor(resolver, "v=spf1 ip6:2001:db8::/32 -all", "192.0.2.10"), SpfResult::fail);
  // exists asks for A even for an IPv6 client (5.7).
  EXPECT_EQ(resultFor(resolver, "v=spf1 exists:v6only.example.com -all", "2001:db8::20"),
            SpfResult::fail);
  EXPECT_EQ(resultFor(resolver, "v=spf1 exists:host.example.com -all", "2001:db8::20"),
            SpfResult::pass);
}

TEST(SpfCheck, DnsMechanismLimitAtAndPast) {
  FakeResolver resolver;
  for (int index = 1; index <= 11; ++index) {
    resolver.txt_records["i" + std::to_string(index) + ".example.com"] = {"v=spf1 ?all"};
  }
  std::string ten = "v=spf1";
  for (int index = 1; index <= 10; ++index)
    ten += " include:i" + std::to_string(index) + ".example.com";
  EXPECT_EQ(resultFor(resolver, ten + " -all"), SpfResult::fail);
  EXPECT_EQ(resultFor(resolver, ten + " include:i11.example.com -all"), SpfResult::permerror);
  // The redirect counts too.
  resolver.txt_records["target.example.com"] = {"v=spf1 +all"};
  EXPECT_EQ(resultFor(resolver, ten + " redirect=target.example.com"), SpfResult::permerror);
  SpfLimits limits;
  limits.dns_mechanisms = 2;
  EXPECT_EQ(resultFor(resolver, "v=spf1 include:i1.example.com include:i2.example.com -all",
                      "192.0.2.1", limits),
            SpfResult::fail);
  EXPECT_EQ(resultFor(resolver,
                      "v=spf1 include:i1.example.com include:i2.example.com "
                      "include:i3.example.com -all",
                      "192.0.2.1", limits),
            SpfResult::permerror);
}

TEST(SpfCheck, NestingLimitAtAndPast) {
  FakeResolver resolver;
  resolver.txt_records["n1.example.com"] = {"v=spf1 include:n2.example.com -all"};
  resolver.txt_records["n2.example.com"] = {"v=spf1 redirect=n3.example.com"};
  resolver.txt_records["n3.example.com"] = {"v=spf1 +all"};
  SpfLimits limits;
  limits.dns_mechanisms = 1000;
  limits.nesting = 3;  // example.com, n1, n2, n3: three levels below the first record
  EXPECT_EQ(resultFor(resolver, "v=spf1 include:n1.example.com -all", "192.0.2.1", limits),
            SpfResult::pass);
  limits.nesting = 2;
  EXPECT_EQ(resultFor(resolver, "v=spf1 include:n1.example.com -all", "192.0.2.1", limits),
            SpfResult::permerror);
  // A loop ends at dns_mechanisms with the default limits.
  resolver.txt_records["loop.example.com"] = {"v=spf1 include:loop.example.com -all"};
  EXPECT_EQ(resultFor(resolver, "v=spf1 include:loop.example.com -all"), SpfResult::permerror);
}

TEST(SpfCheck, VoidLookupLimitAtAndPast) {
  FakeResolver resolver;
  resolver.txt_records["exists.example.com"] = {"unrelated"};  // NODATA for addresses
  EXPECT_EQ(resultFor(resolver, "v=spf1 a:missing1.example.com mx:exists.example.com -all"),
            SpfResult::fail);
  EXPECT_EQ(resultFor(resolver,
                      "v=spf1 a:missing1.example.com mx:exists.example.com "
                      "exists:missing2.example.com -all"),
            SpfResult::permerror);
  SpfLimits limits;
  limits.void_lookups = 0;
  EXPECT_EQ(resultFor(resolver, "v=spf1 a:missing1.example.com -all", "192.0.2.1", limits),
            SpfResult::permerror);
  // Names are asked in lower case, whatever the record or the macros wrote.
  resolver.address_records["upper.example.com"] = {"192.0.2.1"};
  EXPECT_EQ(resultFor(resolver, "v=spf1 a:UPPER.Example.COM -all"), SpfResult::pass);
}

TEST(SpfCheck, MxNameLimitAtAndPast) {
  FakeResolver resolver;
  for (int index = 0; index < 11; ++index) {
    const std::string name = "mx" + std::to_string(index) + ".example.com";
    resolver.mx_records["example.com"].push_back({static_cast<std::uint16_t>(index), name});
    resolver.address_records[name] = {"192.0.2." + std::to_string(100 + index)};
  }
  // A match among the first ten stands; needing the eleventh is the permerror.
  EXPECT_EQ(resultFor(resolver, "v=spf1 mx -all", "192.0.2.109"), SpfResult::pass);
  EXPECT_EQ(resultFor(resolver, "v=spf1 mx -all", "192.0.2.110"), SpfResult::permerror);
  EXPECT_EQ(resultFor(resolver, "v=spf1 mx -all", "192.0.2.1"), SpfResult::permerror);
  resolver.mx_records["example.com"].resize(10);
  EXPECT_EQ(resultFor(resolver, "v=spf1 mx -all", "192.0.2.1"), SpfResult::fail);
  SpfLimits limits;
  limits.mx_names = 3;
  EXPECT_EQ(resultFor(resolver, "v=spf1 mx -all", "192.0.2.102", limits), SpfResult::pass);
  EXPECT_EQ(resultFor(resolver, "v=spf1 mx -all", "192.0.2.103", limits), SpfResult::permerror);
}

TEST(SpfCheck, PtrNameLimitIgnoresTheRest) {
  FakeResolver resolver;
  for (int index = 0; index < 11; ++index) {
    const std::string name = "h" + std::to_string(index) + ".example.com";
    resolver.ptr_records["192.0.2.1"].push_back(name);
    if (index == 10) resolver.address_records[name] = {"192.0.2.1"};
  }
  // Only the eleventh name validates, and only the first ten are used: no match, no error.
  EXPECT_EQ(resultFor(resolver, "v=spf1 ptr -all"), SpfResult::fail);
  resolver.address_records["h3.example.com"] = {"192.0.2.1"};
  EXPECT_EQ(resultFor(resolver, "v=spf1 ptr -all"), SpfResult::pass);
  EXPECT_EQ(resultFor(resolver, "v=spf1 ptr:other.example -all"), SpfResult::fail);
  SpfLimits limits;
  limits.ptr_names = 3;
  EXPECT_EQ(resultFor(resolver, "v=spf1 ptr -all", "192.0.2.1", limits), SpfResult::fail);
  // A DNS error on the PTR lookup means no match (5.5), not temperror.
  resolver.failing.insert("192.0.2.1");
  EXPECT_EQ(resultFor(resolver, "v=spf1 ptr -all"), SpfResult::fail);
}

TEST(SpfCheck, IncludeAndRedirect) {
  FakeResolver resolver;
  resolver.txt_records["pass.example.com"] = {"v=spf1 +all"};
  resolver.txt_records["fail.example.com"] = {"v=spf1 -all exp=inner.example.com"};
  resolver.txt_records["inner.example.com"] = {"inner explanation"};
  resolver.txt_records["outer.example.com"] = {"outer explanation for %{s}"};
  resolver.failing.insert("temp.example.com");
  EXPECT_EQ(resultFor(resolver, "v=spf1 include:pass.example.com -all"), SpfResult::pass);
  EXPECT_EQ(resultFor(resolver, "v=spf1 -include:pass.example.com +all"), SpfResult::fail);
  EXPECT_EQ(resultFor(resolver, "v=spf1 include:fail.example.com ?all"), SpfResult::neutral);
  EXPECT_EQ(resultFor(resolver, "v=spf1 include:none.example.com +all"), SpfResult::permerror);
  EXPECT_EQ(resultFor(resolver, "v=spf1 include:temp.example.com +all"), SpfResult::temperror);
  // include ignores the included record's exp=; the including record's own applies.
  resolver.txt_records["example.com"] = {
      "v=spf1 include:fail.example.com -all exp=outer.example.com"};
  auto outcome = checkSender(resolver, request("192.0.2.1"));
  EXPECT_EQ(outcome.result, SpfResult::fail);
  EXPECT_EQ(outcome.explanation, "outer explanation for user@example.com");
  // redirect takes the target's result and explanation, not the original's.
  resolver.txt_records["example.com"] = {"v=spf1 redirect=fail.example.com exp=outer.example.com"};
  outcome = checkSender(resolver, request("192.0.2.1"));
  EXPECT_EQ(outcome.result, SpfResult::fail);
  EXPECT_EQ(outcome.explanation, "inner explanation");
  EXPECT_EQ(resultFor(resolver, "v=spf1 redirect=none.example.com"), SpfResult::permerror);
  // redirect is ignored when the record has "all".
  EXPECT_EQ(resultFor(resolver, "v=spf1 ?all redirect=fail.example.com"), SpfResult::neutral);
  // %{d} in the redirected record is the new domain.
  resolver.txt_records["macro.example.com"] = {"v=spf1 exists:%{d}.x.example.com -all"};
  resolver.address_records["macro.example.com.x.example.com"] = {"127.0.0.2"};
  EXPECT_EQ(resultFor(resolver, "v=spf1 redirect=macro.example.com"), SpfResult::pass);
}

TEST(SpfCheck, ExplanationProblemsNeverChangeTheResult) {
  FakeResolver resolver;
  resolver.txt_records["two.example.com"] = {"one", "two"};
  resolver.txt_records["bad.example.com"] = {"%{x} is not a macro"};
  resolver.txt_records["good.example.com"] = {"%{c} at %{r} is not allowed by %{o} (%{t})"};
  resolver.failing.insert("down.example.com");
  for (const char* target : {"two", "bad", "missing", "down"}) {
    resolver.txt_records["example.com"] = {"v=spf1 -all exp=" + std::string(target) +
                                           ".example.com"};
    auto outcome = checkSender(resolver, request("192.0.2.1"));
    EXPECT_EQ(outcome.result, SpfResult::fail) << target;
    EXPECT_EQ(outcome.explanation, "") << target;
  }
  resolver.txt_records["example.com"] = {"v=spf1 -all exp=good.example.com"};
  SpfRequest ipv6Request = request("2001:db8::1");
  ipv6Request.timestamp = 1700000000;
  auto outcome = checkSender(resolver, ipv6Request);
  EXPECT_EQ(outcome.explanation,
            "2001:db8::1 at mx.receiver.test is not allowed by example.com (1700000000)");
  // No explanation on other results.
  resolver.txt_records["example.com"] = {"v=spf1 ~all exp=good.example.com"};
  EXPECT_EQ(checkSender(resolver, ipv6Request).explanation, "");
}

TEST(SpfCheck, ValidatedDomainMacro) {
  FakeResolver resolver;
  resolver.ptr_records["192.0.2.1"] = {"other.example.org", "mail.example.com"};
  resolver.address_records["other.example.org"] = {"192.0.2.1"};
  resolver.address_records["mail.example.com"] = {"192.0.2.1"};
  resolver.txt_records["why.example.com"] = {"connect from %{p}"};
  resolver.txt_records["example.com"] = {"v=spf1 -all exp=why.example.com"};
  // A name under the current domain is preferred.
  EXPECT_EQ(checkSender(resolver, request("192.0.2.1")).explanation,
            "connect from mail.example.com");
  EXPECT_EQ(checkSender(resolver, request("192.0.2.2")).explanation, "connect from unknown");
}

TEST(SpfCheck, Identities) {
  FakeResolver resolver;
  resolver.txt_records["mail.example.net"] = {"v=spf1 -all exp=why.example.net"};
  resolver.txt_records["why.example.net"] = {"%{s}"};
  auto helo = checkHelo(resolver, request("192.0.2.1"));
  EXPECT_EQ(helo.result, SpfResult::fail);
  EXPECT_EQ(helo.identity, "helo");
  EXPECT_EQ(helo.domain, "mail.example.net");
  EXPECT_EQ(helo.explanation, "postmaster@mail.example.net");
  // The null reverse-path checks postmaster@<HELO> as the MAIL FROM identity (2.4).
  auto nullSender = checkSender(resolver, request("192.0.2.1", ""));
  EXPECT_EQ(nullSender.result, SpfResult::fail);
  EXPECT_EQ(nullSender.identity, "mailfrom");
  EXPECT_EQ(nullSender.sender, "postmaster@mail.example.net");
  // An address literal or a single label is not a domain: none, without any lookup (4.3).
  resolver.failing.insert("[192.0.2.1]");
  EXPECT_EQ(checkHelo(resolver, request("192.0.2.1", "", "[192.0.2.1]")).result, SpfResult::none);
  EXPECT_EQ(checkHelo(resolver, request("192.0.2.1", "", "localhost")).result, SpfResult::none);
  EXPECT_EQ(
      checkSender(resolver, request("192.0.2.1", "user@" + std::string(64, 'a') + ".com")).result,
      SpfResult::none);
  // No local-part: postmaster.
  resolver.txt_records["example.net"] = {"v=spf1 -all exp=why.example.net"};
  EXPECT_EQ(checkSender(resolver, request("192.0.2.1", "@example.net")).explanation,
            "postmaster@example.net");
  EXPECT_EQ(spfResultName(SpfResult::softfail), "softfail");
  EXPECT_EQ(spfResultName(SpfResult::permerror), "permerror");
}

}  // namespace
}  // namespace bulwark::auth
