// SMTP smuggling conformance (RFC 5321 2.3.8, 4.1.1.4; CVE-2023-51764..51766): the derived payloads
// of $BULWARK_TESTDATA/smtp/smuggling (SOURCES.md "smtp/smuggling"), read in place, must each end
// exactly one DATA at the real CRLF.CRLF; plus GMime's dot-stuffing pair, decoded back.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "smtp/proto/command.h"
#include "smtp/proto/data_decoder.h"
#include "support/testdata.h"

namespace bulwark::smtp {
namespace {

namespace fs = std::filesystem;
using testing::readFile;
using testing::testdataRoot;
using testing::withCrlf;

constexpr ContentLimits kLimits{1 << 20, 1000, 1 << 16};
constexpr std::string_view kPipelined = "MAIL FROM:<x@y>\r\n";

// Written independently of the decoder: a LF without CR before it, or a CR without LF after it.
bool hasBareLineEnding(std::string_view bytes) {
  for (std::size_t index = 0; index < bytes.size(); ++index) {
    if (bytes[index] == '\n' && (index == 0 || bytes[index - 1] != '\r')) return true;
    if (bytes[index] == '\r' && (index + 1 == bytes.size() || bytes[index + 1] != '\n')) {
      return true;
    }
  }
  return false;
}

TEST(SmugglingConformance, EveryPayloadIsOneMessage) {
  const fs::path folder = testdataRoot() / "smtp" / "smuggling" / "inbound-payloads";
  BULWARK_REQUIRE_FOLDER(folder);
  std::vector<fs::path> payloads;
  for (const fs::directory_entry& entry : fs::directory_iterator(folder)) {
    if (entry.path().extension() == ".bin") payloads.push_back(entry.path());
  }
  std::sort(payloads.begin(), payloads.end());
  ASSERT_EQ(payloads.size(), 12u);

  int with_bare_line_ending = 0;
  for (const fs::path& path : payloads) {
    SCOPED_TRACE(path.filename().string());
    const std::string payload = readFile(path);
    ASSERT_GE(payload.size(), 5u);
    ASSERT_EQ(payload.substr(payload.size() - 5), "\r\n.\r\n");
    const bool bare = hasBareLineEnding(payload);
    with_bare_line_ending += bare ? 1 : 0;
    const std::string stream = payload + std::string(kPipelined);

    // All at once: DATA ends at the real end marker, and the pipelined command is left over.
    DataDecoder decoder(kLimits);
    const std::size_t consumed = decoder.feed(stream);
    EXPECT_TRUE(decoder.finished());
    EXPECT_EQ(consumed, payload.size());
    EXPECT_EQ(decoder.content().problem(),
              bare ? ContentProblem::bare_line_ending : ContentProblem::none);
    if (!bare) {
      // Accepted: the smuggled transaction is message text, not commands.
      EXPECT_NE(decoder.content().content().find("mail FROM:<smuggled@sender.example>"),
                std::string::npos);
    }
    const std::string_view left_over = std::string_view(stream).substr(consumed);
    ASSERT_EQ(left_over, kPipelined);
    const auto command = parseCommand(left_over.substr(0, left_over.size() - 2));
    ASSERT_TRUE(command.has_value());
    EXPECT_EQ(command->verb, Verb::mail);

    // One byte at a time: finished exactly once, on the last byte of the payload.
    DataDecoder bytewise(kLimits);
    std::size_t finished_at = 0;
    for (std::size_t index = 0; index < stream.size(); ++index) {
      const bool was_finished = bytewise.finished();
      const std::size_t used = bytewise.feed(std::string_view(stream).substr(index, 1));
      EXPECT_EQ(used, was_finished ? 0u : 1u);
      if (!was_finished && bytewise.finished()) finished_at = index + 1;
    }
    EXPECT_EQ(finished_at, payload.size());
    EXPECT_EQ(bytewise.content().problem(), decoder.content().problem());
    EXPECT_EQ(bytewise.content().content(), decoder.content().content());
  }
  // The two NUL variants have only CRLF line endings; the other ten smuggle with bare CR or LF.
  EXPECT_EQ(with_bare_line_ending, 10);
}

TEST(DotStuffingConformance, GmimeStuffedOutputDecodesToInput) {
  const fs::path folder = testdataRoot() / "smtp" / "dot-stuffing" / "gmime";
  BULWARK_REQUIRE_FOLDER(folder);
  const std::string input = readFile(folder / "smtp-input.txt");
  const std::string output = readFile(folder / "smtp-output.txt");
  ASSERT_EQ(input.find('\r'), std::string::npos);
  ASSERT_EQ(output.find('\r'), std::string::npos);
  ASSERT_NE(input, output);  // the pair must actually exercise stuffing

  const std::string expected = withCrlf(input);
  const std::string stream = withCrlf(output) + ".\r\n";
  DataDecoder decoder(kLimits);
  EXPECT_EQ(decoder.feed(stream), stream.size());
  EXPECT_TRUE(decoder.finished());
  EXPECT_EQ(decoder.content().problem(), ContentProblem::none);
  EXPECT_EQ(decoder.content().content(), expected);

  DataDecoder bytewise(kLimits);
  for (char c : stream) bytewise.feed(std::string_view(&c, 1));
  EXPECT_TRUE(bytewise.finished());
  EXPECT_EQ(bytewise.content().content(), expected);
}

}  // namespace
}  // namespace bulwark::smtp
