// The queue file encoding: typed, length-prefixed, CRC-32C-checksummed records behind a versioned
// header. The queue format is written down next to the code that writes it: docs/queue-format.md
// (byte for byte, version 1). Queue files on disk are untrusted: they may be damaged or truncated.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"
#include "queue/envelope.h"

namespace bulwark::queue {

// Bump on any change an older reader would misread; readers refuse versions they do not know.
// Version 2 added the route_connector record; a file without one is written as version 1, so a
// build that reads only version 1 still reads it.
inline constexpr std::uint32_t kQueueFormatVersion = 2;
inline constexpr std::uint32_t kOldestQueueFormatVersion = 1;
inline constexpr std::string_view kQueueFileMagic{"BWKQUEUE", 8};
inline constexpr std::size_t kFileHeaderSize = 12;  // magic + version (u32 LE)
inline constexpr std::size_t kRecordOverhead = 9;   // type u8 + length u32 LE + CRC u32 LE

// Values are part of the on-disk format: never renumber, only add.
enum class RecordType : std::uint8_t {
  // Commit section: each written exactly once, except recipient (once per recipient).
  queue_id = 0x01,
  sender = 0x02,
  recipient = 0x03,
  body_type = 0x04,
  flags = 0x05,
  dsn_return = 0x06,
  dsn_envelope_id = 0x07,
  client_address = 0x08,
  helo = 0x09,
  tls_version = 0x0A,
  tls_cipher = 0x0B,
  auth_user = 0x0C,
  message_id = 0x0D,
  connector = 0x0E,
  size = 0x0F,
  received_at = 0x10,
  route_connector = 0x11,  // version 2; optional, at most once
  data = 0x20,
  end_of_commit = 0x3F,
  // Appended section: after end_of_commit, any number, applied in order.
  recipient_status = 0x40,
  delivery_attempt = 0x41,
};

// Bits of the flags record.
inline constexpr std::uint8_t kFlagSmtputf8 = 1;
inline constexpr std::uint8_t kFlagRequireTls = 2;
inline constexpr std::uint8_t kFlagRuleRequiresTls = 4;  // a transport rule's require_tls

// "sender", "recipient_status", ... or "unknown" for a value outside RecordType.
std::string_view recordTypeName(std::uint8_t type);

// CRC-32C (Castagnoli, reflected 0x82F63B78, init and final xor 0xFFFFFFFF). Chainable:
// crc32c(b, crc32c(a)) == crc32c(a + b).
std::uint32_t crc32c(std::string_view bytes, std::uint32_t previous = 0);

// The committed part of a queue file, split in three so the spool can hand the message data to
// one writev() without first copying it into a buffer.
struct EncodedCommit {
  std::string head;       // file header, envelope records, data record type and length
  std::string_view data;  // data record payload: the caller's bytes, not copied
  std::string tail;       // data record checksum, end-of-commit record
  std::size_t size() const { return head.size() + data.size() + tail.size(); }
  std::string joined() const;  // the whole file, for tests and tools
};

// Encodes everything commit() writes. The size record is data.size(), whatever envelope.size
// says, because that is the size as spooled. Fails only when a field exceeds 4 GiB - 1.
Result<EncodedCommit> encodeCommit(const Envelope& envelope, std::string_view data);

// One appended record each; appending it to a committed file is the whole state change.
std::string encodeRecipientStatus(std::uint32_t index, RecipientStatus status,
                                  std::string_view reply);
std::string encodeDeliveryAttempt(std::chrono::system_clock::time_point attempted_at,
                                  std::string_view reason,
                                  std::chrono::system_clock::time_point next_attempt);

struct ParsedQueueFile {
  Envelope envelope;            // recipient statuses from the appended records applied
  std::size_t data_offset = 0;  // the message data is bytes[data_offset, +data_size)
  std::size_t data_size = 0;
  std::uint32_t attempts = 0;  // delivery_attempt records seen
  std::chrono::system_clock::time_point last_attempt{};
  std::chrono::system_clock::time_point next_attempt{};
  std::string last_reason;
  std::size_t commit_size = 0;  // bytes up to and including the end-of-commit record
  std::size_t valid_size = 0;   // bytes up to the end of the last good record
  // Empty when every byte parsed. Otherwise an appended record at valid_size is truncated or
  // fails its checksum (an append torn by a crash): it and everything after it were ignored.
  std::string tail_damage;
};

// Parses a whole queue file; no I/O. Any damage before the end of the commit section, and any
// checksum-valid record that makes no sense, is an Error with code "corrupt" and a message that
// names the offset and record type. Damage in the appended section is reported in tail_damage.
Result<ParsedQueueFile> parseQueueFile(std::string_view bytes);

}  // namespace bulwark::queue
