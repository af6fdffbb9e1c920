// DANE in one outbound attempt (smtp_client.h with ClientEndpoint::tlsa, dane_tls.h; RFC 7672 3)
// against a scripted TLS server on loopback: a DANE-EE match delivers whatever the name, a
// mismatch or a missing STARTTLS defers before any envelope byte, "required" from unusable
// records needs TLS, a level above dane adds PKIX, and REQUIRETLS accepts DANE instead of PKIX.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "net/tls_context.h"
#include "smtp/client/smtp_client.h"
#include "support/fake_smtp_server.h"
#include "support/temporary_certificate.h"

namespace bulwark::smtp {
namespace {

using test::FakeSmtpConnection;
using test::FakeSmtpServer;

constexpr const char* kCertificateHost = "mx.example.test";

// SHA-256 of the certificate's SubjectPublicKeyInfo: the data of a "3 1 1" record.
std::vector<std::uint8_t> spkiSha256(const std::filesystem::path& pem) {
  std::FILE* file = std::fopen(pem.c_str(), "r");
  if (file == nullptr) return {};
  X509* certificate = PEM_read_X509(file, nullptr, nullptr, nullptr);
  std::fclose(file);
  if (certificate == nullptr) return {};
  unsigned char* der = nullptr;
  const int length = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(certificate), &der);
  std::vector<std::uint8_t> digest(32);
  unsigned int size = 0;
  EVP_Digest(der, static_cast<std::size_t>(length), digest.data(), &size, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  X509_free(certificate);
  return digest;
}

class DaneClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    certificate_ = new test::TemporaryCertificate("bulwark-dane-client", kCertificateHost);
  }
  static void TearDownTestSuite() { delete certificate_; }

  net::TlsContextPointer serverTls() { return certificate_->serverTls(); }

  // An endpoint as the router makes it for a host with a secure DANE-EE record.
  ClientEndpoint daneEndpoint(const FakeSmtpServer& server, bool matching) {
    ClientEndpoint endpoint;
    endpoint.host = kCertificateHost;
    endpoint.address = "127.0.0.1";
    endpoint.port = server.port();
    endpoint.dns_level = TlsLevel::dane;
    auto digest = spkiSha256(certificate_->certificate);
    EXPECT_EQ(digest.size(), 32u);
    if (!matching) digest[0] ^= 0xff;
    endpoint.tlsa.push_back(dns::TlsaRecord{3, 1, 1, digest});
    return endpoint;
  }

  static ClientSettings settings(TlsLevel level) {
    ClientSettings settings;
    settings.helo_name = "client.example.test";
    settings.tls = level;
    if (level == TlsLevel::mutual) {
      // Domain Security presents our certificate and checks the server's for the partner domain
      // (here the same self-signed certificate, which names mx.example.test).
      settings.client_certificate = certificate_->certificate;
      settings.client_private_key = certificate_->private_key;
      settings.partner_domain = "mx.example.test";
    }
    settings.connect_timeout = std::chrono::seconds(5);
    settings.command_timeout = std::chrono::seconds(5);
    return settings;
  }

  static OutboundMessage message() {
    OutboundMessage message;
    message.sender = "sender@example.org";
    message.recipients.push_back({"a@example.test", "", 0});
    message.body_type = "7BIT";
    message.data = "Subject: test\r\n\r\nHello\r\n";
    return message;
  }

  static test::TemporaryCertificate* certificate_;
};

test::TemporaryCertificate* DaneClientTest::certificate_ = nullptr;

void greetAndEhlo(FakeSmtpConnection& connection, const std::string& capabilities) {
  connection.send("220 mx.example.test ESMTP fake\r\n");
  if (!connection.expect("EHLO client.example.test")) return;
  connection.send("250-mx.example.test\r\n" + capabilities + "250 HELP\r\n");
}

// STARTTLS, then the whole transaction over TLS, accepted.
void acceptOverTls(FakeSmtpConnection& connection, ssl_ctx_st* context,
                   const std::string& capabilities = "") {
  greetAndEhlo(connection, "250-STARTTLS\r\n");
  if (!connection.expect("STARTTLS")) return;
  connection.send("220 2.0.0 Ready to start TLS\r\n");
  if (!connection.startTls(context)) return;
  if (!connection.expect("EHLO client.example.test")) return;
  connection.send("250-mx.example.test\r\n" + capabilities + "250 HELP\r\n");
  if (!connection.expect("MAIL FROM:<sender@example.org>")) return;
  connection.send("250 2.1.0 OK\r\n");
  if (!connection.expect("RCPT TO:")) return;
  connection.send("250 2.1.5 OK\r\n");
  if (!connection.expect("DATA")) return;
  connection.send("354 go ahead\r\n");
  connection.readData();
  connection.send("250 2.0.0 queued\r\n");
  if (connection.expect("QUIT")) connection.send("221 2.0.0 bye\r\n");
}

void handshakeThenWait(FakeSmtpConnection& connection, ssl_ctx_st* context) {
  greetAndEhlo(connection, "250-STARTTLS\r\n");
  if (!connection.expect("STARTTLS")) return;
  connection.send("220 2.0.0 Ready to start TLS\r\n");
  if (connection.startTls(context)) connection.waitForClose();
}

TEST_F(DaneClientTest, DaneEeMatchDeliversWhateverTheNameSays) {
  auto context = serverTls();
  FakeSmtpServer server([&](FakeSmtpConnection& connection) { acceptOverTls(connection, context.get()); });
  ClientEndpoint endpoint = daneEndpoint(server, true);
  // RFC 7672 3.1.1: DANE-EE ignores the certificate's names (and dates).
  endpoint.host = "another-name.example.test";
  AttemptResult result = deliverMessage(endpoint, settings(TlsLevel::opportunistic), message());
  server.join();
  EXPECT_EQ(result.session.code, 250) << result.session.render();
  EXPECT_EQ(result.evidence.required, TlsLevel::dane);
  EXPECT_EQ(result.evidence.verification, "dane");
  EXPECT_EQ(result.evidence.tlsa_match, "dane-ee 3 1 1");
}

TEST_F(DaneClientTest, MismatchDefersBeforeTheEnvelope) {
  auto context = serverTls();
  FakeSmtpServer server([&](FakeSmtpConnection& connection) {
    handshakeThenWait(connection, context.get());
  });
  AttemptResult result =
      deliverMessage(daneEndpoint(server, false), settings(TlsLevel::opportunistic), message());
  server.join();
  EXPECT_TRUE(result.session.isTransient()) << result.session.render();
  EXPECT_EQ(result.session.enhanced, "4.7.5");
  EXPECT_NE(result.session.lines.at(0).find("no TLSA record matches the certificate"),
            std::string::npos)
      << result.session.render();
  EXPECT_EQ(result.evidence.verification, "none");
  EXPECT_EQ(server.transcript().find("MAIL FROM"), std::string::npos);
}

TEST_F(DaneClientTest, MissingStartTlsDefers) {
  FakeSmtpServer server([](FakeSmtpConnection& connection) {
    greetAndEhlo(connection, "250-PIPELINING\r\n");
    connection.answerUntilClose();
  });
  AttemptResult result =
      deliverMessage(daneEndpoint(server, true), settings(TlsLevel::none), message());
  server.join();
  EXPECT_TRUE(result.session.isTransient()) << result.session.render();
  EXPECT_EQ(result.session.enhanced, "4.7.5");
  EXPECT_EQ(result.evidence.required, TlsLevel::dane);  // stronger than the route's none
  EXPECT_EQ(server.transcript().find("MAIL FROM"), std::string::npos);
}

TEST_F(DaneClientTest, UnusableRecordsOnlyRequireTls) {
  FakeSmtpServer server([](FakeSmtpConnection& connection) {
    greetAndEhlo(connection, "250-PIPELINING\r\n");
    connection.answerUntilClose();
  });
  ClientEndpoint endpoint = daneEndpoint(server, true);
  endpoint.tlsa.clear();
  endpoint.dns_level = TlsLevel::required;
  AttemptResult result = deliverMessage(endpoint, settings(TlsLevel::opportunistic), message());
  server.join();
  EXPECT_EQ(result.session.enhanced, "4.7.5") << result.session.render();
  EXPECT_EQ(result.evidence.required, TlsLevel::required);
  EXPECT_EQ(server.transcript().find("MAIL FROM"), std::string::npos);
}

TEST_F(DaneClientTest, LevelAboveDaneAddsPkix) {
  // mutual (a partner on the domain-secure list) keeps its level; TLSA is checked too, and PKIX.
  {
    auto context = serverTls();
    FakeSmtpServer server([&](FakeSmtpConnection& connection) {
      acceptOverTls(connection, context.get());
    });
    ClientSettings mutual = settings(TlsLevel::mutual);
    mutual.ca_file = certificate_->certificate;
    AttemptResult result = deliverMessage(daneEndpoint(server, true), mutual, message());
    server.join();
    EXPECT_EQ(result.session.code, 250) << result.session.render();
    EXPECT_EQ(result.evidence.required, TlsLevel::mutual);
    EXPECT_EQ(result.evidence.verification, "pkix+dane");
  }
  {
    // The same with a trust store that does not know the certificate: DANE matches, PKIX fails.
    auto context = serverTls();
    FakeSmtpServer server([&](FakeSmtpConnection& connection) {
      handshakeThenWait(connection, context.get());
    });
    AttemptResult result =
        deliverMessage(daneEndpoint(server, true), settings(TlsLevel::mutual), message());
    server.join();
    EXPECT_EQ(result.session.enhanced, "4.7.5") << result.session.render();
    EXPECT_NE(result.session.lines.at(0).find("PKIX"), std::string::npos)
        << result.session.render();
    EXPECT_EQ(server.transcript().find("MAIL FROM"), std::string::npos);
  }
}

TEST_F(DaneClientTest, RequireTlsIsSatisfiedByDane) {
  // No ca_file trusts the self-signed certificate, so only DANE can authenticate this server.
  auto context = serverTls();
  FakeSmtpServer server([&](FakeSmtpConnection& connection) {
    acceptOverTls(connection, context.get(), "250-REQUIRETLS\r\n");
  });
  auto outbound = message();
  outbound.require_tls = true;
  AttemptResult result =
      deliverMessage(daneEndpoint(server, true), settings(TlsLevel::opportunistic), outbound);
  server.join();
  EXPECT_EQ(result.session.code, 250) << result.session.render();
  EXPECT_EQ(result.evidence.verification, "dane");
  EXPECT_NE(server.transcript().find("REQUIRETLS"), std::string::npos);
}

}  // namespace
}  // namespace bulwark::smtp
