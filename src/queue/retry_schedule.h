// When a deferred message is tried again, when it gives up, and when its sender is told it is
// late. Pure functions of the configuration and times, so an injected clock tests them without
// waiting (defaults like Postfix: minutes at first, doubling, bounce after 5 days).
#pragma once

#include "common/config.h"

#include <chrono>
#include <cstdint>

namespace bulwark::queue {

using TimePoint = std::chrono::system_clock::time_point;

class RetrySchedule {
 public:
  explicit RetrySchedule(const Config& config);

  // Wait after the `attempts`-th failed attempt (1 = the first): retry_seconds doubling each time,
  // capped at max_backoff_seconds.
  std::chrono::seconds backoff(std::uint32_t attempts) const;
  // True when a message that arrived at `received` must stop being retried at `now`.
  bool expired(TimePoint received, TimePoint now) const;
  TimePoint expiry(TimePoint received) const;
  // True when the attempt at `now` is the first one past the delay-warning age: the previous
  // attempt happened at `previous_attempt` (the arrival time for the first attempt).
  bool delayNoticeDue(TimePoint received, TimePoint previous_attempt, TimePoint now) const;

 private:
  std::chrono::seconds first_;
  std::chrono::seconds maximum_;
  std::chrono::seconds lifetime_;
  std::chrono::seconds warning_;
};

}  // namespace bulwark::queue
