// PolicyDiscovery; see discovery.h.
#include "sts/discovery.h"

#include "common/log.h"
#include "common/strings.h"

#include <algorithm>

namespace bulwark::sts {
namespace {

// Recipient domains that can have a policy: host names (not address literals).
bool isPolicyDomain(std::string_view domain) {
  if (domain.empty() || domain.size() > 240 || domain.front() == '.' || domain.back() == '.') {
    return false;
  }
  return std::all_of(domain.begin(), domain.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
  });
}

std::optional<ActivePolicy> fromCache(const std::optional<CachedPolicy>& cached) {
  if (!cached) return std::nullopt;
  return ActivePolicy{cached->domain, cached->id, cached->policy, true};
}

}  // namespace

bool PolicyDiscovery::fetchPaused(const std::string& domain, const std::string& id) {
  std::lock_guard lock(mutex_);
  auto found = paused_.find({domain, id});
  if (found == paused_.end()) return false;
  if (clock_.now() < found->second) return true;
  paused_.erase(found);
  return false;
}

void PolicyDiscovery::pauseFetch(const std::string& domain, const std::string& id) {
  std::lock_guard lock(mutex_);
  const auto now = clock_.now();
  // Forget pauses that ended, so the map stays as small as the set of failing domains.
  std::erase_if(paused_, [&](const auto& entry) { return entry.second <= now; });
  paused_[{domain, id}] = now + kPauseAfterFailedFetch;
}

std::optional<ActivePolicy> PolicyDiscovery::policyFor(std::string_view requested) {
  const std::string domain = asciiLower(requested);
  if (!isPolicyDomain(domain)) return std::nullopt;
  const auto now = clock_.now();

  std::optional<CachedPolicy> cached;
  if (auto found = cache_.find(domain)) {
    if (*found && !(*found)->expiredAt(now)) cached = std::move(**found);
  } else {
    log::warning("mta-sts: cannot read the policy cache for {}: {}", domain, found.error().message);
  }

  // RFC 8461 5.1: absence of a usable record does not remove a cached policy.
  auto txt = resolver_.txt("_mta-sts." + domain);
  if (txt.status != dns::Status::ok) {
    if (cached && (txt.status == dns::Status::temporary || txt.status == dns::Status::bogus)) {
      log::info("mta-sts: TXT lookup for {} failed ({}); using the cached policy id={}", domain,
                txt.reason, cached->id);
    }
    return fromCache(cached);
  }
  auto record = selectTxtRecord(txt.records);
  if (!record) {
    log::info("mta-sts: {} has no usable _mta-sts record: {}", domain, record.error().message);
    return fromCache(cached);
  }
  if (cached && cached->id == record->id) return fromCache(cached);
  if (fetchPaused(domain, record->id)) return fromCache(cached);

  auto keepCache = [&](const std::string& problem) {
    pauseFetch(domain, record->id);
    if (cached) {
      log::warning("mta-sts: {} (record id={}): {}; keeping the cached policy id={}", domain,
                   record->id, problem, cached->id);
    } else {
      log::warning("mta-sts: {} (record id={}): {}; delivering as without a policy", domain,
                   record->id, problem);
    }
    return fromCache(cached);
  };
  auto text = fetcher_.fetch(domain);
  if (!text) return keepCache("cannot fetch the policy: " + text.error().message);
  auto policy = parsePolicy(*text);
  if (!policy) return keepCache("the policy is invalid: " + policy.error().message);

  CachedPolicy entry;
  entry.domain = domain;
  entry.id = record->id;
  entry.text = std::move(*text);
  entry.policy = std::move(*policy);
  entry.fetched = now;
  entry.expires = now + std::chrono::seconds(entry.policy.max_age_seconds);
  if (auto stored = cache_.put(entry); !stored) {
    log::warning("mta-sts: cannot cache the policy of {}: {}", domain, stored.error().message);
  }
  log::info("mta-sts: fetched the policy of {} (id={}, mode {}, max_age {})", domain, entry.id,
            modeName(entry.policy.mode), entry.policy.max_age_seconds);
  return ActivePolicy{entry.domain, entry.id, std::move(entry.policy), false};
}

}  // namespace bulwark::sts
