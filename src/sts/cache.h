// The MTA-STS policy cache (RFC 8461 5.1): the last policy fetched per domain, kept across
// restarts, so that a policy once seen keeps protecting delivery while its max_age lasts even when
// DNS or the policy host is unreachable (or made so by an attacker). Domains are recipient domains
// (untrusted): only ever bound as SQL parameters. The stored text is parsed again when read.
#pragma once

#include "common/result.h"
#include "sts/policy.h"

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace bulwark::sts {

struct CachedPolicy {
  std::string domain;  // lower-case
  std::string id;      // the TXT record id the policy was fetched under
  std::string text;    // the policy file as fetched
  Policy policy;       // parsed from `text`
  std::chrono::system_clock::time_point fetched;
  std::chrono::system_clock::time_point expires;  // fetched + max_age

  bool expiredAt(std::chrono::system_clock::time_point now) const { return now >= expires; }
};

// Thread-safe: delivery workers look up and store concurrently.
class PolicyCache {
 public:
  virtual ~PolicyCache() = default;
  // The entry for `domain`, expired or not; nullopt when there is none (or it is unreadable).
  virtual Result<std::optional<CachedPolicy>> find(std::string_view domain) = 0;
  // Replaces the entry for entry.domain.
  virtual Result<void> put(const CachedPolicy& entry) = 0;
};

// SQLite in the store directory ("mta-sts.sqlite"), with the helpers of store/sqlite.h.
Result<std::unique_ptr<PolicyCache>> openSqlitePolicyCache(const std::filesystem::path& path);

}  // namespace bulwark::sts
