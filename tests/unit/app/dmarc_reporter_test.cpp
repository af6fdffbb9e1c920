// Tests of DmarcReporter (src/app/dmarc_reporter.cpp, docs/dmarc-reports.md) over the real SQLite
// store, a fake clock and resolver: a report per domain when its period ends and never twice,
// the message of RFC 7489 7.2.1.1 with its gzipped XML, the 7.1 destination check, the "!" size
// limit, restarts, and the limits on pending evaluations and destinations.
#include "app/dmarc_reporter.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <zlib.h>

#include <filesystem>
#include <map>
#include <thread>

#include "net/base64.h"
#include "support/fake_clock.h"
#include "support/fake_resolver.h"

namespace bulwark::app {
namespace {

using namespace std::chrono_literals;
using std::chrono::system_clock;

// 2027-01-15T09:00:00Z, in the day that begins at kDayBegin.
const system_clock::time_point kMorning = system_clock::time_point(1800000000s) + 1h;
constexpr std::int64_t kDayBegin = 1799971200;  // 2027-01-15T00:00:00Z

struct QueuedMessage {
  queue::Envelope envelope;
  std::string text;
  std::string detail;
};

std::string gunzip(std::string_view data) {
  z_stream stream{};
  EXPECT_EQ(inflateInit2(&stream, 15 + 16), Z_OK);
  std::string out(1 << 20, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&stream, Z_FINISH), Z_STREAM_END);
  out.resize(stream.total_out);
  inflateEnd(&stream);
  return out;
}

// The attachment of a report message, decoded and decompressed.
std::string attachedXml(const std::string& message) {
  auto start = message.find("Content-Transfer-Encoding: base64\r\n\r\n");
  EXPECT_NE(start, std::string::npos);
  start += 37;
  auto end = message.find("--=_dmarc_", start);
  std::string encoded;
  for (char c : message.substr(start, end - start)) {
    if (c != '\r' && c != '\n') encoded += c;
  }
  auto decoded = net::base64Decode(encoded);
  EXPECT_TRUE(decoded);
  return decoded ? gunzip(*decoded) : std::string();
}

class DmarcReporterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "bulwark-reporter-XXXXXX");
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    directory_ = pattern;
    config_.hostname = "mx.receiver.example";
    config_.dmarc_reports.enabled = true;
    config_.dmarc_reports.organization_name = "receiver.example";
    config_.dmarc_reports.sender = "noreply-dmarc@receiver.example";
    config_.dmarc_reports.contact = "https://receiver.example/dmarc";
    openStore();
  }
  void TearDown() override {
    reporter_.reset();
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }

  void openStore() {
    auto store = store::openSqliteDmarcReportStore(directory_ / "dmarc-reports.sqlite");
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
  }

  DmarcReporter& reporter(DmarcReporterOptions options = {}) {
    // Organizational domains by the last two labels: enough for these names.
    auto organizational = [](std::string_view domain) {
      auto last = domain.rfind('.');
      if (last == std::string_view::npos || last == 0) return std::string(domain);
      auto previous = domain.rfind('.', last - 1);
      return std::string(previous == std::string_view::npos ? domain : domain.substr(previous + 1));
    };
    auto queue = [this](queue::Envelope envelope, std::string text,
                        std::string detail) -> Result<std::string> {
      if (queue_fails_) return makeError("io", "disk full (test)");
      std::lock_guard lock(mutex_);
      queued_.push_back({std::move(envelope), std::move(text), std::move(detail)});
      return "Q" + std::to_string(queued_.size());
    };
    reporter_ = std::make_unique<DmarcReporter>(config_, *store_, resolver_, organizational, clock_,
                                                queue, options);
    return *reporter_;
  }

  std::vector<QueuedMessage> queued() {
    std::lock_guard lock(mutex_);
    return queued_;
  }

  static auth::DmarcEvaluation evaluation(std::string source_ip,
                                          std::vector<std::string> rua = {
                                              "mailto:dmarc@sender.example"}) {
    auth::DmarcEvaluation made;
    made.time = kMorning;
    made.source_ip = std::move(source_ip);
    made.header_from = "sender.example";
    made.envelope_from = "sender.example";
    made.envelope_to = "receiver.example";
    made.spf = auth::SpfResult::pass;
    made.spf_domain = "sender.example";
    made.outcome.result = auth::DmarcResult::pass;
    made.outcome.domain = "sender.example";
    made.outcome.record_domain = "sender.example";
    auth::DmarcRecord record;
    record.policy = auth::DmarcPolicy::quarantine;
    record.aggregate_addresses = std::move(rua);
    made.outcome.record = record;
    made.outcome.policy = auth::DmarcPolicy::quarantine;
    made.outcome.spf_aligned = true;
    return made;
  }

  std::filesystem::path directory_;
  Config config_;
  std::unique_ptr<store::DmarcReportStore> store_;
  testing::FakeResolver resolver_;
  testing::FakeClock clock_{kMorning};
  std::unique_ptr<DmarcReporter> reporter_;
  std::mutex mutex_;
  std::vector<QueuedMessage> queued_;
  bool queue_fails_ = false;
};

TEST_F(DmarcReporterTest, OneReportWhenThePeriodEndsAndNeverTwice) {
  DmarcReporter& reporter = this->reporter();
  reporter.record(evaluation("192.0.2.1"));
  reporter.record(evaluation("192.0.2.1"));
  reporter.record(evaluation("192.0.2.7"));
  reporter.runOnce();
  EXPECT_TRUE(queued().empty());  // the day is not over

  clock_.advance(15h);  // 2027-01-16T00:00:00Z: the period ended
  reporter.runOnce();
  auto messages = queued();
  ASSERT_EQ(messages.size(), 1u);
  const QueuedMessage& message = messages[0];
  EXPECT_EQ(message.envelope.sender, "noreply-dmarc@receiver.example");
  ASSERT_EQ(message.envelope.recipients.size(), 1u);
  EXPECT_EQ(message.envelope.recipients[0].address, "dmarc@sender.example");
  EXPECT_EQ(message.envelope.connector, "dmarc-report");
  EXPECT_EQ(message.detail, "dmarc report for sender.example");

  const std::string& text = message.text;
  EXPECT_EQ(text.find("From: noreply-dmarc@receiver.example\r\n"), 0u);
  EXPECT_NE(text.find("\r\nTo: dmarc@sender.example\r\n"), std::string::npos);
  const std::string report_id = std::to_string(kDayBegin) + ".sender.example@mx.receiver.example";
  EXPECT_NE(text.find("\r\nSubject: Report Domain: sender.example Submitter: receiver.example "
                      "Report-ID: <" +
                      report_id + ">\r\n"),
            std::string::npos)
      << text.substr(0, 400);
  EXPECT_NE(
      text.find("Content-Type: application/gzip; name=\"mx.receiver.example!sender.example!" +
                std::to_string(kDayBegin) + "!" + std::to_string(kDayBegin + 86399) + ".xml.gz\""),
      std::string::npos);
  EXPECT_NE(text.find("(3 messages in 2 rows)"), std::string::npos);

  std::string xml = attachedXml(text);
  EXPECT_NE(xml.find("<org_name>receiver.example</org_name>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<extra_contact_info>https://receiver.example/dmarc</extra_contact_info>"),
            std::string::npos);
  EXPECT_NE(xml.find("<report_id>" + report_id + "</report_id>"), std::string::npos);
  EXPECT_NE(xml.find("<begin>" + std::to_string(kDayBegin) + "</begin>"), std::string::npos);
  EXPECT_NE(xml.find("<p>quarantine</p>"), std::string::npos);
  // The larger group first.
  auto first = xml.find("<source_ip>192.0.2.1</source_ip>\n      <count>2</count>");
  auto second = xml.find("<source_ip>192.0.2.7</source_ip>\n      <count>1</count>");
  EXPECT_NE(first, std::string::npos) << xml;
  EXPECT_NE(second, std::string::npos) << xml;
  EXPECT_LT(first, second);

  reporter.runOnce();
  clock_.advance(48h);
  reporter.runOnce();
  EXPECT_EQ(queued().size(), 1u);
}

TEST_F(DmarcReporterTest, EvaluationsWithoutRuaAreNotCounted) {
  DmarcReporter& reporter = this->reporter();
  reporter.record(evaluation("192.0.2.1", {}));
  auto no_record = evaluation("192.0.2.1");
  no_record.outcome.record.reset();
  reporter.record(no_record);
  clock_.advance(24h);
  reporter.runOnce();
  EXPECT_TRUE(queued().empty());
}

TEST_F(DmarcReporterTest, ExternalDestinationNeedsItsAuthorisationRecord) {
  DmarcReporter& reporter = this->reporter();
  reporter.record(evaluation("192.0.2.1",
                             {"mailto:reports@thirdparty.example", "mailto:dmarc@vendor.example"}));
  resolver_.txt_records["sender.example._report._dmarc.vendor.example"] = {"v=DMARC1"};
  clock_.advance(24h);
  reporter.runOnce();
  auto messages = queued();
  ASSERT_EQ(messages.size(), 1u);  // thirdparty.example did not authorise it
  EXPECT_EQ(messages[0].envelope.recipients[0].address, "dmarc@vendor.example");
  // A refusal is a decision, not a failure: the period is done.
  EXPECT_EQ(*store_->reportedUpTo("sender.example"), kDayBegin + 86400);
}

TEST_F(DmarcReporterTest, SizeLimitOfTheUri) {
  DmarcReporter& reporter = this->reporter();
  reporter.record(evaluation(
      "192.0.2.1", {"mailto:small@sender.example!100", "mailto:large@sender.example!1m"}));
  clock_.advance(24h);
  reporter.runOnce();
  auto messages = queued();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].envelope.recipients[0].address, "large@sender.example");
  EXPECT_GT(messages[0].text.size(), 100u);
}

TEST_F(DmarcReporterTest, DestinationsPastTheLimitAreSkipped) {
  DmarcReporterOptions options;
  options.max_destinations = 2;
  DmarcReporter& reporter = this->reporter(options);
  reporter.record(
      evaluation("192.0.2.1", {"mailto:one@sender.example", "https://x.example/",
                               "mailto:two@sender.example", "mailto:three@sender.example"}));
  clock_.advance(24h);
  reporter.runOnce();
  auto messages = queued();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].envelope.recipients[0].address, "one@sender.example");
  EXPECT_EQ(messages[1].envelope.recipients[0].address, "two@sender.example");
}

TEST_F(DmarcReporterTest, PendingEvaluationsPastTheLimitAreDropped) {
  DmarcReporterOptions options;
  options.max_pending = 2;
  DmarcReporter& reporter = this->reporter(options);
  for (int index = 0; index < 3; ++index) reporter.record(evaluation("192.0.2.1"));
  EXPECT_EQ(reporter.dropped(), 1u);
  clock_.advance(24h);
  reporter.runOnce();
  auto messages = queued();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_NE(attachedXml(messages[0].text).find("<count>2</count>"), std::string::npos);
}

TEST_F(DmarcReporterTest, QueueFailureIsTriedAgain) {
  DmarcReporter& reporter = this->reporter();
  reporter.record(evaluation("192.0.2.1"));
  clock_.advance(24h);
  queue_fails_ = true;
  reporter.runOnce();
  EXPECT_EQ(*store_->reportedUpTo("sender.example"), 0);
  queue_fails_ = false;
  reporter.runOnce();
  EXPECT_EQ(queued().size(), 1u);
  EXPECT_EQ(*store_->reportedUpTo("sender.example"), kDayBegin + 86400);
}

TEST_F(DmarcReporterTest, RestartKeepsWhatWasRecordedAndWhatWasReported) {
  reporter().record(evaluation("192.0.2.1"));
  reporter_->stop();  // writes what is pending: nothing lost at shutdown
  reporter_.reset();
  store_.reset();
  openStore();

  clock_.advance(24h);
  reporter().runOnce();  // the next run sends the period that ended while it was down
  ASSERT_EQ(queued().size(), 1u);
  reporter_.reset();
  store_.reset();
  openStore();
  reporter().runOnce();
  EXPECT_EQ(queued().size(), 1u);  // and a second restart does not send it again
}

TEST_F(DmarcReporterTest, ShorterIntervalAndTheThread) {
  config_.dmarc_reports.interval_seconds = 60;
  DmarcReporterOptions options;
  options.write_interval = 10ms;
  DmarcReporter& reporter = this->reporter(options);
  reporter.start();
  reporter.record(evaluation("192.0.2.1"));
  clock_.advance(60s);
  for (int attempt = 0; attempt < 500 && queued().empty(); ++attempt) {
    std::this_thread::sleep_for(10ms);
  }
  reporter.stop();
  auto messages = queued();
  ASSERT_EQ(messages.size(), 1u);
  std::string xml = attachedXml(messages[0].text);
  const std::int64_t begin = 1800000000 + 3600;  // kMorning is on a minute boundary
  EXPECT_NE(xml.find("<begin>" + std::to_string(begin) + "</begin>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<end>" + std::to_string(begin + 59) + "</end>"), std::string::npos);
}

TEST(GzipCompress, RoundTrip) {
  std::string data(100000, 'x');
  for (std::size_t index = 0; index < data.size(); index += 7) data[index] = 'y';
  auto compressed = gzipCompress(data);
  ASSERT_TRUE(compressed);
  EXPECT_LT(compressed->size(), data.size() / 10);
  EXPECT_EQ(gunzip(*compressed), data);
}

}  // namespace
}  // namespace bulwark::app
