// The injected clock (DESIGN.md "Seams"): everything that reads wall time for a decision (retry
// schedules, expiry, certificate dates, trace timestamps) asks a Clock so tests can move time.
#pragma once

#include <chrono>

namespace bulwark {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::system_clock::time_point now() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::now();
  }
};

}  // namespace bulwark
