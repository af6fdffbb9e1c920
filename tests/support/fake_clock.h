// A Clock that moves only when a test says so: retry schedules and expiry without waiting.
#pragma once

#include "common/clock.h"

#include <atomic>

namespace bulwark::testing {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(std::chrono::system_clock::time_point start =
                         std::chrono::system_clock::time_point(std::chrono::seconds(1800000000)))
      : now_(start.time_since_epoch().count()) {}
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::time_point(std::chrono::system_clock::duration(now_.load()));
  }
  void advance(std::chrono::system_clock::duration by) { now_ += by.count(); }

 private:
  std::atomic<std::chrono::system_clock::rep> now_;
};

}  // namespace bulwark::testing
