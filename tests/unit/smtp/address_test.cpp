// Tests for RFC 5321 4.1.2 mailbox/path parsing and RFC 3461 xtext: the grammar, the limits of
// 4.5.3.1 at and one past the maximum, UTF-8 on and off, and the relay tricks a parser must
// represent faithfully (so that the relay check sees what the client really asked for).
#include "smtp/proto/address.h"

#include <gtest/gtest.h>

#include <string>

namespace bulwark::smtp {
namespace {

std::optional<Mailbox> ascii(std::string_view text) {
  return parseMailbox(text, false);
}

TEST(ParseMailbox, SimpleDotAtom) {
  const auto mailbox = ascii("first.last@example.com");
  ASSERT_TRUE(mailbox);
  EXPECT_EQ(mailbox->local_part, "first.last");
  EXPECT_EQ(mailbox->domain, "example.com");
  EXPECT_FALSE(mailbox->domain_is_literal);
  EXPECT_FALSE(mailbox->local_part_was_quoted);
  EXPECT_EQ(mailbox->text(), "first.last@example.com");
}

TEST(ParseMailbox, AllAtextCharactersInLocalPart) {
  const auto mailbox = ascii("!#$%&'*+-/=?^_`{|}~09AZaz@example.com");
  ASSERT_TRUE(mailbox);
  EXPECT_EQ(mailbox->local_part, "!#$%&'*+-/=?^_`{|}~09AZaz");
}

TEST(ParseMailbox, SingleLabelDomainAndDigitsAndHyphens) {
  EXPECT_TRUE(ascii("postmaster@localhost"));
  EXPECT_TRUE(ascii("a@1-2.x-y.example"));
  EXPECT_TRUE(ascii("a@123"));
}

TEST(ParseMailbox, RejectsMalformedLocalParts) {
  EXPECT_FALSE(ascii("@example.com"));
  EXPECT_FALSE(ascii(".user@example.com"));
  EXPECT_FALSE(ascii("user.@example.com"));
  EXPECT_FALSE(ascii("us..er@example.com"));
  EXPECT_FALSE(ascii("us er@example.com"));
  EXPECT_FALSE(ascii("us(er)@example.com"));
  EXPECT_FALSE(ascii("us,er@example.com"));
  EXPECT_FALSE(ascii("us\"er@example.com"));
  EXPECT_FALSE(ascii("user"));
  EXPECT_FALSE(ascii(""));
  EXPECT_FALSE(ascii("a@b@example.com"));
}

TEST(ParseMailbox, RejectsMalformedDomains) {
  EXPECT_FALSE(ascii("user@"));
  EXPECT_FALSE(ascii("user@.example.com"));
  EXPECT_FALSE(ascii("user@example.com."));
  EXPECT_FALSE(ascii("user@example..com"));
  EXPECT_FALSE(ascii("user@-example.com"));
  EXPECT_FALSE(ascii("user@example-.com"));
  EXPECT_FALSE(ascii("user@exa_mple.com"));
  EXPECT_FALSE(ascii("user@exa mple.com"));
  EXPECT_FALSE(ascii("user@example.com>"));
}

TEST(ParseMailbox, RejectsControlCharacters) {
  for (int byte = 0; byte < 0x20; ++byte) {
    std::string local = "us";
    local += static_cast<char>(byte);
    local += "er@example.com";
    EXPECT_FALSE(ascii(local)) << "byte " << byte;
    EXPECT_FALSE(parseMailbox(local, true)) << "byte " << byte;
    std::string quoted = "\"us";
    quoted += static_cast<char>(byte);
    quoted += "er\"@example.com";
    EXPECT_FALSE(ascii(quoted)) << "byte " << byte;
    std::string domain = "user@exa";
    domain += static_cast<char>(byte);
    domain += "mple.com";
    EXPECT_FALSE(ascii(domain)) << "byte " << byte;
  }
  EXPECT_FALSE(ascii("us\x7F_er@example.com"));
  EXPECT_FALSE(ascii("\"us\x7F_er\"@example.com"));
}

TEST(ParseMailbox, QuotedLocalPart) {
  const auto mailbox = ascii(R"("john \"jd\" doe\\x"@example.com)");
  ASSERT_TRUE(mailbox);
  EXPECT_EQ(mailbox->local_part, R"(john "jd" doe\x)");
  EXPECT_TRUE(mailbox->local_part_was_quoted);
  EXPECT_EQ(mailbox->text(), R"("john \"jd\" doe\\x"@example.com)");
}

TEST(ParseMailbox, QuotedLocalPartThatNeedsNoQuotesIsWrittenPlain) {
  const auto mailbox = ascii("\"user\"@example.com");
  ASSERT_TRUE(mailbox);
  EXPECT_EQ(mailbox->local_part, "user");
  EXPECT_TRUE(mailbox->local_part_was_quoted);
  EXPECT_EQ(mailbox->text(), "user@example.com");
}

TEST(ParseMailbox, RejectsBrokenQuotes) {
  EXPECT_FALSE(ascii("\"user@example.com"));
  EXPECT_FALSE(ascii("\"user\"x@example.com"));
  EXPECT_FALSE(ascii("x\"user\"@example.com"));
  EXPECT_FALSE(ascii("\"user\\\"@example.com"));
  EXPECT_FALSE(ascii("\"user\\"));
  EXPECT_FALSE(ascii("\"\"@example.com"));  // empty local part would look like the null path
  EXPECT_FALSE(ascii("\"a\\\x01\"@example.com"));
}

// Open-relay tricks: each must parse into exactly the local part and domain written, so that the
// relay check (which looks for '%', '!', '@' in the local part) sees them.
TEST(ParseMailbox, PercentHackStaysInLocalPart) {
  const auto mailbox = ascii("user%remote.example@local.example");
  ASSERT_TRUE(mailbox);
  EXPECT_EQ(mailbox->local_part, "user%remote.example");
  EXPECT_EQ(mailbox->domain, "local.example");
}

TEST(ParseMailbox, BangPathStaysInLocalPart) {
  const auto mailbox = ascii("remote.example!user@local.example");
  ASSERT_TRUE(mailbox);
  EXPECT_EQ(mailbox->local_part, "remote.example!user");
  EXPECT_EQ(mailbox->domain, "local.example");
}

TEST(ParseMailbox, QuotedAtStaysInLocalPart) {
  const auto mailbox = ascii("\"user@remote.example\"@local.example");
  ASSERT_TRUE(mailbox);
  EXPECT_EQ(mailbox->local_part, "user@remote.example");
  EXPECT_EQ(mailbox->domain, "local.example");
  EXPECT_TRUE(mailbox->local_part_was_quoted);
  EXPECT_EQ(mailbox->text(), "\"user@remote.example\"@local.example");
}

TEST(ParseMailbox, Ipv4Literal) {
  const auto mailbox = ascii("user@[127.0.0.1]");
  ASSERT_TRUE(mailbox);
  EXPECT_EQ(mailbox->domain, "127.0.0.1");
  EXPECT_TRUE(mailbox->domain_is_literal);
  EXPECT_EQ(mailbox->text(), "user@[127.0.0.1]");
  EXPECT_TRUE(ascii("user@[255.255.255.255]"));
  EXPECT_TRUE(ascii("user@[001.002.003.004]"));
}

TEST(ParseMailbox, RejectsBadIpv4Literals) {
  EXPECT_FALSE(ascii("user@[256.0.0.1]"));
  EXPECT_FALSE(ascii("user@[1.2.3]"));
  EXPECT_FALSE(ascii("user@[1.2.3.4.5]"));
  EXPECT_FALSE(ascii("user@[1.2.3.]"));
  EXPECT_FALSE(ascii("user@[1..2.3]"));
  EXPECT_FALSE(ascii("user@[0001.2.3.4]"));
  EXPECT_FALSE(ascii("user@[1.2.3.4"));
  EXPECT_FALSE(ascii("user@1.2.3.4]"));
  EXPECT_FALSE(ascii("user@[]"));
  EXPECT_FALSE(ascii("user@[example.com]"));
  EXPECT_FALSE(ascii("user@[x-tag:stuff]"));
}

TEST(ParseMailbox, Ipv6Literals) {
  for (const char* text : {"u@[IPv6:2001:db8:0:0:0:0:0:1]", "u@[IPv6:2001:db8::1]", "u@[IPv6:::1]",
                           "u@[IPv6:::]", "u@[ipv6:fe80::]", "u@[IPv6:1:2:3:4:5:6:1.2.3.4]",
                           "u@[IPv6:::ffff:192.0.2.1]", "u@[IPv6:1:2:3:4::5.6.7.8]"}) {
    const auto mailbox = ascii(text);
    ASSERT_TRUE(mailbox) << text;
    EXPECT_TRUE(mailbox->domain_is_literal);
  }
  EXPECT_EQ(ascii("u@[IPv6:::1]")->domain, "IPv6:::1");
}

TEST(ParseMailbox, RejectsBadIpv6Literals) {
  for (const char* text :
       {"u@[IPv6:1:2:3:4:5:6:7]", "u@[IPv6:1:2:3:4:5:6:7:8:9]", "u@[IPv6:1::2::3]",
        "u@[IPv6:12345::]", "u@[IPv6:g::1]", "u@[IPv6:1:2:3:4:5:6:7::]", "u@[IPv6:::1.2.3]",
        "u@[IPv6:1.2.3.4::]", "u@[IPv6:]", "u@[::1]", "u@[IPv6::::1]",
        "u@[IPv6:1:2:3:4:5::1.2.3.4]"}) {
    EXPECT_FALSE(ascii(text)) << text;
  }
}

TEST(ParseMailbox, LocalPartLimitIs64Octets) {
  const std::string at_limit(64, 'a');
  EXPECT_TRUE(ascii(at_limit + "@example.com"));
  EXPECT_FALSE(ascii(at_limit + "a@example.com"));
  // Counted as written: the quotes are part of the 64.
  EXPECT_TRUE(ascii("\"" + std::string(62, 'a') + "\"@example.com"));
  EXPECT_FALSE(ascii("\"" + std::string(63, 'a') + "\"@example.com"));
}

TEST(ParseMailbox, DomainLimitIs255Octets) {
  const std::string label(63, 'd');
  const std::string three_labels = label + "." + label + "." + label + ".";
  const std::string at_limit = three_labels + std::string(61, 'd') + ".x";
  ASSERT_EQ(at_limit.size(), 255u);
  EXPECT_TRUE(ascii("u@" + at_limit));
  const std::string past_limit = three_labels + std::string(62, 'd') + ".x";  // labels all fit
  ASSERT_EQ(past_limit.size(), 256u);
  EXPECT_FALSE(ascii("u@" + past_limit));
  EXPECT_TRUE(ascii("u@" + label + ".example"));
  EXPECT_FALSE(ascii("u@" + label + "d.example"));  // label past 63
}

TEST(ParseMailbox, Utf8OnlyWhenAllowed) {
  const std::string address = "j\u00F6rg@b\u00FCcher.example";
  EXPECT_FALSE(parseMailbox(address, false));
  const auto mailbox = parseMailbox(address, true);
  ASSERT_TRUE(mailbox);
  EXPECT_EQ(mailbox->local_part, "j\u00F6rg");
  EXPECT_EQ(mailbox->domain, "b\u00FCcher.example");
  EXPECT_EQ(mailbox->text(), address);
  EXPECT_TRUE(parseMailbox("\"\xE2\x82\xAC uro\"@example.com", true));
  EXPECT_FALSE(parseMailbox("\"\xE2\x82\xAC uro\"@example.com", false));
  EXPECT_TRUE(parseMailbox("\xF0\x9F\x98\x80@example.com", true));
}

TEST(ParseMailbox, RejectsMalformedUtf8) {
  for (const char* text : {
           "\xC3@example.com",              // truncated
           "\xC3(@example.com",             // bad continuation
           "\xC0\xAF@example.com",          // overlong '/'
           "\xE0\x80\xAF@example.com",      // overlong
           "\xED\xA0\x80@example.com",      // surrogate
           "\xF4\x90\x80\x80@example.com",  // above U+10FFFF
           "\xF5\x80\x80\x80@example.com",  // invalid lead
           "\x80@example.com",              // lone continuation
           "user@exa\xFFmple.com",
       }) {
    EXPECT_FALSE(parseMailbox(text, true)) << text;
  }
}

TEST(ParseMailbox, RejectsUtf8InAddressLiteral) {
  EXPECT_FALSE(parseMailbox("u@[1.2.3.\xC3\xB6]", true));
}

TEST(ParsePath, NullPath) {
  const auto mailbox = parsePath("<>", false);
  ASSERT_TRUE(mailbox);
  EXPECT_TRUE(mailbox->local_part.empty());
  EXPECT_TRUE(mailbox->domain.empty());
  EXPECT_EQ(mailbox->text(), "");
}

TEST(ParsePath, PlainPath) {
  const auto mailbox = parsePath("<user@example.com>", false);
  ASSERT_TRUE(mailbox);
  EXPECT_EQ(mailbox->text(), "user@example.com");
}

TEST(ParsePath, SourceRouteIsDropped) {
  const auto mailbox = parsePath("<@remote.example:user@local.example>", false);
  ASSERT_TRUE(mailbox);
  EXPECT_EQ(mailbox->local_part, "user");
  EXPECT_EQ(mailbox->domain, "local.example");
  const auto longer = parsePath("<@a.example,@b.example:user@local.example>", false);
  ASSERT_TRUE(longer);
  EXPECT_EQ(longer->text(), "user@local.example");
}

TEST(ParsePath, RejectsBadSourceRoutes) {
  EXPECT_FALSE(parsePath("<@:user@local.example>", false));
  EXPECT_FALSE(parsePath("<@a.example user@local.example>", false));
  EXPECT_FALSE(parsePath("<@a.example,:user@local.example>", false));
  EXPECT_FALSE(parsePath("<@a.example,b.example:user@local.example>", false));
  EXPECT_FALSE(parsePath("<@a..example:user@local.example>", false));
  EXPECT_FALSE(parsePath("<@a.example:>", false));
  EXPECT_FALSE(parsePath("<@a.example:<user@local.example>>", false));
}

TEST(ParsePath, RejectsMissingOrExtraBrackets) {
  EXPECT_FALSE(parsePath("user@example.com", false));
  EXPECT_FALSE(parsePath("<user@example.com", false));
  EXPECT_FALSE(parsePath("user@example.com>", false));
  EXPECT_FALSE(parsePath("<<user@example.com>>", false));
  EXPECT_FALSE(parsePath("< user@example.com>", false));
  EXPECT_FALSE(parsePath("<user@example.com >", false));
  EXPECT_FALSE(parsePath("<", false));
  EXPECT_FALSE(parsePath("", false));
  EXPECT_FALSE(parsePath("<> ", false));
}

TEST(ParsePath, QuotedLocalPartMayContainAngleBracket) {
  const auto mailbox = parsePath("<\"a>b\"@example.com>", false);
  ASSERT_TRUE(mailbox);
  EXPECT_EQ(mailbox->local_part, "a>b");
}

TEST(ParsePath, PathLimitIs256OctetsIncludingBrackets) {
  // local 64 + "@" + domain 189 + "<>" = 256
  const std::string local(64, 'l');
  const std::string domain =
      std::string(63, 'd') + "." + std::string(63, 'd') + "." + std::string(61, 'd');
  ASSERT_EQ(domain.size(), 189u);
  const std::string at_limit = "<" + local + "@" + domain + ">";
  ASSERT_EQ(at_limit.size(), 256u);
  EXPECT_TRUE(parsePath(at_limit, false));
  const std::string past_limit = "<" + local + "@" + domain + "d>";
  EXPECT_FALSE(parsePath(past_limit, false));
  // The source route counts towards the 256.
  EXPECT_FALSE(parsePath("<@r.example:" + at_limit.substr(1), false));
}

TEST(ParsePath, Utf8InRouteAndMailbox) {
  EXPECT_TRUE(parsePath("<@r\xC3\xA9.example:u@b\xC3\xBC.example>", true));
  EXPECT_FALSE(parsePath("<@r\xC3\xA9.example:u@example>", false));
  EXPECT_FALSE(parsePath("<@r\xC3.example:u@example>", true));
}

TEST(DecodeXtext, PlainAndEncoded) {
  EXPECT_EQ(decodeXtext(""), "");
  EXPECT_EQ(decodeXtext("abc"), "abc");
  EXPECT_EQ(decodeXtext("a+2Bb"), "a+b");
  EXPECT_EQ(decodeXtext("+3D+20+7E"), "= ~");
  EXPECT_EQ(decodeXtext("user+40example.com"), "user@example.com");
  EXPECT_EQ(decodeXtext("+00"), std::string(1, '\0'));  // well-formed; callers judge the value
}

TEST(DecodeXtext, RejectsMalformed) {
  EXPECT_FALSE(decodeXtext("+"));
  EXPECT_FALSE(decodeXtext("+2"));
  EXPECT_FALSE(decodeXtext("a+2"));
  EXPECT_FALSE(decodeXtext("+2b"));  // RFC 3461: upper-case hex digits
  EXPECT_FALSE(decodeXtext("+G0"));
  EXPECT_FALSE(decodeXtext("a=b"));
  EXPECT_FALSE(decodeXtext("a b"));
  EXPECT_FALSE(decodeXtext("a\x01"));
  EXPECT_FALSE(decodeXtext("\xC3\xA9"));
  EXPECT_FALSE(decodeXtext("a\x7F"));
}

TEST(MailboxText, QuotesWhatIsNotADotAtom) {
  Mailbox mailbox;
  mailbox.local_part = "a b";
  mailbox.domain = "example.com";
  EXPECT_EQ(mailbox.text(), "\"a b\"@example.com");
  mailbox.local_part = ".a";
  EXPECT_EQ(mailbox.text(), "\".a\"@example.com");
  mailbox.local_part = "a..b";
  EXPECT_EQ(mailbox.text(), "\"a..b\"@example.com");
  mailbox.local_part = "a\"b\\";
  EXPECT_EQ(mailbox.text(), "\"a\\\"b\\\\\"@example.com");
}

TEST(MailboxText, RoundTripsThroughParser) {
  for (const char* text : {"\"a b\"@example.com", "user@[IPv6:::1]", "\"a\\\"b\"@x.example",
                           "\"user@remote\"@local.example"}) {
    const auto first = ascii(text);
    ASSERT_TRUE(first) << text;
    const auto second = ascii(first->text());
    ASSERT_TRUE(second) << first->text();
    EXPECT_EQ(second->local_part, first->local_part);
    EXPECT_EQ(second->domain, first->domain);
    EXPECT_EQ(second->text(), text);
  }
}

}  // namespace
}  // namespace bulwark::smtp
