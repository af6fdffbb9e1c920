// PublicSuffixList (public_suffix.h): the list format (comments, wildcards, exceptions, both
// sections, U-label rules), lookups in either IDNA form, and Organizational Domains (RFC 7489
// 3.2). The full list's own tests run in tests/conformance/dmarc_test.cpp.
#include "auth/public_suffix.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace bulwark::auth {
namespace {

constexpr std::string_view kList =
    "// ===BEGIN ICANN DOMAINS===\n"
    "com\n"
    "uk\n"
    "co.uk\n"
    "// a comment with a rule-like word: example\n"
    "  jp   trailing text after whitespace is ignored\r\n"
    "*.kobe.jp\n"
    "!city.kobe.jp\n"
    "*.ck\n"
    "!www.ck\n"
    "\xe5\x85\xac\xe5\x8f\xb8.cn\n"  // 公司.cn as a U-label rule
    "cn\n"
    "// ===END ICANN DOMAINS===\n"
    "// ===BEGIN PRIVATE DOMAINS===\n"
    "blogspot.com\n"
    "// ===END PRIVATE DOMAINS===\n";

TEST(PublicSuffixList, RulesWildcardsAndExceptions) {
  PublicSuffixList list = PublicSuffixList::fromText(kList);
  EXPECT_EQ(list.publicSuffix("www.example.com"), "com");
  EXPECT_EQ(list.publicSuffix("a.b.co.uk"), "co.uk");
  EXPECT_EQ(list.publicSuffix("x.y.kobe.jp"), "y.kobe.jp");
  EXPECT_EQ(list.publicSuffix("www.city.kobe.jp"), "kobe.jp");
  EXPECT_EQ(list.publicSuffix("a.www.ck"), "ck");
  EXPECT_EQ(list.publicSuffix("a.b.ck"), "b.ck");
  EXPECT_EQ(list.publicSuffix("me.blogspot.com"), "blogspot.com");  // private section used
  EXPECT_EQ(list.publicSuffix("host.unlisted"), "unlisted");        // the implicit "*"
  EXPECT_EQ(list.publicSuffix("trailing"), "trailing");
  EXPECT_EQ(list.publicSuffix("example.jp"), "jp");  // the rule ends at its first whitespace
}

TEST(PublicSuffixList, OrganizationalAndRegistrableDomains) {
  PublicSuffixList list = PublicSuffixList::fromText(kList);
  EXPECT_EQ(list.organizationalDomain("a.b.Example.COM"), "example.com");
  EXPECT_EQ(list.organizationalDomain("mail.example.co.uk."), "example.co.uk");
  EXPECT_EQ(list.organizationalDomain("www.city.kobe.jp"), "city.kobe.jp");
  EXPECT_EQ(list.organizationalDomain("co.uk"), "co.uk");  // a suffix is its own
  EXPECT_EQ(list.registrableDomain("co.uk"), std::nullopt);
  EXPECT_EQ(list.registrableDomain("b.ck"), std::nullopt);
  EXPECT_EQ(list.registrableDomain("a.b.ck"), "a.b.ck");
  EXPECT_EQ(list.organizationalDomain(""), "");
  EXPECT_EQ(list.organizationalDomain(".example.com"), "");
  EXPECT_EQ(list.organizationalDomain("a..example.com"), "");
  EXPECT_EQ(list.registrableDomain("a..example.com"), std::nullopt);
}

TEST(PublicSuffixList, UnicodeRulesMatchEitherForm) {
  PublicSuffixList list = PublicSuffixList::fromText(kList);
  // 公司.cn is xn--55qx5d.cn; 食狮 is xn--85x722f.
  EXPECT_EQ(list.registrableDomain("www.xn--85x722f.xn--55qx5d.cn"), "xn--85x722f.xn--55qx5d.cn");
  EXPECT_EQ(list.registrableDomain("www.\xe9\xa3\x9f\xe7\x8b\xae.\xe5\x85\xac\xe5\x8f\xb8.cn"),
            "\xe9\xa3\x9f\xe7\x8b\xae.\xe5\x85\xac\xe5\x8f\xb8.cn");
  EXPECT_EQ(list.registrableDomain("xn--55qx5d.cn"), std::nullopt);
  EXPECT_EQ(list.registrableDomain("a.b\xff.cn"), std::nullopt);  // not UTF-8: not a name
}

TEST(PublicSuffixList, DefaultListHasOnlyTheImplicitRule) {
  PublicSuffixList list;
  EXPECT_EQ(list.organizationalDomain("a.b.example.co.uk"), "co.uk");
}

TEST(PublicSuffixList, LoadErrorsNameTheFile) {
  Result<PublicSuffixList> missing = PublicSuffixList::load("/nonexistent/list.dat");
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().message.find("/nonexistent/list.dat"), std::string::npos);
  std::filesystem::path empty = std::filesystem::temp_directory_path() / "bulwark-empty-psl.dat";
  std::ofstream(empty) << "// only comments\n";
  Result<PublicSuffixList> no_rules = PublicSuffixList::load(empty);
  std::filesystem::remove(empty);
  ASSERT_FALSE(no_rules.has_value());
  EXPECT_EQ(no_rules.error().code, "syntax");
}

TEST(PublicSuffixList, SystemList) {
  if (!std::filesystem::exists(SYSTEM_PUBLIC_SUFFIX_LIST)) GTEST_SKIP() << "no system list";
  Result<PublicSuffixList> list = PublicSuffixList::load(SYSTEM_PUBLIC_SUFFIX_LIST);
  ASSERT_TRUE(list.has_value()) << list.error().message;
  EXPECT_EQ(list->organizationalDomain("mail.example.co.uk"), "example.co.uk");
  EXPECT_EQ(list->organizationalDomain("a.b.example.com"), "example.com");
}

}  // namespace
}  // namespace bulwark::auth
