// Message trace storage (MISSION.md 7): one event per received message and per delivery outcome.
// An interface so that SQLite (embedded, default) and PostgreSQL (several nodes) can both serve it.
#pragma once

#include "common/result.h"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace bulwark::store {

struct TraceEvent {
  std::chrono::system_clock::time_point time{};
  std::string queue_id;
  std::string message_id;
  std::string status;       // "received", "delivered", "deferred", "bounced", "rejected"
  std::string sender;
  std::vector<std::string> recipients;
  std::string client_address;
  std::string helo;
  std::string tls_version;
  std::string tls_cipher;
  std::string auth_user;
  std::uint64_t size = 0;
  std::string detail;       // free text: the reply, the Maildir file, the reason
};

struct TraceQuery {
  std::optional<std::string> sender;      // exact, case-insensitive; '*' is a wildcard
  std::optional<std::string> recipient;   // same
  std::optional<std::string> message_id;  // with or without angle brackets
  std::optional<std::string> queue_id;
  std::optional<std::string> status;
  std::optional<std::chrono::system_clock::time_point> since;
  std::optional<std::chrono::system_clock::time_point> until;
  std::size_t limit = 1000;
};

class TraceStore {
 public:
  virtual ~TraceStore() = default;
  // Thread-safe and cheap for the caller: events are queued and committed in batches by a
  // writer thread. flush() returns when everything recorded before it is committed.
  virtual void record(TraceEvent event) = 0;
  virtual void flush() = 0;
  // Newest first.
  virtual Result<std::vector<TraceEvent>> search(const TraceQuery& query) = 0;
};

// SQLite in WAL mode at `path` (created with its schema if missing), so that `bulwark trace` can
// read while `bulwark serve` writes.
Result<std::unique_ptr<TraceStore>> openSqliteTraceStore(const std::filesystem::path& path);

}  // namespace bulwark::store
