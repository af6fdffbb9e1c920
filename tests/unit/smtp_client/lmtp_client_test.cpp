// Tests for the client speaking LMTP (RFC 2033) to a scripted mailbox server on loopback TCP and on
// a unix socket (tests/support/fake_smtp_server.h): LHLO and no HELO fallback (4.1), one reply per
// accepted recipient after the data in RCPT order (4.2), and a server that goes away between those
// replies (the unanswered recipients are transient failures, the answered ones keep their reply).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "smtp/client/smtp_client.h"
#include "support/fake_smtp_server.h"

namespace bulwark::smtp {
namespace {

using test::FakeSmtpConnection;
using test::FakeSmtpServer;

ClientSettings lmtpSettings() {
  ClientSettings settings;
  settings.protocol = Protocol::lmtp;
  settings.helo_name = "client.example.test";
  settings.tls = TlsLevel::none;
  settings.connect_timeout = std::chrono::seconds(5);
  settings.command_timeout = std::chrono::seconds(5);
  return settings;
}

ClientEndpoint tcpEndpoint(const FakeSmtpServer& server) {
  ClientEndpoint endpoint;
  endpoint.host = "mailbox.example.test";
  endpoint.address = "127.0.0.1";
  endpoint.port = server.port();
  return endpoint;
}

OutboundMessage message(const std::vector<std::string>& recipients) {
  OutboundMessage message;
  message.sender = "sender@example.org";
  for (const auto& address : recipients) message.recipients.push_back({address, "", 0});
  message.body_type = "7BIT";
  message.data = "Subject: lmtp\r\n\r\nHello\r\n";
  return message;
}

// Greeting and LHLO with PIPELINING; false when the client did not send LHLO.
bool greetAndLhlo(FakeSmtpConnection& connection) {
  connection.send("220 mailbox.example.test LMTP ready\r\n");
  if (!connection.expect("LHLO client.example.test")) return false;
  connection.send("250-mailbox.example.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n");
  return true;
}

// Reads MAIL, `count` RCPTs and DATA as one pipelined group; answers MAIL, then the RCPTs with
// `rcpt_replies`, then 354; reads the data. False when the group was not as expected.
bool transactionUpToData(FakeSmtpConnection& connection, const std::vector<std::string>& rcpt_replies) {
  if (!connection.expect("MAIL FROM:<sender@example.org>")) return false;
  for (std::size_t index = 0; index < rcpt_replies.size(); ++index) {
    if (!connection.expect("RCPT TO:")) return false;
  }
  if (!connection.expect("DATA")) return false;
  std::string replies = "250 2.1.0 OK\r\n";
  for (const auto& reply : rcpt_replies) replies += reply + "\r\n";
  connection.send(replies + "354 go ahead\r\n");
  return !connection.readData().empty();
}

TEST(LmtpClient, OneReplyPerAcceptedRecipientInRcptOrder) {
  FakeSmtpServer server([](FakeSmtpConnection& connection) {
    if (!greetAndLhlo(connection)) return;
    // c is refused at RCPT, so only a, b and d get a reply after the data.
    if (!transactionUpToData(connection, {"250 2.1.5 OK", "250 2.1.5 OK",
                                          "550 5.1.1 c unknown", "250 2.1.5 OK"})) {
      return;
    }
    connection.send("250 2.0.0 a saved\r\n452 4.2.2 b over quota\r\n550 5.2.1 d mailbox disabled\r\n");
    connection.answerUntilClose();
  });
  AttemptResult result =
      deliverMessage(tcpEndpoint(server), lmtpSettings(),
                     message({"a@example.test", "b@example.test", "c@example.test",
                              "d@example.test"}));
  server.join();
  EXPECT_EQ(server.transcript().rfind("LHLO client.example.test\r\n", 0), 0u);
  EXPECT_NE(server.transcript().find("QUIT\r\n"), std::string::npos);
  ASSERT_EQ(result.recipients.size(), 4u);
  EXPECT_EQ(result.recipients[0].code, 250);
  EXPECT_EQ(result.recipients[0].lines.at(0), "a saved");
  EXPECT_EQ(result.recipients[1].code, 452);
  EXPECT_EQ(result.recipients[1].enhanced, "4.2.2");
  EXPECT_EQ(result.recipients[2].code, 550);
  EXPECT_EQ(result.recipients[2].lines.at(0), "c unknown");
  EXPECT_EQ(result.recipients[3].code, 550);
  EXPECT_EQ(result.recipients[3].enhanced, "5.2.1");
  // A 2xx settles the attempt, so the queue reads every recipient's own reply.
  EXPECT_EQ(result.session.code, 250);
  EXPECT_EQ(result.evidence.protocol, Protocol::lmtp);
}

TEST(LmtpClient, ServerGoneAfterTheFirstReplyLeavesTheRestTransient) {
  FakeSmtpServer server([](FakeSmtpConnection& connection) {
    if (!greetAndLhlo(connection)) return;
    if (!transactionUpToData(connection, {"250 2.1.5 OK", "250 2.1.5 OK", "250 2.1.5 OK"})) {
      return;
    }
    connection.send("250 2.0.0 a saved\r\n");
    // The connection closes here, before the replies for b and c.
  });
  AttemptResult result = deliverMessage(
      tcpEndpoint(server), lmtpSettings(),
      message({"a@example.test", "b@example.test", "c@example.test"}));
  server.join();
  ASSERT_EQ(result.recipients.size(), 3u);
  EXPECT_EQ(result.recipients[0].code, 250);
  for (std::size_t index = 1; index < 3; ++index) {
    EXPECT_EQ(result.recipients[index].code, 451) << index;
    EXPECT_EQ(result.recipients[index].enhanced, "4.4.2") << index;
  }
  EXPECT_EQ(result.session.code, 250) << "a was delivered: the attempt must not be retried whole";
  EXPECT_EQ(server.transcript().find("QUIT"), std::string::npos) << "no QUIT on a lost connection";
}

TEST(LmtpClient, ServerGoneBeforeAnyReplyFailsTheWholeAttemptTransiently) {
  FakeSmtpServer server([](FakeSmtpConnection& connection) {
    if (!greetAndLhlo(connection)) return;
    transactionUpToData(connection, {"250 2.1.5 OK", "250 2.1.5 OK"});
  });
  AttemptResult result = deliverMessage(tcpEndpoint(server), lmtpSettings(),
                                        message({"a@example.test", "b@example.test"}));
  server.join();
  EXPECT_EQ(result.session.code, 451);
  ASSERT_EQ(result.recipients.size(), 2u);
  EXPECT_EQ(result.recipients[0].code, 451);
  EXPECT_EQ(result.recipients[1].code, 451);
}

TEST(LmtpClient, OnlyTransientRepliesMakeATransientSession) {
  FakeSmtpServer server([](FakeSmtpConnection& connection) {
    if (!greetAndLhlo(connection)) return;
    if (!transactionUpToData(connection, {"250 2.1.5 OK", "250 2.1.5 OK"})) return;
    connection.send("452 4.2.2 a over quota\r\n451 4.3.0 b try later\r\n");
    connection.answerUntilClose();
  });
  AttemptResult result = deliverMessage(tcpEndpoint(server), lmtpSettings(),
                                        message({"a@example.test", "b@example.test"}));
  server.join();
  EXPECT_EQ(result.session.code, 452);
  ASSERT_EQ(result.recipients.size(), 2u);
  EXPECT_EQ(result.recipients[0].code, 452);
  EXPECT_EQ(result.recipients[1].code, 451);
}

TEST(LmtpClient, RefusedLhloDoesNotFallBackToHelo) {
  FakeSmtpServer server([](FakeSmtpConnection& connection) {
    connection.send("220 mailbox.example.test LMTP ready\r\n");
    if (!connection.expect("LHLO")) return;
    connection.send("500 5.5.1 not today\r\n");
    connection.answerUntilClose();
  });
  AttemptResult result =
      deliverMessage(tcpEndpoint(server), lmtpSettings(), message({"a@example.test"}));
  server.join();
  EXPECT_EQ(result.session.code, 500);
  EXPECT_EQ(server.transcript().find("HELO"), std::string::npos);
  EXPECT_EQ(server.transcript().find("MAIL"), std::string::npos);
}

TEST(LmtpClient, DeliversOverAUnixSocket) {
  const std::filesystem::path socket =
      std::filesystem::temp_directory_path() / ("bulwark-lmtp-" + std::to_string(::getpid()));
  FakeSmtpServer server(
      [](FakeSmtpConnection& connection) {
        if (!greetAndLhlo(connection)) return;
        if (!transactionUpToData(connection, {"250 2.1.5 OK"})) return;
        connection.send("250 2.0.0 saved\r\n");
        connection.answerUntilClose();
      },
      socket);
  ClientEndpoint endpoint;
  endpoint.host = "mx.example.test";
  endpoint.unix_socket = socket.string();
  AttemptResult result = deliverMessage(endpoint, lmtpSettings(), message({"a@example.test"}));
  server.join();
  EXPECT_TRUE(server.connected());
  EXPECT_EQ(result.session.code, 250);
  ASSERT_EQ(result.recipients.size(), 1u);
  EXPECT_EQ(result.recipients[0].code, 250);
  EXPECT_EQ(result.evidence.address, "unix:" + socket.string());
  EXPECT_EQ(result.evidence.port, 0);
}

TEST(LmtpClient, MissingUnixSocketIsTransient) {
  ClientEndpoint endpoint;
  endpoint.host = "mx.example.test";
  endpoint.unix_socket = "/nonexistent/bulwark-lmtp-socket";
  AttemptResult result = deliverMessage(endpoint, lmtpSettings(), message({"a@example.test"}));
  EXPECT_EQ(result.session.code, 451);
  EXPECT_EQ(result.session.enhanced, "4.4.1");
  ASSERT_EQ(result.recipients.size(), 0u) << "failed before RCPT: the session reply applies";
}

}  // namespace
}  // namespace bulwark::smtp
