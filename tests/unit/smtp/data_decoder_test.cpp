// Tests for DATA decoding and content checks: the end marker and nothing else ends DATA, dot
// unstuffing, every split of the input gives the same result, pipelined bytes are left over, and
// each ContentProblem at its limit and one byte past it.
#include "smtp/proto/data_decoder.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace bulwark::smtp {
namespace {

constexpr ContentLimits kRoomy{1 << 20, 1000, 1 << 16};

struct Outcome {
  bool finished = false;
  std::size_t consumed = 0;
  ContentProblem problem = ContentProblem::none;
  std::uint64_t size = 0;
  std::string content;

  bool operator==(const Outcome&) const = default;
};

std::ostream& operator<<(std::ostream& out, const Outcome& outcome) {
  return out << "{finished=" << outcome.finished << " consumed=" << outcome.consumed
             << " problem=" << static_cast<int>(outcome.problem) << " size=" << outcome.size
             << " content=" << ::testing::PrintToString(outcome.content) << "}";
}

Outcome outcomeOf(DataDecoder& decoder, std::size_t consumed) {
  return {decoder.finished(), consumed, decoder.content().problem(), decoder.content().size(),
          decoder.content().content()};
}

Outcome decodeAtOnce(std::string_view input, ContentLimits limits = kRoomy) {
  DataDecoder decoder(limits);
  const std::size_t consumed = decoder.feed(input);
  return outcomeOf(decoder, consumed);
}

// Feeds `input` in pieces ending at each of `cuts`, then the rest, as a network would deliver it.
Outcome decodeInPieces(std::string_view input, const std::vector<std::size_t>& cuts,
                       ContentLimits limits = kRoomy) {
  DataDecoder decoder(limits);
  std::size_t start = 0;
  std::size_t consumed = 0;
  std::vector<std::size_t> ends = cuts;
  ends.push_back(input.size());
  for (std::size_t end : ends) {
    const std::string_view piece = input.substr(start, end - start);
    const std::size_t used = decoder.feed(piece);
    consumed += used;
    if (!decoder.finished()) {
      EXPECT_EQ(used, piece.size());
    }
    start = end;
  }
  return outcomeOf(decoder, consumed);
}

Outcome decodeBytewise(std::string_view input, ContentLimits limits = kRoomy) {
  std::vector<std::size_t> cuts;
  for (std::size_t cut = 1; cut < input.size(); ++cut) cuts.push_back(cut);
  return decodeInPieces(input, cuts, limits);
}

TEST(DataDecoder, SimpleMessage) {
  const Outcome outcome = decodeAtOnce("Subject: hi\r\n\r\nbody\r\n.\r\n");
  EXPECT_TRUE(outcome.finished);
  EXPECT_EQ(outcome.consumed, 24u);
  EXPECT_EQ(outcome.problem, ContentProblem::none);
  EXPECT_EQ(outcome.content, "Subject: hi\r\n\r\nbody\r\n");
  EXPECT_EQ(outcome.size, outcome.content.size());
}

TEST(DataDecoder, EmptyMessage) {
  const Outcome outcome = decodeAtOnce(".\r\n");
  EXPECT_TRUE(outcome.finished);
  EXPECT_EQ(outcome.consumed, 3u);
  EXPECT_EQ(outcome.content, "");
  EXPECT_EQ(outcome.size, 0u);
  EXPECT_EQ(outcome.problem, ContentProblem::none);
}

TEST(DataDecoder, MessageOfOneEmptyLine) {
  const Outcome outcome = decodeAtOnce("\r\n.\r\n");
  EXPECT_TRUE(outcome.finished);
  EXPECT_EQ(outcome.content, "\r\n");
}

TEST(DataDecoder, NeedsMoreUntilTheEndMarker) {
  DataDecoder decoder(kRoomy);
  EXPECT_EQ(decoder.feed("Subject: x\r\n\r\nbody\r\n"), 20u);
  EXPECT_FALSE(decoder.finished());
  EXPECT_EQ(decoder.feed("."), 1u);
  EXPECT_FALSE(decoder.finished());
  EXPECT_EQ(decoder.feed("\r"), 1u);
  EXPECT_FALSE(decoder.finished());
  EXPECT_EQ(decoder.feed("\n"), 1u);
  EXPECT_TRUE(decoder.finished());
  EXPECT_EQ(decoder.content().content(), "Subject: x\r\n\r\nbody\r\n");
}

TEST(DataDecoder, DotUnstuffing) {
  const Outcome outcome = decodeAtOnce("..\r\n...\r\n.x\r\n..y\r\na.b\r\n .\r\n.\r.\r\n.\r\n");
  EXPECT_TRUE(outcome.finished);
  // ".\r." is not an end marker; its CR is bare, so this one also shows a problem.
  EXPECT_EQ(outcome.problem, ContentProblem::bare_line_ending);
  const Outcome clean = decodeAtOnce("..\r\n...\r\n.x\r\n..y\r\na.b\r\n .\r\n.\r\n");
  EXPECT_TRUE(clean.finished);
  EXPECT_EQ(clean.problem, ContentProblem::none);
  EXPECT_EQ(clean.content, ".\r\n..\r\nx\r\n.y\r\na.b\r\n .\r\n");
  EXPECT_EQ(clean.size, clean.content.size());
}

TEST(DataDecoder, SizeCountsBytesAfterUnstuffing) {
  const Outcome outcome = decodeAtOnce("..a\r\n.\r\n");
  EXPECT_EQ(outcome.content, ".a\r\n");
  EXPECT_EQ(outcome.size, 4u);
}

TEST(DataDecoder, PipelinedBytesAreLeftOver) {
  const std::string input = "body\r\n.\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n";
  DataDecoder decoder(kRoomy);
  EXPECT_EQ(decoder.feed(input), 9u);
  EXPECT_TRUE(decoder.finished());
  EXPECT_EQ(decoder.content().content(), "body\r\n");
  EXPECT_EQ(decoder.feed(input.substr(9)), 0u);  // finished: consumes nothing more
  EXPECT_EQ(decoder.content().content(), "body\r\n");
}

TEST(DataDecoder, EndMarkerNeedsCrlfBeforeAndAfter) {
  for (const char* fake :
       {"a\n.\nb\r\n", "a\n.\r\nb\r\n", "a\r.\r\nb\r\n", "a\r\n.\nb\r\n", "a\r\n.\rb\r\n",
        "a\r\n.\r\r\nb\r\n", "a.\r\nb\r\n", "a\r\n. \r\nb\r\n"}) {
    const std::string input = std::string(fake) + ".\r\nNEXT";
    const Outcome outcome = decodeAtOnce(input);
    EXPECT_TRUE(outcome.finished) << ::testing::PrintToString(input);
    EXPECT_EQ(outcome.consumed, input.size() - 4) << ::testing::PrintToString(input);
  }
}

TEST(DataDecoder, EndMarkerWithNulBeforeDotIsNotAnEnd) {
  const std::string input("a\r\n\0.\r\nb\r\n.\r\n", 13);
  const Outcome outcome = decodeAtOnce(input);
  EXPECT_TRUE(outcome.finished);
  EXPECT_EQ(outcome.consumed, input.size());
  EXPECT_EQ(outcome.problem, ContentProblem::none);
  EXPECT_EQ(outcome.content, std::string("a\r\n\0.\r\nb\r\n", 10));
}

TEST(DataDecoder, BareLineFeedIsFlagged) {
  const Outcome outcome = decodeAtOnce("a\nb\r\n.\r\n");
  EXPECT_TRUE(outcome.finished);
  EXPECT_EQ(outcome.problem, ContentProblem::bare_line_ending);
  EXPECT_EQ(outcome.content, "");  // not stored after a problem
  EXPECT_EQ(outcome.size, 5u);     // but still counted
}

TEST(DataDecoder, BareLineFeedAtStartIsFlagged) {
  EXPECT_EQ(decodeAtOnce("\nb\r\n.\r\n").problem, ContentProblem::bare_line_ending);
  EXPECT_EQ(decodeAtOnce("a\r\n\nb\r\n.\r\n").problem, ContentProblem::bare_line_ending);
  EXPECT_EQ(decodeAtOnce(".\nb\r\n.\r\n").problem, ContentProblem::bare_line_ending);
}

TEST(DataDecoder, BareCarriageReturnIsFlagged) {
  EXPECT_EQ(decodeAtOnce("a\rb\r\n.\r\n").problem, ContentProblem::bare_line_ending);
  EXPECT_EQ(decodeAtOnce("a\r\r\n.\r\n").problem, ContentProblem::bare_line_ending);
  EXPECT_EQ(decodeAtOnce("\ra\r\n.\r\n").problem, ContentProblem::bare_line_ending);
  EXPECT_EQ(decodeAtOnce(".\rb\r\n.\r\n").problem, ContentProblem::bare_line_ending);
}

TEST(DataDecoder, CarriageReturnAndLineFeedSplitAcrossFeeds) {
  DataDecoder decoder(kRoomy);
  decoder.feed("a\r");
  decoder.feed("\nb\r");
  decoder.feed("\n.\r");
  decoder.feed("\n");
  EXPECT_TRUE(decoder.finished());
  EXPECT_EQ(decoder.content().problem(), ContentProblem::none);
  EXPECT_EQ(decoder.content().content(), "a\r\nb\r\n");

  DataDecoder bare(kRoomy);
  bare.feed("a\r");
  bare.feed("b\r\n.\r\n");
  EXPECT_TRUE(bare.finished());
  EXPECT_EQ(bare.content().problem(), ContentProblem::bare_line_ending);
}

TEST(DataDecoder, ConsumesToTheEndAfterAProblem) {
  // The ".\r\n" right after a bare LF is data too: only CRLF starts a line.
  const std::string input = "a\nMAIL FROM:<x@y.example>\r\n\n.\n.\r\n\r\n.\r\nQUIT\r\n";
  const Outcome outcome = decodeAtOnce(input);
  EXPECT_TRUE(outcome.finished);
  EXPECT_EQ(outcome.problem, ContentProblem::bare_line_ending);
  EXPECT_EQ(outcome.consumed, input.size() - 6);
}

TEST(DataDecoder, FirstProblemIsReported) {
  const ContentLimits limits{8, 1000, 0};
  EXPECT_EQ(decodeAtOnce("a\nbcdefghijk\r\n.\r\n", limits).problem,
            ContentProblem::bare_line_ending);
  EXPECT_EQ(decodeAtOnce("abcdefghijk\r\na\nb\r\n.\r\n", limits).problem, ContentProblem::too_big);
}

TEST(DataDecoder, LineLengthLimitCountsCrlf) {
  const ContentLimits limits{0, 10, 0};
  const Outcome at_limit = decodeAtOnce("12345678\r\n.\r\n", limits);
  EXPECT_EQ(at_limit.problem, ContentProblem::none);
  EXPECT_EQ(at_limit.content, "12345678\r\n");
  EXPECT_EQ(decodeAtOnce("123456789\r\n.\r\n", limits).problem, ContentProblem::line_too_long);
  EXPECT_EQ(decodeAtOnce("12345678\r\n123456789\r\n.\r\n", limits).problem,
            ContentProblem::line_too_long);
  // A long line without its end is flagged as soon as it passes the limit.
  DataDecoder decoder(limits);
  decoder.feed("12345678901");
  EXPECT_EQ(decoder.content().problem(), ContentProblem::line_too_long);
}

TEST(DataDecoder, LineLengthIsCountedAfterUnstuffing) {
  const ContentLimits limits{0, 10, 0};
  EXPECT_EQ(decodeAtOnce("..2345678\r\n.\r\n", limits).problem, ContentProblem::none);
  EXPECT_EQ(decodeAtOnce("..23456789\r\n.\r\n", limits).problem, ContentProblem::line_too_long);
}

TEST(DataDecoder, HeaderLimitIncludesTheEmptyLine) {
  const std::string header = "Subject: 12\r\n\r\n";  // 15 bytes
  ASSERT_EQ(header.size(), 15u);
  const std::string body = std::string(100, 'b') + "\r\n";
  EXPECT_EQ(decodeAtOnce(header + body + ".\r\n", {0, 0, 15}).problem, ContentProblem::none);
  EXPECT_EQ(decodeAtOnce(header + body + ".\r\n", {0, 0, 14}).problem,
            ContentProblem::header_too_big);
}

TEST(DataDecoder, MessageWithoutEmptyLineIsAllHeader) {
  EXPECT_EQ(decodeAtOnce("0123456789\r\n.\r\n", {0, 0, 12}).problem, ContentProblem::none);
  EXPECT_EQ(decodeAtOnce("01234567890\r\n.\r\n", {0, 0, 12}).problem,
            ContentProblem::header_too_big);
  EXPECT_EQ(decodeAtOnce("0123456789\r\nX\r\n.\r\n", {0, 0, 12}).problem,
            ContentProblem::header_too_big);
}

TEST(DataDecoder, MessageSizeLimit) {
  const Outcome at_limit = decodeAtOnce("0123456789\r\n.\r\n", {12, 0, 0});
  EXPECT_EQ(at_limit.problem, ContentProblem::none);
  EXPECT_EQ(at_limit.size, 12u);
  const Outcome past_limit = decodeAtOnce("01234567890\r\n.\r\n", {12, 0, 0});
  EXPECT_TRUE(past_limit.finished);
  EXPECT_EQ(past_limit.problem, ContentProblem::too_big);
  EXPECT_EQ(past_limit.size, 13u);
  EXPECT_EQ(past_limit.content, "");
}

TEST(DataDecoder, ZeroLimitsMeanNoLimit) {
  const std::string big = std::string(5000, 'x') + "\r\n.\r\n";
  EXPECT_EQ(decodeAtOnce(big, {0, 0, 0}).problem, ContentProblem::none);
}

// Every input, delivered one byte at a time and cut in two at every position, must give exactly
// the result of delivering it at once: the state machine has no blind spot at a feed boundary.
TEST(DataDecoder, EverySplitGivesTheSameResult) {
  const std::vector<std::string> inputs = {
      "Subject: x\r\n\r\nbody\r\n.\r\n",
      ".\r\n",
      "\r\n.\r\n",
      "..\r\n...x\r\n.y\r\n.\r\nMAIL FROM:<a@b.example>\r\n",
      "a\nb\r\n.\r\n",
      "a\rb\r\n.\r\n",
      "a\r\n.\rb\r\n.\r\n",
      "a\r\n.\r\r\n.\r\nQUIT\r\n",
      "x\n.\n\r\n.\r\n",
      "abc\r\r\n.\r\nRSET\r\n",
      "\r\n\r\n.\r\n",
      ".\r.\r\n.\r\n",
      "..\r\n.\r\n",
      "12345678\r\n123456789\r\n.\r\n",
      "Subject: 1234\r\n\r\nbody that is longer\r\n.\r\n",
  };
  const std::vector<ContentLimits> limits = {kRoomy, {20, 10, 14}};
  for (const ContentLimits& limit : limits) {
    for (const std::string& input : inputs) {
      const Outcome expected = decodeAtOnce(input, limit);
      EXPECT_TRUE(expected.finished) << ::testing::PrintToString(input);
      EXPECT_EQ(decodeBytewise(input, limit), expected) << ::testing::PrintToString(input);
      for (std::size_t cut = 0; cut <= input.size(); ++cut) {
        EXPECT_EQ(decodeInPieces(input, {cut}, limit), expected)
            << ::testing::PrintToString(input) << " cut at " << cut;
      }
    }
  }
}

// Plain byte-at-a-time statements of the rules, written without the decoder's state machine, to
// compare against on random inputs. judgeMessage applies the content rules to message bytes (as
// ContentAccumulator with finish()); reference frames DATA: it ends at the first "\r\n.\r\n",
// counting the start as a line start, and a dot opening a line is removed.
Outcome judgeMessage(std::string_view message, ContentLimits limits) {
  Outcome outcome;
  std::uint64_t line_length = 0;
  bool in_header = true;
  auto past = [](std::uint64_t value, std::uint64_t limit) { return limit != 0 && value > limit; };
  for (std::size_t index = 0; index < message.size(); ++index) {
    const char c = message[index];
    const bool after_cr = index > 0 && message[index - 1] == '\r';
    ++line_length;
    ContentProblem problem = ContentProblem::none;
    if ((after_cr && c != '\n') || (c == '\n' && !after_cr)) {
      problem = ContentProblem::bare_line_ending;
    } else if (past(line_length, limits.max_line_length)) {
      problem = ContentProblem::line_too_long;
    } else if (in_header && past(index + 1, limits.max_header_size)) {
      problem = ContentProblem::header_too_big;
    } else if (past(index + 1, limits.max_message_size)) {
      problem = ContentProblem::too_big;
    }
    if (problem != ContentProblem::none) {
      outcome.problem = problem;
      break;
    }
    if (c == '\n') {
      if (line_length == 2) in_header = false;
      line_length = 0;
    }
  }
  if (outcome.problem == ContentProblem::none && !message.empty() && message.back() == '\r') {
    outcome.problem = ContentProblem::bare_line_ending;
  }
  outcome.size = message.size();
  if (outcome.problem == ContentProblem::none) outcome.content = std::string(message);
  return outcome;
}

Outcome reference(std::string_view input, ContentLimits limits) {
  const std::string framed = "\r\n" + std::string(input);
  const std::size_t marker = framed.find("\r\n.\r\n");
  if (marker == std::string::npos) return {};  // the random inputs always contain one
  const std::string_view wire = input.substr(0, marker);
  std::string message;
  for (std::size_t index = 0; index < wire.size(); ++index) {
    const bool line_start = index == 0 || (index >= 2 && wire.substr(index - 2, 2) == "\r\n");
    if (line_start && wire[index] == '.') continue;
    message += wire[index];
  }
  Outcome outcome = judgeMessage(message, limits);
  outcome.finished = true;
  outcome.consumed = marker + 3;
  return outcome;
}

TEST(DataDecoder, MatchesTheReferenceOnRandomInputs) {
  std::mt19937 random(20240101);  // fixed seed: a failure reproduces
  const std::string alphabet = "ab.\r\n\r\n..\r\n";
  auto limit = [&random] {
    const std::uint32_t value = random() % 40;
    return value < 8 ? 0u : value;  // sometimes no limit
  };
  for (int round = 0; round < 20000; ++round) {
    std::string input;
    const std::size_t length = random() % 48;
    for (std::size_t index = 0; index < length; ++index) {
      input += alphabet[random() % alphabet.size()];
    }
    input += "\r\n.\r\nNEXT\r\n";
    const ContentLimits limits{limit(), limit(), limit()};
    const Outcome expected = reference(input, limits);
    ASSERT_EQ(decodeAtOnce(input, limits), expected) << ::testing::PrintToString(input);
    std::vector<std::size_t> cuts;
    for (std::size_t cut = 1; cut < input.size(); ++cut) {
      if (random() % 4 == 0) cuts.push_back(cut);
    }
    ASSERT_EQ(decodeInPieces(input, cuts, limits), expected) << ::testing::PrintToString(input);
  }
}

// BDAT hands the accumulator raw chunks: any chunking of the same bytes is judged the same way.
TEST(ContentAccumulator, MatchesTheReferenceOnRandomChunks) {
  std::mt19937 random(20240102);  // fixed seed: a failure reproduces
  const std::string alphabet = "ab\r\n\r\n";
  for (int round = 0; round < 20000; ++round) {
    std::string message;
    const std::size_t length = random() % 40;
    for (std::size_t index = 0; index < length; ++index) {
      message += alphabet[random() % alphabet.size()];
    }
    const ContentLimits limits{random() % 40, static_cast<std::uint32_t>(random() % 20),
                               static_cast<std::uint32_t>(random() % 30)};
    const Outcome expected = judgeMessage(message, limits);
    ContentAccumulator accumulator(limits);
    std::size_t start = 0;
    while (start < message.size()) {
      const std::size_t piece = 1 + random() % 5;
      accumulator.append(std::string_view(message).substr(start, piece));
      start += piece;
    }
    accumulator.finish();
    ASSERT_EQ(accumulator.problem(), expected.problem) << ::testing::PrintToString(message);
    ASSERT_EQ(accumulator.size(), expected.size);
    ASSERT_EQ(accumulator.content(), expected.content);
  }
}

TEST(ContentAccumulator, KeepsChunksAsGiven) {
  ContentAccumulator accumulator(kRoomy);
  accumulator.append("Subject: x\r");
  accumulator.append("\n\r\nbody");
  accumulator.append("\r\n");
  accumulator.finish();
  EXPECT_EQ(accumulator.problem(), ContentProblem::none);
  EXPECT_EQ(accumulator.size(), 20u);
  EXPECT_EQ(accumulator.takeContent(), "Subject: x\r\n\r\nbody\r\n");
}

TEST(ContentAccumulator, FinalCarriageReturnIsBare) {
  ContentAccumulator accumulator(kRoomy);
  accumulator.append("body\r");
  EXPECT_EQ(accumulator.problem(), ContentProblem::none);  // the LF may still come
  accumulator.finish();
  EXPECT_EQ(accumulator.problem(), ContentProblem::bare_line_ending);
}

TEST(ContentAccumulator, BareLineEndingsInChunks) {
  for (const char* chunk : {"a\nb", "a\rb", "\n", "a\r\r\n", "\r\r", "a\n\r\n"}) {
    ContentAccumulator accumulator(kRoomy);
    accumulator.append(chunk);
    accumulator.finish();
    EXPECT_EQ(accumulator.problem(), ContentProblem::bare_line_ending)
        << ::testing::PrintToString(std::string(chunk));
  }
  ContentAccumulator split(kRoomy);
  split.append("a\r");
  split.append("b");
  EXPECT_EQ(split.problem(), ContentProblem::bare_line_ending);
}

TEST(ContentAccumulator, EmptyAppendsChangeNothing) {
  ContentAccumulator accumulator(kRoomy);
  accumulator.append("a\r");
  accumulator.append("");
  accumulator.append("\n");
  accumulator.finish();
  EXPECT_EQ(accumulator.problem(), ContentProblem::none);
  EXPECT_EQ(accumulator.content(), "a\r\n");
}

TEST(ContentAccumulator, LimitsApplyToBdatChunksToo) {
  ContentAccumulator accumulator({10, 0, 0});
  accumulator.append("12345\r\n");
  accumulator.append("123");
  EXPECT_EQ(accumulator.problem(), ContentProblem::none);
  accumulator.append("4");
  EXPECT_EQ(accumulator.problem(), ContentProblem::too_big);
  EXPECT_EQ(accumulator.size(), 11u);
  accumulator.append("more\r\n");
  EXPECT_EQ(accumulator.size(), 17u);
  EXPECT_EQ(accumulator.content(), "");
}

}  // namespace
}  // namespace bulwark::smtp
