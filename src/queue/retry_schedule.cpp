// RetrySchedule; see retry_schedule.h.
#include "queue/retry_schedule.h"

#include <algorithm>

namespace bulwark::queue {

RetrySchedule::RetrySchedule(const Config& config)
    : first_(config.queue_retry_seconds),
      maximum_(config.queue_max_backoff_seconds),
      lifetime_(config.queue_lifetime_seconds),
      warning_(config.delay_warning_seconds) {}

std::chrono::seconds RetrySchedule::backoff(std::uint32_t attempts) const {
  auto wait = first_;
  for (std::uint32_t index = 1; index < attempts && wait < maximum_; ++index) wait *= 2;
  return std::min(wait, std::max(maximum_, first_));
}

bool RetrySchedule::expired(TimePoint received, TimePoint now) const {
  return now >= expiry(received);
}

TimePoint RetrySchedule::expiry(TimePoint received) const { return received + lifetime_; }

bool RetrySchedule::delayNoticeDue(TimePoint received, TimePoint previous_attempt,
                                   TimePoint now) const {
  if (warning_.count() == 0) return false;
  return now - received >= warning_ && previous_attempt - received < warning_;
}

}  // namespace bulwark::queue
