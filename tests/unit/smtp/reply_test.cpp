// Tests for the reply table and reply rendering (RFC 5321 4.2, RFC 2034, RFC 3463): every kind has
// a well-formed code that its enhanced code agrees with; rendering follows the multi-line rules.
#include "smtp/proto/reply.h"

#include <gtest/gtest.h>

namespace bulwark::smtp {
namespace {

constexpr int kFirstKind = static_cast<int>(ReplyKind::greeting);
constexpr int kLastKind = static_cast<int>(ReplyKind::conversion_not_possible);

TEST(ReplyTable, EveryKindHasAWellFormedCode) {
  for (int index = kFirstKind; index <= kLastKind; ++index) {
    const Reply reply = makeReply(static_cast<ReplyKind>(index));
    SCOPED_TRACE(index);
    EXPECT_GE(reply.code, 200);
    EXPECT_LT(reply.code, 600);
    ASSERT_EQ(reply.lines.size(), 1u);
    if (!reply.enhanced.empty()) {
      // RFC 3463 2: class.subject.detail, the class equal to the first digit of the basic code.
      EXPECT_EQ(reply.enhanced.front(), static_cast<char>('0' + reply.code / 100));
      EXPECT_EQ(reply.enhanced[1], '.');
    }
  }
}

TEST(ReplyTable, FailuresHaveTextAndEnhancedCodes) {
  for (int index = kFirstKind; index <= kLastKind; ++index) {
    const Reply reply = makeReply(static_cast<ReplyKind>(index));
    if (reply.code < 400) continue;
    SCOPED_TRACE(index);
    EXPECT_FALSE(reply.enhanced.empty());
    EXPECT_FALSE(reply.lines.front().empty());
  }
}

TEST(ReplyTable, CodesTheParserReliesOn) {
  EXPECT_EQ(makeReply(ReplyKind::syntax_error).code, 500);
  EXPECT_EQ(makeReply(ReplyKind::unrecognized_command).code, 500);
  EXPECT_EQ(makeReply(ReplyKind::parameter_syntax).code, 501);
  EXPECT_EQ(makeReply(ReplyKind::parameter_not_recognized).code, 555);
  EXPECT_EQ(makeReply(ReplyKind::bad_sender_address).enhanced, "5.1.7");
  EXPECT_EQ(makeReply(ReplyKind::bad_recipient_address).enhanced, "5.1.3");
  EXPECT_EQ(makeReply(ReplyKind::smtputf8_not_allowed).code, 553);
  EXPECT_EQ(makeReply(ReplyKind::smtputf8_not_allowed).enhanced, "5.6.7");
  EXPECT_EQ(makeReply(ReplyKind::chunk_syntax).code, 501);
  EXPECT_EQ(makeReply(ReplyKind::message_too_big).code, 552);
  EXPECT_EQ(makeReply(ReplyKind::bare_line_ending).code, 550);
}

TEST(ReplyTable, DetailReplacesTheDefaultText) {
  const Reply reply = makeReply(ReplyKind::ok_sender, "Sender <a@b.example> OK");
  EXPECT_EQ(reply.code, 250);
  EXPECT_EQ(reply.lines, std::vector<std::string>{"Sender <a@b.example> OK"});
  EXPECT_EQ(reply.render(), "250 2.1.0 Sender <a@b.example> OK\r\n");
}

TEST(ReplyRender, SingleLine) {
  EXPECT_EQ(makeReply(ReplyKind::closing).render(), "221 2.0.0 Bye\r\n");
}

TEST(ReplyRender, WithoutEnhancedCode) {
  EXPECT_EQ(makeReply(ReplyKind::greeting, "mx.example ESMTP").render(),
            "220 mx.example ESMTP\r\n");
  EXPECT_EQ(makeReply(ReplyKind::start_data).render(), "354 End data with <CR><LF>.<CR><LF>\r\n");
}

TEST(ReplyRender, MultiLineUsesHyphenUntilTheLastLine) {
  Reply reply;
  reply.code = 250;
  reply.lines = {"mx.example", "PIPELINING", "SIZE 1000"};
  EXPECT_EQ(reply.render(), "250-mx.example\r\n250-PIPELINING\r\n250 SIZE 1000\r\n");
  reply.enhanced = "2.0.0";
  EXPECT_EQ(reply.render(),
            "250-2.0.0 mx.example\r\n250-2.0.0 PIPELINING\r\n250 2.0.0 SIZE 1000\r\n");
}

TEST(ReplyRender, EmptyTextLines) {
  EXPECT_EQ(makeReply(ReplyKind::auth_continue).render(), "334 \r\n");
  Reply reply;
  reply.code = 250;
  reply.enhanced = "2.0.0";
  reply.lines = {""};
  EXPECT_EQ(reply.render(), "250 2.0.0\r\n");
  reply.lines.clear();
  EXPECT_EQ(reply.render(), "250 2.0.0\r\n");
}

TEST(ReplyClass, PositiveTransientPermanent) {
  EXPECT_TRUE(makeReply(ReplyKind::ok).isPositive());
  EXPECT_TRUE(makeReply(ReplyKind::start_data).isPositive());
  EXPECT_FALSE(makeReply(ReplyKind::ok).isTransient());
  EXPECT_TRUE(makeReply(ReplyKind::insufficient_storage).isTransient());
  EXPECT_FALSE(makeReply(ReplyKind::insufficient_storage).isPositive());
  EXPECT_FALSE(makeReply(ReplyKind::relay_denied).isTransient());
  EXPECT_FALSE(makeReply(ReplyKind::relay_denied).isPositive());
}

}  // namespace
}  // namespace bulwark::smtp
