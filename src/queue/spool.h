// The on-disk queue (DESIGN.md "Durability"; format in docs/queue-format.md). One queue file per
// message holds the envelope, the data, and appended per-recipient delivery records. A message is
// committed, and may be answered 250, only when commit() returns success: file data fsynced,
// renamed into active/, and active/ fsynced. State changes are renames. Thread-safe: commit() and
// the per-message operations may run concurrently on different messages.
#pragma once

#include "common/result.h"
#include "queue/envelope.h"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace bulwark::queue {

enum class QueueState { active, deferred, hold };

struct QueuedMessage {
  Envelope envelope;                  // with recipient statuses from the delivery records applied
  QueueState state = QueueState::active;
  std::uint32_t attempts = 0;         // delivery attempts recorded so far
  std::chrono::system_clock::time_point next_attempt{};  // for deferred messages
  std::string last_reason;            // of the last deferral
};

struct RecoveryReport {
  std::vector<std::string> active;     // queue ids ready for delivery (active + deferred)
  std::vector<std::string> corrupt;    // moved to corrupt/ (damaged records), with a log line each
  std::vector<std::string> discarded;  // incomplete files in incoming/: never acknowledged, removed
};

class Spool {
 public:
  virtual ~Spool() = default;

  // Writes a new message durably. `data` is the whole message as it will be delivered (our
  // Received header already prepended). On error nothing is left behind in active/.
  virtual Result<void> commit(const Envelope& envelope, std::string_view data) = 0;
  // The same, straight into hold/ (a quarantined message): durable, and never delivered until an
  // operator releases it (activate()).
  virtual Result<void> commitHeld(const Envelope& envelope, std::string_view data) = 0;

  // Reads a message back (envelope with delivery records applied, and state); fills `data` with
  // the message data when not null, from the same read of the file.
  virtual Result<QueuedMessage> load(const std::string& queue_id, std::string* data = nullptr) = 0;
  virtual Result<std::string> readData(const std::string& queue_id) = 0;
  // Reads a message as it is on disk, without the repairs load() makes (moving a damaged file to
  // corrupt/, cutting a torn append): for tools such as `bulwark queue` that run beside the
  // server, which may be appending to that file at this moment. A damaged file is an error
  // ("corrupt") and stays where it is. Fills `data` with the message data when not null.
  virtual Result<QueuedMessage> inspect(const std::string& queue_id, std::string* data) = 0;

  // Appends a delivery record for recipient `index`. `sync` asks for fdatasync before returning
  // (needed when the message stays queued; skipped before remove()).
  virtual Result<void> recordRecipient(const std::string& queue_id, std::size_t index,
                                       RecipientStatus status, std::string_view reply,
                                       bool sync) = 0;
  // Appends an attempt record and moves the file to deferred/ until `next_attempt`.
  virtual Result<void> defer(const std::string& queue_id, std::string_view reason,
                             std::chrono::system_clock::time_point next_attempt) = 0;
  // Moves deferred/ or hold/ → active/ (an operator asked). Already active: success.
  virtual Result<void> activate(const std::string& queue_id) = 0;
  // Moves deferred/ → active/ only (its retry time came): a held message stays held. "not_found"
  // when it is not in deferred/ (delivered, deleted, held, or active again).
  virtual Result<void> activateDeferred(const std::string& queue_id) = 0;
  // Moves active/ or deferred/ → hold/ (an operator's `bulwark queue hold`): delivery leaves it
  // alone until activate(). Durable (directory fsync) before it returns. Already held: success.
  virtual Result<void> hold(const std::string& queue_id) = 0;
  // All recipients are done: the file goes away.
  virtual Result<void> remove(const std::string& queue_id) = 0;

  // The queue ids in one state directory, sorted; names that are not queue ids are left out.
  // A snapshot: the server may move messages between states meanwhile.
  virtual Result<std::vector<std::string>> list(QueueState state) = 0;

  // On start: validates every file, moves damaged ones to corrupt/, removes unacknowledged ones
  // from incoming/, and lists what is left to deliver.
  virtual Result<RecoveryReport> recover() = 0;

  // Free bytes on the spool's file system (for the 452 floor).
  virtual std::uint64_t freeBytes() const = 0;
};

// Creates the directories under `root` (incoming, active, deferred, hold, corrupt) if missing.
Result<std::unique_ptr<Spool>> openFileSpool(const std::filesystem::path& root);

}  // namespace bulwark::queue
