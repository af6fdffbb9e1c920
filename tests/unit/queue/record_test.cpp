// Queue file encoding (docs/queue-format.md): round trips of every field, and every way a file
// can be damaged — each byte flipped, each length truncated, records missing, duplicated, out of
// place — must give an error or (appended records only) a cut tail, never wrong data.
#include "queue/record.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace bulwark::queue {
namespace {

using namespace std::chrono;

system_clock::time_point timeFromNanoseconds(std::int64_t value) {
  return system_clock::time_point(duration_cast<system_clock::duration>(nanoseconds(value)));
}

Envelope fullEnvelope(std::string_view data) {
  Envelope envelope;
  envelope.queue_id = "0ABCDEFGHIJ12345";
  envelope.sender = "jörg@bücher.example";
  envelope.recipients = {
      {"alice@example.test", "rfc822;alice@example.test", notify_success | notify_failure},
      {"ユーザー@例え.jp", "", 0},
      {"carol@example.test", "utf-8;carol@example.test", notify_never},
  };
  envelope.received_at = timeFromNanoseconds(1795000000123456789);
  envelope.body_type = "8BITMIME";
  envelope.smtputf8 = true;
  envelope.require_tls = true;
  envelope.dsn_return = "HDRS";
  envelope.dsn_envelope_id = "QQ314159";
  envelope.client_address = "2001:db8::7";
  envelope.helo = "mail.example.org";
  envelope.tls_version = "TLSv1.3";
  envelope.tls_cipher = "TLS_AES_256_GCM_SHA384";
  envelope.auth_user = "alice";
  envelope.message_id = "<20261124.1@example.org>";
  envelope.connector = "submission";
  envelope.size = data.size();
  return envelope;
}

void expectSameEnvelope(const Envelope& expected, const Envelope& actual) {
  EXPECT_EQ(expected.queue_id, actual.queue_id);
  EXPECT_EQ(expected.sender, actual.sender);
  ASSERT_EQ(expected.recipients.size(), actual.recipients.size());
  for (std::size_t index = 0; index < expected.recipients.size(); ++index) {
    SCOPED_TRACE(index);
    EXPECT_EQ(expected.recipients[index].address, actual.recipients[index].address);
    EXPECT_EQ(expected.recipients[index].original, actual.recipients[index].original);
    EXPECT_EQ(expected.recipients[index].notify, actual.recipients[index].notify);
    EXPECT_EQ(expected.recipients[index].status, actual.recipients[index].status);
    EXPECT_EQ(expected.recipients[index].last_reply, actual.recipients[index].last_reply);
  }
  EXPECT_EQ(expected.received_at, actual.received_at);
  EXPECT_EQ(expected.body_type, actual.body_type);
  EXPECT_EQ(expected.smtputf8, actual.smtputf8);
  EXPECT_EQ(expected.require_tls, actual.require_tls);
  EXPECT_EQ(expected.rule_requires_tls, actual.rule_requires_tls);
  EXPECT_EQ(expected.dsn_return, actual.dsn_return);
  EXPECT_EQ(expected.dsn_envelope_id, actual.dsn_envelope_id);
  EXPECT_EQ(expected.client_address, actual.client_address);
  EXPECT_EQ(expected.helo, actual.helo);
  EXPECT_EQ(expected.tls_version, actual.tls_version);
  EXPECT_EQ(expected.tls_cipher, actual.tls_cipher);
  EXPECT_EQ(expected.auth_user, actual.auth_user);
  EXPECT_EQ(expected.message_id, actual.message_id);
  EXPECT_EQ(expected.connector, actual.connector);
  EXPECT_EQ(expected.route_connector, actual.route_connector);
  EXPECT_EQ(expected.size, actual.size);
}

std::string encode(const Envelope& envelope, std::string_view data) {
  auto encoded = encodeCommit(envelope, data);
  EXPECT_TRUE(encoded.has_value());
  return encoded->joined();
}

std::string_view dataOf(const ParsedQueueFile& parsed, std::string_view file) {
  return file.substr(parsed.data_offset, parsed.data_size);
}

// Test-side view of a file as records, so tests can build files the encoder never would.
struct RawRecord {
  std::uint8_t type;
  std::string payload;
};

std::uint32_t littleEndian32(std::string_view bytes, std::size_t offset) {
  std::uint32_t value = 0;
  for (int index = 3; index >= 0; --index) {
    value =
        value << 8 | static_cast<unsigned char>(bytes[offset + static_cast<std::size_t>(index)]);
  }
  return value;
}

std::vector<RawRecord> splitRecords(std::string_view file) {
  std::vector<RawRecord> records;
  std::size_t offset = kFileHeaderSize;
  while (offset < file.size()) {
    std::uint32_t length = littleEndian32(file, offset + 1);
    records.push_back(
        {static_cast<std::uint8_t>(file[offset]), std::string(file.substr(offset + 5, length))});
    offset += kRecordOverhead + length;
  }
  return records;
}

std::string littleEndianBytes(std::uint64_t value, int count) {
  std::string bytes;
  for (int index = 0; index < count; ++index)
    bytes.push_back(static_cast<char>(value >> (8 * index)));
  return bytes;
}

std::string recordBytes(std::uint8_t type, std::string_view payload) {
  std::string bytes(1, static_cast<char>(type));
  bytes += littleEndianBytes(payload.size(), 4);
  bytes += payload;
  bytes += littleEndianBytes(crc32c(bytes), 4);
  return bytes;
}

// Reassembles with valid checksums; the end-of-commit marker gets its true offset.
std::string assemble(const std::vector<RawRecord>& records, std::uint32_t version = 1) {
  std::string file(kQueueFileMagic);
  file += littleEndianBytes(version, 4);
  for (const RawRecord& record : records) {
    std::string payload = record.payload;
    if (record.type == static_cast<std::uint8_t>(RecordType::end_of_commit)) {
      payload = littleEndianBytes(file.size(), 8);
    }
    file += recordBytes(record.type, payload);
  }
  return file;
}

std::uint8_t typeValue(RecordType type) {
  return static_cast<std::uint8_t>(type);
}

std::size_t indexOfType(const std::vector<RawRecord>& records, RecordType type) {
  for (std::size_t index = 0; index < records.size(); ++index) {
    if (records[index].type == typeValue(type)) return index;
  }
  ADD_FAILURE() << "no record of type " << recordTypeName(typeValue(type));
  return 0;
}

std::string parseError(std::string_view bytes) {
  auto parsed = parseQueueFile(bytes);
  if (parsed) return "(parsed)";
  EXPECT_EQ("corrupt", parsed.error().code);
  return parsed.error().message;
}

TEST(QueueCrc32c, KnownAnswers) {
  EXPECT_EQ(0u, crc32c(""));
  EXPECT_EQ(0xE3069283u, crc32c("123456789"));
  // RFC 3720 B.4 test vectors.
  EXPECT_EQ(0x8A9136AAu, crc32c(std::string(32, '\0')));
  EXPECT_EQ(0x62A8AB43u, crc32c(std::string(32, '\xFF')));
  std::string ascending;
  for (int value = 0; value < 32; ++value) ascending.push_back(static_cast<char>(value));
  EXPECT_EQ(0x46DD794Eu, crc32c(ascending));
}

TEST(QueueCrc32c, ChainsAcrossSplits) {
  std::string text = "The quick brown fox jumps over the lazy dog, twice over, for luck.";
  for (std::size_t split = 0; split <= text.size(); ++split) {
    std::string_view view(text);
    EXPECT_EQ(crc32c(view), crc32c(view.substr(split), crc32c(view.substr(0, split))));
  }
}

TEST(QueueRecord, RoundTripsEveryField) {
  std::string data = "Received: from x\r\nSubject: Grüße\r\n\r\nBody\r\n";
  Envelope envelope = fullEnvelope(data);
  std::string file = encode(envelope, data);
  auto parsed = parseQueueFile(file);
  ASSERT_TRUE(parsed) << parsed.error().message;
  expectSameEnvelope(envelope, parsed->envelope);
  EXPECT_EQ(data, dataOf(*parsed, file));
  EXPECT_EQ(file.size(), parsed->commit_size);
  EXPECT_EQ(file.size(), parsed->valid_size);
  EXPECT_TRUE(parsed->tail_damage.empty());
  EXPECT_EQ(0u, parsed->attempts);
  EXPECT_EQ(std::string_view(file).substr(0, 8), "BWKQUEUE");
}

TEST(QueueRecord, RoundTripsEmptyFieldsAndNullSender) {
  Envelope envelope;
  envelope.queue_id = "A";
  envelope.recipients = {{"postmaster@example.test", "", 0}};
  std::string file = encode(envelope, "");
  auto parsed = parseQueueFile(file);
  ASSERT_TRUE(parsed) << parsed.error().message;
  expectSameEnvelope(envelope, parsed->envelope);
  EXPECT_EQ("", parsed->envelope.sender);
  EXPECT_EQ(0u, parsed->data_size);
}

TEST(QueueRecord, RoundTripsEveryFlagCombinationAndNotifyValue) {
  for (int flags = 0; flags < 8; ++flags) {
    for (std::uint8_t notify = 0; notify < 16; ++notify) {
      Envelope envelope = fullEnvelope("x");
      envelope.smtputf8 = (flags & 1) != 0;
      envelope.require_tls = (flags & 2) != 0;
      envelope.rule_requires_tls = (flags & 4) != 0;
      envelope.recipients[0].notify = notify;
      std::string file = encode(envelope, "x");
      auto parsed = parseQueueFile(file);
      ASSERT_TRUE(parsed) << parsed.error().message;
      expectSameEnvelope(envelope, parsed->envelope);
    }
  }
}

TEST(QueueRecord, RoundTripsTimesBeforeAndAfterTheEpoch) {
  for (std::int64_t nanoseconds : {std::int64_t{0}, std::int64_t{-1}, std::int64_t{1},
                                   std::int64_t{-86400} * 1000000000, std::int64_t{1} << 62}) {
    Envelope envelope = fullEnvelope("x");
    envelope.received_at = timeFromNanoseconds(nanoseconds);
    auto parsed = parseQueueFile(encode(envelope, "x"));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(envelope.received_at, parsed->envelope.received_at);
  }
}

TEST(QueueRecord, RoundTripsBinaryDataWithNuls) {
  std::string data;
  for (int round = 0; round < 4; ++round) {
    for (int value = 0; value < 256; ++value) data.push_back(static_cast<char>(value));
  }
  data += std::string(100, '\0');
  Envelope envelope = fullEnvelope(data);
  std::string file = encode(envelope, data);
  auto parsed = parseQueueFile(file);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(data, dataOf(*parsed, file));
  EXPECT_EQ(data.size(), parsed->envelope.size);
}

TEST(QueueRecord, RoundTripsTenMegabytes) {
  std::string data(10 * 1024 * 1024, '\0');
  for (std::size_t index = 0; index < data.size(); ++index) {
    data[index] = static_cast<char>((index * 2654435761u) >> 13);
  }
  Envelope envelope = fullEnvelope(data);
  auto encoded = encodeCommit(envelope, data);
  ASSERT_TRUE(encoded);
  EXPECT_EQ(data.data(), encoded->data.data()) << "the data must not be copied by the encoder";
  std::string file = encoded->joined();
  auto parsed = parseQueueFile(file);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_TRUE(dataOf(*parsed, file) == data);
}

TEST(QueueRecord, SizeRecordIsTheSpooledSize) {
  Envelope envelope = fullEnvelope("abc");
  envelope.size = 999;
  auto parsed = parseQueueFile(encode(envelope, "abc"));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(3u, parsed->envelope.size);
}

TEST(QueueRecord, AppliesAppendedRecordsInOrder) {
  Envelope envelope = fullEnvelope("data");
  std::string file = encode(envelope, "data");
  auto first = timeFromNanoseconds(1795000100000000000);
  auto second = timeFromNanoseconds(1795000900000000000);
  file += encodeRecipientStatus(1, RecipientStatus::failed, "451 4.7.1 try later");
  file += encodeDeliveryAttempt(timeFromNanoseconds(1795000000500000000), "451 greylisted", first);
  file += encodeRecipientStatus(0, RecipientStatus::delivered, "250 2.0.0 Ok: queued as X");
  file += encodeRecipientStatus(1, RecipientStatus::delivered, "250 ok");
  file += encodeDeliveryAttempt(timeFromNanoseconds(1795000200000000000), "421 busy", second);
  auto parsed = parseQueueFile(file);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(RecipientStatus::delivered, parsed->envelope.recipients[0].status);
  EXPECT_EQ("250 2.0.0 Ok: queued as X", parsed->envelope.recipients[0].last_reply);
  EXPECT_EQ(RecipientStatus::delivered, parsed->envelope.recipients[1].status);
  EXPECT_EQ("250 ok", parsed->envelope.recipients[1].last_reply);
  EXPECT_EQ(RecipientStatus::pending, parsed->envelope.recipients[2].status);
  EXPECT_EQ(2u, parsed->attempts);
  EXPECT_EQ("421 busy", parsed->last_reason);
  EXPECT_EQ(second, parsed->next_attempt);
  EXPECT_EQ(timeFromNanoseconds(1795000200000000000), parsed->last_attempt);
  EXPECT_EQ(file.size(), parsed->valid_size);
  EXPECT_TRUE(parsed->tail_damage.empty());
}

TEST(QueueRecord, RejectsBadHeaders) {
  std::string file = encode(fullEnvelope("x"), "x");
  EXPECT_EQ("truncated file header: 0 of 12 bytes", parseError(""));
  EXPECT_EQ("truncated file header: 4 of 12 bytes", parseError("BWKQ"));
  EXPECT_EQ("bad magic: not a Bulwark queue file", parseError("From alice@example.org"));
  EXPECT_EQ("bad magic: not a Bulwark queue file", parseError("X" + file.substr(1)));
  std::string version3 = file;
  version3[8] = 3;
  EXPECT_EQ("version 3 not supported (this build reads versions 1 to 2)", parseError(version3));
  std::string version0 = file;
  version0[8] = 0;
  EXPECT_EQ("version 0 not supported (this build reads versions 1 to 2)", parseError(version0));
}

// A rule's route_via: version 2 only when the envelope has one, so other files stay readable by
// builds that know only version 1.
TEST(QueueRecord, RouteConnectorNeedsVersionTwoAndRoundTrips) {
  Envelope envelope = fullEnvelope("R1");
  const std::string plain = encode(envelope, "x");
  EXPECT_EQ(1, plain[8]);
  EXPECT_EQ(std::string::npos, plain.find("partner-relay"));
  auto parsed = parseQueueFile(plain);
  ASSERT_TRUE(parsed);
  EXPECT_EQ("", parsed->envelope.route_connector);

  envelope.route_connector = "partner-relay";
  const std::string routed = encode(envelope, "x");
  EXPECT_EQ(2, routed[8]);
  parsed = parseQueueFile(routed);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ("partner-relay", parsed->envelope.route_connector);

  auto records = splitRecords(routed);
  const std::string old_version = parseError(assemble(records, 1));
  EXPECT_NE(std::string::npos, old_version.find("malformed record type 0x11 (route_connector)"))
      << old_version;
  EXPECT_NE(std::string::npos, old_version.find("the record needs format version 2"));
  const std::size_t route = indexOfType(records, RecordType::route_connector);
  auto duplicated = records;
  duplicated.insert(duplicated.begin() + static_cast<std::ptrdiff_t>(route), records[route]);
  EXPECT_NE(std::string::npos,
            parseError(assemble(duplicated, 2)).find("duplicate record type 0x11"));
  auto empty = records;
  empty[route].payload.clear();
  EXPECT_NE(std::string::npos, parseError(assemble(empty, 2)).find("empty connector name"));
}

TEST(QueueRecord, NamesTheRecordAndOffsetOfAChecksumMismatch) {
  Envelope envelope = fullEnvelope("x");
  std::string file = encode(envelope, "x");
  // The sender record follows the header and the queue id record.
  std::size_t senderOffset = kFileHeaderSize + kRecordOverhead + envelope.queue_id.size();
  file[senderOffset + 5] ^= 0x20;
  EXPECT_EQ(
      "checksum mismatch in record type 0x02 (sender) at offset " + std::to_string(senderOffset),
      parseError(file));
}

TEST(QueueRecord, NamesTheOffsetOfATruncatedRecord) {
  std::string file = encode(fullEnvelope("x"), "x");
  std::string error = parseError(file.substr(0, kFileHeaderSize + 3));
  EXPECT_EQ("truncated record at offset 12: 3 bytes left, a record takes at least 9", error);
  error = parseError(file.substr(0, kFileHeaderSize + 12));
  EXPECT_EQ(
      "truncated record at offset 12: type 0x01 (queue_id) declares 16 payload bytes, 3 "
      "are present",
      error);
}

TEST(QueueRecord, RejectsUnknownRecordTypes) {
  auto records = splitRecords(encode(fullEnvelope("x"), "x"));
  auto inCommit = records;
  inCommit.insert(inCommit.begin() + 2, RawRecord{0x30, "future"});
  EXPECT_EQ(
      "unknown record type 0x30 at offset " +
          std::to_string(kFileHeaderSize + 2 * kRecordOverhead + 16 + records[1].payload.size()),
      parseError(assemble(inCommit)));
  auto appended = records;
  appended.push_back(RawRecord{0x7F, "future"});
  EXPECT_NE(std::string::npos, parseError(assemble(appended)).find("unknown record type 0x7F"));
  auto zero = records;
  zero.insert(zero.begin(), RawRecord{0x00, ""});
  EXPECT_EQ("unknown record type 0x00 at offset 12", parseError(assemble(zero)));
}

TEST(QueueRecord, RejectsMissingDuplicatedAndMisplacedRecords) {
  const auto records = splitRecords(encode(fullEnvelope("x"), "x"));
  for (RecordType type :
       {RecordType::queue_id, RecordType::sender, RecordType::body_type, RecordType::flags,
        RecordType::dsn_return, RecordType::dsn_envelope_id, RecordType::client_address,
        RecordType::helo, RecordType::tls_version, RecordType::tls_cipher, RecordType::auth_user,
        RecordType::message_id, RecordType::connector, RecordType::size, RecordType::received_at,
        RecordType::data}) {
    SCOPED_TRACE(recordTypeName(typeValue(type)));
    auto missing = records;
    missing.erase(missing.begin() + static_cast<long>(indexOfType(missing, type)));
    EXPECT_NE(std::string::npos, parseError(assemble(missing)).find("has no record of type"));
    auto duplicated = records;
    duplicated.insert(duplicated.begin() + 1, duplicated[indexOfType(duplicated, type)]);
    EXPECT_NE(std::string::npos, parseError(assemble(duplicated)).find("duplicate record type"));
  }
  auto noEnd = records;
  noEnd.pop_back();
  std::string noEndFile = assemble(noEnd);
  EXPECT_EQ("truncated: the file ends at offset " + std::to_string(noEndFile.size()) +
                " before the end-of-commit marker",
            parseError(noEndFile));

  auto statusFirst = records;
  statusFirst.insert(statusFirst.begin(),
                     RawRecord{typeValue(RecordType::recipient_status), std::string(5, '\0')});
  EXPECT_EQ(
      "record type 0x40 (recipient_status) at offset 12 comes before the end-of-commit "
      "marker",
      parseError(assemble(statusFirst)));

  auto senderLate = records;
  senderLate.push_back(records[indexOfType(records, RecordType::sender)]);
  EXPECT_NE(std::string::npos,
            parseError(assemble(senderLate)).find("comes after the end-of-commit marker"));

  auto twoEnds = records;
  twoEnds.push_back(records.back());
  EXPECT_NE(std::string::npos,
            parseError(assemble(twoEnds)).find("comes after the end-of-commit marker"));

  // An end marker whose offset is wrong means records went missing in between.
  std::string raw(kQueueFileMagic);
  raw += littleEndianBytes(1, 4);
  for (const RawRecord& record : records) {
    raw += recordBytes(record.type, record.type == typeValue(RecordType::end_of_commit)
                                        ? littleEndianBytes(4, 8)
                                        : record.payload);
  }
  EXPECT_NE(std::string::npos, parseError(raw).find("records are missing before it"));
}

TEST(QueueRecord, RejectsChecksumValidNonsense) {
  const auto records = splitRecords(encode(fullEnvelope("abc"), "abc"));
  auto withPayload = [&](RecordType type, std::string payload) {
    auto changed = records;
    changed[indexOfType(changed, type)].payload = std::move(payload);
    return parseError(assemble(changed));
  };
  EXPECT_NE(std::string::npos, withPayload(RecordType::size, littleEndianBytes(4, 8))
                                   .find("size record says 4 bytes, the data record holds 3"));
  EXPECT_NE(std::string::npos, withPayload(RecordType::size, "1234").find("expected 8 bytes"));
  EXPECT_NE(std::string::npos, withPayload(RecordType::received_at, "").find("expected 8 bytes"));
  EXPECT_NE(std::string::npos, withPayload(RecordType::flags, "\x08").find("unknown bits"));
  EXPECT_NE(std::string::npos, withPayload(RecordType::flags, "").find("expected 1 byte"));

  std::string recipient = records[indexOfType(records, RecordType::recipient)].payload;
  EXPECT_NE(std::string::npos,
            withPayload(RecordType::recipient, recipient + "x").find("do not add up"));
  EXPECT_NE(std::string::npos,
            withPayload(RecordType::recipient, recipient.substr(0, recipient.size() - 1))
                .find("do not add up"));
  std::string badNotify = recipient;
  badNotify.back() = 0x10;
  EXPECT_NE(std::string::npos,
            withPayload(RecordType::recipient, badNotify).find("unknown NOTIFY bits"));
  // A length field claiming more than the record holds must not be trusted.
  std::string hugeLength = recipient;
  hugeLength.replace(0, 4, littleEndianBytes(0xFFFFFFFF, 4));
  EXPECT_NE(std::string::npos,
            withPayload(RecordType::recipient, hugeLength).find("do not add up"));

  std::string file = encode(fullEnvelope("abc"), "abc");
  EXPECT_NE(std::string::npos,
            parseError(file + encodeRecipientStatus(3, RecipientStatus::delivered, "250"))
                .find("recipient index 3 but the message has 3 recipients"));
  EXPECT_NE(std::string::npos,
            parseError(file + encodeRecipientStatus(0, static_cast<RecipientStatus>(3), "x"))
                .find("unknown status 3"));
  EXPECT_NE(std::string::npos,
            parseError(file + recordBytes(typeValue(RecordType::recipient_status), "\0\0\0"))
                .find("too short"));
  EXPECT_NE(std::string::npos,
            parseError(file + recordBytes(typeValue(RecordType::delivery_attempt), "12345678"))
                .find("too short"));
}

// A small file with appended records, and the offsets where its records end.
struct SmallFile {
  std::string bytes;
  std::size_t commit_size = 0;
  std::set<std::size_t> boundaries;  // ends of appended records, and commit_size
};

SmallFile smallFile() {
  Envelope envelope;
  envelope.queue_id = "Q1";
  envelope.sender = "a@b";
  envelope.recipients = {{"c@d", "", notify_failure}, {"e@f", "rfc822;e@f", 0}};
  envelope.body_type = "7BIT";
  std::string data("Hi\0there\r\n", 10);
  envelope.size = data.size();
  SmallFile file;
  file.bytes = encode(envelope, data);
  file.commit_size = file.bytes.size();
  file.boundaries.insert(file.bytes.size());
  for (const std::string& record :
       {encodeRecipientStatus(0, RecipientStatus::delivered, "250 ok"),
        encodeDeliveryAttempt(timeFromNanoseconds(5), "451 later", timeFromNanoseconds(9)),
        encodeRecipientStatus(1, RecipientStatus::failed, "550 no")}) {
    file.bytes += record;
    file.boundaries.insert(file.bytes.size());
  }
  return file;
}

// What a parse of `bytes` must equal when only the records before `valid_size` count.
void expectSameAsPrefix(const SmallFile& file, const ParsedQueueFile& parsed,
                        std::string_view bytes) {
  ASSERT_TRUE(file.boundaries.count(parsed.valid_size)) << parsed.valid_size;
  auto clean = parseQueueFile(std::string_view(file.bytes).substr(0, parsed.valid_size));
  ASSERT_TRUE(clean);
  EXPECT_TRUE(clean->tail_damage.empty());
  expectSameEnvelope(clean->envelope, parsed.envelope);
  EXPECT_EQ(clean->attempts, parsed.attempts);
  EXPECT_EQ(clean->last_reason, parsed.last_reason);
  EXPECT_EQ(clean->next_attempt, parsed.next_attempt);
  EXPECT_EQ(dataOf(*clean, file.bytes), dataOf(parsed, bytes));
}

TEST(QueueRecord, EveryFlippedByteIsAnErrorOrACutTail) {
  const SmallFile file = smallFile();
  int errors = 0;
  int cuts = 0;
  for (std::size_t position = 0; position < file.bytes.size(); ++position) {
    for (unsigned mask : {0x01u, 0x80u, 0xFFu, 0x5Au}) {
      SCOPED_TRACE(testing::Message() << "position " << position << " mask " << mask);
      std::string damaged = file.bytes;
      damaged[position] = static_cast<char>(damaged[position] ^ mask);
      auto parsed = parseQueueFile(damaged);
      if (position < file.commit_size) {
        ASSERT_FALSE(parsed) << "damage in the commit section must never parse";
        EXPECT_EQ("corrupt", parsed.error().code);
        ++errors;
        continue;
      }
      ASSERT_TRUE(parsed) << parsed.error().message;
      EXPECT_FALSE(parsed->tail_damage.empty());
      EXPECT_LE(parsed->valid_size, position);
      expectSameAsPrefix(file, *parsed, damaged);
      ++cuts;
    }
  }
  EXPECT_GT(errors, 0);
  EXPECT_GT(cuts, 0);
}

TEST(QueueRecord, EveryTruncationIsAnErrorOrACutTail) {
  const SmallFile file = smallFile();
  for (std::size_t length = 0; length <= file.bytes.size(); ++length) {
    SCOPED_TRACE(length);
    std::string_view prefix = std::string_view(file.bytes).substr(0, length);
    auto parsed = parseQueueFile(prefix);
    if (length < file.commit_size) {
      ASSERT_FALSE(parsed);
      EXPECT_EQ("corrupt", parsed.error().code);
      continue;
    }
    ASSERT_TRUE(parsed) << parsed.error().message;
    bool boundary = file.boundaries.count(length) > 0;
    EXPECT_EQ(boundary, parsed->tail_damage.empty()) << parsed->tail_damage;
    if (boundary)
      EXPECT_EQ(length, parsed->valid_size);
    else
      EXPECT_NE(std::string::npos, parsed->tail_damage.find("truncated record at offset"));
    expectSameAsPrefix(file, *parsed, prefix);
  }
}

TEST(QueueRecord, RandomDamageIsAnErrorOrACutTail) {
  const SmallFile file = smallFile();
  std::mt19937 random(20261124);
  for (int round = 0; round < 3000; ++round) {
    std::string damaged = file.bytes;
    std::size_t first = damaged.size();
    int changes = 1 + static_cast<int>(random() % 4);
    for (int change = 0; change < changes; ++change) {
      std::size_t position = random() % damaged.size();
      char replacement = static_cast<char>(random());
      if (damaged[position] == replacement) continue;
      damaged[position] = replacement;
      first = std::min(first, position);
    }
    if (random() % 3 == 0) damaged.resize(random() % (damaged.size() + 1));
    SCOPED_TRACE(round);
    auto parsed = parseQueueFile(damaged);
    if (!parsed) {
      EXPECT_EQ("corrupt", parsed.error().code);
      continue;
    }
    // Whatever parses must be a clean prefix of what was written.
    ASSERT_GE(first, file.commit_size);
    EXPECT_LE(parsed->valid_size, std::min(first, damaged.size()));
    expectSameAsPrefix(file, *parsed, damaged);
  }
}

TEST(QueueRecord, GarbageAfterAValidHeaderNeverParses) {
  std::mt19937 random(7);
  std::string header(kQueueFileMagic);
  header += std::string("\x01\0\0\0", 4);
  for (int round = 0; round < 2000; ++round) {
    std::string garbage = header;
    std::size_t length = random() % 200;
    for (std::size_t index = 0; index < length; ++index) {
      garbage.push_back(static_cast<char>(random() % 4 == 0 ? random() % 0x42 : random()));
    }
    EXPECT_FALSE(parseQueueFile(garbage)) << round;
  }
}

TEST(QueueRecord, TornAppendOfZerosIsACutTail) {
  const SmallFile file = smallFile();
  // Some file systems expose zero-filled blocks after a crash instead of the appended bytes.
  std::string torn = file.bytes + std::string(14, '\0');
  auto parsed = parseQueueFile(torn);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(file.bytes.size(), parsed->valid_size);
  EXPECT_EQ("checksum mismatch in record type 0x00 (unknown) at offset " +
                std::to_string(file.bytes.size()),
            parsed->tail_damage);
}

TEST(QueueRecord, TypeNames) {
  EXPECT_EQ("sender", recordTypeName(0x02));
  EXPECT_EQ("end_of_commit", recordTypeName(0x3F));
  EXPECT_EQ("delivery_attempt", recordTypeName(0x41));
  EXPECT_EQ("route_connector", recordTypeName(0x11));
  EXPECT_EQ("unknown", recordTypeName(0x12));
}

}  // namespace
}  // namespace bulwark::queue
