// FileSpool (docs/queue-format.md): commit and read back, state changes by rename, appended
// delivery records, recovery after a crash (incoming leftovers, damaged files, torn appends), and
// concurrent commits. Each test works in its own directory under the system temporary directory.
#include "queue/spool.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <random>
#include <thread>

#include "common/ids.h"
#include "queue/record.h"

namespace bulwark::queue {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono;

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void writeFile(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::vector<std::string> namesIn(const fs::path& directory) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(directory)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

Envelope makeEnvelope(std::string queue_id, std::string_view data) {
  Envelope envelope;
  envelope.queue_id = std::move(queue_id);
  envelope.sender = "sender@example.org";
  envelope.recipients = {{"one@example.test", "rfc822;one@example.test", notify_failure},
                         {"two@example.test", "", 0},
                         {"drei@bücher.example", "", notify_success | notify_delay}};
  envelope.received_at = system_clock::now();
  envelope.body_type = "8BITMIME";
  envelope.smtputf8 = true;
  envelope.require_tls = true;
  envelope.dsn_return = "FULL";
  envelope.dsn_envelope_id = "ENV-1";
  envelope.client_address = "192.0.2.44";
  envelope.helo = "client.example.org";
  envelope.tls_version = "TLSv1.3";
  envelope.tls_cipher = "TLS_AES_128_GCM_SHA256";
  envelope.auth_user = "sender";
  envelope.message_id = "<m1@example.org>";
  envelope.connector = "default";
  envelope.size = data.size();
  return envelope;
}

class QueueSpool : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device random;
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ =
        fs::temp_directory_path() / ("bulwark-spool-" + std::string(test->name()) + "-" +
                                     std::to_string(::getpid()) + "-" + std::to_string(random()));
    auto opened = openFileSpool(root_);
    ASSERT_TRUE(opened) << opened.error().message;
    spool_ = std::move(*opened);
  }
  void TearDown() override {
    spool_.reset();
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }

  void commit(const std::string& queue_id, std::string_view data = "Subject: hi\r\n\r\nhi\r\n") {
    auto committed = spool_->commit(makeEnvelope(queue_id, data), data);
    ASSERT_TRUE(committed) << committed.error().message;
  }

  fs::path root_;
  std::unique_ptr<Spool> spool_;
};

TEST_F(QueueSpool, CreatesTheStateDirectories) {
  EXPECT_EQ((std::vector<std::string>{"active", "corrupt", "deferred", "hold", "incoming"}),
            namesIn(root_));
  auto again = openFileSpool(root_);
  EXPECT_TRUE(again) << "opening an existing spool must work";
}

TEST_F(QueueSpool, CommitThenLoadRoundTrips) {
  std::string data("Subject: binary\r\n\r\n\0\x01\xFF end\r\n", 26);
  Envelope envelope = makeEnvelope("0AAAAAAAAAAAAAA1", data);
  envelope.sender = "";  // null reverse-path, as in a bounce
  ASSERT_TRUE(spool_->commit(envelope, data));
  EXPECT_EQ(std::vector<std::string>{"0AAAAAAAAAAAAAA1"}, namesIn(root_ / "active"));
  EXPECT_TRUE(namesIn(root_ / "incoming").empty());

  auto loaded = spool_->load("0AAAAAAAAAAAAAA1");
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(QueueState::active, loaded->state);
  EXPECT_EQ(0u, loaded->attempts);
  const Envelope& back = loaded->envelope;
  EXPECT_EQ(envelope.queue_id, back.queue_id);
  EXPECT_EQ("", back.sender);
  ASSERT_EQ(3u, back.recipients.size());
  EXPECT_EQ("drei@bücher.example", back.recipients[2].address);
  EXPECT_EQ(notify_success | notify_delay, back.recipients[2].notify);
  EXPECT_EQ("rfc822;one@example.test", back.recipients[0].original);
  EXPECT_EQ(envelope.received_at, back.received_at);
  EXPECT_EQ("8BITMIME", back.body_type);
  EXPECT_TRUE(back.smtputf8);
  EXPECT_TRUE(back.require_tls);
  EXPECT_EQ("FULL", back.dsn_return);
  EXPECT_EQ("ENV-1", back.dsn_envelope_id);
  EXPECT_EQ("192.0.2.44", back.client_address);
  EXPECT_EQ("client.example.org", back.helo);
  EXPECT_EQ("TLSv1.3", back.tls_version);
  EXPECT_EQ("TLS_AES_128_GCM_SHA256", back.tls_cipher);
  EXPECT_EQ("sender", back.auth_user);
  EXPECT_EQ("<m1@example.org>", back.message_id);
  EXPECT_EQ("default", back.connector);
  EXPECT_EQ(data.size(), back.size);

  auto read = spool_->readData("0AAAAAAAAAAAAAA1");
  ASSERT_TRUE(read);
  EXPECT_EQ(data, *read);
}

TEST_F(QueueSpool, CommitsTenMegabytes) {
  std::string data(10 * 1024 * 1024, 'x');
  for (std::size_t index = 0; index < data.size(); index += 4093) data[index] = '\0';
  commit("BIG", data);
  auto read = spool_->readData("BIG");
  ASSERT_TRUE(read);
  EXPECT_TRUE(*read == data);
  auto loaded = spool_->load("BIG");
  ASSERT_TRUE(loaded);
  EXPECT_EQ(data.size(), loaded->envelope.size);
}

TEST_F(QueueSpool, RefusesADuplicateQueueId) {
  commit("DUP", "first");
  auto second = spool_->commit(makeEnvelope("DUP", "second"), "second");
  ASSERT_FALSE(second);
  EXPECT_EQ("io", second.error().code);
  EXPECT_EQ("first", spool_->readData("DUP").value());
  EXPECT_TRUE(namesIn(root_ / "incoming").empty());
}

TEST_F(QueueSpool, RefusesQueueIdsThatAreNotFileNames) {
  const std::vector<std::string> ids = {"",
                                        ".",
                                        "..",
                                        "../escape",
                                        "a/b",
                                        "with space",
                                        "dot.ted",
                                        std::string(65, 'A'),
                                        std::string("nul\0x", 5)};
  for (const std::string& id : ids) {
    SCOPED_TRACE(id);
    auto committed = spool_->commit(makeEnvelope(id, "x"), "x");
    ASSERT_FALSE(committed);
    EXPECT_EQ("invalid", committed.error().code);
    EXPECT_EQ("invalid", spool_->load(id).error().code);
    EXPECT_EQ("invalid", spool_->remove(id).error().code);
    EXPECT_EQ("invalid", spool_->activate(id).error().code);
  }
  EXPECT_TRUE(namesIn(root_ / "active").empty());
  EXPECT_TRUE(namesIn(root_ / "incoming").empty());
  EXPECT_FALSE(fs::exists(root_.parent_path() / "escape"));
}

TEST_F(QueueSpool, AFailedCommitLeavesNothingBehind) {
  // With active/ gone the rename fails after the file was written and synced.
  fs::remove(root_ / "active");
  auto committed = spool_->commit(makeEnvelope("LOST", "x"), "x");
  ASSERT_FALSE(committed);
  EXPECT_EQ("io", committed.error().code);
  EXPECT_NE(std::string::npos, committed.error().message.find("rename to active/"));
  EXPECT_TRUE(namesIn(root_ / "incoming").empty());
}

TEST_F(QueueSpool, UnknownIdsAreNotFound) {
  EXPECT_EQ("not_found", spool_->load("NOPE").error().code);
  EXPECT_EQ("not_found", spool_->readData("NOPE").error().code);
  EXPECT_EQ("not_found", spool_->remove("NOPE").error().code);
  EXPECT_EQ("not_found", spool_->activate("NOPE").error().code);
  EXPECT_EQ("not_found", spool_->defer("NOPE", "x", system_clock::now()).error().code);
  EXPECT_EQ(
      "not_found",
      spool_->recordRecipient("NOPE", 0, RecipientStatus::delivered, "250", true).error().code);
}

TEST_F(QueueSpool, AppliesRecipientStatusRecords) {
  commit("RCPT");
  ASSERT_TRUE(spool_->recordRecipient("RCPT", 1, RecipientStatus::failed, "451 later", true));
  ASSERT_TRUE(spool_->recordRecipient("RCPT", 0, RecipientStatus::delivered, "250 ok", false));
  ASSERT_TRUE(spool_->recordRecipient("RCPT", 1, RecipientStatus::failed, "550 5.1.1 no", true));
  auto loaded = spool_->load("RCPT");
  ASSERT_TRUE(loaded) << loaded.error().message;
  const auto& recipients = loaded->envelope.recipients;
  EXPECT_EQ(RecipientStatus::delivered, recipients[0].status);
  EXPECT_EQ("250 ok", recipients[0].last_reply);
  EXPECT_EQ(RecipientStatus::failed, recipients[1].status);
  EXPECT_EQ("550 5.1.1 no", recipients[1].last_reply);
  EXPECT_EQ(RecipientStatus::pending, recipients[2].status);
  EXPECT_EQ("", recipients[2].last_reply);
  EXPECT_EQ(QueueState::active, loaded->state);
}

TEST_F(QueueSpool, DeferActivateRemove) {
  commit("LIFE", "body");
  auto retry = time_point_cast<system_clock::duration>(system_clock::now() + minutes(5));
  ASSERT_TRUE(spool_->defer("LIFE", "451 4.4.1 no answer", retry));
  EXPECT_TRUE(namesIn(root_ / "active").empty());
  EXPECT_EQ(std::vector<std::string>{"LIFE"}, namesIn(root_ / "deferred"));
  auto loaded = spool_->load("LIFE");
  ASSERT_TRUE(loaded);
  EXPECT_EQ(QueueState::deferred, loaded->state);
  EXPECT_EQ(1u, loaded->attempts);
  EXPECT_EQ("451 4.4.1 no answer", loaded->last_reason);
  EXPECT_EQ(retry, loaded->next_attempt);
  EXPECT_EQ("body", spool_->readData("LIFE").value());

  // Deferring a deferred message records the attempt and keeps it there.
  auto later = retry + minutes(10);
  ASSERT_TRUE(spool_->defer("LIFE", "421 busy", later));
  loaded = spool_->load("LIFE");
  EXPECT_EQ(2u, loaded->attempts);
  EXPECT_EQ("421 busy", loaded->last_reason);
  EXPECT_EQ(later, loaded->next_attempt);
  EXPECT_EQ(QueueState::deferred, loaded->state);

  ASSERT_TRUE(spool_->recordRecipient("LIFE", 2, RecipientStatus::delivered, "250", true));
  ASSERT_TRUE(spool_->activate("LIFE"));
  EXPECT_EQ(std::vector<std::string>{"LIFE"}, namesIn(root_ / "active"));
  EXPECT_TRUE(namesIn(root_ / "deferred").empty());
  loaded = spool_->load("LIFE");
  EXPECT_EQ(QueueState::active, loaded->state);
  EXPECT_EQ(2u, loaded->attempts);
  EXPECT_EQ(RecipientStatus::delivered, loaded->envelope.recipients[2].status);
  EXPECT_TRUE(spool_->activate("LIFE")) << "activating an active message changes nothing";

  ASSERT_TRUE(spool_->remove("LIFE"));
  EXPECT_TRUE(namesIn(root_ / "active").empty());
  EXPECT_EQ("not_found", spool_->load("LIFE").error().code);
  EXPECT_EQ("not_found", spool_->remove("LIFE").error().code);
}

TEST_F(QueueSpool, HeldMessagesStayHeld) {
  commit("HELD");
  fs::rename(root_ / "active" / "HELD", root_ / "hold" / "HELD");
  ASSERT_TRUE(spool_->defer("HELD", "451 later", system_clock::now()));
  auto loaded = spool_->load("HELD");
  ASSERT_TRUE(loaded);
  EXPECT_EQ(QueueState::hold, loaded->state);
  EXPECT_EQ(1u, loaded->attempts);
  ASSERT_TRUE(spool_->activate("HELD"));
  EXPECT_EQ(QueueState::active, spool_->load("HELD")->state);
}

TEST_F(QueueSpool, ActivateDeferredMovesOnlyDeferredMessages) {
  commit("DUE");
  commit("HELD");
  ASSERT_TRUE(spool_->defer("DUE", "451 later", system_clock::now()));
  ASSERT_TRUE(spool_->hold("HELD"));

  ASSERT_TRUE(spool_->activateDeferred("DUE"));
  EXPECT_EQ(std::vector<std::string>{"DUE"}, namesIn(root_ / "active"));
  EXPECT_EQ("not_found", spool_->activateDeferred("DUE").error().code) << "already active";
  EXPECT_EQ("not_found", spool_->activateDeferred("HELD").error().code);
  EXPECT_EQ(std::vector<std::string>{"HELD"}, namesIn(root_ / "hold")) << "a retry never releases";
  EXPECT_EQ("not_found", spool_->activateDeferred("GONE").error().code);
  EXPECT_EQ("invalid", spool_->activateDeferred("../x").error().code);
}

TEST_F(QueueSpool, CommitHeldWritesStraightIntoHold) {
  const std::string_view text = "Subject: held\r\n\r\nbody\r\n";
  ASSERT_TRUE(spool_->commitHeld(makeEnvelope("QUARANTINED", text), text));
  EXPECT_EQ(std::vector<std::string>{"QUARANTINED"}, namesIn(root_ / "hold"));
  EXPECT_TRUE(namesIn(root_ / "active").empty()) << "a quarantined message is never delivered";
  EXPECT_TRUE(namesIn(root_ / "incoming").empty());
  std::string data;
  auto loaded = spool_->load("QUARANTINED", &data);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(QueueState::hold, loaded->state);
  EXPECT_EQ("Subject: held\r\n\r\nbody\r\n", data);
  ASSERT_TRUE(spool_->activate("QUARANTINED"));
  EXPECT_EQ(std::vector<std::string>{"QUARANTINED"}, namesIn(root_ / "active"));
}

TEST_F(QueueSpool, HoldMovesActiveAndDeferredMessagesToHold) {
  commit("FROMACTIVE");
  commit("FROMDEFERRED");
  ASSERT_TRUE(spool_->defer("FROMDEFERRED", "451 later", system_clock::now() + minutes(5)));

  ASSERT_TRUE(spool_->hold("FROMACTIVE"));
  ASSERT_TRUE(spool_->hold("FROMDEFERRED"));
  EXPECT_EQ((std::vector<std::string>{"FROMACTIVE", "FROMDEFERRED"}), namesIn(root_ / "hold"));
  EXPECT_TRUE(namesIn(root_ / "active").empty());
  EXPECT_TRUE(namesIn(root_ / "deferred").empty());
  auto loaded = spool_->load("FROMDEFERRED");
  ASSERT_TRUE(loaded);
  EXPECT_EQ(QueueState::hold, loaded->state);
  EXPECT_EQ(1u, loaded->attempts) << "the delivery records travel with the file";
  EXPECT_EQ("451 later", loaded->last_reason);

  EXPECT_TRUE(spool_->hold("FROMACTIVE")) << "holding a held message changes nothing";
  EXPECT_EQ((std::vector<std::string>{"FROMACTIVE", "FROMDEFERRED"}), namesIn(root_ / "hold"));

  // Released by activate(), and held again.
  ASSERT_TRUE(spool_->activate("FROMACTIVE"));
  EXPECT_EQ(std::vector<std::string>{"FROMACTIVE"}, namesIn(root_ / "active"));
  ASSERT_TRUE(spool_->hold("FROMACTIVE"));
  EXPECT_EQ(QueueState::hold, spool_->load("FROMACTIVE")->state);
}

TEST_F(QueueSpool, HoldRefusesUnknownAndInvalidIds) {
  EXPECT_EQ("not_found", spool_->hold("MISSING").error().code);
  EXPECT_EQ("invalid", spool_->hold("../active/X").error().code);
  EXPECT_EQ("invalid", spool_->hold("").error().code);
  commit("GONE");
  ASSERT_TRUE(spool_->remove("GONE"));
  EXPECT_EQ("not_found", spool_->hold("GONE").error().code);
}

TEST_F(QueueSpool, ListsEachStateSorted) {
  for (auto list : {QueueState::active, QueueState::deferred, QueueState::hold}) {
    auto names = spool_->list(list);
    ASSERT_TRUE(names) << names.error().message;
    EXPECT_TRUE(names->empty());
  }
  commit("C3");
  commit("A1");
  commit("B2");
  commit("D4");
  commit("E5");
  ASSERT_TRUE(spool_->defer("D4", "451 later", system_clock::now() + minutes(5)));
  ASSERT_TRUE(spool_->defer("B2", "451 later", system_clock::now() + minutes(5)));
  ASSERT_TRUE(spool_->hold("E5"));
  EXPECT_EQ((std::vector<std::string>{"A1", "C3"}), spool_->list(QueueState::active).value());
  EXPECT_EQ((std::vector<std::string>{"B2", "D4"}), spool_->list(QueueState::deferred).value());
  EXPECT_EQ(std::vector<std::string>{"E5"}, spool_->list(QueueState::hold).value());

  // A stray name that is not a queue id (an editor's backup, a dot file) is not a message.
  writeFile(root_ / "active" / ".A1.swp", "x");
  writeFile(root_ / "hold" / "E5~old", "x");
  EXPECT_EQ((std::vector<std::string>{"A1", "C3"}), spool_->list(QueueState::active).value());
  EXPECT_EQ(std::vector<std::string>{"E5"}, spool_->list(QueueState::hold).value());
  // Incoming files are not committed messages, and are never listed as one.
  writeFile(root_ / "incoming" / "F6", "partial");
  EXPECT_EQ((std::vector<std::string>{"A1", "C3"}), spool_->list(QueueState::active).value());
}

TEST_F(QueueSpool, InspectReadsWithoutRepairing) {
  commit("LOOK", "Subject: look\r\n\r\nbody\r\n");
  ASSERT_TRUE(spool_->defer("LOOK", "451 later", system_clock::now() + minutes(5)));
  std::string data;
  auto inspected = spool_->inspect("LOOK", &data);
  ASSERT_TRUE(inspected) << inspected.error().message;
  EXPECT_EQ(QueueState::deferred, inspected->state);
  EXPECT_EQ(1u, inspected->attempts);
  EXPECT_EQ("451 later", inspected->last_reason);
  EXPECT_EQ("sender@example.org", inspected->envelope.sender);
  EXPECT_EQ(3u, inspected->envelope.recipients.size());
  EXPECT_EQ("Subject: look\r\n\r\nbody\r\n", data);
  EXPECT_TRUE(spool_->inspect("LOOK", nullptr));

  // An append in progress (here: half a record) is not cut off: the file stays as it is.
  const fs::path path = root_ / "deferred" / "LOOK";
  const std::string whole = readFile(path);
  writeFile(path, whole + std::string("\x02\x00\x00", 3));
  inspected = spool_->inspect("LOOK", nullptr);
  ASSERT_TRUE(inspected) << inspected.error().message;
  EXPECT_EQ(1u, inspected->attempts);
  EXPECT_EQ(whole.size() + 3, fs::file_size(path));

  // A damaged file is reported and left where it is (recovery or load() deals with it).
  writeFile(root_ / "active" / "BROKEN", "not a queue file");
  EXPECT_EQ("corrupt", spool_->inspect("BROKEN", nullptr).error().code);
  EXPECT_TRUE(fs::exists(root_ / "active" / "BROKEN"));
  EXPECT_TRUE(namesIn(root_ / "corrupt").empty());

  EXPECT_EQ("not_found", spool_->inspect("MISSING", nullptr).error().code);
  EXPECT_EQ("invalid", spool_->inspect("../x", nullptr).error().code);
}

TEST_F(QueueSpool, RecoveryRemovesIncomingAndSortsOutDamage) {
  commit("ACTIVE1");
  commit("DEFERRED1");
  ASSERT_TRUE(spool_->defer("DEFERRED1", "451", system_clock::now() + hours(1)));
  commit("HELD1");
  fs::rename(root_ / "active" / "HELD1", root_ / "hold" / "HELD1");

  // A checksum failure in the data.
  commit("FLIPPED");
  std::string flipped = readFile(root_ / "active" / "FLIPPED");
  flipped[flipped.size() - 30] ^= 0x04;
  writeFile(root_ / "active" / "FLIPPED", flipped);

  // Cut before the end-of-commit marker.
  commit("SHORT");
  ASSERT_TRUE(spool_->defer("SHORT", "451", system_clock::now()));
  std::string shortened = readFile(root_ / "deferred" / "SHORT");
  writeFile(root_ / "deferred" / "SHORT", shortened.substr(0, shortened.size() / 2));

  writeFile(root_ / "active" / "MAGIC", "From alice@example.org Tue Nov 24\n");
  writeFile(root_ / "active" / "junk.tmp", "editor backup");

  // A file renamed by hand: its queue id record says something else.
  commit("NAMED");
  fs::rename(root_ / "active" / "NAMED", root_ / "active" / "RENAMED");

  // A crash in the middle of an append: half a record after the last good one.
  commit("TORN");
  ASSERT_TRUE(spool_->recordRecipient("TORN", 0, RecipientStatus::delivered, "250 ok", true));
  std::string good = readFile(root_ / "active" / "TORN");
  std::string next = encodeRecipientStatus(1, RecipientStatus::delivered, "250 ok");
  writeFile(root_ / "active" / "TORN", good + next.substr(0, next.size() - 3));

  // A crash before the rename: never acknowledged.
  writeFile(root_ / "incoming" / "HALFWAY", "BWKQUEUE\x01");

  auto report = spool_->recover();
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ((std::vector<std::string>{"ACTIVE1", "DEFERRED1", "TORN"}), report->active);
  EXPECT_EQ(std::vector<std::string>{"HALFWAY"}, report->discarded);
  std::vector<std::string> corrupt = report->corrupt;
  std::sort(corrupt.begin(), corrupt.end());
  EXPECT_EQ((std::vector<std::string>{"FLIPPED", "MAGIC", "RENAMED", "SHORT", "junk.tmp"}),
            corrupt);

  EXPECT_TRUE(namesIn(root_ / "incoming").empty());
  EXPECT_EQ((std::vector<std::string>{"FLIPPED", "MAGIC", "RENAMED", "SHORT", "junk.tmp"}),
            namesIn(root_ / "corrupt"));
  EXPECT_EQ(flipped, readFile(root_ / "corrupt" / "FLIPPED")) << "kept as found, for a human";
  EXPECT_EQ((std::vector<std::string>{"ACTIVE1", "TORN"}), namesIn(root_ / "active"));
  EXPECT_EQ(std::vector<std::string>{"DEFERRED1"}, namesIn(root_ / "deferred"));
  EXPECT_EQ(std::vector<std::string>{"HELD1"}, namesIn(root_ / "hold"));

  EXPECT_EQ(good, readFile(root_ / "active" / "TORN")) << "cut back to the last good record";
  auto torn = spool_->load("TORN");
  ASSERT_TRUE(torn);
  EXPECT_EQ(RecipientStatus::delivered, torn->envelope.recipients[0].status);
  EXPECT_EQ(RecipientStatus::pending, torn->envelope.recipients[1].status);
  ASSERT_TRUE(spool_->recordRecipient("TORN", 1, RecipientStatus::failed, "550", true));
  EXPECT_EQ(RecipientStatus::failed, spool_->load("TORN")->envelope.recipients[1].status);

  auto again = spool_->recover();
  ASSERT_TRUE(again);
  EXPECT_EQ(report->active, again->active);
  EXPECT_TRUE(again->corrupt.empty());
  EXPECT_TRUE(again->discarded.empty());
}

TEST_F(QueueSpool, CorruptNamesDoNotCollide) {
  for (int round = 0; round < 3; ++round) {
    writeFile(root_ / "active" / "SAME", "garbage");
    auto report = spool_->recover();
    ASSERT_TRUE(report);
    EXPECT_EQ(std::vector<std::string>{"SAME"}, report->corrupt);
  }
  EXPECT_EQ((std::vector<std::string>{"SAME", "SAME.1", "SAME.2"}), namesIn(root_ / "corrupt"));
}

TEST_F(QueueSpool, LoadMovesADamagedFileToCorrupt) {
  commit("BAD");
  std::string bytes = readFile(root_ / "active" / "BAD");
  bytes[20] ^= 0x01;
  writeFile(root_ / "active" / "BAD", bytes);
  auto loaded = spool_->load("BAD");
  ASSERT_FALSE(loaded);
  EXPECT_EQ("corrupt", loaded.error().code);
  EXPECT_NE(std::string::npos, loaded.error().message.find("checksum mismatch"));
  EXPECT_NE(std::string::npos, loaded.error().message.find("moved to corrupt/BAD"));
  EXPECT_EQ(std::vector<std::string>{"BAD"}, namesIn(root_ / "corrupt"));
  EXPECT_EQ("not_found", spool_->load("BAD").error().code);
}

TEST_F(QueueSpool, LoadCutsATornAppendBeforeTheNextAppend) {
  commit("REPAIR");
  std::string good = readFile(root_ / "active" / "REPAIR");
  writeFile(root_ / "active" / "REPAIR", good + std::string(7, '\0'));
  auto loaded = spool_->load("REPAIR");
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(good, readFile(root_ / "active" / "REPAIR"));
  ASSERT_TRUE(spool_->recordRecipient("REPAIR", 2, RecipientStatus::delivered, "250", false));
  EXPECT_EQ(RecipientStatus::delivered, spool_->load("REPAIR")->envelope.recipients[2].status);
}

TEST_F(QueueSpool, ConcurrentCommitsAreAllLoadable) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 200;
  std::vector<std::vector<std::string>> ids(kThreads);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int thread = 0; thread < kThreads; ++thread) {
    threads.emplace_back([&, thread] {
      for (int index = 0; index < kPerThread; ++index) {
        std::string id = newQueueId();
        std::string data = "Subject: " + id + "\r\n\r\n" + std::string(100 + index, 'z');
        if (!spool_->commit(makeEnvelope(id, data), data)) ++failures;
        ids[static_cast<std::size_t>(thread)].push_back(id);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  ASSERT_EQ(0, failures.load());
  std::vector<std::string> all;
  for (const auto& list : ids) {
    for (const std::string& id : list) {
      auto loaded = spool_->load(id);
      ASSERT_TRUE(loaded) << loaded.error().message;
      EXPECT_EQ(id, loaded->envelope.queue_id);
      auto data = spool_->readData(id);
      ASSERT_TRUE(data);
      EXPECT_EQ("Subject: " + id + "\r\n", data->substr(0, 11 + id.size()));
      all.push_back(id);
    }
  }
  std::sort(all.begin(), all.end());
  auto report = spool_->recover();
  ASSERT_TRUE(report);
  EXPECT_EQ(all, report->active);
  EXPECT_TRUE(report->corrupt.empty());
}

TEST_F(QueueSpool, ReportsFreeBytes) {
  EXPECT_GT(spool_->freeBytes(), 0u);
}

}  // namespace
}  // namespace bulwark::queue
