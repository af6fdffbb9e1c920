// Tests for the SMTP command-line parser: every verb, every ESMTP parameter valid, malformed and
// duplicated, parameters given to the wrong command, control characters, and the relay tricks as
// they arrive in RCPT TO.
#include "smtp/proto/command.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace bulwark::smtp {
namespace {

// The reply a line gets when parsing fails, compared by code and enhanced code with the table.
::testing::AssertionResult failsWith(std::string_view line, ReplyKind kind,
                                     bool smtputf8_allowed = true) {
  const ReplyResult<Command> result = parseCommand(line, smtputf8_allowed);
  if (result.has_value()) return ::testing::AssertionFailure() << "parsed: '" << line << "'";
  const Reply expected = makeReply(kind);
  if (result.error().code != expected.code || result.error().enhanced != expected.enhanced) {
    return ::testing::AssertionFailure() << "'" << line << "' got " << result.error().render()
                                         << " expected " << expected.render();
  }
  return ::testing::AssertionSuccess();
}

Command parsed(std::string_view line, bool smtputf8_allowed = true) {
  const ReplyResult<Command> result = parseCommand(line, smtputf8_allowed);
  EXPECT_TRUE(result.has_value()) << "'" << line << "' got "
                                  << (result ? std::string() : result.error().render());
  return result.has_value() ? *result : Command{};
}

TEST(ParseCommand, HeloAndEhlo) {
  Command command = parsed("EHLO client.example");
  EXPECT_EQ(command.verb, Verb::ehlo);
  EXPECT_EQ(command.argument, "client.example");
  command = parsed("helo [192.0.2.1]");
  EXPECT_EQ(command.verb, Verb::helo);
  EXPECT_EQ(command.argument, "[192.0.2.1]");
  EXPECT_EQ(parsed("EHLO client.example  ").argument, "client.example");
}

TEST(ParseCommand, HeloAndEhloNeedAnArgument) {
  EXPECT_TRUE(failsWith("EHLO", ReplyKind::parameter_syntax));
  EXPECT_TRUE(failsWith("EHLO ", ReplyKind::parameter_syntax));
  EXPECT_TRUE(failsWith("HELO", ReplyKind::parameter_syntax));
  EXPECT_TRUE(failsWith("HELO   ", ReplyKind::parameter_syntax));
  EXPECT_TRUE(failsWith("EHLO b\xC3\xBC.example", ReplyKind::parameter_syntax));
}

TEST(ParseCommand, VerbsAreCaseInsensitive) {
  EXPECT_EQ(parsed("ehlo x").verb, Verb::ehlo);
  EXPECT_EQ(parsed("EhLo x").verb, Verb::ehlo);
  EXPECT_EQ(parsed("mail from:<a@b.example>").verb, Verb::mail);
  EXPECT_EQ(parsed("Rcpt To:<a@b.example>").verb, Verb::rcpt);
  EXPECT_EQ(parsed("data").verb, Verb::data);
  EXPECT_EQ(parsed("StartTLS").verb, Verb::starttls);
  EXPECT_EQ(parsed("bdat 1 last").last_chunk, true);
}

TEST(ParseCommand, VerbsWithoutArguments) {
  EXPECT_EQ(parsed("DATA").verb, Verb::data);
  EXPECT_EQ(parsed("RSET").verb, Verb::rset);
  EXPECT_EQ(parsed("QUIT").verb, Verb::quit);
  EXPECT_EQ(parsed("STARTTLS").verb, Verb::starttls);
  EXPECT_EQ(parsed("DATA ").verb, Verb::data);  // trailing space is not an argument
  EXPECT_TRUE(failsWith("DATA x", ReplyKind::parameter_syntax));
  EXPECT_TRUE(failsWith("RSET x", ReplyKind::parameter_syntax));
  EXPECT_TRUE(failsWith("QUIT now", ReplyKind::parameter_syntax));
  EXPECT_TRUE(failsWith("STARTTLS x", ReplyKind::parameter_syntax));
}

TEST(ParseCommand, VerbsWithOptionalArguments) {
  for (const auto& [name, verb] : {std::pair{"NOOP", Verb::noop}, std::pair{"HELP", Verb::help},
                                   std::pair{"VRFY", Verb::vrfy}, std::pair{"EXPN", Verb::expn}}) {
    const Command bare = parsed(name);
    EXPECT_EQ(bare.verb, verb);
    EXPECT_EQ(bare.argument, "");
    const Command with = parsed(std::string(name) + " some thing ");
    EXPECT_EQ(with.verb, verb);
    EXPECT_EQ(with.argument, "some thing");
  }
}

TEST(ParseCommand, UnknownVerbs) {
  EXPECT_TRUE(failsWith("FOO", ReplyKind::unrecognized_command));
  EXPECT_TRUE(failsWith("MAILFROM:<a@b.example>", ReplyKind::unrecognized_command));
  EXPECT_TRUE(failsWith("DATAX", ReplyKind::unrecognized_command));
  EXPECT_TRUE(failsWith("EHL", ReplyKind::unrecognized_command));
  EXPECT_TRUE(failsWith(" EHLO x", ReplyKind::unrecognized_command));
  EXPECT_TRUE(failsWith("TURN", ReplyKind::unrecognized_command));
  EXPECT_TRUE(failsWith("GET / HTTP/1.1", ReplyKind::unrecognized_command));
  EXPECT_TRUE(failsWith("D\xC3\x84TA", ReplyKind::unrecognized_command));
}

TEST(ParseCommand, EmptyLineIsASyntaxError) {
  EXPECT_TRUE(failsWith("", ReplyKind::syntax_error));
}

TEST(ParseCommand, ControlCharactersAreSyntaxErrors) {
  for (int byte = 0; byte < 0x20; ++byte) {
    std::string line = "NOOP a";
    line += static_cast<char>(byte);
    line += "b";
    EXPECT_TRUE(failsWith(line, ReplyKind::syntax_error)) << "byte " << byte;
    std::string in_verb = "DA";
    in_verb += static_cast<char>(byte);
    in_verb += "TA";
    EXPECT_TRUE(failsWith(in_verb, ReplyKind::syntax_error)) << "byte " << byte;
  }
  EXPECT_TRUE(failsWith("EHLO\tx", ReplyKind::syntax_error));
  EXPECT_TRUE(failsWith("DATA\r", ReplyKind::syntax_error));
  EXPECT_TRUE(failsWith("MAIL FROM:<a@b.example>\x7F", ReplyKind::syntax_error));
  EXPECT_TRUE(failsWith(std::string_view("RSET\0", 5), ReplyKind::syntax_error));
  EXPECT_TRUE(failsWith("DATA\r\nMAIL FROM:<a@b.example>", ReplyKind::syntax_error));
}

TEST(ParseCommand, MailFrom) {
  const Command command = parsed("MAIL FROM:<sender@example.com>");
  EXPECT_EQ(command.verb, Verb::mail);
  EXPECT_EQ(command.address, "sender@example.com");
  EXPECT_FALSE(command.mail.size);
  EXPECT_EQ(command.mail.body, "");
  EXPECT_FALSE(command.mail.smtputf8);
  EXPECT_FALSE(command.mail.require_tls);
}

TEST(ParseCommand, MailFromWithOneSpaceAfterColon) {
  EXPECT_EQ(parsed("MAIL FROM: <sender@example.com>").address, "sender@example.com");
  EXPECT_TRUE(failsWith("MAIL FROM:  <sender@example.com>", ReplyKind::bad_sender_address));
}

TEST(ParseCommand, MailFromNullPath) {
  const Command command = parsed("MAIL FROM:<>");
  EXPECT_EQ(command.address, "");
  EXPECT_EQ(parsed("MAIL FROM:<> SIZE=10").mail.size, 10u);
}

TEST(ParseCommand, MailFromSyntaxErrors) {
  EXPECT_TRUE(failsWith("MAIL", ReplyKind::parameter_syntax));
  EXPECT_TRUE(failsWith("MAIL FROM", ReplyKind::parameter_syntax));
  EXPECT_TRUE(failsWith("MAIL TO:<a@b.example>", ReplyKind::parameter_syntax));
  EXPECT_TRUE(failsWith("MAIL FROM :<a@b.example>", ReplyKind::parameter_syntax));
  EXPECT_TRUE(failsWith("MAIL  FROM:<a@b.example>", ReplyKind::parameter_syntax));
  EXPECT_TRUE(failsWith("MAIL FROM:", ReplyKind::bad_sender_address));
  EXPECT_TRUE(failsWith("MAIL FROM:a@b.example", ReplyKind::bad_sender_address));
  EXPECT_TRUE(failsWith("MAIL FROM:<a@b.example", ReplyKind::bad_sender_address));
  EXPECT_TRUE(failsWith("MAIL FROM:<a@b.example>x", ReplyKind::bad_sender_address));
  EXPECT_TRUE(failsWith("MAIL FROM:<a@@b.example>", ReplyKind::bad_sender_address));
  EXPECT_TRUE(failsWith("MAIL FROM:<a>", ReplyKind::bad_sender_address));
  EXPECT_TRUE(failsWith("MAIL FROM:<\"a@b.example>", ReplyKind::bad_sender_address));
}

TEST(ParseCommand, RcptTo) {
  const Command command = parsed("RCPT TO:<rcpt@example.com>");
  EXPECT_EQ(command.verb, Verb::rcpt);
  EXPECT_EQ(command.address, "rcpt@example.com");
  EXPECT_EQ(command.rcpt.notify, 0);
  EXPECT_EQ(command.rcpt.original_recipient, "");
  EXPECT_EQ(parsed("RCPT TO: <rcpt@example.com>").address, "rcpt@example.com");
}

TEST(ParseCommand, RcptToErrors) {
  EXPECT_TRUE(failsWith("RCPT", ReplyKind::parameter_syntax));
  EXPECT_TRUE(failsWith("RCPT FROM:<a@b.example>", ReplyKind::parameter_syntax));
  EXPECT_TRUE(failsWith("RCPT TO:<>", ReplyKind::bad_recipient_address));
  EXPECT_TRUE(failsWith("RCPT TO:<a b@example.com>", ReplyKind::bad_recipient_address));
  EXPECT_TRUE(failsWith("RCPT TO:a@example.com", ReplyKind::bad_recipient_address));
}

TEST(ParseCommand, RcptToPostmasterWithoutDomain) {
  EXPECT_EQ(parsed("RCPT TO:<Postmaster>").address, "Postmaster");
  EXPECT_EQ(parsed("RCPT TO:<postmaster>").address, "postmaster");
  EXPECT_TRUE(failsWith("MAIL FROM:<postmaster>", ReplyKind::bad_sender_address));
  EXPECT_TRUE(failsWith("RCPT TO:<webmaster>", ReplyKind::bad_recipient_address));
}

// The relay tricks are syntactically valid; the parser must hand them on intact, never resolve
// them into a different domain.
TEST(ParseCommand, RelayTricksKeepTheirLocalPart) {
  EXPECT_EQ(parsed("RCPT TO:<user%remote.example@local.example>").address,
            "user%remote.example@local.example");
  EXPECT_EQ(parsed("RCPT TO:<remote.example!user@local.example>").address,
            "remote.example!user@local.example");
  EXPECT_EQ(parsed("RCPT TO:<\"user@remote.example\"@local.example>").address,
            "\"user@remote.example\"@local.example");
  EXPECT_EQ(parsed("RCPT TO:<@remote.example:user@local.example>").address, "user@local.example");
  EXPECT_EQ(parsed("RCPT TO:<user@[127.0.0.1]>").address, "user@[127.0.0.1]");
  EXPECT_EQ(parsed("RCPT TO:<\"a>b\"@local.example> NOTIFY=NEVER").address,
            "\"a>b\"@local.example");
}

TEST(ParseCommand, AddressLimits) {
  const std::string local(64, 'a');
  EXPECT_TRUE(parseCommand("RCPT TO:<" + local + "@example.com>").has_value());
  EXPECT_TRUE(failsWith("RCPT TO:<" + local + "a@example.com>", ReplyKind::bad_recipient_address));
  const std::string domain =
      std::string(63, 'd') + "." + std::string(63, 'd') + "." + std::string(61, 'd');
  EXPECT_TRUE(parseCommand("MAIL FROM:<" + local + "@" + domain + ">").has_value());
  EXPECT_TRUE(
      failsWith("MAIL FROM:<" + local + "@" + domain + "d>", ReplyKind::bad_sender_address));
}

TEST(ParseCommand, Utf8AddressesNeedSmtputf8) {
  const std::string sender = "MAIL FROM:<j\u00F6rg@example.com>";
  EXPECT_TRUE(failsWith(sender, ReplyKind::smtputf8_not_allowed));  // no SMTPUTF8 parameter
  EXPECT_TRUE(failsWith(sender + " SMTPUTF8", ReplyKind::smtputf8_not_allowed, false));
  const Command mail = parsed(sender + " SMTPUTF8");
  EXPECT_EQ(mail.address, "j\u00F6rg@example.com");
  EXPECT_TRUE(mail.mail.smtputf8);

  const std::string recipient = "RCPT TO:<user@b\u00FCcher.example>";
  EXPECT_TRUE(failsWith(recipient, ReplyKind::smtputf8_not_allowed, false));
  EXPECT_EQ(parsed(recipient, true).address, "user@b\u00FCcher.example");
  EXPECT_TRUE(failsWith("RCPT TO:<\xC3@example.com>", ReplyKind::bad_recipient_address, true));
  EXPECT_TRUE(parseCommand("RCPT TO:<ascii@example.com>", false).has_value());
}

TEST(ParseCommand, NonAsciiParametersAreSyntaxErrors) {
  EXPECT_TRUE(failsWith("MAIL FROM:<a@b.example> ENVID=\xC3\xA9", ReplyKind::parameter_syntax));
  EXPECT_TRUE(
      failsWith("RCPT TO:<a@b.example> ORCPT=rfc822;\xC3\xA9", ReplyKind::parameter_syntax));
}

TEST(ParseCommand, SizeParameter) {
  EXPECT_EQ(parsed("MAIL FROM:<a@b.example> SIZE=0").mail.size, 0u);
  EXPECT_EQ(parsed("MAIL FROM:<a@b.example> size=12345").mail.size, 12345u);
  EXPECT_EQ(parsed("MAIL FROM:<a@b.example> SIZE=18446744073709551615").mail.size,
            18446744073709551615u);
  EXPECT_TRUE(
      failsWith("MAIL FROM:<a@b.example> SIZE=18446744073709551616", ReplyKind::parameter_syntax));
  EXPECT_TRUE(failsWith("MAIL FROM:<a@b.example> SIZE=", ReplyKind::parameter_syntax));
  EXPECT_TRUE(failsWith("MAIL FROM:<a@b.example> SIZE", ReplyKind::parameter_syntax));
  EXPECT_TRUE(failsWith("MAIL FROM:<a@b.example> SIZE=-1", ReplyKind::parameter_syntax));
  EXPECT_TRUE(failsWith("MAIL FROM:<a@b.example> SIZE=+1", ReplyKind::parameter_syntax));
  EXPECT_TRUE(failsWith("MAIL FROM:<a@b.example> SIZE=1k", ReplyKind::parameter_syntax));
  EXPECT_TRUE(failsWith("MAIL FROM:<a@b.example> SIZE=1 SIZE=1", ReplyKind::parameter_syntax));
}

TEST(ParseCommand, BodyParameter) {
  EXPECT_EQ(parsed("MAIL FROM:<a@b.example> BODY=7BIT").mail.body, "7BIT");
  EXPECT_EQ(parsed("MAIL FROM:<a@b.example> BODY=8bitmime").mail.body, "8BITMIME");
  EXPECT_EQ(parsed("MAIL FROM:<a@b.example> body=BinaryMIME").mail.body, "BINARYMIME");
  EXPECT_TRUE(failsWith("MAIL FROM:<a@b.example> BODY=9BIT", ReplyKind::parameter_syntax));
  EXPECT_TRUE(failsWith("MAIL FROM:<a@b.example> BODY", ReplyKind::parameter_syntax));
  EXPECT_TRUE(failsWith("MAIL FROM:<a@b.example> BODY=", ReplyKind::parameter_syntax));
  EXPECT_TRUE(
      failsWith("MAIL FROM:<a@b.example> BODY=7BIT BODY=8BITMIME", ReplyKind::parameter_syntax));
}

TEST(ParseCommand, Smtputf8AndRequiretlsTakeNoValue) {
  const Command command = parsed("MAIL FROM:<a@b.example> SMTPUTF8 REQUIRETLS");
  EXPECT_TRUE(command.mail.smtputf8);
  EXPECT_TRUE(command.mail.require_tls);
  EXPECT_TRUE(parsed("MAIL FROM:<a@b.example> smtputf8").mail.smtputf8);
  EXPECT_TRUE(failsWith("MAIL FROM:<a@b.example> SMTPUTF8=YES", ReplyKind::parameter_syntax));
  EXPECT_TRUE(failsWith("MAIL FROM:<a@b.example> REQUIRETLS=1", ReplyKind::parameter_syntax));
  EXPECT_TRUE(failsWith("MAIL FROM:<a@b.example> SMTPUTF8 SMTPUTF8", ReplyKind::parameter_syntax));
  EXPECT_TRUE(
      failsWith("MAIL FROM:<a@b.example> REQUIRETLS REQUIRETLS", ReplyKind::parameter_syntax));
}

TEST(ParseCommand, RetParameter) {
  EXPECT_EQ(parsed("MAIL FROM:<a@b.example> RET=FULL").mail.dsn_return, "FULL");
  EXPECT_EQ(parsed("MAIL FROM:<a@b.example> RET=hdrs").mail.dsn_return, "HDRS");
  EXPECT_TRUE(failsWith("MAIL FROM:<a@b.example> RET=ALL", ReplyKind::parameter_syntax));
  EXPECT_TRUE(failsWith("MAIL FROM:<a@b.example> RET", ReplyKind::parameter_syntax));
  EXPECT_TRUE(failsWith("MAIL FROM:<a@b.example> RET=FULL RET=HDRS", ReplyKind::parameter_syntax));
}

TEST(ParseCommand, EnvidParameter) {
  EXPECT_EQ(parsed("MAIL FROM:<a@b.example> ENVID=QQ314159+2Bx").mail.dsn_envelope_id,
            "QQ314159+x");
  const std::string at_limit(100, 'e');
  EXPECT_EQ(parsed("MAIL FROM:<a@b.example> ENVID=" + at_limit).mail.dsn_envelope_id, at_limit);
  EXPECT_TRUE(
      failsWith("MAIL FROM:<a@b.example> ENVID=" + at_limit + "e", ReplyKind::parameter_syntax));
  EXPECT_TRUE(failsWith("MAIL FROM:<a@b.example> ENVID=a+2", ReplyKind::parameter_syntax));
  EXPECT_TRUE(failsWith("MAIL FROM:<a@b.example> ENVID=", ReplyKind::parameter_syntax));
  // Decoded CR LF would be copied into a DSN header field.
  EXPECT_TRUE(
      failsWith("MAIL FROM:<a@b.example> ENVID=a+0D+0AX-Evil:1", ReplyKind::parameter_syntax));
  EXPECT_TRUE(failsWith("MAIL FROM:<a@b.example> ENVID=a ENVID=b", ReplyKind::parameter_syntax));
}

TEST(ParseCommand, AuthParameter) {
  EXPECT_EQ(parsed("MAIL FROM:<a@b.example> AUTH=<>").mail.auth, "<>");
  EXPECT_EQ(parsed("MAIL FROM:<a@b.example> AUTH=e+2Bf@example.com").mail.auth, "e+f@example.com");
  EXPECT_TRUE(failsWith("MAIL FROM:<a@b.example> AUTH=", ReplyKind::parameter_syntax));
  EXPECT_TRUE(failsWith("MAIL FROM:<a@b.example> AUTH=a+ZZ", ReplyKind::parameter_syntax));
  EXPECT_TRUE(failsWith("MAIL FROM:<a@b.example> AUTH=a+0A", ReplyKind::parameter_syntax));
  EXPECT_TRUE(failsWith("MAIL FROM:<a@b.example> AUTH=<> AUTH=<>", ReplyKind::parameter_syntax));
}

TEST(ParseCommand, AllMailParametersTogether) {
  const Command command = parsed(
      "MAIL FROM:<a@b.example> SIZE=100 BODY=8BITMIME SMTPUTF8 REQUIRETLS RET=HDRS ENVID=id1 "
      "AUTH=<>");
  EXPECT_EQ(command.mail.size, 100u);
  EXPECT_EQ(command.mail.body, "8BITMIME");
  EXPECT_TRUE(command.mail.smtputf8);
  EXPECT_TRUE(command.mail.require_tls);
  EXPECT_EQ(command.mail.dsn_return, "HDRS");
  EXPECT_EQ(command.mail.dsn_envelope_id, "id1");
  EXPECT_EQ(command.mail.auth, "<>");
}

TEST(ParseCommand, ParameterSeparatorsAreLenientAboutExtraSpaces) {
  const Command command = parsed("MAIL FROM:<a@b.example>  SIZE=1   BODY=7BIT ");
  EXPECT_EQ(command.mail.size, 1u);
  EXPECT_EQ(command.mail.body, "7BIT");
}

TEST(ParseCommand, UnknownParameters) {
  EXPECT_TRUE(failsWith("MAIL FROM:<a@b.example> FOO=BAR", ReplyKind::parameter_not_recognized));
  EXPECT_TRUE(failsWith("MAIL FROM:<a@b.example> X-FOO", ReplyKind::parameter_not_recognized));
  EXPECT_TRUE(failsWith("RCPT TO:<a@b.example> FOO", ReplyKind::parameter_not_recognized));
}

TEST(ParseCommand, MalformedParameterKeywordsAndValues) {
  EXPECT_TRUE(failsWith("MAIL FROM:<a@b.example> =1", ReplyKind::parameter_syntax));
  EXPECT_TRUE(failsWith("MAIL FROM:<a@b.example> -SIZE=1", ReplyKind::parameter_syntax));
  EXPECT_TRUE(failsWith("MAIL FROM:<a@b.example> SI_ZE=1", ReplyKind::parameter_syntax));
  EXPECT_TRUE(failsWith("MAIL FROM:<a@b.example> SIZE=1=2", ReplyKind::parameter_syntax));
  EXPECT_TRUE(failsWith("RCPT TO:<a@b.example> NOTIFY==NEVER", ReplyKind::parameter_syntax));
}

TEST(ParseCommand, ParametersOfTheOtherCommandAreNotRecognized) {
  for (const char* parameter :
       {"SIZE=1", "BODY=7BIT", "SMTPUTF8", "REQUIRETLS", "RET=FULL", "ENVID=x", "AUTH=<>"}) {
    EXPECT_TRUE(failsWith(std::string("RCPT TO:<a@b.example> ") + parameter,
                          ReplyKind::parameter_not_recognized))
        << parameter;
  }
  for (const char* parameter : {"NOTIFY=NEVER", "ORCPT=rfc822;a@b.example"}) {
    EXPECT_TRUE(failsWith(std::string("MAIL FROM:<a@b.example> ") + parameter,
                          ReplyKind::parameter_not_recognized))
        << parameter;
  }
}

TEST(ParseCommand, NotifyParameter) {
  constexpr std::uint8_t kNever = 1, kSuccess = 2, kFailure = 4, kDelay = 8;
  EXPECT_EQ(parsed("RCPT TO:<a@b.example> NOTIFY=NEVER").rcpt.notify, kNever);
  EXPECT_EQ(parsed("RCPT TO:<a@b.example> NOTIFY=never").rcpt.notify, kNever);
  EXPECT_EQ(parsed("RCPT TO:<a@b.example> NOTIFY=SUCCESS").rcpt.notify, kSuccess);
  EXPECT_EQ(parsed("RCPT TO:<a@b.example> NOTIFY=FAILURE,DELAY").rcpt.notify, kFailure | kDelay);
  EXPECT_EQ(parsed("RCPT TO:<a@b.example> NOTIFY=delay,Success,FAILURE").rcpt.notify,
            kSuccess | kFailure | kDelay);
  for (const char* bad :
       {"NOTIFY=NEVER,SUCCESS", "NOTIFY=SUCCESS,NEVER", "NOTIFY=", "NOTIFY", "NOTIFY=SOMETIMES",
        "NOTIFY=SUCCESS,", "NOTIFY=,SUCCESS", "NOTIFY=SUCCESS,,DELAY", "NOTIFY=SUCCESS,SUCCESS",
        "NOTIFY=NEVER NOTIFY=NEVER"}) {
    EXPECT_TRUE(failsWith(std::string("RCPT TO:<a@b.example> ") + bad, ReplyKind::parameter_syntax))
        << bad;
  }
}

TEST(ParseCommand, OrcptParameter) {
  EXPECT_EQ(
      parsed("RCPT TO:<a@b.example> ORCPT=rfc822;orig+2Bx@example.com").rcpt.original_recipient,
      "rfc822;orig+x@example.com");
  const Command both = parsed("RCPT TO:<a@b.example> NOTIFY=SUCCESS ORCPT=rfc822;x@y.example");
  EXPECT_EQ(both.rcpt.notify, 2);
  EXPECT_EQ(both.rcpt.original_recipient, "rfc822;x@y.example");
  for (const char* bad :
       {"ORCPT=", "ORCPT", "ORCPT=rfc822", "ORCPT=;a@b.example", "ORCPT=rfc822;",
        "ORCPT=rfc822;a+2", "ORCPT=rf(c;a@b.example", "ORCPT=rfc822;a+0D+0A@b.example",
        "ORCPT=rfc822;a@b.example ORCPT=rfc822;a@b.example"}) {
    EXPECT_TRUE(failsWith(std::string("RCPT TO:<a@b.example> ") + bad, ReplyKind::parameter_syntax))
        << bad;
  }
}

TEST(ParseCommand, Bdat) {
  Command command = parsed("BDAT 1000");
  EXPECT_EQ(command.verb, Verb::bdat);
  EXPECT_EQ(command.chunk_size, 1000u);
  EXPECT_FALSE(command.last_chunk);
  command = parsed("BDAT 0 LAST");
  EXPECT_EQ(command.chunk_size, 0u);
  EXPECT_TRUE(command.last_chunk);
  EXPECT_EQ(parsed("BDAT 18446744073709551615 last").chunk_size, 18446744073709551615u);
  for (const char* bad : {"BDAT", "BDAT ", "BDAT x", "BDAT -1", "BDAT 1 FIRST", "BDAT 1 LAST x",
                          "BDAT LAST", "BDAT 18446744073709551616", "BDAT 1x LAST", "BDAT 0x10"}) {
    EXPECT_TRUE(failsWith(bad, ReplyKind::chunk_syntax)) << bad;
  }
}

TEST(ParseCommand, Auth) {
  EXPECT_EQ(parsed("AUTH PLAIN").argument, "PLAIN");
  EXPECT_EQ(parsed("AUTH plain dGVzdAB0ZXN0AHRlc3Q=").argument, "PLAIN dGVzdAB0ZXN0AHRlc3Q=");
  EXPECT_EQ(parsed("AUTH LOGIN =").argument, "LOGIN =");
  EXPECT_EQ(parsed("AUTH SCRAM-SHA-256").argument, "SCRAM-SHA-256");
  EXPECT_EQ(parsed("AUTH X_MECH").argument, "X_MECH");
  EXPECT_EQ(parsed("AUTH " + std::string(20, 'M')).argument, std::string(20, 'M'));
  const std::vector<std::string> bad_lines = {"AUTH",
                                              "AUTH ",
                                              "AUTH PLAIN a b",
                                              "AUTH PL/AIN",
                                              "AUTH " + std::string(21, 'M'),
                                              "AUTH PLAIN \xC3\xA9"};
  for (const std::string& bad : bad_lines) {
    EXPECT_TRUE(failsWith(bad, ReplyKind::parameter_syntax)) << bad;
  }
}

}  // namespace
}  // namespace bulwark::smtp
