// The message content on the wire (smtp_client.h, wire_body.h) against a scripted server on
// loopback: BDAT when CHUNKING is offered (exact octets, no dot-stuffing, bounded chunks, every
// reply class, a lost connection), DATA otherwise or when switched off; conversion to 7 bit only
// when the message is 8-bit and the server lacks 8BITMIME, 5.6.3 when it cannot be converted.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "smtp/client/smtp_client.h"
#include "smtp/client/wire_body.h"
#include "support/fake_smtp_server.h"

namespace bulwark::smtp {
namespace {

using test::FakeSmtpConnection;
using test::FakeSmtpServer;

ClientEndpoint endpointFor(const FakeSmtpServer& server) {
  return ClientEndpoint{"mx.example.test", "127.0.0.1", server.port()};
}

ClientSettings plainSettings() {
  ClientSettings settings;
  settings.helo_name = "client.example.test";
  settings.tls = TlsLevel::none;
  settings.connect_timeout = std::chrono::seconds(5);
  settings.command_timeout = std::chrono::seconds(5);
  return settings;
}

OutboundMessage message(std::vector<std::string> recipients, std::string_view data,
                        std::string body_type = "7BIT") {
  OutboundMessage message;
  message.sender = "sender@example.org";
  for (auto& address : recipients) message.recipients.push_back({address, "", 0});
  message.body_type = std::move(body_type);
  message.data = data;
  return message;
}

void greetAndEhlo(FakeSmtpConnection& connection, const std::vector<std::string>& capabilities) {
  connection.send("220 mx.example.test ESMTP fake\r\n");
  if (!connection.expect("EHLO client.example.test")) return;
  std::string reply = "250-mx.example.test\r\n";
  for (const auto& capability : capabilities) reply += "250-" + capability + "\r\n";
  connection.send(reply + "250 HELP\r\n");
}

// One BDAT command and its chunk: the command line and the octets it announced.
struct Chunk {
  std::string command;
  std::string bytes;
  bool last = false;
};

Chunk readChunk(FakeSmtpConnection& connection) {
  Chunk chunk;
  chunk.command = connection.readLine();
  if (chunk.command.rfind("BDAT ", 0) != 0) return chunk;
  const std::size_t size = std::stoul(chunk.command.substr(5));
  chunk.last = chunk.command.ends_with(" LAST");
  chunk.bytes = connection.readBytes(size);
  return chunk;
}

// A message with everything DATA would change: lines starting with dots, a lone dot line.
constexpr std::string_view kDotty =
    "Subject: dots\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nmiddle.dot\r\n";

TEST(ChunkingTest, BdatCarriesTheExactOctetsWithoutDotStuffing) {
  Chunk chunk;
  std::string group;
  FakeSmtpServer server([&](FakeSmtpConnection& connection) {
    greetAndEhlo(connection, {"PIPELINING", "CHUNKING", "8BITMIME", "SIZE 100000"});
    // MAIL and RCPT come as one group; the content only after their replies.
    group = connection.readLine();
    group += "|" + connection.readLine();
    connection.send("250 2.1.0 OK\r\n250 2.1.5 OK\r\n");
    chunk = readChunk(connection);
    connection.send("250 2.0.0 queued as 77\r\n");
    connection.answerUntilClose();
  });
  AttemptResult result =
      deliverMessage(endpointFor(server), plainSettings(), message({"a@example.test"}, kDotty));
  server.join();
  EXPECT_EQ(result.session.code, 250) << result.session.render();
  EXPECT_EQ(group, "MAIL FROM:<sender@example.org> SIZE=" + std::to_string(kDotty.size()) +
                       "|RCPT TO:<a@example.test>");
  EXPECT_EQ(chunk.command, "BDAT " + std::to_string(kDotty.size()) + " LAST");
  EXPECT_EQ(chunk.bytes, kDotty);
  ASSERT_EQ(result.recipients.size(), 1u);
  EXPECT_EQ(result.recipients[0].lines.at(0), "queued as 77");
  EXPECT_EQ(result.evidence.transfer, "BDAT");
  EXPECT_FALSE(result.evidence.converted_to_7bit);
  EXPECT_EQ(server.transcript().find("DATA"), std::string::npos) << server.transcript();
}

TEST(ChunkingTest, BareLineEndingsBecomeCrlfAndTheSizeCountsThem) {
  Chunk chunk;
  FakeSmtpServer server([&](FakeSmtpConnection& connection) {
    greetAndEhlo(connection, {"CHUNKING"});
    if (!connection.expect("MAIL FROM:<sender@example.org>")) return;
    connection.send("250 OK\r\n");
    if (!connection.expect("RCPT TO:<a@example.test>")) return;
    connection.send("250 OK\r\n");
    chunk = readChunk(connection);
    connection.send("250 done\r\n");
    connection.answerUntilClose();
  });
  AttemptResult result = deliverMessage(endpointFor(server), plainSettings(),
                                        message({"a@example.test"}, "bare lf\nbare cr\rno end"));
  server.join();
  EXPECT_EQ(result.session.code, 250);
  EXPECT_EQ(chunk.command, "BDAT 26 LAST");
  EXPECT_EQ(chunk.bytes, "bare lf\r\nbare cr\r\nno end\r\n");
}

TEST(ChunkingTest, DataWhenNotOfferedOrSwitchedOff) {
  for (bool offered : {false, true}) {
    SCOPED_TRACE(offered ? "offered, switched off" : "not offered");
    std::string received;
    FakeSmtpServer server([&](FakeSmtpConnection& connection) {
      greetAndEhlo(connection, offered ? std::vector<std::string>{"CHUNKING", "PIPELINING"}
                                       : std::vector<std::string>{"PIPELINING"});
      for (int line = 0; line < 3; ++line) connection.readLine();
      connection.send("250 OK\r\n250 OK\r\n354 go\r\n");
      received = connection.readData();
      connection.send("250 done\r\n");
      connection.answerUntilClose();
    });
    ClientSettings settings = plainSettings();
    settings.chunking = !offered;  // not offered: the setting alone changes nothing
    AttemptResult result =
        deliverMessage(endpointFor(server), settings, message({"a@example.test"}, kDotty));
    server.join();
    EXPECT_EQ(result.session.code, 250);
    EXPECT_EQ(received,
              "Subject: dots\r\n\r\n..leading dot\r\n...two dots\r\n..\r\n"
              "middle.dot\r\n.\r\n");
    EXPECT_EQ(result.evidence.transfer, "DATA");
    EXPECT_EQ(server.transcript().find("BDAT"), std::string::npos);
  }
}

TEST(ChunkingTest, ChunksOfTheConfiguredSizeTheLastOneSaysLast) {
  const std::string data = "0123456789abcdefghijKLMNO\r\n";  // 27 octets: 10 + 10 + 7
  std::vector<Chunk> chunks;
  FakeSmtpServer server([&](FakeSmtpConnection& connection) {
    greetAndEhlo(connection, {"CHUNKING"});
    for (const char* reply : {"250 OK\r\n", "250 OK\r\n"}) {
      connection.readLine();
      connection.send(reply);
    }
    do {
      chunks.push_back(readChunk(connection));
      connection.send(chunks.back().last ? "250 2.0.0 all of it\r\n" : "250 2.0.0 so far\r\n");
    } while (!chunks.back().last && !chunks.back().command.empty() && chunks.size() < 10);
    connection.answerUntilClose();
  });
  ClientSettings settings = plainSettings();
  settings.chunk_size = 10;
  AttemptResult result =
      deliverMessage(endpointFor(server), settings, message({"a@example.test"}, data));
  server.join();
  EXPECT_EQ(result.session.code, 250);
  EXPECT_EQ(result.session.lines.at(0), "all of it");
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].command, "BDAT 10");
  EXPECT_EQ(chunks[1].command, "BDAT 10");
  EXPECT_EQ(chunks[2].command, "BDAT 7 LAST");
  EXPECT_EQ(chunks[0].bytes + chunks[1].bytes + chunks[2].bytes, data);
}

TEST(ChunkingTest, PermanentRefusalOfAChunkStopsTheTransaction) {
  const std::string data(25, 'x');
  FakeSmtpServer server([&](FakeSmtpConnection& connection) {
    greetAndEhlo(connection, {"CHUNKING", "PIPELINING"});
    connection.readLine();
    connection.readLine();
    connection.readLine();
    connection.send("250 OK\r\n250 OK\r\n550 5.1.1 no such user\r\n");
    readChunk(connection);
    connection.send("250 2.0.0 so far\r\n");
    readChunk(connection);
    connection.send("552 5.3.4 message too big\r\n");
    connection
        .answerUntilClose();  // takes RSET and QUIT; a third chunk would show in the transcript
  });
  ClientSettings settings = plainSettings();
  settings.chunk_size = 10;
  AttemptResult result = deliverMessage(endpointFor(server), settings,
                                        message({"a@example.test", "b@example.test"}, data));
  server.join();
  EXPECT_EQ(result.session.code, 552);
  ASSERT_EQ(result.recipients.size(), 2u);
  EXPECT_EQ(result.recipients[0].code, 552);
  EXPECT_EQ(result.recipients[0].enhanced, "5.3.4");
  EXPECT_EQ(result.recipients[1].code, 550);  // refused at RCPT: keeps its own reply
  const std::string transcript = server.transcript();
  EXPECT_EQ(transcript.find("BDAT 5 LAST"), std::string::npos) << transcript;
  EXPECT_NE(transcript.find("xxxxxxxxxxRSET\r\nQUIT\r\n"), std::string::npos) << transcript;
}

TEST(ChunkingTest, TemporaryRefusalOfTheLastChunkDefers) {
  FakeSmtpServer server([&](FakeSmtpConnection& connection) {
    greetAndEhlo(connection, {"CHUNKING"});
    for (int command = 0; command < 2; ++command) {
      connection.readLine();
      connection.send("250 OK\r\n");
    }
    readChunk(connection);
    connection.send("452 4.3.1 insufficient storage\r\n");
    connection.answerUntilClose();
  });
  AttemptResult result =
      deliverMessage(endpointFor(server), plainSettings(), message({"a@example.test"}, kDotty));
  server.join();
  EXPECT_EQ(result.session.code, 452);
  ASSERT_EQ(result.recipients.size(), 1u);
  EXPECT_EQ(result.recipients[0].code, 452);
  EXPECT_EQ(result.recipients[0].enhanced, "4.3.1");
}

TEST(ChunkingTest, ConnectionLostInsideAChunkIsTransientForEveryAcceptedRecipient) {
  const std::string data(200000, 'y');
  FakeSmtpServer server([&](FakeSmtpConnection& connection) {
    greetAndEhlo(connection, {"CHUNKING", "PIPELINING"});
    connection.readLine();
    connection.readLine();
    connection.readLine();
    connection.send("250 OK\r\n250 OK\r\n250 OK\r\n");
    connection.readLine();       // BDAT 200000 LAST
    connection.readBytes(1000);  // then hang up in the middle of the chunk
  });
  AttemptResult result = deliverMessage(endpointFor(server), plainSettings(),
                                        message({"a@example.test", "b@example.test"}, data));
  server.join();
  EXPECT_EQ(result.session.code, 451) << result.session.render();
  EXPECT_EQ(result.session.enhanced, "4.4.2");
  ASSERT_EQ(result.recipients.size(), 2u);
  for (const Reply& reply : result.recipients) {
    EXPECT_EQ(reply.code, 451);
    EXPECT_EQ(reply.enhanced, "4.4.2");
  }
}

TEST(ChunkingTest, NoContentWhenEveryRecipientIsRefused) {
  FakeSmtpServer server([&](FakeSmtpConnection& connection) {
    greetAndEhlo(connection, {"CHUNKING", "PIPELINING"});
    connection.readLine();
    connection.readLine();
    connection.send("250 OK\r\n550 5.1.1 no such user\r\n");
    connection.answerUntilClose();
  });
  AttemptResult result =
      deliverMessage(endpointFor(server), plainSettings(), message({"a@example.test"}, kDotty));
  server.join();
  EXPECT_EQ(result.session.code, 550);
  ASSERT_EQ(result.recipients.size(), 1u);
  EXPECT_EQ(result.recipients[0].code, 550);
  EXPECT_EQ(server.transcript().find("BDAT"), std::string::npos) << server.transcript();
  EXPECT_EQ(result.evidence.transfer, "");
}

TEST(ChunkingTest, EmptyMessageIsOneEmptyLastChunk) {
  Chunk chunk;
  FakeSmtpServer server([&](FakeSmtpConnection& connection) {
    greetAndEhlo(connection, {"CHUNKING"});
    for (int command = 0; command < 2; ++command) {
      connection.readLine();
      connection.send("250 OK\r\n");
    }
    chunk = readChunk(connection);
    connection.send("250 OK\r\n");
    connection.answerUntilClose();
  });
  AttemptResult result =
      deliverMessage(endpointFor(server), plainSettings(), message({"a@example.test"}, ""));
  server.join();
  EXPECT_EQ(result.session.code, 250);
  EXPECT_EQ(chunk.command, "BDAT 0 LAST");
}

// ---- 8BITMIME and the conversion to 7 bit ----

constexpr std::string_view kEightBit =
    "Subject: hello\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n\r\nGr\xc3\xbc\xc3\x9f"
    "e\r\n.dot\r\n";
constexpr std::string_view kEightBitConverted =
    "Subject: hello\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe\r\n.dot\r\n";

// Runs one delivery to a server with `capabilities` that takes everything (DATA or BDAT, as
// offered); returns the MAIL command and the content as received (DATA still dot-stuffed).
struct Delivery {
  AttemptResult result;
  std::string mail;
  std::string content;
};

Delivery deliverTo(std::vector<std::string> capabilities, const OutboundMessage& outbound) {
  Delivery delivery;
  const bool chunking =
      std::find(capabilities.begin(), capabilities.end(), "CHUNKING") != capabilities.end();
  FakeSmtpServer server([&](FakeSmtpConnection& connection) {
    greetAndEhlo(connection, capabilities);
    delivery.mail = connection.readLine();
    connection.send("250 OK\r\n");
    if (!connection.expect("RCPT TO:")) return;
    connection.send("250 OK\r\n");
    if (chunking) {
      delivery.content = readChunk(connection).bytes;
    } else {
      if (!connection.expect("DATA")) return;
      connection.send("354 go\r\n");
      delivery.content = connection.readData();
    }
    connection.send("250 2.0.0 OK\r\n");
    connection.answerUntilClose();
  });
  delivery.result = deliverMessage(endpointFor(server), plainSettings(), outbound);
  server.join();
  return delivery;
}

TEST(EightBitTest, ConvertedForAServerWithout8BitMime) {
  Delivery delivery =
      deliverTo({"SIZE 100000"}, message({"a@example.test"}, kEightBit, "8BITMIME"));
  EXPECT_EQ(delivery.result.session.code, 250) << delivery.result.session.render();
  // DATA: dot-stuffed and terminated; no BODY= (the server knows none), SIZE of what was sent.
  EXPECT_EQ(delivery.content,
            "Subject: hello\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe\r\n..dot\r\n.\r\n");
  EXPECT_EQ(delivery.mail,
            "MAIL FROM:<sender@example.org> SIZE=" + std::to_string(kEightBitConverted.size()));
  EXPECT_TRUE(delivery.result.evidence.converted_to_7bit);
}

TEST(EightBitTest, ConvertedAndSentWithBdat) {
  Delivery delivery =
      deliverTo({"CHUNKING", "PIPELINING"}, message({"a@example.test"}, kEightBit, "8BITMIME"));
  EXPECT_EQ(delivery.result.session.code, 250);
  EXPECT_EQ(delivery.content, kEightBitConverted);
  EXPECT_EQ(delivery.result.evidence.transfer, "BDAT");
  EXPECT_TRUE(delivery.result.evidence.converted_to_7bit);
}

TEST(EightBitTest, SentAsIsToAServerWith8BitMime) {
  Delivery delivery =
      deliverTo({"8BITMIME", "CHUNKING"}, message({"a@example.test"}, kEightBit, "8BITMIME"));
  EXPECT_EQ(delivery.result.session.code, 250);
  EXPECT_EQ(delivery.content, kEightBit);
  EXPECT_EQ(delivery.mail, "MAIL FROM:<sender@example.org> BODY=8BITMIME");
  EXPECT_FALSE(delivery.result.evidence.converted_to_7bit);
}

TEST(EightBitTest, UndeclaredEightBitOctetsStillAnnounceBody8BitMime) {
  // BODY=7BIT (or none) with 8-bit octets: RFC 6152 wants BODY=8BITMIME for what is sent.
  Delivery delivery = deliverTo({"8BITMIME"}, message({"a@example.test"}, kEightBit, "7BIT"));
  EXPECT_EQ(delivery.mail, "MAIL FROM:<sender@example.org> BODY=8BITMIME");
  // And to a server without 8BITMIME they are converted all the same.
  Delivery plain = deliverTo({"CHUNKING"}, message({"a@example.test"}, kEightBit, "7BIT"));
  EXPECT_EQ(plain.content, kEightBitConverted);
}

TEST(EightBitTest, SevenBitContentIsUnchangedByteForByte) {
  // Declared 8BITMIME but 7-bit octets only: nothing to convert.
  Delivery delivery =
      deliverTo({"CHUNKING"}, message({"a@example.test"}, kEightBitConverted, "8BITMIME"));
  EXPECT_EQ(delivery.result.session.code, 250);
  EXPECT_EQ(delivery.content, kEightBitConverted);
  EXPECT_EQ(delivery.mail, "MAIL FROM:<sender@example.org>");
  EXPECT_FALSE(delivery.result.evidence.converted_to_7bit);
}

TEST(EightBitTest, EightBitHeaderCannotBeConvertedAndFailsEveryRecipient) {
  FakeSmtpServer server([&](FakeSmtpConnection& connection) {
    greetAndEhlo(connection, {"PIPELINING", "CHUNKING"});
    connection.answerUntilClose();
  });
  const std::string data =
      "Subject: Gr\xc3\xbc\xc3\x9f"
      "e\r\n\r\nbody\r\n";
  AttemptResult result =
      deliverMessage(endpointFor(server), plainSettings(),
                     message({"a@example.test", "b@example.test"}, data, "8BITMIME"));
  server.join();
  EXPECT_EQ(result.session.code, 554);
  EXPECT_EQ(result.session.enhanced, "5.6.3");
  EXPECT_NE(result.session.lines.at(0).find("8-bit octets in the header field Subject"),
            std::string::npos)
      << result.session.render();
  ASSERT_EQ(result.recipients.size(), 2u);
  for (const Reply& reply : result.recipients) EXPECT_EQ(reply.enhanced, "5.6.3");
  // Nothing of the transaction was sent.
  EXPECT_EQ(server.transcript().find("MAIL FROM"), std::string::npos) << server.transcript();
}

// ---- the preparation on its own ----

TEST(WireBodyTest, LineEndings) {
  EXPECT_TRUE(hasCrlfLineEndings(""));
  EXPECT_TRUE(hasCrlfLineEndings("a\r\nb\r\n"));
  EXPECT_FALSE(hasCrlfLineEndings("a\r\nb"));
  EXPECT_FALSE(hasCrlfLineEndings("a\nb\r\n"));
  EXPECT_FALSE(hasCrlfLineEndings("a\rb\r\n"));
  EXPECT_FALSE(hasCrlfLineEndings("a\r"));
  EXPECT_EQ(withCrlfLineEndings("a\nb\rc\r\n\n\rd"), "a\r\nb\r\nc\r\n\r\n\r\nd\r\n");
  EXPECT_EQ(withCrlfLineEndings(""), "");
}

TEST(WireBodyTest, StoredBytesAreUsedWhenNothingChanges) {
  const std::string stored = "Subject: x\r\n\r\nbody\r\n";
  auto body = prepareWireBody(stored, false, false, true);
  ASSERT_TRUE(body.has_value());
  EXPECT_EQ(body->bytes().data(), stored.data());  // no copy
  EXPECT_FALSE(body->eightBit());
  auto bare = prepareWireBody("Subject: x\n\nbody", false, false, true);
  ASSERT_TRUE(bare.has_value());
  EXPECT_EQ(bare->bytes(), "Subject: x\r\n\r\nbody\r\n");
  auto for_data = prepareWireBody("Subject: x\n\nbody", false, false, false);
  ASSERT_TRUE(for_data.has_value());
  EXPECT_EQ(for_data->bytes(), "Subject: x\n\nbody");  // DATA encodes line endings itself
}

TEST(WireBodyTest, ConversionReadsBareLineEndings) {
  auto body = prepareWireBody("Subject: x\n\n\xc3\xa9\n", true, false, false);
  ASSERT_TRUE(body.has_value());
  EXPECT_TRUE(body->converted());
  EXPECT_FALSE(body->eightBit());
  EXPECT_EQ(body->bytes(),
            "Subject: x\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=unknown-8bit\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n=C3=A9\r\n");
}

}  // namespace
}  // namespace bulwark::smtp
