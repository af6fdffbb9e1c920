// Queue runner; see queue_runner.h. Delivery is at least once: a recipient is marked delivered in
// the queue file after its Maildir file is durable, so a crash between the two can repeat one
// delivery, never lose one.
#include "app/queue_runner.h"

#include "app/trace_events.h"
#include "common/log.h"
#include "common/strings.h"

namespace bulwark::app {
namespace {

constexpr const char* kRemoteUnavailable =
    "4.4.0 remote delivery is not available in this version; message kept in the queue";

std::pair<std::string_view, std::string_view> splitAddress(std::string_view address) {
  auto at = address.rfind('@');
  if (at == std::string_view::npos) return {address, {}};
  return {address.substr(0, at), address.substr(at + 1)};
}

}  // namespace

QueueRunner::QueueRunner(const Config& config, queue::Spool& spool, store::TraceStore& trace)
    : config_(config),
      spool_(spool),
      trace_(trace),
      maildir_(config.mailDirectory(), config.hostname),
      workers_(8),
      scheduler_([this] { runScheduler(); }) {}

QueueRunner::~QueueRunner() { stop(); }

void QueueRunner::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (scheduler_.joinable()) scheduler_.join();
  workers_.shutdown();
}

void QueueRunner::submit(queue::Envelope envelope, std::shared_ptr<const std::string> data) {
  queue::QueuedMessage message;
  message.envelope = std::move(envelope);
  workers_.post([this, message = std::move(message), data = std::move(data)]() mutable {
    deliver(std::move(message), std::move(data));
  });
}

void QueueRunner::resume(const std::string& queue_id) {
  auto loaded = spool_.load(queue_id);
  if (!loaded) {
    log::error("{}: cannot load queued message: {}", queue_id, loaded.error().message);
    return;
  }
  if (loaded->state == queue::QueueState::deferred) {
    schedule(queue_id, loaded->next_attempt);
    return;
  }
  if (loaded->state == queue::QueueState::hold) return;
  workers_.post([this, message = std::move(*loaded)]() mutable { deliver(std::move(message), nullptr); });
}

std::chrono::seconds QueueRunner::backoff(std::uint32_t attempts) const {
  // Doubling from queue_retry_seconds, capped at four hours like Postfix's maximal_backoff_time.
  std::uint64_t seconds = config_.queue_retry_seconds;
  for (std::uint32_t index = 1; index < attempts && seconds < 4 * 3600; ++index) seconds *= 2;
  return std::chrono::seconds(std::min<std::uint64_t>(seconds, 4 * 3600));
}

void QueueRunner::deliver(queue::QueuedMessage message, std::shared_ptr<const std::string> data) {
  auto& envelope = message.envelope;
  if (!data) {
    auto read = spool_.readData(envelope.queue_id);
    if (!read) {
      log::error("{}: cannot read message data: {}", envelope.queue_id, read.error().message);
      return;
    }
    data = std::make_shared<const std::string>(std::move(*read));
  }
  std::string deferral;
  std::size_t pending = 0;
  for (auto& recipient : envelope.recipients) {
    if (recipient.status == queue::RecipientStatus::pending) ++pending;
  }
  for (std::size_t index = 0; index < envelope.recipients.size(); ++index) {
    auto& recipient = envelope.recipients[index];
    if (recipient.status != queue::RecipientStatus::pending) continue;
    auto [local_part, domain] = splitAddress(recipient.address);
    if (!config_.isLocalDomain(domain)) {
      deferral = kRemoteUnavailable;
      continue;
    }
    auto delivered = maildir_.deliver(domain, local_part, envelope.sender, *data);
    auto event = traceEvent(envelope, delivered ? "delivered" : "deferred");
    event.recipients = {recipient.address};
    if (!delivered) {
      deferral = "4.3.0 local delivery failed: " + delivered.error().message;
      event.detail = deferral;
      log::warning("{}: delivery to <{}> deferred: {}", envelope.queue_id, recipient.address,
                   delivered.error().message);
      trace_.record(std::move(event));
      continue;
    }
    --pending;
    recipient.status = queue::RecipientStatus::delivered;
    event.detail = "maildir " + delivered->filename().string();
    log::info("{}: delivered to <{}> in {}", envelope.queue_id, recipient.address,
              delivered->parent_path().parent_path().string());
    trace_.record(std::move(event));
    // The record only needs to be durable if the file stays: when nothing is pending, the file
    // is removed next and a lost record can at worst repeat this delivery after a crash.
    auto recorded = spool_.recordRecipient(envelope.queue_id, index,
                                           queue::RecipientStatus::delivered, "250 2.0.0 delivered",
                                           pending > 0);
    if (!recorded) {
      log::error("{}: cannot record delivery: {}", envelope.queue_id, recorded.error().message);
    }
  }
  if (pending == 0) {
    auto removed = spool_.remove(envelope.queue_id);
    if (!removed) log::error("{}: cannot remove: {}", envelope.queue_id, removed.error().message);
    return;
  }
  auto when = std::chrono::system_clock::now() + backoff(message.attempts + 1);
  auto deferred = spool_.defer(envelope.queue_id, deferral, when);
  if (!deferred) {
    log::error("{}: cannot defer: {}", envelope.queue_id, deferred.error().message);
  }
  if (deferral == kRemoteUnavailable) {
    auto event = traceEvent(envelope, "deferred");
    event.recipients.clear();
    for (const auto& recipient : envelope.recipients) {
      if (recipient.status == queue::RecipientStatus::pending) event.recipients.push_back(recipient.address);
    }
    event.detail = deferral;
    trace_.record(std::move(event));
  }
  schedule(envelope.queue_id, when);
}

void QueueRunner::schedule(const std::string& queue_id, std::chrono::system_clock::time_point when) {
  {
    std::lock_guard lock(mutex_);
    retries_.emplace(when, queue_id);
  }
  wake_.notify_all();
}

void QueueRunner::runScheduler() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    auto now = std::chrono::system_clock::now();
    while (!retries_.empty() && retries_.begin()->first <= now) {
      std::string queue_id = retries_.begin()->second;
      retries_.erase(retries_.begin());
      lock.unlock();
      auto activated = spool_.activate(queue_id);
      if (activated) {
        resume(queue_id);
      } else {
        log::warning("{}: cannot reactivate: {}", queue_id, activated.error().message);
      }
      lock.lock();
    }
    if (retries_.empty()) {
      wake_.wait(lock);
    } else {
      wake_.wait_until(lock, retries_.begin()->first);
    }
  }
}

}  // namespace bulwark::app
