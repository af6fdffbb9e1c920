// An sts::PolicyFetcher answering from a map: the policy text per domain, or an error for domains
// not in it; counts fetches so tests can tell a cached policy from a fetched one.
#pragma once

#include "sts/fetch.h"

#include <atomic>
#include <map>
#include <mutex>
#include <string>

namespace bulwark::testing {

class FakePolicyFetcher final : public sts::PolicyFetcher {
 public:
  std::map<std::string, std::string> policies;  // domain -> policy text

  Result<std::string> fetch(std::string_view domain) override {
    std::lock_guard lock(mutex_);
    ++fetches;
    auto found = policies.find(std::string(domain));
    if (found == policies.end()) {
      return makeError("status", "https://mta-sts." + std::string(domain) +
                                     "/.well-known/mta-sts.txt answered HTTP 404");
    }
    return found->second;
  }

  std::atomic<int> fetches{0};

 private:
  std::mutex mutex_;
};

}  // namespace bulwark::testing
