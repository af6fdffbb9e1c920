// MTA-STS policy discovery (RFC 8461 3 and 5.1): which policy applies to mail for a domain now.
// The `_mta-sts` TXT record says whether the domain has a policy and which (its id); the policy
// itself comes from the cache while its id matches and max_age lasts, else from the policy host.
// A refresh that fails keeps the cached unexpired policy; no TXT record and no cache means no
// policy. DNS answers, fetched policies and domains are untrusted. Blocking (delivery workers).
#pragma once

#include "common/clock.h"
#include "dns/resolver.h"
#include "sts/cache.h"
#include "sts/fetch.h"
#include "sts/policy.h"

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace bulwark::sts {

struct ActivePolicy {
  std::string domain;
  std::string id;
  Policy policy;
  bool from_cache = false;  // the cached copy (current, or kept because a refresh failed)
};

class PolicyDiscovery {
 public:
  // After a failed fetch the same domain and id are not fetched again for this long, so that a
  // policy host that stalls cannot hold a delivery worker for every message (RFC 8461 3.3 allows
  // senders to rate-limit fetches).
  static constexpr std::chrono::minutes kPauseAfterFailedFetch{5};

  PolicyDiscovery(dns::Resolver& resolver, PolicyFetcher& fetcher, PolicyCache& cache,
                  const Clock& clock)
      : resolver_(resolver), fetcher_(fetcher), cache_(cache), clock_(clock) {}

  // Never fails: every problem (DNS, fetch, a bad policy, the cache) ends in "use the cached
  // policy" or "no policy", and is logged. Thread-safe.
  std::optional<ActivePolicy> policyFor(std::string_view domain);

 private:
  bool fetchPaused(const std::string& domain, const std::string& id);
  void pauseFetch(const std::string& domain, const std::string& id);

  dns::Resolver& resolver_;
  PolicyFetcher& fetcher_;
  PolicyCache& cache_;
  const Clock& clock_;
  std::mutex mutex_;
  // (domain, id) -> until when no fetch is tried.
  std::map<std::pair<std::string, std::string>, std::chrono::system_clock::time_point> paused_;
};

}  // namespace bulwark::sts
