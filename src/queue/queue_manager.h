// The queue manager: delivers what the spool holds. Takes committed messages (from the intake, from
// recovery, or released by `bulwark queue`), routes each pending recipient (Maildir, send
// connector, MX), makes delivery attempts, records outcomes in the queue file and the trace, and
// retries with exponential backoff until the lifetime ends; then, and for permanent failures, the
// sender gets a bounce (RFC 3464). A null-sender message is never bounced. Delivery is at least
// once: a recipient is marked delivered after the next hop accepted it.
#pragma once

#include "common/clock.h"
#include "common/config.h"
#include "common/thread_pool.h"
#include "delivery/maildir.h"
#include "dns/resolver.h"
#include "queue/retry_schedule.h"
#include "queue/router.h"
#include "queue/spool.h"
#include "smtp/client/smtp_client.h"
#include "store/trace_store.h"
#include "sts/discovery.h"

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace bulwark::queue {

// One delivery attempt to one host: the seam between the queue and the wire (tests fake it).
class RemoteTransport {
 public:
  virtual ~RemoteTransport() = default;
  virtual smtp::AttemptResult attempt(const smtp::ClientEndpoint& endpoint,
                                      const smtp::ClientSettings& settings,
                                      const smtp::OutboundMessage& message) = 0;
};

// The production transport: smtp::deliverMessage.
class SmtpTransport final : public RemoteTransport {
 public:
  smtp::AttemptResult attempt(const smtp::ClientEndpoint& endpoint,
                              const smtp::ClientSettings& settings,
                              const smtp::OutboundMessage& message) override;
};

struct QueueManagerOptions {
  unsigned workers = 16;
  // The scheduler thread runs due retries and picks up messages released into active/ by
  // `bulwark queue`. Tests with an injected clock turn it off and call runDue() themselves.
  bool scheduler = true;
  std::chrono::milliseconds scan_interval{2000};
  // MTA-STS (RFC 8461) for MX delivery; null: off ([delivery] mta_sts = false, most tests).
  sts::PolicyDiscovery* mta_sts = nullptr;
};

class QueueManager {
 public:
  QueueManager(const Config& config, Spool& spool, store::TraceStore& trace,
               dns::Resolver& resolver, RemoteTransport& transport, const Clock& clock,
               QueueManagerOptions options = {});
  ~QueueManager();

  // A message just committed; `data` saves re-reading the file.
  void submit(Envelope envelope, std::shared_ptr<const std::string> data);
  // A message this server wrote itself (a bounce, a DMARC report): committed to the spool, traced
  // as "received" with `detail`, and submitted. Returns the queue id it was given.
  Result<std::string> queueGenerated(Envelope envelope, std::string text, std::string detail);
  // A message found on disk (recovery, or released into active/).
  void resume(const std::string& queue_id);
  // Tries every deferred message whose time has come by the clock, and picks up messages that
  // appeared in active/ without being submitted.
  void runDue();
  // Waits until no delivery is in progress (tests).
  void waitIdle();
  void stop();

 private:
  struct Outcome;
  void post(QueuedMessage message, std::shared_ptr<const std::string> data);
  void deliver(QueuedMessage& message, const std::string& data);
  void deliverRemote(QueuedMessage& message, const std::string& data, const Route& route,
                     const std::string& domain, const std::vector<std::size_t>& indexes,
                     std::vector<Outcome>& outcomes);
  void finish(QueuedMessage& message, const std::string& data, std::vector<Outcome>& outcomes);
  void sendNotice(const QueuedMessage& message, const std::string& data, bool failure,
                  const std::vector<std::size_t>& indexes, const std::vector<Outcome>& outcomes);
  void schedule(const std::string& queue_id, std::chrono::system_clock::time_point when);
  void acquire(const std::string& destination);
  void release(const std::string& destination);
  void runScheduler();
  bool claim(const std::string& queue_id);
  void unclaim(const std::string& queue_id);

  const Config& config_;
  Spool& spool_;
  store::TraceStore& trace_;
  dns::Resolver& resolver_;
  RemoteTransport& transport_;
  const Clock& clock_;
  QueueManagerOptions options_;
  RetrySchedule schedule_;
  delivery::MaildirDelivery maildir_;

  std::mutex mutex_;
  std::condition_variable changed_;
  std::multimap<std::chrono::system_clock::time_point, std::string> retries_;
  std::set<std::string> in_flight_;      // claimed by a worker or waiting for one
  std::map<std::string, unsigned> connections_;  // per destination
  bool stopping_ = false;
  ThreadPool workers_;
  std::thread scheduler_;
};

}  // namespace bulwark::queue
