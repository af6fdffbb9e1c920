// Tests for the client's reply reader and EHLO parser (RFC 5321 4.2, RFC 2034, RFC 1870, RFC 4954):
// multi-line replies, input split at every byte, malformed lines, and the line and count limits.
#include "smtp/client/reply_reader.h"

#include <gtest/gtest.h>

#include <string>

namespace bulwark::smtp {
namespace {

// Feeds `bytes` whole and returns the first reply (or fails the test).
Reply readOne(std::string_view bytes) {
  ReplyReader reader;
  reader.feed(bytes);
  auto next = reader.next();
  EXPECT_TRUE(next.has_value());
  if (!next || !next->has_value()) return Reply{0, "", {}};
  return **next;
}

std::string errorOf(std::string_view bytes, ReplyReaderLimits limits = {}) {
  ReplyReader reader(limits);
  reader.feed(bytes);
  while (true) {
    auto next = reader.next();
    if (!next) return next.error().code;
    if (!next->has_value()) return "need-more";
  }
}

TEST(ReplyReader, SingleLineWithEnhancedCode) {
  Reply reply = readOne("250 2.1.5 Recipient OK\r\n");
  EXPECT_EQ(reply.code, 250);
  EXPECT_EQ(reply.enhanced, "2.1.5");
  ASSERT_EQ(reply.lines.size(), 1u);
  EXPECT_EQ(reply.lines[0], "Recipient OK");
}

TEST(ReplyReader, CodeOnlyAndNoEnhancedCode) {
  Reply bare = readOne("354\r\n");
  EXPECT_EQ(bare.code, 354);
  EXPECT_EQ(bare.enhanced, "");
  ASSERT_EQ(bare.lines.size(), 1u);
  EXPECT_EQ(bare.lines[0], "");
  Reply greeting = readOne("220 mx.example.test ESMTP\r\n");
  EXPECT_EQ(greeting.enhanced, "");
  EXPECT_EQ(greeting.lines[0], "mx.example.test ESMTP");
}

TEST(ReplyReader, EnhancedCodeMustMatchTheClass) {
  // RFC 2034 4: the class of the enhanced code equals the first digit of the reply code.
  Reply reply = readOne("250 5.1.1 odd\r\n");
  EXPECT_EQ(reply.enhanced, "");
  EXPECT_EQ(reply.lines[0], "5.1.1 odd");
  Reply glued = readOne("550 5.1.1x text\r\n");
  EXPECT_EQ(glued.enhanced, "");
  Reply alone = readOne("550 5.1.1\r\n");
  EXPECT_EQ(alone.enhanced, "5.1.1");
  EXPECT_EQ(alone.lines[0], "");
  Reply long_parts = readOne("550 5.123.456 long parts\r\n");
  EXPECT_EQ(long_parts.enhanced, "5.123.456");
  Reply too_long = readOne("550 5.1234.5 too long\r\n");
  EXPECT_EQ(too_long.enhanced, "");
}

TEST(ReplyReader, MultiLine) {
  Reply reply = readOne("250-mx.example.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n");
  EXPECT_EQ(reply.code, 250);
  ASSERT_EQ(reply.lines.size(), 3u);
  EXPECT_EQ(reply.lines[0], "mx.example.test");
  EXPECT_EQ(reply.lines[2], "STARTTLS");
  Reply enhanced = readOne("550-5.7.1 first\r\n550 5.7.1 second\r\n");
  EXPECT_EQ(enhanced.enhanced, "5.7.1");
  EXPECT_EQ(enhanced.lines, (std::vector<std::string>{"first", "second"}));
}

TEST(ReplyReader, SeveralRepliesInOneRead) {
  ReplyReader reader;
  reader.feed("250 2.1.0 OK\r\n250 2.1.5 OK\r\n354 go\r\n");
  for (int expected : {250, 250, 354}) {
    auto next = reader.next();
    ASSERT_TRUE(next && next->has_value());
    EXPECT_EQ((*next)->code, expected);
  }
  EXPECT_EQ(reader.buffered(), 0u);
  auto next = reader.next();
  ASSERT_TRUE(next);
  EXPECT_FALSE(next->has_value());
}

TEST(ReplyReader, ReportsBytesAfterAReply) {
  ReplyReader reader;
  reader.feed("220 Ready to start TLS\r\n250 injected\r\n");
  auto next = reader.next();
  ASSERT_TRUE(next && next->has_value());
  EXPECT_EQ(reader.buffered(), std::string("250 injected\r\n").size());
  reader.clear();
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(ReplyReader, SplitAtEveryByte) {
  const std::string input =
      "250-mx.example.test greets you\r\n250-SIZE 1000\r\n250 2.0.0 DSN\r\n421 4.4.2 bye\r\n";
  for (std::size_t split = 0; split <= input.size(); ++split) {
    SCOPED_TRACE(split);
    ReplyReader reader;
    std::vector<Reply> replies;
    auto drain = [&] {
      while (true) {
        auto next = reader.next();
        ASSERT_TRUE(next);
        if (!next->has_value()) return;
        replies.push_back(**next);
      }
    };
    reader.feed(std::string_view(input).substr(0, split));
    drain();
    reader.feed(std::string_view(input).substr(split));
    drain();
    ASSERT_EQ(replies.size(), 2u);
    EXPECT_EQ(replies[0].lines.size(), 3u);
    EXPECT_EQ(replies[0].enhanced, "2.0.0");
    EXPECT_EQ(replies[0].lines[2], "DSN");
    EXPECT_EQ(replies[1].code, 421);
  }
  // And one byte at a time.
  ReplyReader reader;
  int complete = 0;
  for (char c : input) {
    reader.feed(std::string_view(&c, 1));
    while (true) {
      auto next = reader.next();
      ASSERT_TRUE(next);
      if (!next->has_value()) break;
      ++complete;
    }
  }
  EXPECT_EQ(complete, 2);
}

TEST(ReplyReader, BareLineFeedIsAccepted) {
  Reply reply = readOne("250-a\n250 b\n");
  EXPECT_EQ(reply.lines, (std::vector<std::string>{"a", "b"}));
}

TEST(ReplyReader, Malformed) {
  EXPECT_EQ(errorOf("hello\r\n"), "syntax");
  EXPECT_EQ(errorOf("25\r\n"), "syntax");
  EXPECT_EQ(errorOf("2500 text\r\n"), "syntax");
  EXPECT_EQ(errorOf("250_text\r\n"), "syntax");
  EXPECT_EQ(errorOf("199 too low\r\n"), "syntax");
  EXPECT_EQ(errorOf("600 too high\r\n"), "syntax");
  EXPECT_EQ(errorOf("260 second digit\r\n"), "syntax");
  EXPECT_EQ(errorOf("250-first\r\n550 changed\r\n"), "syntax");
  EXPECT_EQ(errorOf("250 a\rb\r\n"), "syntax");
  EXPECT_EQ(errorOf(std::string("250 a\0b\r\n", 9)), "syntax");
  EXPECT_EQ(errorOf("250-incomplete\r\n"), "need-more");
}

TEST(ReplyReader, ErrorIsSticky) {
  ReplyReader reader;
  reader.feed("xyz\r\n250 OK\r\n");
  EXPECT_FALSE(reader.next());
  EXPECT_FALSE(reader.next());
}

TEST(ReplyReader, LineLengthLimit) {
  ReplyReaderLimits limits;
  limits.max_line_length = 64;
  const std::string fits = "250 " + std::string(58, 'a') + "\r\n";  // 64 octets with CRLF
  EXPECT_EQ(errorOf(fits, limits), "need-more");                    // one reply, then need more
  const std::string longer = "250 " + std::string(59, 'a') + "\r\n";
  EXPECT_EQ(errorOf(longer, limits), "limit");
  // Without a line end, the limit still stops the buffering.
  EXPECT_EQ(errorOf("250 " + std::string(100, 'a'), limits), "limit");
  EXPECT_EQ(errorOf("250 " + std::string(50, 'a'), limits), "need-more");
}

TEST(ReplyReader, LineCountLimit) {
  ReplyReaderLimits limits;
  limits.max_lines = 3;
  EXPECT_EQ(errorOf("250-a\r\n250-b\r\n250 c\r\n", limits), "need-more");
  EXPECT_EQ(errorOf("250-a\r\n250-b\r\n250-c\r\n250 d\r\n", limits), "limit");
}

TEST(EhloCapabilities, KeywordsSizeAndAuth) {
  Reply reply = readOne(
      "250-mx.example.test Hello\r\n250-pipelining\r\n250-SIZE 35882577\r\n250-AUTH PLAIN login\r\n"
      "250-AUTH=CRAM-MD5\r\n250-8BITMIME\r\n250 STARTTLS\r\n");
  ServerCapabilities capabilities = parseEhloCapabilities(reply);
  EXPECT_TRUE(capabilities.has("PIPELINING"));
  EXPECT_TRUE(capabilities.has("STARTTLS"));
  EXPECT_TRUE(capabilities.has("8BITMIME"));
  EXPECT_FALSE(capabilities.has("MX.EXAMPLE.TEST"));  // the first line is the greeting
  EXPECT_EQ(capabilities.size_limit, 35882577u);
  EXPECT_TRUE(capabilities.hasAuthMechanism("PLAIN"));
  EXPECT_TRUE(capabilities.hasAuthMechanism("LOGIN"));
  EXPECT_TRUE(capabilities.hasAuthMechanism("CRAM-MD5"));
  EXPECT_FALSE(capabilities.hasAuthMechanism("XOAUTH2"));
}

TEST(EhloCapabilities, SizeWithoutOrBadNumber) {
  EXPECT_EQ(parseEhloCapabilities(readOne("250-x\r\n250 SIZE\r\n")).size_limit, 0u);
  EXPECT_TRUE(parseEhloCapabilities(readOne("250-x\r\n250 SIZE\r\n")).has("SIZE"));
  EXPECT_EQ(parseEhloCapabilities(readOne("250-x\r\n250 SIZE 12k\r\n")).size_limit, 0u);
  EXPECT_EQ(parseEhloCapabilities(readOne("250 x\r\n")).keywords.size(), 0u);
}

}  // namespace
}  // namespace bulwark::smtp
