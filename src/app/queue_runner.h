// Delivers what the spool holds: takes committed messages (straight from the intake, or found by
// recovery), delivers each pending recipient, records the outcome in the queue file and the trace,
// and retries deferred messages with exponential backoff. Local domains go to Maildir; other
// domains wait in deferred/ until outbound delivery exists (issue 3).
#pragma once

#include "common/config.h"
#include "common/thread_pool.h"
#include "delivery/maildir.h"
#include "queue/spool.h"
#include "store/trace_store.h"

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace bulwark::app {

class QueueRunner {
 public:
  QueueRunner(const Config& config, queue::Spool& spool, store::TraceStore& trace);
  ~QueueRunner();

  // A message just committed; `data` saves re-reading the file.
  void submit(queue::Envelope envelope, std::shared_ptr<const std::string> data);
  // A message found on disk at start (active or deferred).
  void resume(const std::string& queue_id);
  void stop();

 private:
  void deliver(queue::QueuedMessage message, std::shared_ptr<const std::string> data);
  void schedule(const std::string& queue_id, std::chrono::system_clock::time_point when);
  void runScheduler();
  std::chrono::seconds backoff(std::uint32_t attempts) const;

  const Config& config_;
  queue::Spool& spool_;
  store::TraceStore& trace_;
  delivery::MaildirDelivery maildir_;
  ThreadPool workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::multimap<std::chrono::system_clock::time_point, std::string> retries_;
  bool stopping_ = false;
  std::thread scheduler_;
};

}  // namespace bulwark::app
