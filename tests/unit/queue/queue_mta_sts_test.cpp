// The queue manager with MTA-STS wired in (QueueManagerOptions::mta_sts), every seam faked except
// the spool and the policy cache: enforce narrows the MX hosts and raises the TLS level, a policy
// naming no MX host defers, testing mode only annotates the attempt trace, and smart-host routes
// never consult a policy.
#include "queue/queue_manager.h"

#include "support/fake_clock.h"
#include "support/fake_policy_fetcher.h"
#include "support/fake_resolver.h"
#include "support/fake_trace_store.h"
#include "support/fake_transport.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace bulwark::queue {
namespace {

using bulwark::testing::FakeClock;
using bulwark::testing::FakePolicyFetcher;
using bulwark::testing::FakeResolver;
using bulwark::testing::FakeTraceStore;
using bulwark::testing::FakeTransport;

class QueueMtaStsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("bulwark-queue-mta-sts-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
    config_.data_dir = root_;
    config_.hostname = "mx.example.test";
    config_.delay_warning_seconds = 0;
    resolver_.mx_records["remote.test"] = {{10, "mx1.remote.test"}, {20, "backup.other.test"}};
    resolver_.address_records["mx1.remote.test"] = {"127.0.0.11"};
    resolver_.address_records["backup.other.test"] = {"127.0.0.12"};
    resolver_.txt_records["_mta-sts.remote.test"] = {"v=STSv1; id=p1;"};
    transport_.script = [](const smtp::ClientEndpoint&, const smtp::OutboundMessage& message) {
      return FakeTransport::answer(message, smtp::Reply{250, "2.0.0", {"accepted"}});
    };
    auto cache = sts::openSqlitePolicyCache(root_ / "mta-sts.sqlite");
    ASSERT_TRUE(cache.has_value());
    cache_ = std::move(*cache);
    discovery_ = std::make_unique<sts::PolicyDiscovery>(resolver_, fetcher_, *cache_, clock_);
  }
  void TearDown() override {
    manager_.reset();
    std::filesystem::remove_all(root_);
  }

  void serve(const std::string& mode, const std::string& mx) {
    fetcher_.policies["remote.test"] =
        "version: STSv1\nmode: " + mode + "\nmx: " + mx + "\nmax_age: 86400\n";
  }

  std::string send(bool require_tls = false) {
    if (!manager_) {
      auto spool = openFileSpool(config_.queueDirectory());
      EXPECT_TRUE(spool.has_value());
      spool_ = std::move(*spool);
      QueueManagerOptions options;
      options.workers = 1;
      options.scheduler = false;
      options.mta_sts = discovery_.get();
      manager_ = std::make_unique<QueueManager>(config_, *spool_, trace_, resolver_, transport_,
                                                clock_, options);
    }
    Envelope envelope;
    envelope.queue_id = "STS" + std::to_string(++counter_);
    envelope.sender = "alice@example.test";
    envelope.recipients = {Recipient{"bob@remote.test", "", 0, RecipientStatus::pending, ""}};
    envelope.received_at = clock_.now();
    envelope.body_type = "7BIT";
    envelope.require_tls = require_tls;
    const std::string body = "Subject: test\r\n\r\nHello.\r\n";
    envelope.size = body.size();
    EXPECT_TRUE(spool_->commit(envelope, body).has_value());
    manager_->submit(envelope, std::make_shared<const std::string>(body));
    manager_->waitIdle();
    return envelope.queue_id;
  }

  std::filesystem::path root_;
  Config config_;
  FakeClock clock_;
  FakeResolver resolver_;
  FakePolicyFetcher fetcher_;
  FakeTransport transport_;
  FakeTraceStore trace_;
  std::unique_ptr<sts::PolicyCache> cache_;
  std::unique_ptr<sts::PolicyDiscovery> discovery_;
  std::unique_ptr<Spool> spool_;
  std::unique_ptr<QueueManager> manager_;
  int counter_ = 0;
};

TEST_F(QueueMtaStsTest, EnforceTriesOnlyListedHostsAtLevelMtaSts) {
  serve("enforce", "mx1.remote.test");
  // The listed host defers: the unlisted backup must not be tried instead.
  transport_.script = [](const smtp::ClientEndpoint&, const smtp::OutboundMessage& message) {
    return FakeTransport::answer(message, smtp::Reply{451, "4.7.5", {"certificate not trusted"}});
  };
  auto id = send();
  auto attempts = transport_.attempts();
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].endpoint.host, "mx1.remote.test");
  EXPECT_EQ(attempts[0].settings.tls, TlsLevel::mta_sts);
  EXPECT_TRUE(spool_->load(id).has_value());  // still queued
  auto traced = trace_.withStatus("attempt");
  ASSERT_EQ(traced.size(), 1u);
  EXPECT_NE(traced[0].detail.find("required=mta-sts"), std::string::npos) << traced[0].detail;
  EXPECT_NE(traced[0].detail.find("mta-sts=enforce id=p1 skipped=\"backup.other.test\""),
            std::string::npos)
      << traced[0].detail;
}

TEST_F(QueueMtaStsTest, EnforceNamingNoMxHostDefersWithoutAnAttempt) {
  serve("enforce", "mail.remote.test");
  auto id = send();
  EXPECT_TRUE(transport_.attempts().empty());
  auto loaded = spool_->load(id);
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->state, QueueState::deferred);
  auto deferred = trace_.withStatus("deferred");
  ASSERT_EQ(deferred.size(), 1u);
  EXPECT_NE(deferred[0].detail.find("451 4.7.5 MTA-STS policy of remote.test"), std::string::npos)
      << deferred[0].detail;
}

TEST_F(QueueMtaStsTest, RequireTlsMessageGoesOutAtLevelMtaSts) {
  serve("enforce", "*.remote.test");
  auto id = send(true);
  auto attempts = transport_.attempts();
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].settings.tls, TlsLevel::mta_sts);
  EXPECT_FALSE(spool_->load(id).has_value());  // delivered
}

TEST_F(QueueMtaStsTest, TestingDeliversAsBeforeAndTracesThePolicyFailure) {
  serve("testing", "mail.remote.test");
  send();
  auto attempts = transport_.attempts();
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].endpoint.host, "mx1.remote.test");
  EXPECT_EQ(attempts[0].settings.tls, TlsLevel::opportunistic);
  auto traced = trace_.withStatus("attempt");
  ASSERT_EQ(traced.size(), 1u);
  EXPECT_NE(traced[0].detail.find("mta-sts=testing id=p1 policy-failure=\"enforce would not try "
                                  "mx1.remote.test, backup.other.test"),
            std::string::npos)
      << traced[0].detail;
  EXPECT_EQ(trace_.withStatus("delivered").size(), 1u);
}

TEST_F(QueueMtaStsTest, SmartHostRoutesNeverConsultAPolicy) {
  serve("enforce", "mail.remote.test");
  SendConnector connector;
  connector.name = "relay";
  connector.domains = {"remote.test"};
  connector.smart_host = "[127.0.0.20]:2525";
  config_.send_connectors.push_back(connector);
  send();
  auto attempts = transport_.attempts();
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].endpoint.address, "127.0.0.20");
  EXPECT_EQ(attempts[0].settings.tls, TlsLevel::opportunistic);
  EXPECT_EQ(fetcher_.fetches, 0);
}

}  // namespace
}  // namespace bulwark::queue
