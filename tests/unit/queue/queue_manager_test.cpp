// The queue manager with every seam faked (clock, DNS, transport, trace) and a real spool and
// Maildir in a temporary directory: routing, per-recipient outcomes, retries and expiry by an
// injected clock (never by waiting), bounces and delay notices, and what is never bounced.
#include "queue/queue_manager.h"

#include "queue/bounce.h"

#include "support/fake_clock.h"
#include "support/fake_resolver.h"
#include "support/fake_trace_store.h"
#include "support/fake_transport.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>
#include <fstream>
#include <sstream>

namespace bulwark::queue {
namespace {

using bulwark::testing::FakeClock;
using bulwark::testing::FakeResolver;
using bulwark::testing::FakeTraceStore;
using bulwark::testing::FakeTransport;
using std::chrono::hours;
using std::chrono::seconds;

class QueueManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("bulwark-queue-manager-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(root_);
    config_.data_dir = root_;
    config_.hostname = "mx.example.test";
    config_.queue_retry_seconds = 300;
    config_.queue_max_backoff_seconds = 3600;
    config_.queue_lifetime_seconds = 5 * 24 * 3600;
    config_.delay_warning_seconds = 0;
    resolver_.mx_records["remote.test"] = {{10, "mx1.remote.test"}, {20, "mx2.remote.test"}};
    resolver_.address_records["mx1.remote.test"] = {"127.0.0.11"};
    resolver_.address_records["mx2.remote.test"] = {"127.0.0.12"};
    transport_.script = [](const smtp::ClientEndpoint&, const smtp::OutboundMessage& message) {
      return FakeTransport::answer(message, smtp::Reply{250, "2.0.0", {"accepted"}});
    };
  }
  void TearDown() override {
    manager_.reset();
    std::filesystem::remove_all(root_);
  }

  QueueManager& manager() {
    if (!manager_) {
      auto spool = openFileSpool(config_.queueDirectory());
      EXPECT_TRUE(spool.has_value());
      spool_ = std::move(*spool);
      QueueManagerOptions options;
      options.workers = 2;
      options.scheduler = false;
      manager_ = std::make_unique<QueueManager>(config_, *spool_, trace_, resolver_, transport_,
                                                clock_, options);
    }
    return *manager_;
  }

  // Commits a message as the intake would and hands it over; returns its queue id.
  std::string send(std::string sender, std::vector<Recipient> recipients, bool require_tls = false,
                   std::string body = "Subject: test\r\n\r\nHello.\r\n") {
    manager();
    Envelope envelope;
    envelope.queue_id = newQueueIdForTest();
    envelope.sender = std::move(sender);
    envelope.recipients = std::move(recipients);
    envelope.received_at = clock_.now();
    envelope.body_type = "7BIT";
    envelope.require_tls = require_tls;
    envelope.size = body.size();
    EXPECT_TRUE(spool_->commit(envelope, body).has_value());
    manager_->submit(envelope, std::make_shared<const std::string>(body));
    manager_->waitIdle();
    return envelope.queue_id;
  }

  std::string newQueueIdForTest() { return "TEST" + std::to_string(++counter_); }

  static Recipient to(std::string address, std::uint8_t notify = 0) {
    return Recipient{std::move(address), "", notify, RecipientStatus::pending, ""};
  }

  // Advances the clock by `by` and runs what is due, as the scheduler thread would.
  void passTime(std::chrono::system_clock::duration by) {
    clock_.advance(by);
    manager_->runDue();
    manager_->waitIdle();
  }

  std::vector<std::string> maildir(const std::string& local_part,
                                   const std::string& domain = "example.test") {
    std::vector<std::string> messages;
    auto folder = root_ / "mail" / domain / local_part / "new";
    if (!std::filesystem::exists(folder)) return messages;
    for (const auto& entry : std::filesystem::directory_iterator(folder)) {
      std::ifstream file(entry.path());
      std::stringstream content;
      content << file.rdbuf();
      messages.push_back(content.str());
    }
    return messages;
  }

  bool queued(const std::string& queue_id) {
    auto loaded = spool_->load(queue_id);
    return loaded.has_value();
  }

  std::filesystem::path root_;
  Config config_;
  FakeClock clock_;
  FakeResolver resolver_;
  FakeTransport transport_;
  FakeTraceStore trace_;
  std::unique_ptr<Spool> spool_;
  std::unique_ptr<QueueManager> manager_;
  int counter_ = 0;
};

TEST_F(QueueManagerTest, RemoteRecipientGoesToTheFirstMxAndLeavesTheQueue) {
  auto id = send("alice@example.test", {to("bob@remote.test")});
  auto attempts = transport_.attempts();
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].endpoint.host, "mx1.remote.test");
  EXPECT_EQ(attempts[0].endpoint.address, "127.0.0.11");
  EXPECT_EQ(attempts[0].endpoint.port, 25);
  EXPECT_EQ(attempts[0].settings.tls, TlsLevel::opportunistic);
  EXPECT_EQ(attempts[0].recipients, std::vector<std::string>{"bob@remote.test"});
  EXPECT_FALSE(queued(id));
  EXPECT_EQ(trace_.withStatus("attempt").size(), 1u);
  ASSERT_EQ(trace_.withStatus("delivered").size(), 1u);
  EXPECT_EQ(trace_.withStatus("delivered")[0].recipients,
            std::vector<std::string>{"bob@remote.test"});
}

TEST_F(QueueManagerTest, TransientFailureTriesTheNextMxThenDefersUntilTheBackoff) {
  transport_.script = [](const smtp::ClientEndpoint&, const smtp::OutboundMessage& message) {
    return FakeTransport::answer(message, smtp::Reply{421, "4.3.2", {"busy"}});
  };
  auto id = send("alice@example.test", {to("bob@remote.test")});
  ASSERT_EQ(transport_.attempts().size(), 2u);
  EXPECT_EQ(transport_.attempts()[1].endpoint.host, "mx2.remote.test");
  auto loaded = spool_->load(id);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->state, QueueState::deferred);
  EXPECT_EQ(loaded->next_attempt, clock_.now() + seconds(300));

  passTime(seconds(299));
  EXPECT_EQ(transport_.attempts().size(), 2u) << "not due yet";
  passTime(seconds(1));
  EXPECT_EQ(transport_.attempts().size(), 4u);
  loaded = spool_->load(id);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->attempts, 2u);
  EXPECT_EQ(loaded->next_attempt, clock_.now() + seconds(600)) << "backoff doubles";
}

TEST_F(QueueManagerTest, ExpiryBouncesToTheSenderWithTheLastReason) {
  config_.queue_lifetime_seconds = 3600;
  transport_.script = [](const smtp::ClientEndpoint&, const smtp::OutboundMessage& message) {
    if (message.sender.empty()) {  // the bounce itself is local; nothing remote for it
      return FakeTransport::answer(message, smtp::Reply{250, "2.0.0", {"OK"}});
    }
    return FakeTransport::answer(message, smtp::Reply{451, "4.7.5", {"TLS required"}});
  };
  auto id = send("alice@example.test", {to("bob@remote.test")});
  for (int step = 0; step < 20 && queued(id); ++step) passTime(seconds(600));
  EXPECT_FALSE(queued(id)) << "expired messages leave the queue";
  EXPECT_LE(clock_.now() - std::chrono::system_clock::time_point(std::chrono::seconds(1800000000)),
            hours(2));
  auto bounces = maildir("alice");
  ASSERT_EQ(bounces.size(), 1u);
  const std::string& bounce = bounces[0];
  EXPECT_NE(bounce.find("Return-Path: <>"), std::string::npos);
  EXPECT_NE(bounce.find("Subject: Undelivered Mail Returned to Sender"), std::string::npos);
  EXPECT_NE(bounce.find("multipart/report; report-type=delivery-status"), std::string::npos);
  EXPECT_NE(bounce.find("Final-Recipient: rfc822; bob@remote.test"), std::string::npos);
  EXPECT_NE(bounce.find("Status: 5.4.7"), std::string::npos);
  EXPECT_NE(bounce.find("TLS required"), std::string::npos) << "the last reason is given";
  EXPECT_NE(bounce.find("has expired"), std::string::npos) << "in words a person understands";
  EXPECT_NE(bounce.find("The last problem was: A secure (TLS) connection"), std::string::npos)
      << "the cause is explained too";
  EXPECT_NE(bounce.find("expired after 1 hour in the queue"), std::string::npos);
  EXPECT_EQ(bounce.find("Remote-MTA:"), std::string::npos)
      << "an expiry is our decision, not something the remote server said";
  EXPECT_EQ(bounce.find("The server mx1.remote.test said"), std::string::npos);
  EXPECT_NE(bounce.find("Subject: test"), std::string::npos) << "the original is attached";
  EXPECT_EQ(trace_.withStatus("bounced").size(), 1u);
}

TEST_F(QueueManagerTest, PermanentFailureBouncesAtOnceAndMixedOutcomesAreKeptApart) {
  transport_.script = [](const smtp::ClientEndpoint&, const smtp::OutboundMessage& message) {
    smtp::AttemptResult result;
    result.session = smtp::Reply{250, "2.0.0", {"OK"}};
    for (const auto& recipient : message.recipients) {
      if (recipient.address.starts_with("gone")) {
        result.recipients.push_back(smtp::Reply{550, "5.1.1", {"no such user"}});
      } else if (recipient.address.starts_with("full")) {
        result.recipients.push_back(smtp::Reply{452, "4.2.2", {"mailbox full"}});
      } else {
        result.recipients.push_back(smtp::Reply{250, "2.0.0", {"OK"}});
      }
    }
    return result;
  };
  auto id = send("alice@example.test",
                 {to("ok@remote.test"), to("gone@remote.test"), to("full@remote.test")});
  auto loaded = spool_->load(id);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->state, QueueState::deferred);
  EXPECT_EQ(loaded->envelope.recipients[0].status, RecipientStatus::delivered);
  EXPECT_EQ(loaded->envelope.recipients[1].status, RecipientStatus::failed);
  EXPECT_EQ(loaded->envelope.recipients[2].status, RecipientStatus::pending);
  auto bounces = maildir("alice");
  ASSERT_EQ(bounces.size(), 1u);
  EXPECT_NE(bounces[0].find("gone@remote.test"), std::string::npos);
  EXPECT_NE(bounces[0].find("does not exist"), std::string::npos);
  EXPECT_EQ(bounces[0].find("Final-Recipient: rfc822; ok@remote.test"), std::string::npos);
  EXPECT_EQ(bounces[0].find("Final-Recipient: rfc822; full@remote.test"), std::string::npos);

  passTime(seconds(300));
  auto retried = transport_.attempts().back();
  EXPECT_EQ(retried.recipients, std::vector<std::string>{"full@remote.test"})
      << "a retry carries only the recipients still pending";
}

TEST_F(QueueManagerTest, NullSenderAndNotifyNeverAreNeverBounced) {
  transport_.script = [](const smtp::ClientEndpoint&, const smtp::OutboundMessage& message) {
    return FakeTransport::answer(message, smtp::Reply{550, "5.1.1", {"no such user"}});
  };
  auto bounce_id = send("", {to("gone@remote.test")});
  EXPECT_FALSE(queued(bounce_id));
  auto never_id = send("alice@example.test", {to("gone@remote.test", notify_never)});
  EXPECT_FALSE(queued(never_id));
  EXPECT_TRUE(maildir("alice").empty());
  EXPECT_EQ(trace_.withStatus("bounced").size(), 2u);
}

TEST_F(QueueManagerTest, NullMxAndMissingDomainBounceWithoutAnAttempt) {
  resolver_.mx_records["nomail.test"] = {{0, ""}};
  send("alice@example.test", {to("x@nomail.test"), to("y@missing.test")});
  EXPECT_TRUE(transport_.attempts().empty());
  auto bounces = maildir("alice");
  ASSERT_EQ(bounces.size(), 1u);
  EXPECT_NE(bounces[0].find("Status: 5.1.10"), std::string::npos);
  EXPECT_NE(bounces[0].find("Status: 5.1.2"), std::string::npos);
}

// A local domain with delivery "lmtp"/"smtp" goes to its mailbox server: no MX lookup, one
// connection for the domain's recipients, per-recipient outcomes as for any next hop.
LocalDomain mailboxDomain(std::string name, std::string delivery, std::string host) {
  LocalDomain domain;
  domain.name = std::move(name);
  domain.delivery = std::move(delivery);
  domain.host = std::move(host);
  return domain;
}

TEST_F(QueueManagerTest, LmtpLocalDomainGoesToItsMailboxServerWithoutMx) {
  config_.local_domains.push_back(mailboxDomain("lmtp.test", "lmtp", "127.0.0.1:24"));
  send("alice@example.test", {to("a@lmtp.test"), to("bob@remote.test"), to("b@LMTP.test")});
  auto attempts = transport_.attempts();
  ASSERT_EQ(attempts.size(), 2u) << "one connection to the mailbox server, one by MX";
  const auto& lmtp = attempts[0].endpoint.port == 24 ? attempts[0] : attempts[1];
  EXPECT_EQ(lmtp.endpoint.address, "127.0.0.1");
  EXPECT_EQ(lmtp.settings.protocol, smtp::Protocol::lmtp);
  EXPECT_EQ(lmtp.settings.tls, TlsLevel::none);
  EXPECT_EQ(lmtp.recipients, (std::vector<std::string>{"a@lmtp.test", "b@LMTP.test"}));
  EXPECT_EQ(attempts[0].endpoint.port == 24 ? attempts[1].settings.protocol
                                            : attempts[0].settings.protocol,
            smtp::Protocol::smtp);
  EXPECT_TRUE(maildir("a", "lmtp.test").empty()) << "never written to Maildir as well";
  EXPECT_EQ(trace_.withStatus("delivered").size(), 3u);
}

TEST_F(QueueManagerTest, LmtpPerRecipientOutcomesRetryOnlyTheTransientOne) {
  config_.local_domains.push_back(mailboxDomain("lmtp.test", "lmtp", "unix:/run/test/lmtp"));
  std::atomic<int> attempts{0};
  transport_.script = [&](const smtp::ClientEndpoint&, const smtp::OutboundMessage& message) {
    smtp::AttemptResult result;
    result.session = smtp::Reply{250, "2.0.0", {"saved"}};
    const bool first = ++attempts == 1;  // the mailbox is over quota only the first time
    for (const auto& recipient : message.recipients) {
      if (recipient.address.starts_with("full") && first) {
        result.recipients.push_back(smtp::Reply{452, "4.2.2", {"over quota"}});
      } else if (recipient.address.starts_with("gone")) {
        result.recipients.push_back(smtp::Reply{550, "5.1.1", {"no such mailbox"}});
      } else {
        result.recipients.push_back(smtp::Reply{250, "2.0.0", {"saved"}});
      }
    }
    return result;
  };
  auto id = send("alice@example.test",
                 {to("ok@lmtp.test"), to("full@lmtp.test"), to("gone@lmtp.test")});
  ASSERT_EQ(transport_.attempts().size(), 1u);
  const smtp::ClientEndpoint endpoint = transport_.attempts()[0].endpoint;
  EXPECT_EQ(endpoint.unix_socket, "/run/test/lmtp");
  EXPECT_EQ(endpoint.host, "mx.example.test") << "a local socket is on this machine";
  auto loaded = spool_->load(id);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->envelope.recipients[0].status, RecipientStatus::delivered);
  EXPECT_EQ(loaded->envelope.recipients[1].status, RecipientStatus::pending);
  EXPECT_EQ(loaded->envelope.recipients[2].status, RecipientStatus::failed);
  auto bounces = maildir("alice");
  ASSERT_EQ(bounces.size(), 1u);
  EXPECT_NE(bounces[0].find("Final-Recipient: rfc822; gone@lmtp.test"), std::string::npos);

  passTime(seconds(300));
  ASSERT_EQ(transport_.attempts().size(), 2u);
  EXPECT_EQ(transport_.attempts()[1].recipients, std::vector<std::string>{"full@lmtp.test"});
  EXPECT_FALSE(queued(id)) << "delivered on the retry";
  EXPECT_EQ(trace_.withStatus("delivered").size(), 3u) << "ok, the bounce to alice, then full";
}

TEST_F(QueueManagerTest, MailboxServerTlsAndRequireTls) {
  config_.local_domains.push_back(mailboxDomain("near.test", "lmtp", "[::1]:24"));
  config_.local_domains.push_back(mailboxDomain("far.test", "lmtp", "mailbox.far.test:24"));
  LocalDomain relayed = mailboxDomain("relayed.test", "smtp", "127.0.0.1:2525");
  relayed.auth_user = "bulwark";
  relayed.auth_password_file = root_ / "password";
  relayed.tls = TlsLevel::required;
  config_.local_domains.push_back(relayed);
  resolver_.address_records["mailbox.far.test"] = {"192.0.2.24"};
  std::filesystem::create_directories(root_);
  std::ofstream(root_ / "password") << "secret\n";
  std::map<std::string, bool> requiretls_passed_on;
  std::mutex mutex;
  transport_.script = [&](const smtp::ClientEndpoint& endpoint,
                          const smtp::OutboundMessage& message) {
    std::lock_guard lock(mutex);
    requiretls_passed_on[endpoint.address] = message.require_tls;
    return FakeTransport::answer(message, smtp::Reply{250, "2.0.0", {"OK"}});
  };
  send("alice@example.test", {to("a@near.test"), to("b@far.test"), to("c@relayed.test")},
       /*require_tls=*/true);
  auto attempts = transport_.attempts();
  ASSERT_EQ(attempts.size(), 3u);
  for (const auto& attempt : attempts) {
    if (attempt.endpoint.address == "::1") {
      // Final delivery on this machine (RFC 8689 4.3): no network to protect.
      EXPECT_EQ(attempt.settings.tls, TlsLevel::none);
      EXPECT_FALSE(requiretls_passed_on[attempt.endpoint.address]);
    } else if (attempt.endpoint.address == "192.0.2.24") {
      EXPECT_EQ(attempt.settings.tls, TlsLevel::verify) << "LMTP across the network";
      EXPECT_EQ(attempt.endpoint.host, "mailbox.far.test");
      EXPECT_FALSE(requiretls_passed_on[attempt.endpoint.address]);
    } else {
      EXPECT_EQ(attempt.endpoint.address, "127.0.0.1");
      EXPECT_EQ(attempt.settings.protocol, smtp::Protocol::smtp);
      EXPECT_EQ(attempt.settings.tls, TlsLevel::verify) << "an SMTP hop: REQUIRETLS as anywhere";
      EXPECT_TRUE(requiretls_passed_on[attempt.endpoint.address]);
      EXPECT_EQ(attempt.settings.auth_user, "bulwark");
      EXPECT_EQ(attempt.settings.auth_password, "secret");
    }
  }
}

TEST_F(QueueManagerTest, MailboxServerWithoutAnAddressDefers) {
  config_.local_domains.push_back(mailboxDomain("lmtp.test", "lmtp", "mailbox.lmtp.test:24"));
  auto id = send("alice@example.test", {to("a@lmtp.test")});
  EXPECT_TRUE(transport_.attempts().empty());
  auto loaded = spool_->load(id);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->state, QueueState::deferred) << "our own server: wait, never bounce at once";
  EXPECT_TRUE(maildir("alice").empty());
}

TEST_F(QueueManagerTest, ImplicitMxAndTemporaryDnsFailure) {
  resolver_.address_records["bare.test"] = {"127.0.0.20"};
  send("alice@example.test", {to("x@bare.test")});
  ASSERT_EQ(transport_.attempts().size(), 1u);
  EXPECT_EQ(transport_.attempts()[0].endpoint.host, "bare.test");

  resolver_.failing.insert("flaky.test");
  auto id = send("alice@example.test", {to("x@flaky.test")});
  EXPECT_EQ(transport_.attempts().size(), 1u);
  auto loaded = spool_->load(id);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->state, QueueState::deferred);
  EXPECT_TRUE(maildir("alice").empty());
}

TEST_F(QueueManagerTest, RequireTlsRaisesTheLevelToVerify) {
  send("alice@example.test", {to("bob@remote.test")}, /*require_tls=*/true);
  ASSERT_EQ(transport_.attempts().size(), 1u);
  EXPECT_EQ(transport_.attempts()[0].settings.tls, TlsLevel::verify);
}

TEST_F(QueueManagerTest, SendConnectorRoutesToItsSmartHostWithItsLevel) {
  SendConnector partners;
  partners.name = "partners";
  partners.domains = {"*.partner.test", "partner.test"};
  partners.smart_host = "[127.0.0.30]:2526";
  partners.tls = TlsLevel::required;
  SendConnector everything;
  everything.name = "everything";
  everything.domains = {"*"};
  everything.tls = TlsLevel::verify;
  config_.send_connectors = {partners, everything};
  send("alice@example.test", {to("a@partner.test"), to("b@sub.partner.test")});
  ASSERT_EQ(transport_.attempts().size(), 1u) << "one connection to the smart host for both";
  EXPECT_EQ(transport_.attempts()[0].endpoint.address, "127.0.0.30");
  EXPECT_EQ(transport_.attempts()[0].endpoint.port, 2526);
  EXPECT_EQ(transport_.attempts()[0].settings.tls, TlsLevel::required);
  EXPECT_EQ(transport_.attempts()[0].recipients.size(), 2u);

  send("alice@example.test", {to("c@remote.test")});
  ASSERT_EQ(transport_.attempts().size(), 2u);
  EXPECT_EQ(transport_.attempts()[1].endpoint.host, "mx1.remote.test");
  EXPECT_EQ(transport_.attempts()[1].settings.tls, TlsLevel::verify) << "\"*\" by MX";
}

// A transport rule's route_via: the named connector whatever the recipient domain; local
// domains keep their Maildir; a connector gone after a reload makes the message wait.
TEST_F(QueueManagerTest, RouteConnectorOverridesTheDomainPatterns) {
  SendConnector partners;
  partners.name = "partners";
  partners.domains = {"partner.test"};
  partners.smart_host = "[127.0.0.30]:2526";
  partners.tls = TlsLevel::required;
  SendConnector everything;
  everything.name = "everything";
  everything.domains = {"*"};
  everything.tls = TlsLevel::verify;
  config_.send_connectors = {partners, everything};
  manager();
  Envelope envelope;
  envelope.queue_id = newQueueIdForTest();
  envelope.sender = "alice@example.test";
  envelope.recipients = {to("c@remote.test"), to("bob@example.test")};
  envelope.received_at = clock_.now();
  envelope.body_type = "7BIT";
  envelope.route_connector = "partners";
  const std::string body = "Subject: routed\r\n\r\nHello.\r\n";
  envelope.size = body.size();
  ASSERT_TRUE(spool_->commit(envelope, body).has_value());
  auto loaded = spool_->load(envelope.queue_id);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->envelope.route_connector, "partners") << "kept in the queue file";
  manager_->submit(envelope, std::make_shared<const std::string>(body));
  manager_->waitIdle();
  ASSERT_EQ(transport_.attempts().size(), 1u);
  EXPECT_EQ(transport_.attempts()[0].endpoint.address, "127.0.0.30");
  EXPECT_EQ(transport_.attempts()[0].settings.tls, TlsLevel::required);
  ASSERT_EQ(transport_.attempts()[0].recipients.size(), 1u);
  EXPECT_EQ(maildir("bob").size(), 1u) << "our own domain is still delivered here";
  EXPECT_FALSE(queued(envelope.queue_id));
}

TEST_F(QueueManagerTest, RouteThroughAConnectorThatNoLongerExistsWaits) {
  SendConnector everything;
  everything.name = "everything";
  everything.domains = {"*"};
  config_.send_connectors = {everything};
  manager();
  Envelope envelope;
  envelope.queue_id = newQueueIdForTest();
  envelope.sender = "alice@example.test";
  envelope.recipients = {to("c@remote.test")};
  envelope.received_at = clock_.now();
  envelope.body_type = "7BIT";
  envelope.route_connector = "removed-relay";
  const std::string body = "Subject: routed\r\n\r\nHello.\r\n";
  envelope.size = body.size();
  ASSERT_TRUE(spool_->commit(envelope, body).has_value());
  manager_->submit(envelope, std::make_shared<const std::string>(body));
  manager_->waitIdle();
  EXPECT_TRUE(transport_.attempts().empty()) << "never delivered another way";
  auto loaded = spool_->load(envelope.queue_id);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->state, QueueState::deferred);
  EXPECT_NE(loaded->last_reason.find("451 4.3.5"), std::string::npos) << loaded->last_reason;
  EXPECT_NE(loaded->last_reason.find("\"removed-relay\""), std::string::npos);
  EXPECT_TRUE(maildir("alice").empty()) << "no bounce while it waits";
}

TEST_F(QueueManagerTest, DelayNoticeIsSentOnceAfterTheWarningAge) {
  config_.delay_warning_seconds = 600;
  transport_.script = [](const smtp::ClientEndpoint&, const smtp::OutboundMessage& message) {
    return FakeTransport::answer(message, smtp::Reply{451, "4.4.1", {"no answer"}});
  };
  auto id = send("alice@example.test", {to("bob@remote.test")});
  EXPECT_TRUE(maildir("alice").empty());
  passTime(seconds(300));  // 300 s old
  EXPECT_TRUE(maildir("alice").empty());
  passTime(seconds(600));  // 900 s old: past the warning age
  auto notices = maildir("alice");
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_NE(notices[0].find("Subject: Delayed Mail (still being retried)"), std::string::npos);
  EXPECT_NE(notices[0].find("Action: delayed"), std::string::npos);
  EXPECT_NE(notices[0].find("Will-Retry-Until:"), std::string::npos);
  passTime(seconds(1200));
  EXPECT_EQ(maildir("alice").size(), 1u) << "only one delay notice";
  EXPECT_TRUE(queued(id));
}

TEST_F(QueueManagerTest, ConnectionsPerDestinationNeverExceedTheLimit) {
  config_.delivery.max_connections_per_destination = 1;
  std::atomic<int> open{0};
  std::atomic<int> most{0};
  transport_.script = [&](const smtp::ClientEndpoint&, const smtp::OutboundMessage& message) {
    int now_open = ++open;
    int seen = most.load();
    while (now_open > seen && !most.compare_exchange_weak(seen, now_open)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    --open;
    return FakeTransport::answer(message, smtp::Reply{250, "2.0.0", {"OK"}});
  };
  manager();  // two workers: both messages are delivered at the same time unless limited
  for (int index = 0; index < 4; ++index) {
    Envelope envelope;
    envelope.queue_id = newQueueIdForTest();
    envelope.sender = "alice@example.test";
    envelope.recipients = {to("bob@remote.test")};
    envelope.received_at = clock_.now();
    const std::string body = "Subject: limit\r\n\r\nx\r\n";
    ASSERT_TRUE(spool_->commit(envelope, body).has_value());
    manager_->submit(envelope, std::make_shared<const std::string>(body));
  }
  manager_->waitIdle();
  EXPECT_EQ(transport_.attempts().size(), 4u);
  EXPECT_EQ(most.load(), 1);
}

TEST_F(QueueManagerTest, BounceReturnsOnlyTheHeadersPastTheSizeLimit) {
  config_.bounce_size_limit = 40;
  transport_.script = [](const smtp::ClientEndpoint&, const smtp::OutboundMessage& message) {
    return FakeTransport::answer(message, smtp::Reply{550, "5.1.1", {"no such user"}});
  };
  send("alice@example.test", {to("gone@remote.test")}, false,
       "Subject: big one\r\n\r\nthe secret body text that is over forty bytes long\r\n");
  auto bounces = maildir("alice");
  ASSERT_EQ(bounces.size(), 1u);
  EXPECT_NE(bounces[0].find("Content-Type: text/rfc822-headers"), std::string::npos);
  EXPECT_NE(bounces[0].find("Subject: big one"), std::string::npos);
  EXPECT_EQ(bounces[0].find("the secret body text"), std::string::npos);
}

TEST(BounceText, DurationsInWholeUnits) {
  EXPECT_EQ(describeDuration(60), "1 minute");
  EXPECT_EQ(describeDuration(90), "90 seconds");
  EXPECT_EQ(describeDuration(3600), "1 hour");
  EXPECT_EQ(describeDuration(7200), "2 hours");
  EXPECT_EQ(describeDuration(5 * 86400), "5 days");
}

TEST_F(QueueManagerTest, RetryScheduleDoublesUpToTheMaximum) {
  RetrySchedule schedule(config_);
  EXPECT_EQ(schedule.backoff(1), seconds(300));
  EXPECT_EQ(schedule.backoff(2), seconds(600));
  EXPECT_EQ(schedule.backoff(3), seconds(1200));
  EXPECT_EQ(schedule.backoff(4), seconds(2400));
  EXPECT_EQ(schedule.backoff(5), seconds(3600));
  EXPECT_EQ(schedule.backoff(50), seconds(3600));
  auto start = clock_.now();
  EXPECT_FALSE(schedule.expired(start, start + hours(119)));
  EXPECT_TRUE(schedule.expired(start, start + hours(120)));
}

// Domain Security: a domain on [domain_secure] send is delivered at `mutual`, on a connection of
// its own even through a smart host (the certificate is checked for that one domain), with our
// client certificate and the partner trust files; other domains keep their route's level.
TEST_F(QueueManagerTest, DomainSecureSendDomainsGoMutualEachOnItsOwnConnection) {
  SendConnector relay;
  relay.name = "relay";
  relay.domains = {"partner.test", "second.test", "other.test", "more.test"};
  relay.smart_host = "[127.0.0.30]:2526";
  relay.tls = TlsLevel::required;
  config_.send_connectors = {relay};
  config_.domain_secure.send = {"partner.test", "second.test"};
  config_.domain_secure.resolved_client_certificate = "/pki/issued/example.test.pem";
  config_.domain_secure.resolved_client_private_key = "/pki/issued/example.test.key";
  config_.domain_secure.resolved_trust_files = {"/pki/ca.pem", "/pki/trusted/partner.pem"};
  send("alice@example.test", {to("a@partner.test"), to("b@Second.test"), to("c@other.test"),
                              to("d@more.test")});
  auto attempts = transport_.attempts();
  ASSERT_EQ(attempts.size(), 3u);
  std::map<std::string, bulwark::testing::RecordedAttempt> by_partner;
  for (const auto& attempt : attempts) by_partner[attempt.settings.partner_domain] = attempt;
  ASSERT_EQ(by_partner.count("partner.test"), 1u);
  ASSERT_EQ(by_partner.count("second.test"), 1u);
  ASSERT_EQ(by_partner.count(""), 1u);
  for (const char* domain : {"partner.test", "second.test"}) {
    const auto& settings = by_partner[domain].settings;
    EXPECT_EQ(settings.tls, TlsLevel::mutual) << domain;
    EXPECT_EQ(settings.client_certificate, "/pki/issued/example.test.pem");
    EXPECT_EQ(settings.client_private_key, "/pki/issued/example.test.key");
    EXPECT_EQ(settings.partner_ca_files, config_.domain_secure.resolved_trust_files);
    EXPECT_EQ(by_partner[domain].recipients.size(), 1u) << domain;
  }
  const auto& shared = by_partner[""];
  EXPECT_EQ(shared.settings.tls, TlsLevel::required);
  EXPECT_TRUE(shared.settings.client_certificate.empty());
  EXPECT_EQ(shared.recipients, (std::vector<std::string>{"c@other.test", "d@more.test"}));
  std::size_t mutual_events = 0;
  for (const auto& event : trace_.events()) {
    if (event.status == "attempt" && event.detail.find("required=mutual") != std::string::npos) {
      ++mutual_events;
    }
  }
  EXPECT_EQ(mutual_events, 2u);
}

TEST(Router, DomainSecureSendIsTheStrongestLevel) {
  Config config;
  SendConnector none;
  none.name = "clear";
  none.domains = {"partner.test"};
  none.tls = TlsLevel::none;
  config.send_connectors = {none};
  config.domain_secure.send = {"partner.test"};
  EXPECT_EQ(routeFor(config, "Partner.Test").tls, TlsLevel::mutual);
  EXPECT_EQ(routeFor(config, "sub.partner.test").tls, config.delivery.tls);
}

TEST(Router, SmartHostWrittenAsABareAddressIsNotLookedUp) {
  Config config;
  SendConnector relay;
  relay.name = "relay";
  relay.domains = {"*"};
  relay.smart_host = "127.0.0.30:2526";
  config.send_connectors = {relay};
  testing::FakeResolver resolver;  // knows no names: a lookup would be NXDOMAIN
  auto endpoints = resolveEndpoints(resolver, config, routeFor(config, "example.net"), "example.net");
  ASSERT_EQ(endpoints.hosts.size(), 1u) << endpoints.failure.render();
  EXPECT_EQ(endpoints.hosts[0].address, "127.0.0.30");
  EXPECT_EQ(endpoints.hosts[0].port, 2526);
}

}  // namespace
}  // namespace bulwark::queue
