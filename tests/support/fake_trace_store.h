// A store::TraceStore that keeps events in memory, for tests that check what was traced.
#pragma once

#include "store/trace_store.h"

#include <mutex>
#include <vector>

namespace bulwark::testing {

class FakeTraceStore final : public store::TraceStore {
 public:
  void record(store::TraceEvent event) override {
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(event));
  }
  void flush() override {}
  Result<std::vector<store::TraceEvent>> search(const store::TraceQuery&) override {
    return events();
  }
  std::vector<store::TraceEvent> events() {
    std::lock_guard lock(mutex_);
    return events_;
  }
  std::vector<store::TraceEvent> withStatus(const std::string& status) {
    std::vector<store::TraceEvent> found;
    for (auto& event : events()) {
      if (event.status == status) found.push_back(event);
    }
    return found;
  }

 private:
  std::mutex mutex_;
  std::vector<store::TraceEvent> events_;
};

}  // namespace bulwark::testing
