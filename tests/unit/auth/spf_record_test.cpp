// SPF pieces without DNS (src/auth/spf_record.h): record selection (RFC 7208 4.5), record and
// domain-spec syntax (4.6, 5, 7.1, 12), CIDR lengths, and macro expansion (7.3, 7.4) table-driven
// against the RFC's own examples.
#include "auth/spf_record.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace bulwark::auth::spf {
namespace {

TEST(SpfSelectRecords, VersionIsCaseInsensitiveAndMustEndWithSpaceOrRecord) {
  const std::vector<std::string> records = {"v=spf1 -all",       "V=SpF1",     "v=spf10 +all",
                                            "v=spf1-all",        "other text", "spf1 v=spf1",
                                            "v=spf1 ip4:1.2.3.4"};
  const auto selected = selectRecords(records);
  ASSERT_EQ(selected.size(), 3u);
  EXPECT_EQ(selected[0], "v=spf1 -all");
  EXPECT_EQ(selected[1], "V=SpF1");
  EXPECT_EQ(selected[2], "v=spf1 ip4:1.2.3.4");
  EXPECT_TRUE(selectRecords({"v=spf2.0/pra -all", ""}).empty());
}

TEST(SpfParseRecord, MechanismsQualifiersAndModifiers) {
  auto record = parseRecord(
      "v=spf1  +a -MX:example.com/24//64 ~ptr ?include:_spf.example.net ip4:192.0.2.0/24 "
      "ip6:2001:db8::/32 exists:%{ir}.bl.example.org redirect=_spf.example.com "
      "exp=explain.%{d} unknown-mod=%{l} -all ");
  ASSERT_TRUE(record.has_value()) << record.error().message;
  ASSERT_EQ(record->mechanisms.size(), 8u);
  EXPECT_EQ(record->mechanisms[0].kind, MechanismKind::a);
  EXPECT_EQ(record->mechanisms[0].qualifier, Qualifier::pass);
  EXPECT_EQ(record->mechanisms[0].domain_spec, "");
  EXPECT_EQ(record->mechanisms[1].kind, MechanismKind::mx);
  EXPECT_EQ(record->mechanisms[1].qualifier, Qualifier::fail);
  EXPECT_EQ(record->mechanisms[1].domain_spec, "example.com");
  EXPECT_EQ(record->mechanisms[1].ipv4_prefix, 24u);
  EXPECT_EQ(record->mechanisms[1].ipv6_prefix, 64u);
  EXPECT_EQ(record->mechanisms[2].qualifier, Qualifier::softfail);
  EXPECT_EQ(record->mechanisms[3].qualifier, Qualifier::neutral);
  EXPECT_EQ(record->mechanisms[3].domain_spec, "_spf.example.net");
  EXPECT_EQ(record->mechanisms[4].ipv4_prefix, 24u);
  EXPECT_EQ(record->mechanisms[4].network[12], 192);
  EXPECT_EQ(record->mechanisms[5].ipv6_prefix, 32u);
  EXPECT_EQ(record->mechanisms[5].network[0], 0x20);
  EXPECT_EQ(record->mechanisms[6].domain_spec, "%{ir}.bl.example.org");
  EXPECT_EQ(record->mechanisms[7].term, "-all");
  EXPECT_TRUE(record->has_all);
  EXPECT_EQ(record->redirect, std::optional<std::string_view>("_spf.example.com"));
  EXPECT_EQ(record->explanation, std::optional<std::string_view>("explain.%{d}"));
}

TEST(SpfParseRecord, CidrLengths) {
  struct Case {
    const char* record;
    bool valid;
    unsigned ipv4;
    unsigned ipv6;
  };
  const Case cases[] = {
      {"v=spf1 a/0", true, 0, 128},
      {"v=spf1 a/32", true, 32, 128},
      {"v=spf1 a/33", false, 0, 0},
      {"v=spf1 a/032", false, 0, 0},
      {"v=spf1 a//0", true, 32, 0},
      {"v=spf1 a//128", true, 32, 128},
      {"v=spf1 a//129", false, 0, 0},
      {"v=spf1 a/24//48", true, 24, 48},
      {"v=spf1 mx:example.com/", false, 0, 0},
      {"v=spf1 a/", false, 0, 0},
      {"v=spf1 ip4:192.0.2.1/33", false, 0, 0},
      {"v=spf1 ip4:192.0.2.1/8", true, 8, 128},
      {"v=spf1 ip4:192.0.2.1//8", false, 0, 0},
      {"v=spf1 ip6:::1/129", false, 0, 0},
      {"v=spf1 ip6:::1/0", true, 32, 0},
      {"v=spf1 ip4:192.0.2.1/", false, 0, 0},
  };
  for (const Case& test : cases) {
    auto record = parseRecord(test.record);
    EXPECT_EQ(record.has_value(), test.valid) << test.record;
    if (!record || !test.valid) continue;
    EXPECT_EQ(record->mechanisms[0].ipv4_prefix, test.ipv4) << test.record;
    EXPECT_EQ(record->mechanisms[0].ipv6_prefix, test.ipv6) << test.record;
  }
}

TEST(SpfParseRecord, SyntaxErrorsAnywhereFailTheWholeRecord) {
  const char* invalid[] = {
      "v=spf1 -all ip:10.0.0.1",  // not a mechanism
      "v=spf1 all:foo",           // all takes nothing
      "v=spf1 include",           // include needs a domain
      "v=spf1 exists:",           // empty domain-spec
      "v=spf1 a:",                // empty domain-spec
      "v=spf1 a:1.2.3.4",         // numeric top label
      "v=spf1 a:com",             // no "." toplabel
      "v=spf1 a:example.-com",    // toplabel ending with '-'
      "v=spf1 ip4:1.2.3",         // three octets
      "v=spf1 ip4:01.2.3.4",      // leading zero
      "v=spf1 ip4:256.2.3.4",     // octet range
      "v=spf1 ip6:1.2.3.4",       // not IPv6
      "v=spf1 ptr/24",            // no CIDR on ptr
      "v=spf1 redirect=a.example redirect=b.example",
      "v=spf1 exp=a.example exp=b.example",
      "v=spf1 exp=",                    // empty domain-spec
      "v=spf1 a:foo%(ir).example.com",  // '%' then '('
      "v=spf1 a:%{x}.example.com",      // unknown letter
      "v=spf1 a:%{c}.example.com",      // c only in exp text
      "v=spf1 a:%{d0}.example.com",     // zero digits
      "v=spf1 a:%{d}",                  // fine...
  };
  for (std::size_t index = 0; index + 1 < std::size(invalid); ++index) {
    EXPECT_FALSE(parseRecord(invalid[index]).has_value()) << invalid[index];
  }
  EXPECT_TRUE(parseRecord(invalid[std::size(invalid) - 1]).has_value());  // ...ends in a macro
  EXPECT_FALSE(parseRecord("v=spf1 a:ctrl.example.com\rptr -all").has_value());
  EXPECT_FALSE(parseRecord("v=spf1 \x80"
                           "a -all")
                   .has_value());
  EXPECT_FALSE(parseRecord("v=spf1 unknown=%").has_value());  // unknown modifier, bad macro
  EXPECT_TRUE(parseRecord("v=spf1 moo.cow-far_out=man:dog/cat -all").has_value());
  EXPECT_FALSE(parseRecord("v=spf1 moo.cow/far_out=man:dog/cat -all").has_value());
  EXPECT_TRUE(parseRecord("v=spf1 a:foo:bar/baz.example.com").has_value());
  EXPECT_TRUE(parseRecord("v=spf1 a:example.com. mx:xn--zckzah.example.1-2").has_value());
}

TEST(SpfDomainSpec, EndsInMacroOrTopLabel) {
  EXPECT_TRUE(checkDomainSpec("example.com").has_value());
  EXPECT_TRUE(checkDomainSpec("example.com.").has_value());
  EXPECT_TRUE(checkDomainSpec("%{d}").has_value());
  EXPECT_TRUE(checkDomainSpec("foo.%%").has_value());
  EXPECT_TRUE(checkDomainSpec("a.b-c").has_value());
  EXPECT_FALSE(checkDomainSpec("").has_value());
  EXPECT_FALSE(checkDomainSpec("example.123").has_value());
  EXPECT_FALSE(checkDomainSpec("%{d}com").has_value());
  EXPECT_FALSE(checkDomainSpec("example..").has_value());
}

MacroValues rfcValues() {
  // RFC 7208 7.4: sender strong-bad@email.example.com, IPv4 192.0.2.3.
  MacroValues values;
  values.sender = "strong-bad@email.example.com";
  values.local_part = "strong-bad";
  values.sender_domain = "email.example.com";
  values.domain = "email.example.com";
  values.helo = "mx.example.org";
  values.receiver = "receiver.example.net";
  values.dotted_address = "192.0.2.3";
  values.readable_address = "192.0.2.3";
  values.timestamp = 1234567890;
  values.validated_domain = [] { return std::string("mx.example.org"); };
  return values;
}

TEST(SpfMacros, RfcExamplesAndTransformers) {
  const MacroValues values = rfcValues();
  const std::pair<const char*, const char*> cases[] = {
      {"%{s}", "strong-bad@email.example.com"},
      {"%{o}", "email.example.com"},
      {"%{d}", "email.example.com"},
      {"%{d4}", "email.example.com"},
      {"%{d3}", "email.example.com"},
      {"%{d2}", "example.com"},
      {"%{d1}", "com"},
      {"%{dr}", "com.example.email"},
      {"%{d2r}", "example.email"},
      {"%{D2R}", "example.email"},
      {"%{l}", "strong-bad"},
      {"%{l-}", "strong.bad"},
      {"%{lr}", "strong-bad"},
      {"%{lr-}", "bad.strong"},
      {"%{l1r-}", "strong"},
      {"%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"},
      {"%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"},
      {"%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"},
      {"%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"},
      {"%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"},
      {"%{p}", "mx.example.org"},
      {"%{p2}", "example.org"},
      {"%{h}", "mx.example.org"},
      {"%{d999999999999}", "email.example.com"},   // saturates, keeps everything
      {"%{s+=}", "strong-bad@email.example.com"},  // no '+' or '=' in it: one part
      {"%{l-=r}x", "strong-badx"},                 // "r" only right after the digits
      {"%%%_%-", "% %20"},
      {"example.com.", "example.com"},  // one trailing dot dropped
  };
  for (const auto& [text, expected] : cases) {
    auto expanded = expandMacros(text, values, MacroContext::domain);
    if (std::string_view(text) == "%{l-=r}x") {
      EXPECT_FALSE(expanded.has_value()) << text;  // 'r' is not a delimiter
      continue;
    }
    ASSERT_TRUE(expanded.has_value()) << text << ": " << expanded.error().message;
    EXPECT_EQ(*expanded, expected) << text;
  }
}

TEST(SpfMacros, UpperCaseLettersAreUrlEscaped) {
  MacroValues values = rfcValues();
  values.local_part = "~jack&jill=up-a_b3.c";
  auto expanded =
      expandMacros("http://example.com/why.html?l=%{L}", values, MacroContext::explanation);
  ASSERT_TRUE(expanded.has_value());
  EXPECT_EQ(*expanded, "http://example.com/why.html?l=~jack%26jill%3Dup-a_b3.c");
  values.sender = "a b@c";
  EXPECT_EQ(*expandMacros("%{S}", values, MacroContext::domain), "a%20b%40c");
}

TEST(SpfMacros, ExplanationOnlyLettersAndSpaces) {
  const MacroValues values = rfcValues();
  auto text = expandMacros("%{c} is not one of %{d}'s hosts (%{r}, %{t})", values,
                           MacroContext::explanation);
  ASSERT_TRUE(text.has_value()) << text.error().message;
  EXPECT_EQ(*text,
            "192.0.2.3 is not one of email.example.com's hosts (receiver.example.net, 1234567890)");
  EXPECT_FALSE(expandMacros("%{c}", values, MacroContext::domain).has_value());
  EXPECT_FALSE(expandMacros("%{r}", values, MacroContext::domain).has_value());
  EXPECT_FALSE(expandMacros("%{t}", values, MacroContext::domain).has_value());
  EXPECT_FALSE(expandMacros("a b", values, MacroContext::domain).has_value());
  MacroValues unknownReceiver = rfcValues();
  unknownReceiver.receiver = "";
  EXPECT_EQ(*expandMacros("%{r}", unknownReceiver, MacroContext::explanation), "unknown");
}

TEST(SpfMacros, Ipv6Nibbles) {
  MacroValues values = rfcValues();
  values.ipv6 = true;
  values.dotted_address = "2.0.0.1.0.D.B.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.C.B.0.1";
  EXPECT_EQ(*expandMacros("%{ir}.%{v}._spf.%{d2}", values, MacroContext::domain),
            "1.0.B.C.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2.ip6._spf.example.com");
}

TEST(SpfMacros, LongResultsLoseLeftLabelsTo253) {
  MacroValues values = rfcValues();
  const std::string longPart(60, 'x');
  const std::string local =
      longPart + "." + longPart + "." + longPart + "." + longPart + "." + longPart;
  values.local_part = local;
  auto expanded = expandMacros("%{l}.example.com", values, MacroContext::domain);
  ASSERT_TRUE(expanded.has_value());
  EXPECT_LE(expanded->size(), 253u);
  // 4 x-labels and example.com would be 255 characters: one more label goes.
  EXPECT_EQ(*expanded, longPart + "." + longPart + "." + longPart + ".example.com");
}

TEST(SpfMacros, PIsLookedUpOnlyWhenUsedAndOnce) {
  MacroValues values = rfcValues();
  int calls = 0;
  values.validated_domain = [&calls] {
    ++calls;
    return std::string("host.example.org");
  };
  EXPECT_EQ(*expandMacros("%{d}", values, MacroContext::domain), "email.example.com");
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(*expandMacros("%{p}.%{p1}", values, MacroContext::domain), "host.example.org.org");
  EXPECT_EQ(calls, 1);
}

TEST(SpfQueryableName, LabelAndNameLengths) {
  EXPECT_TRUE(isQueryableName("example.com", true));
  EXPECT_TRUE(isQueryableName("example.com.", true));
  EXPECT_FALSE(isQueryableName("localhost", true));
  EXPECT_TRUE(isQueryableName("localhost"));
  EXPECT_FALSE(isQueryableName("a..example.com"));
  EXPECT_FALSE(isQueryableName(""));
  EXPECT_TRUE(isQueryableName(std::string(63, 'a') + ".com"));
  EXPECT_FALSE(isQueryableName(std::string(64, 'a') + ".com"));
  std::string name;
  while (name.size() < 250) name += "abcdefghi.";
  EXPECT_TRUE(isQueryableName(name + "com"));  // 253 characters
  EXPECT_FALSE(isQueryableName(name + "info"));
}

}  // namespace
}  // namespace bulwark::auth::spf
