// Queue file encoder and parser (docs/queue-format.md, versions 1 and 2). The parser is the trust
// boundary for bytes read back from disk: every length is checked against the bytes actually
// present before use, and nothing is allocated from a length field alone.
#include "queue/record.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <limits>
#include <utility>

namespace bulwark::queue {
namespace {

using TimePoint = std::chrono::system_clock::time_point;

// Slicing-by-8 tables: the spool checksums every message it commits, so the CRC runs over
// megabytes per second; eight table lookups per 8 bytes keep it far below the cost of fsync.
using CrcTables = std::array<std::array<std::uint32_t, 256>, 8>;

constexpr CrcTables makeCrcTables() {
  CrcTables tables{};
  for (std::uint32_t index = 0; index < 256; ++index) {
    std::uint32_t value = index;
    for (int bit = 0; bit < 8; ++bit) value = (value & 1) ? (value >> 1) ^ 0x82F63B78u : value >> 1;
    tables[0][index] = value;
  }
  for (std::uint32_t index = 0; index < 256; ++index) {
    for (std::size_t slice = 1; slice < 8; ++slice) {
      std::uint32_t previous = tables[slice - 1][index];
      tables[slice][index] = (previous >> 8) ^ tables[0][previous & 0xFF];
    }
  }
  return tables;
}

constexpr CrcTables kCrcTables = makeCrcTables();

std::uint32_t loadU32(const unsigned char* bytes) {
  return static_cast<std::uint32_t>(bytes[0]) | static_cast<std::uint32_t>(bytes[1]) << 8 |
         static_cast<std::uint32_t>(bytes[2]) << 16 | static_cast<std::uint32_t>(bytes[3]) << 24;
}

std::uint32_t readU32(std::string_view bytes, std::size_t offset) {
  return loadU32(reinterpret_cast<const unsigned char*>(bytes.data() + offset));
}

std::uint64_t readU64(std::string_view bytes, std::size_t offset) {
  return static_cast<std::uint64_t>(readU32(bytes, offset)) |
         static_cast<std::uint64_t>(readU32(bytes, offset + 4)) << 32;
}

void appendU32(std::string& out, std::uint32_t value) {
  char bytes[4];
  for (int index = 0; index < 4; ++index) bytes[index] = static_cast<char>(value >> (8 * index));
  out.append(bytes, 4);
}

void appendU64(std::string& out, std::uint64_t value) {
  appendU32(out, static_cast<std::uint32_t>(value));
  appendU32(out, static_cast<std::uint32_t>(value >> 32));
}

std::int64_t toNanoseconds(TimePoint time) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
}

TimePoint fromNanoseconds(std::uint64_t stored) {
  auto nanoseconds = std::chrono::nanoseconds(static_cast<std::int64_t>(stored));
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(nanoseconds));
}

constexpr std::size_t kMaxRecordPayload = std::numeric_limits<std::uint32_t>::max();

// Records are written in place: the header goes in first with a zero length, the payload is
// appended straight after it, and finishRecord() patches the length and appends the checksum.
std::size_t beginRecord(std::string& out, RecordType type) {
  std::size_t start = out.size();
  out.push_back(static_cast<char>(type));
  appendU32(out, 0);
  return start;
}

void finishRecord(std::string& out, std::size_t start) {
  auto length = static_cast<std::uint32_t>(out.size() - start - 5);
  for (int index = 0; index < 4; ++index) {
    out[start + 1 + static_cast<std::size_t>(index)] = static_cast<char>(length >> (8 * index));
  }
  appendU32(out, crc32c(std::string_view(out).substr(start)));
}

void appendStringRecord(std::string& out, RecordType type, std::string_view value) {
  std::size_t start = beginRecord(out, type);
  out.append(value);
  finishRecord(out, start);
}

std::string describeType(std::uint8_t type) {
  return fmt::format("0x{:02X} ({})", type, recordTypeName(type));
}

Error corrupt(std::string message) {
  return makeError("corrupt", std::move(message));
}

bool isCommitSingular(std::uint8_t type) {
  return (type >= static_cast<std::uint8_t>(RecordType::queue_id) &&
          type <= static_cast<std::uint8_t>(RecordType::received_at) &&
          type != static_cast<std::uint8_t>(RecordType::recipient)) ||
         type == static_cast<std::uint8_t>(RecordType::data);
}

// Reads the fields of a composite payload; every read is checked against what is left.
class PayloadReader {
 public:
  explicit PayloadReader(std::string_view payload) : payload_(payload) {}

  bool readU8(std::uint8_t& value) {
    if (payload_.size() - position_ < 1) return false;
    value = static_cast<std::uint8_t>(payload_[position_]);
    position_ += 1;
    return true;
  }
  bool readU32(std::uint32_t& value) {
    if (payload_.size() - position_ < 4) return false;
    value = queue::readU32(payload_, position_);
    position_ += 4;
    return true;
  }
  bool readU64(std::uint64_t& value) {
    if (payload_.size() - position_ < 8) return false;
    value = queue::readU64(payload_, position_);
    position_ += 8;
    return true;
  }
  bool readString(std::string& value) {
    std::uint32_t length = 0;
    if (!readU32(length) || payload_.size() - position_ < length) return false;
    value.assign(payload_.substr(position_, length));
    position_ += length;
    return true;
  }
  std::string_view rest() {
    std::string_view remaining = payload_.substr(position_);
    position_ = payload_.size();
    return remaining;
  }
  bool atEnd() const { return position_ == payload_.size(); }

 private:
  std::string_view payload_;
  std::size_t position_ = 0;
};

class Parser {
 public:
  explicit Parser(std::string_view bytes) : bytes_(bytes) {}

  Result<ParsedQueueFile> parse() {
    std::size_t magicPresent = std::min(bytes_.size(), kQueueFileMagic.size());
    if (bytes_.substr(0, magicPresent) != kQueueFileMagic.substr(0, magicPresent)) {
      return corrupt("bad magic: not a Bulwark queue file");
    }
    if (bytes_.size() < kFileHeaderSize) {
      return corrupt(
          fmt::format("truncated file header: {} of {} bytes", bytes_.size(), kFileHeaderSize));
    }
    version_ = readU32(bytes_, kQueueFileMagic.size());
    if (version_ < kOldestQueueFormatVersion || version_ > kQueueFormatVersion) {
      return corrupt(fmt::format("version {} not supported (this build reads versions {} to {})",
                                 version_, kOldestQueueFormatVersion, kQueueFormatVersion));
    }
    std::size_t offset = kFileHeaderSize;
    parsed_.valid_size = offset;
    while (offset < bytes_.size()) {
      std::size_t remaining = bytes_.size() - offset;
      std::string damage;
      auto type = static_cast<std::uint8_t>(bytes_[offset]);
      std::uint32_t length = 0;
      if (remaining < kRecordOverhead) {
        damage = fmt::format(
            "truncated record at offset {}: {} bytes left, a record takes at "
            "least {}",
            offset, remaining, kRecordOverhead);
      } else {
        length = readU32(bytes_, offset + 1);
        if (length > remaining - kRecordOverhead) {
          damage = fmt::format(
              "truncated record at offset {}: type {} declares {} payload "
              "bytes, {} are present",
              offset, describeType(type), length, remaining - kRecordOverhead);
        } else {
          std::uint32_t stored = readU32(bytes_, offset + 5 + length);
          if (stored != crc32c(bytes_.substr(offset, 5 + std::size_t{length}))) {
            damage = fmt::format("checksum mismatch in record type {} at offset {}",
                                 describeType(type), offset);
          }
        }
      }
      if (!damage.empty()) {
        // A crash while appending leaves a torn last record; the committed part was fsynced
        // before anyone relied on it, so damage there is real damage.
        if (!committed_) return corrupt(std::move(damage));
        parsed_.tail_damage = std::move(damage);
        break;
      }
      std::string_view payload = bytes_.substr(offset + 5, length);
      auto applied =
          committed_ ? applyAppended(type, payload, offset) : applyCommitted(type, payload, offset);
      if (!applied) return applied.error();
      offset += kRecordOverhead + length;
      parsed_.valid_size = offset;
    }
    if (!committed_) {
      return corrupt(
          fmt::format("truncated: the file ends at offset {} before the "
                      "end-of-commit marker",
                      bytes_.size()));
    }
    return std::move(parsed_);
  }

 private:
  Result<void> applyCommitted(std::uint8_t type, std::string_view payload, std::size_t offset) {
    if (isCommitSingular(type) || type == static_cast<std::uint8_t>(RecordType::route_connector)) {
      if (seen_[type]) {
        return corrupt(
            fmt::format("duplicate record type {} at offset {}", describeType(type), offset));
      }
      seen_[type] = true;
    }
    Envelope& envelope = parsed_.envelope;
    auto malformed = [&](std::string_view why) {
      return corrupt(fmt::format("malformed record type {} at offset {}: {}", describeType(type),
                                 offset, why));
    };
    switch (static_cast<RecordType>(type)) {
      case RecordType::queue_id: envelope.queue_id.assign(payload); return {};
      case RecordType::sender: envelope.sender.assign(payload); return {};
      case RecordType::body_type: envelope.body_type.assign(payload); return {};
      case RecordType::dsn_return: envelope.dsn_return.assign(payload); return {};
      case RecordType::dsn_envelope_id: envelope.dsn_envelope_id.assign(payload); return {};
      case RecordType::client_address: envelope.client_address.assign(payload); return {};
      case RecordType::helo: envelope.helo.assign(payload); return {};
      case RecordType::tls_version: envelope.tls_version.assign(payload); return {};
      case RecordType::tls_cipher: envelope.tls_cipher.assign(payload); return {};
      case RecordType::auth_user: envelope.auth_user.assign(payload); return {};
      case RecordType::message_id: envelope.message_id.assign(payload); return {};
      case RecordType::connector: envelope.connector.assign(payload); return {};
      case RecordType::route_connector:
        if (version_ < 2) return malformed("the record needs format version 2, the file says 1");
        if (payload.empty()) return malformed("empty connector name");
        envelope.route_connector.assign(payload);
        return {};
      case RecordType::recipient: {
        PayloadReader reader(payload);
        Recipient recipient;
        if (!reader.readString(recipient.address) || !reader.readString(recipient.original) ||
            !reader.readU8(recipient.notify) || !reader.atEnd()) {
          return malformed("field lengths do not add up to the record length");
        }
        if ((recipient.notify & ~0x0F) != 0) return malformed("unknown NOTIFY bits");
        envelope.recipients.push_back(std::move(recipient));
        return {};
      }
      case RecordType::flags: {
        if (payload.size() != 1) return malformed("expected 1 byte");
        auto flags = static_cast<std::uint8_t>(payload[0]);
        if ((flags & ~(kFlagSmtputf8 | kFlagRequireTls | kFlagRuleRequiresTls)) != 0) {
          return malformed("unknown bits");
        }
        envelope.smtputf8 = (flags & kFlagSmtputf8) != 0;
        envelope.require_tls = (flags & kFlagRequireTls) != 0;
        envelope.rule_requires_tls = (flags & kFlagRuleRequiresTls) != 0;
        return {};
      }
      case RecordType::size:
        if (payload.size() != 8) return malformed("expected 8 bytes");
        envelope.size = readU64(payload, 0);
        return {};
      case RecordType::received_at:
        if (payload.size() != 8) return malformed("expected 8 bytes");
        envelope.received_at = fromNanoseconds(readU64(payload, 0));
        return {};
      case RecordType::data:
        parsed_.data_offset = offset + 5;
        parsed_.data_size = payload.size();
        return {};
      case RecordType::end_of_commit: return finishCommit(payload, offset, malformed);
      case RecordType::recipient_status:
      case RecordType::delivery_attempt:
        return corrupt(
            fmt::format("record type {} at offset {} comes before the end-of-commit "
                        "marker",
                        describeType(type), offset));
    }
    return corrupt(fmt::format("unknown record type 0x{:02X} at offset {}", type, offset));
  }

  template <class Malformed>
  Result<void> finishCommit(std::string_view payload, std::size_t offset, Malformed& malformed) {
    if (payload.size() != 8) return malformed("expected 8 bytes");
    if (readU64(payload, 0) != offset) return malformed("records are missing before it");
    for (unsigned type = 0; type < seen_.size(); ++type) {
      if (isCommitSingular(static_cast<std::uint8_t>(type)) && !seen_[type]) {
        return malformed(fmt::format("the commit section has no record of type {}",
                                     describeType(static_cast<std::uint8_t>(type))));
      }
    }
    if (parsed_.envelope.size != parsed_.data_size) {
      return malformed(fmt::format("size record says {} bytes, the data record holds {}",
                                   parsed_.envelope.size, parsed_.data_size));
    }
    committed_ = true;
    parsed_.commit_size = offset + kRecordOverhead + payload.size();
    return {};
  }

  Result<void> applyAppended(std::uint8_t type, std::string_view payload, std::size_t offset) {
    auto malformed = [&](std::string_view why) {
      return corrupt(fmt::format("malformed record type {} at offset {}: {}", describeType(type),
                                 offset, why));
    };
    PayloadReader reader(payload);
    switch (static_cast<RecordType>(type)) {
      case RecordType::recipient_status: {
        std::uint32_t index = 0;
        std::uint8_t status = 0;
        if (!reader.readU32(index) || !reader.readU8(status)) return malformed("too short");
        if (index >= parsed_.envelope.recipients.size()) {
          return malformed(fmt::format("recipient index {} but the message has {} recipients",
                                       index, parsed_.envelope.recipients.size()));
        }
        if (status > static_cast<std::uint8_t>(RecipientStatus::failed)) {
          return malformed(fmt::format("unknown status {}", status));
        }
        Recipient& recipient = parsed_.envelope.recipients[index];
        recipient.status = static_cast<RecipientStatus>(status);
        recipient.last_reply.assign(reader.rest());
        return {};
      }
      case RecordType::delivery_attempt: {
        std::uint64_t attempted = 0;
        std::uint64_t next = 0;
        if (!reader.readU64(attempted) || !reader.readU64(next)) return malformed("too short");
        if (parsed_.attempts < std::numeric_limits<std::uint32_t>::max()) ++parsed_.attempts;
        parsed_.last_attempt = fromNanoseconds(attempted);
        parsed_.next_attempt = fromNanoseconds(next);
        parsed_.last_reason.assign(reader.rest());
        return {};
      }
      default: break;
    }
    if (type <= static_cast<std::uint8_t>(RecordType::end_of_commit) &&
        recordTypeName(type) != "unknown") {
      return corrupt(
          fmt::format("record type {} at offset {} comes after the end-of-commit "
                      "marker",
                      describeType(type), offset));
    }
    return corrupt(fmt::format("unknown record type 0x{:02X} at offset {}", type, offset));
  }

  std::string_view bytes_;
  ParsedQueueFile parsed_;
  std::array<bool, 256> seen_{};
  bool committed_ = false;
  std::uint32_t version_ = 0;
};

}  // namespace

std::string_view recordTypeName(std::uint8_t type) {
  switch (static_cast<RecordType>(type)) {
    case RecordType::queue_id: return "queue_id";
    case RecordType::sender: return "sender";
    case RecordType::recipient: return "recipient";
    case RecordType::body_type: return "body_type";
    case RecordType::flags: return "flags";
    case RecordType::dsn_return: return "dsn_return";
    case RecordType::dsn_envelope_id: return "dsn_envelope_id";
    case RecordType::client_address: return "client_address";
    case RecordType::helo: return "helo";
    case RecordType::tls_version: return "tls_version";
    case RecordType::tls_cipher: return "tls_cipher";
    case RecordType::auth_user: return "auth_user";
    case RecordType::message_id: return "message_id";
    case RecordType::connector: return "connector";
    case RecordType::size: return "size";
    case RecordType::received_at: return "received_at";
    case RecordType::route_connector: return "route_connector";
    case RecordType::data: return "data";
    case RecordType::end_of_commit: return "end_of_commit";
    case RecordType::recipient_status: return "recipient_status";
    case RecordType::delivery_attempt: return "delivery_attempt";
  }
  return "unknown";
}

std::uint32_t crc32c(std::string_view bytes, std::uint32_t previous) {
  const auto& table = kCrcTables;
  std::uint32_t crc = ~previous;
  auto* position = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t remaining = bytes.size();
  while (remaining >= 8) {
    std::uint32_t low = loadU32(position) ^ crc;
    std::uint32_t high = loadU32(position + 4);
    crc = table[7][low & 0xFF] ^ table[6][(low >> 8) & 0xFF] ^ table[5][(low >> 16) & 0xFF] ^
          table[4][low >> 24] ^ table[3][high & 0xFF] ^ table[2][(high >> 8) & 0xFF] ^
          table[1][(high >> 16) & 0xFF] ^ table[0][high >> 24];
    position += 8;
    remaining -= 8;
  }
  while (remaining-- > 0) crc = table[0][(crc ^ *position++) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

std::string EncodedCommit::joined() const {
  std::string whole;
  whole.reserve(size());
  whole.append(head).append(data).append(tail);
  return whole;
}

Result<EncodedCommit> encodeCommit(const Envelope& envelope, std::string_view data) {
  const std::pair<RecordType, const std::string*> strings[] = {
      {RecordType::queue_id, &envelope.queue_id},
      {RecordType::sender, &envelope.sender},
      {RecordType::body_type, &envelope.body_type},
      {RecordType::dsn_return, &envelope.dsn_return},
      {RecordType::dsn_envelope_id, &envelope.dsn_envelope_id},
      {RecordType::client_address, &envelope.client_address},
      {RecordType::helo, &envelope.helo},
      {RecordType::tls_version, &envelope.tls_version},
      {RecordType::tls_cipher, &envelope.tls_cipher},
      {RecordType::auth_user, &envelope.auth_user},
      {RecordType::message_id, &envelope.message_id},
      {RecordType::connector, &envelope.connector},
  };
  auto tooLarge = [](std::string_view what, std::size_t size) {
    return makeError("too_large", fmt::format("{} is {} bytes; the queue format holds at most {}",
                                              what, size, kMaxRecordPayload));
  };
  std::size_t estimate = kFileHeaderSize + 32 * kRecordOverhead + 64;
  if (envelope.route_connector.size() > kMaxRecordPayload) {
    return tooLarge("route_connector", envelope.route_connector.size());
  }
  estimate += envelope.route_connector.size();
  for (const auto& [type, value] : strings) {
    if (value->size() > kMaxRecordPayload)
      return tooLarge(recordTypeName(static_cast<std::uint8_t>(type)), value->size());
    estimate += value->size();
  }
  for (const Recipient& recipient : envelope.recipients) {
    if (recipient.address.size() + recipient.original.size() > kMaxRecordPayload - 9) {
      return tooLarge("a recipient", recipient.address.size() + recipient.original.size());
    }
    estimate += kRecordOverhead + 9 + recipient.address.size() + recipient.original.size();
  }
  if (data.size() > kMaxRecordPayload) return tooLarge("the message data", data.size());

  EncodedCommit encoded;
  std::string& head = encoded.head;
  head.reserve(estimate);
  head.append(kQueueFileMagic);
  // Only a file that needs version 2 says so: the others stay readable by version-1 builds.
  const bool routed = !envelope.route_connector.empty();
  appendU32(head, routed ? kQueueFormatVersion : kOldestQueueFormatVersion);
  for (const auto& [type, value] : strings) appendStringRecord(head, type, *value);
  if (routed) appendStringRecord(head, RecordType::route_connector, envelope.route_connector);
  for (const Recipient& recipient : envelope.recipients) {
    std::size_t start = beginRecord(head, RecordType::recipient);
    appendU32(head, static_cast<std::uint32_t>(recipient.address.size()));
    head.append(recipient.address);
    appendU32(head, static_cast<std::uint32_t>(recipient.original.size()));
    head.append(recipient.original);
    head.push_back(static_cast<char>(recipient.notify & 0x0F));
    finishRecord(head, start);
  }
  std::size_t start = beginRecord(head, RecordType::flags);
  head.push_back(static_cast<char>((envelope.smtputf8 ? kFlagSmtputf8 : 0) |
                                   (envelope.require_tls ? kFlagRequireTls : 0) |
                                   (envelope.rule_requires_tls ? kFlagRuleRequiresTls : 0)));
  finishRecord(head, start);
  start = beginRecord(head, RecordType::size);
  appendU64(head, data.size());
  finishRecord(head, start);
  start = beginRecord(head, RecordType::received_at);
  appendU64(head, static_cast<std::uint64_t>(toNanoseconds(envelope.received_at)));
  finishRecord(head, start);

  // The data record: its checksum runs over the header here and the caller's bytes.
  start = head.size();
  head.push_back(static_cast<char>(RecordType::data));
  appendU32(head, static_cast<std::uint32_t>(data.size()));
  std::uint32_t crc = crc32c(data, crc32c(std::string_view(head).substr(start)));
  encoded.data = data;

  std::string& tail = encoded.tail;
  tail.reserve(4 + kRecordOverhead + 8);
  appendU32(tail, crc);
  std::size_t endOffset = head.size() + data.size() + 4;
  start = beginRecord(tail, RecordType::end_of_commit);
  appendU64(tail, endOffset);
  finishRecord(tail, start);
  return encoded;
}

std::string encodeRecipientStatus(std::uint32_t index, RecipientStatus status,
                                  std::string_view reply) {
  std::string out;
  out.reserve(kRecordOverhead + 5 + reply.size());
  std::size_t start = beginRecord(out, RecordType::recipient_status);
  appendU32(out, index);
  out.push_back(static_cast<char>(status));
  out.append(reply.substr(0, kMaxRecordPayload - 5));
  finishRecord(out, start);
  return out;
}

std::string encodeDeliveryAttempt(TimePoint attempted_at, std::string_view reason,
                                  TimePoint next_attempt) {
  std::string out;
  out.reserve(kRecordOverhead + 16 + reason.size());
  std::size_t start = beginRecord(out, RecordType::delivery_attempt);
  appendU64(out, static_cast<std::uint64_t>(toNanoseconds(attempted_at)));
  appendU64(out, static_cast<std::uint64_t>(toNanoseconds(next_attempt)));
  out.append(reason.substr(0, kMaxRecordPayload - 16));
  finishRecord(out, start);
  return out;
}

Result<ParsedQueueFile> parseQueueFile(std::string_view bytes) {
  return Parser(bytes).parse();
}

}  // namespace bulwark::queue
