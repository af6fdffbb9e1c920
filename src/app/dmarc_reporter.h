// DMARC aggregate reporting (RFC 7489 7.2, docs/dmarc-reports.md): the authentication stage hands
// every evaluation of a domain that publishes rua= to record(); a thread counts them into the
// store and, when a period ends, sends one report per reporting domain to each rua= mailbox that
// passes the external-destination check (7.1) and the "!" size limit, through the queue like a
// bounce. Untrusted: everything in an evaluation and the DNS answers.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "auth/dmarc_report.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/result.h"
#include "dns/resolver.h"
#include "queue/envelope.h"
#include "store/dmarc_report_store.h"

namespace bulwark::app {

// Commits a generated message and hands it to delivery (QueueManager::queueGenerated); returns
// the queue id. A function so that tests see the messages without a queue.
using QueueGeneratedMessage = std::function<Result<std::string>(
    queue::Envelope envelope, std::string text, std::string detail)>;

// The organizational domain of a name (RFC 7489 3.2): serve asks the Public Suffix List
// (auth::PublicSuffixList::organizationalDomain); tests give a table.
using OrganizationalDomain = std::function<std::string(std::string_view domain)>;

struct DmarcReporterOptions {
  // Evaluations waiting for the writer; past it new ones are dropped and counted, so a stuck
  // store costs reports, never the server's memory.
  std::size_t max_pending = 100000;
  // rua= URIs used per report (RFC 7489 6.2: at least two must be supported).
  std::size_t max_destinations = 5;
  // How often the thread writes what record() collected.
  std::chrono::milliseconds write_interval{1000};
};

class DmarcReporter {
 public:
  DmarcReporter(const Config& config, store::DmarcReportStore& store, dns::Resolver& resolver,
                OrganizationalDomain organizational_domain, const Clock& clock,
                QueueGeneratedMessage queue, DmarcReporterOptions options = {});
  ~DmarcReporter();
  DmarcReporter(const DmarcReporter&) = delete;
  DmarcReporter& operator=(const DmarcReporter&) = delete;

  // Cheap and never blocks on I/O: one copy under a lock.
  void record(const auth::DmarcEvaluation& evaluation);
  // The thread that writes and reports; stop() writes what is pending first.
  void start();
  void stop();
  // One pass of the thread: writes what record() collected, then sends every report whose
  // period ended by the clock. Tests call it with the thread not started.
  void runOnce();
  std::uint64_t dropped() const;

 private:
  void writePending();
  void sendDueReports();
  // True when every destination was handled (sent, or refused for a reason that will not
  // change); false when queueing failed and the period should be tried again.
  bool sendReport(const store::DmarcReportPeriod& period, const store::DmarcReportContent& content);
  bool sameOrganization(std::string_view left, std::string_view right) const;
  void run();

  const Config& config_;
  store::DmarcReportStore& store_;
  dns::Resolver& resolver_;
  OrganizationalDomain organizational_domain_;
  const Clock& clock_;
  QueueGeneratedMessage queue_;
  DmarcReporterOptions options_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<auth::DmarcEvaluation> pending_;
  std::uint64_t dropped_ = 0;
  bool stopping_ = false;
  std::mutex pass_mutex_;  // one pass at a time (the thread, stop(), tests)
  std::thread thread_;
};

// The report message of RFC 7489 7.2.1.1: From `sender`, To `destination`, the Subject
// "Report Domain: ... Submitter: ... Report-ID: <...>", a short text part and the XML gzipped
// (application/gzip, "<receiver>!<policy domain>!<begin>!<end>.xml.gz"), CRLF line endings.
struct ReportMessage {
  std::string sender;
  std::string destination;
  std::string receiver;   // our host name, first part of the file name
  std::string submitter;  // a domain name (7.2.1.1 ABNF)
  const auth::AggregateReport* report = nullptr;
};
Result<std::string> buildReportMessage(const ReportMessage& message);

// gzip (RFC 1952) of `data` with zlib.
Result<std::string> gzipCompress(std::string_view data);

}  // namespace bulwark::app
