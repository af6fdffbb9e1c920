// Tests for one outbound delivery attempt (smtp_client.h) against a scripted SMTP server on
// loopback (tests/support/fake_smtp_server.h): pipelining, DATA encoding on the wire, per-recipient
// results, the TLS levels (none of the envelope in clear text when TLS is required; certificate
// checks at verify), STARTTLS response injection, SIZE, SMTPUTF8, REQUIRETLS, DSN parameters,
// AUTH PLAIN, and timeouts.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "common/dsn.h"
#include "net/tls_context.h"
#include "smtp/client/smtp_client.h"
#include "support/fake_smtp_server.h"
#include "support/temporary_certificate.h"

namespace bulwark::smtp {
namespace {

using test::FakeSmtpConnection;
using test::FakeSmtpServer;

constexpr const char* kCertificateHost = "mx.example.test";

class ClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    certificate_ = new test::TemporaryCertificate("bulwark-client-test", kCertificateHost);
  }
  static void TearDownTestSuite() { delete certificate_; }

  net::TlsContextPointer serverTls() { return certificate_->serverTls(); }

  ClientEndpoint endpointFor(const FakeSmtpServer& server) {
    ClientEndpoint endpoint;
    endpoint.host = kCertificateHost;
    endpoint.address = "127.0.0.1";
    endpoint.port = server.port();
    return endpoint;
  }

  static ClientSettings settings(TlsLevel level) {
    ClientSettings settings;
    settings.helo_name = "client.example.test";
    settings.tls = level;
    settings.connect_timeout = std::chrono::seconds(5);
    settings.command_timeout = std::chrono::seconds(5);
    return settings;
  }

  static OutboundMessage message(std::vector<std::string> recipients,
                                 std::string_view data = "Subject: test\r\n\r\nHello\r\n") {
    OutboundMessage message;
    message.sender = "sender@example.org";
    for (auto& address : recipients) message.recipients.push_back({address, "", 0});
    message.body_type = "7BIT";
    message.data = data;
    return message;
  }

  static test::TemporaryCertificate* certificate_;
};

test::TemporaryCertificate* ClientTest::certificate_ = nullptr;

// Greeting, EHLO and the given capability lines (each without "250-").
void greetAndEhlo(FakeSmtpConnection& connection, std::vector<std::string> capabilities) {
  connection.send("220 mx.example.test ESMTP fake\r\n");
  if (!connection.expect("EHLO client.example.test")) return;
  std::string reply = "250";
  reply += capabilities.empty() ? " " : "-";
  reply += "mx.example.test\r\n";
  for (std::size_t index = 0; index < capabilities.size(); ++index) {
    reply += index + 1 == capabilities.size() ? "250 " : "250-";
    reply += capabilities[index] + "\r\n";
  }
  connection.send(reply);
}

// STARTTLS, then the second EHLO over TLS with `capabilities`.
bool startTlsAndEhlo(FakeSmtpConnection& connection, ssl_ctx_st* context,
                     std::vector<std::string> capabilities) {
  if (!connection.expect("STARTTLS")) return false;
  connection.send("220 2.0.0 Ready to start TLS\r\n");
  if (!connection.startTls(context)) return false;
  if (!connection.expect("EHLO client.example.test")) return false;
  std::string reply = "250-mx.example.test\r\n";
  for (const auto& capability : capabilities) reply += "250-" + capability + "\r\n";
  reply += "250 HELP\r\n";
  connection.send(reply);
  return true;
}

// MAIL, RCPTs and DATA one at a time, all accepted; the data; QUIT.
void acceptOneAtATime(FakeSmtpConnection& connection, std::size_t recipients) {
  if (!connection.expect("MAIL FROM:<sender@example.org>")) return;
  connection.send("250 2.1.0 OK\r\n");
  for (std::size_t index = 0; index < recipients; ++index) {
    if (!connection.expect("RCPT TO:")) return;
    connection.send("250 2.1.5 OK\r\n");
  }
  if (!connection.expect("DATA")) return;
  connection.send("354 go ahead\r\n");
  connection.readData();
  connection.send("250 2.0.0 queued as 1234\r\n");
  if (connection.expect("QUIT")) connection.send("221 2.0.0 bye\r\n");
}

TEST_F(ClientTest, PlainDeliveryWithPipelining) {
  FakeSmtpServer server([](FakeSmtpConnection& connection) {
    greetAndEhlo(connection, {"PIPELINING", "8BITMIME", "SIZE 1000000"});
    // The whole group arrives before any reply: without pipelining the client would wait for
    // the MAIL reply and this script would time out.
    std::string mail = connection.readLine();
    std::string first = connection.readLine();
    std::string second = connection.readLine();
    std::string data = connection.readLine();
    if (data != "DATA") return;
    connection.send("250 2.1.0 OK\r\n250 2.1.5 OK\r\n250 2.1.5 OK\r\n354 go ahead\r\n");
    connection.readData();
    connection.send("250 2.0.0 queued as 1234\r\n");
    if (connection.expect("QUIT")) connection.send("221 2.0.0 bye\r\n");
  });
  auto outbound = message({"a@example.test", "b@example.test"});
  outbound.body_type = "8BITMIME";
  AttemptResult result =
      deliverMessage(endpointFor(server), settings(TlsLevel::opportunistic), outbound);
  server.join();
  EXPECT_EQ(result.session.code, 250);
  ASSERT_EQ(result.recipients.size(), 2u);
  for (const Reply& reply : result.recipients) {
    EXPECT_EQ(reply.code, 250);
    EXPECT_EQ(reply.lines.at(0), "queued as 1234");
  }
  const std::string transcript = server.transcript();
  EXPECT_NE(transcript.find(
                "MAIL FROM:<sender@example.org> SIZE=" + std::to_string(outbound.data.size()) +
                " BODY=8BITMIME\r\n"
                "RCPT TO:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n"),
            std::string::npos)
      << transcript;
  EXPECT_NE(transcript.find("\r\n\r\nHello\r\n.\r\nQUIT\r\n"), std::string::npos) << transcript;
  EXPECT_EQ(result.evidence.tls_version, "");
  EXPECT_EQ(result.evidence.verification, "none");
  EXPECT_EQ(result.evidence.port, server.port());
  EXPECT_EQ(result.evidence.address, "127.0.0.1");
}

TEST_F(ClientTest, DotStuffingAndBareLineEndingsOnTheWire) {
  std::string received;
  FakeSmtpServer server([&](FakeSmtpConnection& connection) {
    greetAndEhlo(connection, {"8BITMIME"});
    if (!connection.expect("MAIL FROM:<sender@example.org>")) return;
    connection.send("250 OK\r\n");
    if (!connection.expect("RCPT TO:<a@example.test>")) return;
    connection.send("250 OK\r\n");
    if (!connection.expect("DATA")) return;
    connection.send("354 go\r\n");
    received = connection.readData();
    connection.send("250 done\r\n");
    if (connection.expect("QUIT")) connection.send("221 bye\r\n");
  });
  const std::string data =
      ".leading dot\r\nbare lf\nbare cr\rcr lf\r\n..two dots\r\n.\r\nmiddle.dot\r\nno end";
  AttemptResult result = deliverMessage(endpointFor(server), settings(TlsLevel::none),
                                        message({"a@example.test"}, data));
  server.join();
  EXPECT_EQ(result.session.code, 250);
  EXPECT_EQ(received,
            "..leading dot\r\nbare lf\r\nbare cr\r\ncr lf\r\n...two dots\r\n..\r\nmiddle.dot\r\n"
            "no end\r\n.\r\n");
}

TEST_F(ClientTest, LargeMessageOverTlsArrivesIntact) {
  // Several DATA chunks over TLS, with dot lines and line endings of every kind spread through.
  std::string data;
  std::string expected;
  for (int line = 0; line < 20000; ++line) {
    const std::string text = (line % 7 == 0 ? "." : "") + std::string(20 + line % 50, 'x');
    const char* ending = line % 11 == 0 ? "\n" : (line % 13 == 0 ? "\r" : "\r\n");
    data += text + ending;
    expected += (line % 7 == 0 ? "." : "") + text + "\r\n";
  }
  expected += ".\r\n";
  auto context = serverTls();
  std::string received;
  FakeSmtpServer server([&](FakeSmtpConnection& connection) {
    greetAndEhlo(connection, {"STARTTLS"});
    if (!startTlsAndEhlo(connection, context.get(), {"PIPELINING"})) return;
    for (int line = 0; line < 3; ++line) connection.readLine();
    connection.send("250 OK\r\n250 OK\r\n354 go\r\n");
    received = connection.readData();
    connection.send("250 2.0.0 queued\r\n");
    connection.answerUntilClose();
  });
  AttemptResult result = deliverMessage(endpointFor(server), settings(TlsLevel::required),
                                        message({"a@example.test"}, data));
  server.join();
  EXPECT_EQ(result.session.code, 250) << result.session.render();
  EXPECT_EQ(received.size(), expected.size());
  EXPECT_TRUE(received == expected);
}

TEST_F(ClientTest, DataRefusedAppliesToAcceptedRecipients) {
  FakeSmtpServer server([](FakeSmtpConnection& connection) {
    greetAndEhlo(connection, {"8BITMIME"});
    if (!connection.expect("MAIL FROM:")) return;
    connection.send("250 OK\r\n");
    if (!connection.expect("RCPT TO:")) return;
    connection.send("250 OK\r\n");
    if (!connection.expect("RCPT TO:")) return;
    connection.send("550 5.1.1 unknown\r\n");
    if (!connection.expect("DATA")) return;
    connection.send("451 4.3.0 try later\r\n");
    connection.answerUntilClose();
  });
  AttemptResult result = deliverMessage(endpointFor(server), settings(TlsLevel::none),
                                        message({"a@example.test", "b@example.test"}));
  server.join();
  EXPECT_EQ(result.session.code, 451);
  ASSERT_EQ(result.recipients.size(), 2u);
  EXPECT_EQ(result.recipients[0].code, 451);
  EXPECT_EQ(result.recipients[1].code, 550);
}

TEST_F(ClientTest, MalformedReplyIsTransient) {
  FakeSmtpServer server([](FakeSmtpConnection& connection) {
    connection.send("220 mx.example.test\r\n");
    if (!connection.expect("EHLO")) return;
    connection.send("250-mx.example.test\r\n550 changed its mind\r\n");
    connection.answerUntilClose();
  });
  AttemptResult result =
      deliverMessage(endpointFor(server), settings(TlsLevel::none), message({"a@example.test"}));
  server.join();
  EXPECT_EQ(result.session.code, 451) << result.session.render();
  EXPECT_NE(result.session.lines.at(0).find("malformed reply"), std::string::npos);
}

TEST_F(ClientTest, StartTlsRefusedAtRequiredDefers) {
  FakeSmtpServer server([](FakeSmtpConnection& connection) {
    greetAndEhlo(connection, {"STARTTLS"});
    if (!connection.expect("STARTTLS")) return;
    connection.send("454 4.7.0 TLS not available\r\n");
    connection.answerUntilClose();
  });
  AttemptResult result = deliverMessage(endpointFor(server), settings(TlsLevel::required),
                                        message({"a@example.test"}));
  server.join();
  EXPECT_TRUE(result.session.isTransient()) << result.session.render();
  EXPECT_EQ(server.transcript().find("MAIL FROM"), std::string::npos);
}

TEST_F(ClientTest, PerRecipientReplies) {
  FakeSmtpServer server([](FakeSmtpConnection& connection) {
    greetAndEhlo(connection, {"PIPELINING"});
    for (int line = 0; line < 5; ++line) connection.readLine();  // MAIL, 3 RCPT, DATA
    connection.send(
        "250 OK\r\n250 OK\r\n550 5.1.1 No such user\r\n452 4.2.2 Mailbox full\r\n354 go\r\n");
    connection.readData();
    connection.send("250 2.0.0 queued\r\n");
    if (connection.expect("QUIT")) connection.send("221 bye\r\n");
  });
  AttemptResult result =
      deliverMessage(endpointFor(server), settings(TlsLevel::none),
                     message({"a@example.test", "nobody@example.test", "full@example.test"}));
  server.join();
  EXPECT_EQ(result.session.code, 250);
  ASSERT_EQ(result.recipients.size(), 3u);
  EXPECT_EQ(result.recipients[0].code, 250);
  EXPECT_EQ(result.recipients[0].lines.at(0), "queued");
  EXPECT_EQ(result.recipients[1].code, 550);
  EXPECT_EQ(result.recipients[1].enhanced, "5.1.1");
  EXPECT_EQ(result.recipients[2].code, 452);
}

TEST_F(ClientTest, AllRecipientsRefusedSendsNoData) {
  FakeSmtpServer server([](FakeSmtpConnection& connection) {
    greetAndEhlo(connection, {"8BITMIME"});
    if (!connection.expect("MAIL FROM:")) return;
    connection.send("250 OK\r\n");
    for (int index = 0; index < 2; ++index) {
      if (!connection.expect("RCPT TO:")) return;
      connection.send("550 5.1.1 No such user\r\n");
    }
    connection.answerUntilClose();
  });
  AttemptResult result = deliverMessage(endpointFor(server), settings(TlsLevel::none),
                                        message({"x@example.test", "y@example.test"}));
  server.join();
  EXPECT_EQ(result.session.code, 550);
  ASSERT_EQ(result.recipients.size(), 2u);
  EXPECT_EQ(result.recipients[0].code, 550);
  EXPECT_EQ(result.recipients[1].code, 550);
  EXPECT_EQ(server.transcript().find("DATA"), std::string::npos) << server.transcript();
  EXPECT_NE(server.transcript().find("QUIT\r\n"), std::string::npos);
}

TEST_F(ClientTest, RefusedSenderAppliesToEveryRecipient) {
  FakeSmtpServer server([](FakeSmtpConnection& connection) {
    greetAndEhlo(connection, {"PIPELINING"});
    for (int line = 0; line < 4; ++line) connection.readLine();  // MAIL, 2 RCPT, DATA
    connection.send("553 5.7.1 Sender refused\r\n503 5.5.1 no\r\n503 5.5.1 no\r\n503 no\r\n");
    connection.answerUntilClose();
  });
  AttemptResult result = deliverMessage(endpointFor(server), settings(TlsLevel::none),
                                        message({"x@example.test", "y@example.test"}));
  server.join();
  EXPECT_EQ(result.session.code, 553);
  ASSERT_EQ(result.recipients.size(), 2u);
  EXPECT_EQ(result.recipients[0].code, 553);
  EXPECT_EQ(result.recipients[1].code, 553);
}

TEST_F(ClientTest, OpportunisticWithoutStartTlsDeliversInClear) {
  FakeSmtpServer server([](FakeSmtpConnection& connection) {
    greetAndEhlo(connection, {"8BITMIME"});
    acceptOneAtATime(connection, 1);
  });
  AttemptResult result = deliverMessage(endpointFor(server), settings(TlsLevel::opportunistic),
                                        message({"a@example.test"}));
  server.join();
  EXPECT_EQ(result.session.code, 250);
  EXPECT_EQ(result.evidence.tls_version, "");
  EXPECT_EQ(result.evidence.required, TlsLevel::opportunistic);
  EXPECT_EQ(server.transcript().find("STARTTLS"), std::string::npos);
}

TEST_F(ClientTest, OpportunisticUsesStartTlsWithAnyCertificate) {
  auto context = serverTls();
  FakeSmtpServer server([&](FakeSmtpConnection& connection) {
    greetAndEhlo(connection, {"STARTTLS"});
    if (!startTlsAndEhlo(connection, context.get(), {})) return;
    acceptOneAtATime(connection, 1);
  });
  AttemptResult result = deliverMessage(endpointFor(server), settings(TlsLevel::opportunistic),
                                        message({"a@example.test"}));
  server.join();
  EXPECT_EQ(result.session.code, 250);
  EXPECT_FALSE(result.evidence.tls_version.empty());
  EXPECT_EQ(result.evidence.verification, "none");
  EXPECT_NE(result.evidence.peer_subject.find("CN=mx.example.test"), std::string::npos)
      << result.evidence.peer_subject;
  EXPECT_EQ(result.evidence.peer_fingerprint.size(), 32u * 3 - 1);
}

TEST_F(ClientTest, RequiredWithoutStartTlsSendsNoEnvelope) {
  FakeSmtpServer server([](FakeSmtpConnection& connection) {
    greetAndEhlo(connection, {"PIPELINING", "8BITMIME"});
    connection.answerUntilClose();
  });
  AttemptResult result = deliverMessage(endpointFor(server), settings(TlsLevel::required),
                                        message({"a@example.test"}));
  server.join();
  EXPECT_TRUE(result.session.isTransient()) << result.session.render();
  EXPECT_EQ(result.session.enhanced, "4.7.5");
  EXPECT_NE(result.session.lines.at(0).find("TLS required but not offered"), std::string::npos);
  EXPECT_TRUE(result.recipients.empty());
  EXPECT_EQ(server.transcript().find("MAIL FROM"), std::string::npos) << server.transcript();
}

TEST_F(ClientTest, RequiredDoesNotFallBackToHelo) {
  FakeSmtpServer server([](FakeSmtpConnection& connection) {
    connection.send("220 old server\r\n");
    if (!connection.expect("EHLO")) return;
    connection.send("502 5.5.1 what?\r\n");
    connection.answerUntilClose();
  });
  AttemptResult result = deliverMessage(endpointFor(server), settings(TlsLevel::required),
                                        message({"a@example.test"}));
  server.join();
  EXPECT_TRUE(result.session.isTransient()) << result.session.render();
  EXPECT_EQ(server.transcript().find("HELO client"), std::string::npos);
  EXPECT_EQ(server.transcript().find("MAIL FROM"), std::string::npos);
}

TEST_F(ClientTest, HeloFallbackWithoutTlsRequirement) {
  FakeSmtpServer server([](FakeSmtpConnection& connection) {
    connection.send("220 old server\r\n");
    if (!connection.expect("EHLO")) return;
    connection.send("500 5.5.1 what?\r\n");
    if (!connection.expect("HELO client.example.test")) return;
    connection.send("250 hello\r\n");
    acceptOneAtATime(connection, 1);
  });
  auto outbound = message({"a@example.test"});
  outbound.body_type = "8BITMIME";
  AttemptResult result =
      deliverMessage(endpointFor(server), settings(TlsLevel::opportunistic), outbound);
  server.join();
  EXPECT_EQ(result.session.code, 250);
  // No extensions after HELO: no BODY= parameter.
  EXPECT_NE(server.transcript().find("MAIL FROM:<sender@example.org>\r\n"), std::string::npos);
}

TEST_F(ClientTest, VerifyRejectsAnUntrustedCertificate) {
  auto context = serverTls();
  FakeSmtpServer server([&](FakeSmtpConnection& connection) {
    greetAndEhlo(connection, {"STARTTLS"});
    if (!connection.expect("STARTTLS")) return;
    connection.send("220 2.0.0 Ready to start TLS\r\n");
    if (connection.startTls(context.get())) connection.waitForClose();
  });
  ClientSettings verify = settings(TlsLevel::verify);
  // A trust store that does not hold the self-signed certificate (an empty file would fail to
  // load; any other valid PEM works). Use the system store, which does not know our certificate.
  AttemptResult result = deliverMessage(endpointFor(server), verify, message({"a@example.test"}));
  server.join();
  EXPECT_TRUE(result.session.isTransient()) << result.session.render();
  EXPECT_EQ(result.session.enhanced, "4.7.5");
  EXPECT_NE(result.session.lines.at(0).find("certificate verification failed"), std::string::npos)
      << result.session.render();
  EXPECT_EQ(result.evidence.verification, "none");
  EXPECT_EQ(server.transcript().find("MAIL FROM"), std::string::npos);
}

TEST_F(ClientTest, VerifyRejectsTheWrongName) {
  auto context = serverTls();
  FakeSmtpServer server([&](FakeSmtpConnection& connection) {
    greetAndEhlo(connection, {"STARTTLS"});
    if (!connection.expect("STARTTLS")) return;
    connection.send("220 2.0.0 Ready to start TLS\r\n");
    if (connection.startTls(context.get())) connection.waitForClose();
  });
  ClientSettings verify = settings(TlsLevel::verify);
  verify.ca_file = certificate_->certificate;
  ClientEndpoint endpoint = endpointFor(server);
  endpoint.host = "other.example.test";
  AttemptResult result = deliverMessage(endpoint, verify, message({"a@example.test"}));
  server.join();
  EXPECT_TRUE(result.session.isTransient()) << result.session.render();
  EXPECT_NE(result.session.lines.at(0).find("hostname mismatch"), std::string::npos)
      << result.session.render();
}

TEST_F(ClientTest, VerifyWithTrustedCertificateDelivers) {
  auto context = serverTls();
  FakeSmtpServer server([&](FakeSmtpConnection& connection) {
    greetAndEhlo(connection, {"STARTTLS", "PIPELINING"});
    if (!startTlsAndEhlo(connection, context.get(), {"PIPELINING"})) return;
    for (int line = 0; line < 3; ++line) connection.readLine();
    connection.send("250 OK\r\n250 OK\r\n354 go\r\n");
    connection.readData();
    connection.send("250 2.0.0 queued\r\n");
    if (connection.expect("QUIT")) connection.send("221 bye\r\n");
  });
  ClientSettings verify = settings(TlsLevel::verify);
  verify.ca_file = certificate_->certificate;
  AttemptResult result = deliverMessage(endpointFor(server), verify, message({"a@example.test"}));
  server.join();
  EXPECT_EQ(result.session.code, 250) << result.session.render();
  EXPECT_EQ(result.evidence.verification, "pkix");
  EXPECT_EQ(result.evidence.required, TlsLevel::verify);
  EXPECT_EQ(result.evidence.host, kCertificateHost);
  EXPECT_TRUE(result.evidence.tls_version == "TLSv1.3" || result.evidence.tls_version == "TLSv1.2")
      << result.evidence.tls_version;
  EXPECT_FALSE(result.evidence.tls_cipher.empty());
  // MAIL went only over TLS: the clear-text part of the transcript ends with STARTTLS.
  const std::string transcript = server.transcript();
  EXPECT_NE(transcript.find("MAIL FROM:<sender@example.org>"), std::string::npos);
  EXPECT_LT(transcript.find("STARTTLS"), transcript.find("MAIL FROM"));
}

TEST_F(ClientTest, BytesAfterStartTlsReplyFailTheAttempt) {
  auto context = serverTls();
  FakeSmtpServer server([&](FakeSmtpConnection& connection) {
    greetAndEhlo(connection, {"STARTTLS"});
    if (!connection.expect("STARTTLS")) return;
    // Injected: a reply that a man in the middle wrote before the handshake.
    connection.send("220 2.0.0 Ready to start TLS\r\n250-injected\r\n250 PIPELINING\r\n");
    connection.waitForClose();
  });
  AttemptResult result = deliverMessage(endpointFor(server), settings(TlsLevel::opportunistic),
                                        message({"a@example.test"}));
  server.join();
  EXPECT_TRUE(result.session.isTransient()) << result.session.render();
  EXPECT_NE(result.session.lines.at(0).find("injection"), std::string::npos);
  EXPECT_EQ(server.transcript().find("MAIL FROM"), std::string::npos);
}

TEST_F(ClientTest, FailedHandshakeAtOpportunisticDoesNotContinueInClear) {
  FakeSmtpServer server([&](FakeSmtpConnection& connection) {
    greetAndEhlo(connection, {"STARTTLS"});
    if (!connection.expect("STARTTLS")) return;
    connection.send("220 2.0.0 Ready to start TLS\r\n");
    // Not TLS: garbage where the ServerHello should be (sent without waiting for the
    // ClientHello, which has no line end to wait for).
    connection.send("this is not a TLS record\r\n");
    connection.waitForClose();
  });
  AttemptResult result = deliverMessage(endpointFor(server), settings(TlsLevel::opportunistic),
                                        message({"a@example.test"}));
  server.join();
  EXPECT_TRUE(result.session.isTransient()) << result.session.render();
  EXPECT_EQ(result.session.enhanced, "4.7.5");
  EXPECT_EQ(server.transcript().find("MAIL FROM"), std::string::npos);
}

TEST_F(ClientTest, MessageLargerThanSizeFailsPermanently) {
  FakeSmtpServer server([](FakeSmtpConnection& connection) {
    greetAndEhlo(connection, {"SIZE 10", "PIPELINING"});
    connection.answerUntilClose();
  });
  AttemptResult result = deliverMessage(endpointFor(server), settings(TlsLevel::none),
                                        message({"a@example.test", "b@example.test"}));
  server.join();
  EXPECT_EQ(result.session.code, 552);
  EXPECT_EQ(result.session.enhanced, "5.3.4");
  EXPECT_NE(result.session.lines.at(0).find("(10 bytes)"), std::string::npos);
  ASSERT_EQ(result.recipients.size(), 2u);
  EXPECT_EQ(result.recipients[1].code, 552);
  EXPECT_EQ(server.transcript().find("MAIL FROM"), std::string::npos);
}

TEST_F(ClientTest, SmtpUtf8MessageToServerWithoutItFailsPermanently) {
  FakeSmtpServer server([](FakeSmtpConnection& connection) {
    greetAndEhlo(connection, {"8BITMIME"});
    connection.answerUntilClose();
  });
  auto outbound = message({"j\xC3\xB6rg@example.test"});
  outbound.smtputf8 = true;
  AttemptResult result = deliverMessage(endpointFor(server), settings(TlsLevel::none), outbound);
  server.join();
  EXPECT_EQ(result.session.code, 553);
  EXPECT_EQ(result.session.enhanced, "5.6.7");
  ASSERT_EQ(result.recipients.size(), 1u);
  EXPECT_EQ(result.recipients[0].code, 553);
}

TEST_F(ClientTest, SilentServerTimesOut) {
  FakeSmtpServer server([](FakeSmtpConnection& connection) {
    greetAndEhlo(connection, {"PIPELINING"});
    connection.readLine();  // MAIL ... then silence
    connection.waitForClose();
  });
  ClientSettings quick = settings(TlsLevel::none);
  quick.command_timeout = std::chrono::seconds(1);
  const auto started = std::chrono::steady_clock::now();
  AttemptResult result = deliverMessage(endpointFor(server), quick, message({"a@example.test"}));
  const auto elapsed = std::chrono::steady_clock::now() - started;
  server.join();
  EXPECT_EQ(result.session.code, 451) << result.session.render();
  EXPECT_EQ(result.session.enhanced, "4.4.2");
  EXPECT_NE(result.session.lines.at(0).find("timeout"), std::string::npos);
  EXPECT_LT(elapsed, std::chrono::seconds(4));
}

TEST_F(ClientTest, RequireTlsMessageNeedsTheExtension) {
  auto context = serverTls();
  FakeSmtpServer server([&](FakeSmtpConnection& connection) {
    greetAndEhlo(connection, {"STARTTLS"});
    if (!startTlsAndEhlo(connection, context.get(), {"PIPELINING"})) return;
    connection.answerUntilClose();
  });
  ClientSettings opportunistic = settings(TlsLevel::opportunistic);
  opportunistic.ca_file = certificate_->certificate;
  auto outbound = message({"a@example.test"});
  outbound.require_tls = true;
  AttemptResult result = deliverMessage(endpointFor(server), opportunistic, outbound);
  server.join();
  EXPECT_TRUE(result.session.isTransient()) << result.session.render();
  EXPECT_EQ(result.session.enhanced, "4.7.10");
  // The message raised the level to verify.
  EXPECT_EQ(result.evidence.required, TlsLevel::verify);
  EXPECT_EQ(result.evidence.verification, "pkix");
  EXPECT_EQ(server.transcript().find("MAIL FROM"), std::string::npos);
}

TEST_F(ClientTest, RequireTlsMessageWithTheExtension) {
  auto context = serverTls();
  FakeSmtpServer server([&](FakeSmtpConnection& connection) {
    greetAndEhlo(connection, {"STARTTLS"});
    if (!startTlsAndEhlo(connection, context.get(), {"REQUIRETLS"})) return;
    acceptOneAtATime(connection, 1);
  });
  ClientSettings verify = settings(TlsLevel::verify);
  verify.ca_file = certificate_->certificate;
  auto outbound = message({"a@example.test"});
  outbound.require_tls = true;
  AttemptResult result = deliverMessage(endpointFor(server), verify, outbound);
  server.join();
  EXPECT_EQ(result.session.code, 250) << result.session.render();
  EXPECT_NE(server.transcript().find("MAIL FROM:<sender@example.org> REQUIRETLS\r\n"),
            std::string::npos)
      << server.transcript();
}

// A transport rule's requirement: verified TLS, and REQUIRETLS only where the server offers it.
TEST_F(ClientTest, RuleTlsRequirementVerifiesAndPassesRequireTlsOnOnlyWhereOffered) {
  for (bool offered : {true, false}) {
    SCOPED_TRACE(offered);
    auto context = serverTls();
    FakeSmtpServer server([&](FakeSmtpConnection& connection) {
      greetAndEhlo(connection, {"STARTTLS"});
      if (!startTlsAndEhlo(connection, context.get(),
                           offered ? std::vector<std::string>{"REQUIRETLS"}
                                   : std::vector<std::string>{"PIPELINING"})) {
        return;
      }
      acceptOneAtATime(connection, 1);
    });
    ClientSettings opportunistic = settings(TlsLevel::opportunistic);
    opportunistic.ca_file = certificate_->certificate;
    auto outbound = message({"a@example.test"});
    outbound.offer_require_tls = true;
    AttemptResult result = deliverMessage(endpointFor(server), opportunistic, outbound);
    server.join();
    EXPECT_EQ(result.session.code, 250) << result.session.render();
    EXPECT_EQ(result.evidence.required, TlsLevel::verify) << "raised from opportunistic";
    EXPECT_EQ(server.transcript().find("MAIL FROM:<sender@example.org> REQUIRETLS\r\n") !=
                  std::string::npos,
              offered)
        << server.transcript();
  }
}

TEST_F(ClientTest, RuleTlsRequirementNeverSendsInClear) {
  FakeSmtpServer server([&](FakeSmtpConnection& connection) {
    greetAndEhlo(connection, {"PIPELINING"});
    connection.answerUntilClose();
  });
  auto outbound = message({"a@example.test"});
  outbound.offer_require_tls = true;
  AttemptResult result =
      deliverMessage(endpointFor(server), settings(TlsLevel::opportunistic), outbound);
  server.join();
  EXPECT_TRUE(result.session.isTransient()) << result.session.render();
  EXPECT_EQ(server.transcript().find("MAIL FROM"), std::string::npos);
}

TEST_F(ClientTest, DsnParametersOnlyWhenOffered) {
  for (bool offered : {true, false}) {
    SCOPED_TRACE(offered);
    FakeSmtpServer server([&](FakeSmtpConnection& connection) {
      greetAndEhlo(connection, offered ? std::vector<std::string>{"DSN"}
                                       : std::vector<std::string>{"8BITMIME"});
      acceptOneAtATime(connection, 1);
    });
    auto outbound = message({});
    outbound.recipients.push_back(
        {"a@example.test", "rfc822;a+b=c@example.test", notify_success | notify_failure});
    outbound.dsn_return = "HDRS";
    outbound.dsn_envelope_id = "id+1 x";
    AttemptResult result = deliverMessage(endpointFor(server), settings(TlsLevel::none), outbound);
    server.join();
    EXPECT_EQ(result.session.code, 250);
    const std::string transcript = server.transcript();
    if (offered) {
      EXPECT_NE(transcript.find("MAIL FROM:<sender@example.org> RET=HDRS ENVID=id+2B1+20x\r\n"),
                std::string::npos)
          << transcript;
      EXPECT_NE(transcript.find("RCPT TO:<a@example.test> NOTIFY=SUCCESS,FAILURE "
                                "ORCPT=rfc822;a+2Bb+3Dc@example.test\r\n"),
                std::string::npos)
          << transcript;
    } else {
      EXPECT_NE(transcript.find("MAIL FROM:<sender@example.org>\r\nRCPT TO:<a@example.test>\r\n"),
                std::string::npos)
          << transcript;
    }
  }
}

TEST_F(ClientTest, AuthPlainOverTls) {
  auto context = serverTls();
  std::string auth_line;
  FakeSmtpServer server([&](FakeSmtpConnection& connection) {
    greetAndEhlo(connection, {"STARTTLS"});
    if (!startTlsAndEhlo(connection, context.get(), {"AUTH PLAIN LOGIN"})) return;
    auth_line = connection.readLine();
    connection.send("235 2.7.0 Authentication successful\r\n");
    acceptOneAtATime(connection, 1);
  });
  ClientSettings required = settings(TlsLevel::required);
  required.auth_user = "user";
  required.auth_password = "secret";
  AttemptResult result = deliverMessage(endpointFor(server), required, message({"a@example.test"}));
  server.join();
  EXPECT_EQ(result.session.code, 250) << result.session.render();
  EXPECT_EQ(auth_line, "AUTH PLAIN AHVzZXIAc2VjcmV0");
}

TEST_F(ClientTest, NoPasswordInClearText) {
  FakeSmtpServer server([](FakeSmtpConnection& connection) {
    greetAndEhlo(connection, {"AUTH PLAIN"});
    connection.answerUntilClose();
  });
  ClientSettings opportunistic = settings(TlsLevel::opportunistic);
  opportunistic.auth_user = "user";
  opportunistic.auth_password = "secret";
  AttemptResult result =
      deliverMessage(endpointFor(server), opportunistic, message({"a@example.test"}));
  server.join();
  EXPECT_TRUE(result.session.isTransient()) << result.session.render();
  EXPECT_EQ(server.transcript().find("AUTH"), std::string::npos);
}

TEST_F(ClientTest, GreetingRefusal) {
  FakeSmtpServer server([](FakeSmtpConnection& connection) {
    connection.send("554 5.7.1 go away\r\n");
    connection.answerUntilClose();
  });
  AttemptResult result =
      deliverMessage(endpointFor(server), settings(TlsLevel::none), message({"a@example.test"}));
  server.join();
  EXPECT_EQ(result.session.code, 554);
  EXPECT_TRUE(result.recipients.empty());
}

TEST_F(ClientTest, ConnectionRefused) {
  // Take a free port, then close it again: nothing listens there.
  std::uint16_t port = 0;
  {
    FakeSmtpServer server([](FakeSmtpConnection&) {}, std::chrono::seconds(0));
    port = server.port();
  }
  ClientEndpoint endpoint{"mx.example.test", "127.0.0.1", port};
  AttemptResult result =
      deliverMessage(endpoint, settings(TlsLevel::none), message({"a@example.test"}));
  EXPECT_EQ(result.session.code, 451);
  EXPECT_EQ(result.session.enhanced, "4.4.1");
}

TEST_F(ClientTest, LostConnectionAfterDataIsTransient) {
  FakeSmtpServer server([](FakeSmtpConnection& connection) {
    greetAndEhlo(connection, {"PIPELINING"});
    for (int line = 0; line < 4; ++line) connection.readLine();
    connection.send("250 OK\r\n250 OK\r\n550 5.1.1 unknown\r\n354 go\r\n");
    connection.readData();
    // Hang up without the final reply.
  });
  AttemptResult result = deliverMessage(endpointFor(server), settings(TlsLevel::none),
                                        message({"a@example.test", "b@example.test"}));
  server.join();
  EXPECT_EQ(result.session.code, 451);
  ASSERT_EQ(result.recipients.size(), 2u);
  EXPECT_EQ(result.recipients[0].code, 451);
  EXPECT_EQ(result.recipients[0].enhanced, "4.4.2");
  EXPECT_EQ(result.recipients[1].code, 550);
}

// RFC 8461 4.2: at mta_sts the certificate is checked like verify (chain, dates, the MX name),
// and the evidence says the check was made for an MX host the domain's policy names.
TEST_F(ClientTest, MtaStsLevelVerifiesAndSaysSoInTheEvidence) {
  auto context = serverTls();
  FakeSmtpServer server([&](FakeSmtpConnection& connection) {
    greetAndEhlo(connection, {"STARTTLS"});
    if (!startTlsAndEhlo(connection, context.get(), {})) return;
    if (!connection.expect("MAIL FROM")) return;
    connection.send("250 OK\r\n");
    if (!connection.expect("RCPT TO")) return;
    connection.send("250 OK\r\n");
    if (!connection.expect("DATA")) return;
    connection.send("354 go\r\n");
    connection.readData();
    connection.send("250 2.0.0 queued\r\n");
    if (connection.expect("QUIT")) connection.send("221 bye\r\n");
  });
  ClientSettings mta_sts = settings(TlsLevel::mta_sts);
  mta_sts.ca_file = certificate_->certificate;
  AttemptResult result = deliverMessage(endpointFor(server), mta_sts, message({"a@example.test"}));
  server.join();
  EXPECT_EQ(result.session.code, 250) << result.session.render();
  EXPECT_EQ(result.evidence.required, TlsLevel::mta_sts);
  EXPECT_EQ(result.evidence.verification, "mta-sts");

  // The same level without a trust store that knows the certificate: deferred, nothing sent.
  FakeSmtpServer untrusted([&](FakeSmtpConnection& connection) {
    greetAndEhlo(connection, {"STARTTLS"});
    if (!connection.expect("STARTTLS")) return;
    connection.send("220 2.0.0 Ready to start TLS\r\n");
    if (connection.startTls(context.get())) connection.waitForClose();
  });
  AttemptResult refused = deliverMessage(endpointFor(untrusted), settings(TlsLevel::mta_sts),
                                         message({"a@example.test"}));
  untrusted.join();
  EXPECT_EQ(refused.session.enhanced, "4.7.5") << refused.session.render();
  EXPECT_EQ(refused.evidence.verification, "none");
  EXPECT_EQ(untrusted.transcript().find("MAIL FROM"), std::string::npos);
}

}  // namespace
}  // namespace bulwark::smtp
