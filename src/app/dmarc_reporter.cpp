// DMARC aggregate reporting (RFC 7489 7.1, 7.2, 7.2.1.1; docs/dmarc-reports.md). Untrusted: the
// evaluations (identities from SMTP clients and messages), the rua= URIs and the DNS answers;
// the report's XML escapes them and only checked addresses and domains reach message headers.
#include "app/dmarc_reporter.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>

#include "common/ids.h"
#include "common/log.h"
#include "common/strings.h"
#include "net/base64.h"

namespace bulwark::app {
namespace {

std::int64_t epochSeconds(std::chrono::system_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::seconds>(time.time_since_epoch()).count();
}

// Letters, digits, hyphens and dots: a name that may stand in a Subject and a file name.
bool plainDomainName(std::string_view name) {
  if (name.empty() || name.size() > 253 || name.front() == '.' || name.back() == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
  });
}

// Text from the network in a log line: printable ASCII only, and not too long.
std::string printableForLog(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 200)) out += (c >= ' ' && c <= '~') ? c : '?';
  if (text.size() > 200) out += "...";
  return out;
}

std::string utcText(std::int64_t seconds) {
  return fmt::format("{:%Y-%m-%d %H:%M:%S}",
                     std::chrono::sys_seconds(std::chrono::seconds(seconds)));
}

// Base64 in lines of 76 characters (RFC 2045 6.8).
std::string base64Lines(std::string_view bytes) {
  std::string encoded = net::base64Encode(bytes);
  std::string out;
  out.reserve(encoded.size() + encoded.size() / 76 * 2 + 2);
  for (std::size_t offset = 0; offset < encoded.size(); offset += 76) {
    out.append(encoded, offset, 76);
    out += "\r\n";
  }
  return out;
}

}  // namespace

Result<std::string> gzipCompress(std::string_view data) {
  z_stream stream{};
  // windowBits 15 + 16: a gzip wrapper (RFC 1952) instead of zlib's.
  if (deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return makeError("gzip", "cannot start zlib compression");
  }
  std::string out(deflateBound(&stream, static_cast<uLong>(data.size())), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  int code = deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  if (deflateEnd(&stream) != Z_OK || code != Z_STREAM_END) {
    return makeError("gzip", "zlib compression did not finish");
  }
  return out;
}

Result<std::string> buildReportMessage(const ReportMessage& message) {
  const auth::AggregateReport& report = *message.report;
  auto compressed = gzipCompress(auth::renderAggregateReport(report));
  if (!compressed) return compressed.error();
  // RFC 7489 7.2.1.1: receiver "!" policy-domain "!" begin "!" end "." extension.
  const std::string file_name = fmt::format("{}!{}!{}!{}.xml.gz", message.receiver,
                                            report.policy.domain, report.begin, report.end);
  const std::string boundary = "=_dmarc_" + newQueueId();
  std::string text;
  text.reserve(compressed->size() * 4 / 3 + 2048);
  text += "From: " + message.sender + "\r\n";
  text += "To: " + message.destination + "\r\n";
  text += fmt::format("Subject: Report Domain: {} Submitter: {} Report-ID: <{}>\r\n",
                      report.policy.domain, message.submitter, report.report_id);
  text += "Date: " + rfc5322DateNow() + "\r\n";
  text += "Message-ID: " + newMessageId(message.receiver) + "\r\n";
  text += "Auto-Submitted: auto-generated\r\n";  // RFC 3834: no automatic replies
  text += "MIME-Version: 1.0\r\n";
  text += "Content-Type: multipart/mixed; boundary=\"" + boundary + "\"\r\n\r\n";
  text += "--" + boundary + "\r\n";
  text += "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n";
  text += fmt::format(
      "This is a DMARC aggregate report (RFC 7489) for {} from {},\r\n"
      "covering {} to {} UTC ({} messages in {} rows). The report is attached.\r\n\r\n",
      report.policy.domain, report.organization_name, utcText(report.begin), utcText(report.end),
      [&] {
        std::uint64_t total = 0;
        for (const auto& row : report.rows) total += row.count;
        return total;
      }(),
      report.rows.size());
  text += "--" + boundary + "\r\n";
  text += "Content-Type: application/gzip; name=\"" + file_name + "\"\r\n";
  text += "Content-Disposition: attachment; filename=\"" + file_name + "\"\r\n";
  text += "Content-Transfer-Encoding: base64\r\n\r\n";
  text += base64Lines(*compressed);
  text += "--" + boundary + "--\r\n";
  return text;
}

DmarcReporter::DmarcReporter(const Config& config, store::DmarcReportStore& store,
                             dns::Resolver& resolver, OrganizationalDomain organizational_domain,
                             const Clock& clock, QueueGeneratedMessage queue,
                             DmarcReporterOptions options)
    : config_(config),
      store_(store),
      resolver_(resolver),
      organizational_domain_(std::move(organizational_domain)),
      clock_(clock),
      queue_(std::move(queue)),
      options_(options) {}

DmarcReporter::~DmarcReporter() {
  stop();
}

void DmarcReporter::record(const auth::DmarcEvaluation& evaluation) {
  if (!evaluation.outcome.record || evaluation.outcome.record->aggregate_addresses.empty()) return;
  {
    std::lock_guard lock(mutex_);
    if (pending_.size() >= options_.max_pending) {
      ++dropped_;
      return;
    }
    pending_.push_back(evaluation);
  }
}

std::uint64_t DmarcReporter::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

void DmarcReporter::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void DmarcReporter::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Counted before the store closes; reports wait for the next start.
  std::lock_guard pass(pass_mutex_);
  writePending();
}

void DmarcReporter::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, options_.write_interval, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    runOnce();
    lock.lock();
  }
}

void DmarcReporter::runOnce() {
  std::lock_guard pass(pass_mutex_);
  writePending();
  sendDueReports();
}

void DmarcReporter::writePending() {
  std::deque<auth::DmarcEvaluation> batch;
  {
    std::lock_guard lock(mutex_);
    batch.swap(pending_);
  }
  if (batch.empty()) return;
  const std::int64_t interval = config_.dmarc_reports.interval_seconds;
  std::vector<store::DmarcReportEntry> entries;
  entries.reserve(batch.size());
  for (const auto& evaluation : batch) {
    // Periods tile time from the epoch, so with a day they run from UTC midnight to midnight.
    std::int64_t seconds = epochSeconds(evaluation.time);
    std::int64_t begin = seconds - ((seconds % interval) + interval) % interval;
    store::DmarcReportEntry entry;
    entry.period = {asciiLower(evaluation.outcome.record_domain), begin, begin + interval};
    entry.policy = auth::publishedPolicy(evaluation.outcome);
    entry.row = auth::reportRow(evaluation);
    entries.push_back(std::move(entry));
  }
  auto recorded = store_.record(entries);
  if (!recorded) {
    log::error("dmarc reports: {} evaluation(s) not counted: {}", entries.size(),
               recorded.error().message);
    return;
  }
  if (recorded->over_limit > 0) {
    log::warning(
        "dmarc reports: {} message(s) not counted: a report reached max_rows_per_report "
        "({})",
        recorded->over_limit, config_.dmarc_reports.max_rows_per_report);
  }
  if (recorded->already_reported > 0) {
    log::warning(
        "dmarc reports: {} message(s) not counted: their period was already reported "
        "(the clock went back?)",
        recorded->already_reported);
  }
}

void DmarcReporter::sendDueReports() {
  auto due = store_.duePeriods(epochSeconds(clock_.now()));
  if (!due) {
    log::error("dmarc reports: cannot read the store: {}", due.error().message);
    return;
  }
  for (const auto& period : *due) {
    auto content = store_.load(period);
    if (!content) {
      log::error("dmarc reports: cannot read the report for {}: {}", period.domain,
                 content.error().message);
      continue;
    }
    if (!sendReport(period, *content)) continue;  // queueing failed: tried again next pass
    if (auto marked = store_.markReported(period); !marked) {
      log::error("dmarc reports: report for {} sent but not marked: {}", period.domain,
                 marked.error().message);
    }
  }
}

bool DmarcReporter::sameOrganization(std::string_view left, std::string_view right) const {
  if (equalsIgnoreCase(left, right)) return true;
  if (!organizational_domain_) return false;  // without the list only the same name counts
  std::string organization = organizational_domain_(asciiLower(left));
  return !organization.empty() && organization == organizational_domain_(asciiLower(right));
}

bool DmarcReporter::sendReport(const store::DmarcReportPeriod& period,
                               const store::DmarcReportContent& content) {
  const DmarcReportSettings& settings = config_.dmarc_reports;
  if (!plainDomainName(period.domain)) {
    log::warning("dmarc reports: not reporting for \"{}\": not a plain domain name",
                 printableForLog(period.domain));
    return true;
  }
  auth::AggregateReport report;
  report.organization_name = settings.organization_name;
  report.email = settings.sender;
  report.extra_contact_info = settings.contact;
  // The same period of the same domain always gets the same id, so that a receiver can tell a
  // repeat (after a crash between queueing and bookkeeping) from a new report.
  report.report_id = fmt::format("{}.{}@{}", period.begin, period.domain, config_.hostname);
  report.begin = period.begin;
  report.end = period.end - 1;
  report.policy = content.policy;
  report.policy.domain = period.domain;
  report.rows = content.rows;
  const std::string submitter =
      plainDomainName(settings.organization_name) ? settings.organization_name : config_.hostname;

  bool all_handled = true;
  std::size_t used = 0;
  for (const auto& text : content.policy.rua) {
    auto uri = auth::parseReportUri(text);
    if (!uri) {
      log::info("dmarc reports: {}: rua \"{}\" is not a mailto: URI we can use; skipped",
                period.domain, printableForLog(text));
      continue;
    }
    if (used == options_.max_destinations) {
      log::warning("dmarc reports: {}: more than {} rua destinations; <{}> skipped", period.domain,
                   options_.max_destinations, uri->address);
      continue;
    }
    ++used;
    const std::string destination_domain =
        asciiLower(uri->address.substr(uri->address.rfind('@') + 1));
    auto check = auth::checkReportDestination(resolver_, period.domain, destination_domain,
                                              sameOrganization(period.domain, destination_domain));
    if (!check.allowed) {
      log::warning("dmarc reports: report for {} not sent to <{}>: {}", period.domain, uri->address,
                   check.reason);
      continue;
    }
    auto message = buildReportMessage(
        ReportMessage{settings.sender, uri->address, config_.hostname, submitter, &report});
    if (!message) {
      log::error("dmarc reports: report for {} not built: {}", period.domain,
                 message.error().message);
      continue;
    }
    if (uri->max_size != 0 && message->size() > uri->max_size) {
      log::warning(
          "dmarc reports: report for {} not sent to <{}>: {} bytes is over its limit of "
          "{} bytes (rua \"{}\")",
          period.domain, uri->address, message->size(), uri->max_size, printableForLog(text));
      continue;
    }
    queue::Envelope envelope;
    envelope.sender = settings.sender;
    envelope.recipients.push_back(
        queue::Recipient{uri->address, "", 0, queue::RecipientStatus::pending, ""});
    envelope.received_at = clock_.now();
    envelope.body_type = "8BITMIME";
    envelope.connector = "dmarc-report";
    const std::size_t size = message->size();
    auto queued =
        queue_(std::move(envelope), std::move(*message), "dmarc report for " + period.domain);
    if (!queued) {
      log::error("dmarc reports: report for {} to <{}> not queued: {}", period.domain, uri->address,
                 queued.error().message);
      all_handled = false;
      continue;
    }
    log::info("dmarc reports: report {} for {} ({} rows, {} bytes) queued as {} for <{}>",
              report.report_id, period.domain, report.rows.size(), size, *queued, uri->address);
  }
  return all_handled;
}

}  // namespace bulwark::app
