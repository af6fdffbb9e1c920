// DATA decoding (RFC 5321 4.1.1.4 end marker, 4.5.2 dot-unstuffing, 2.3.8 CRLF only) and the
// content checks shared with BDAT (RFC 3030). Input is untrusted, from the first byte after 354.
// This is the hot path of message reception: ordinary bytes are found with memchr and appended as
// spans; only line starts and line ends are looked at one by one.
#include "smtp/proto/data_decoder.h"

#include <algorithm>
#include <cstring>

namespace bulwark::smtp {
namespace {

const char* findByte(const char* begin, const char* end, char wanted) {
  return static_cast<const char*>(
      std::memchr(begin, wanted, static_cast<std::size_t>(end - begin)));
}

bool exceeds(std::uint64_t value, std::uint64_t limit) {
  return limit != 0 && value > limit;
}

}  // namespace

ContentAccumulator::ContentAccumulator(ContentLimits limits) : limits_(limits) {}

void ContentAccumulator::flag(ContentProblem problem) {
  if (problem_ != ContentProblem::none) return;
  problem_ = problem;
  // The message will be refused: give back the memory now rather than at the end of DATA.
  std::string().swap(content_);
}

void ContentAccumulator::append(std::string_view bytes) {
  if (bytes.empty()) return;
  const std::uint64_t size_after = size_ + bytes.size();
  if (problem_ != ContentProblem::none) {
    size_ = size_after;
    return;
  }
  const char* const begin = bytes.data();
  const char* const end = begin + bytes.size();
  if (pending_cr_ && *begin != '\n') {
    size_ = size_after;
    flag(ContentProblem::bare_line_ending);
    return;
  }
  const char* line = begin;
  while (line < end) {
    const char* line_feed = findByte(line, end, '\n');
    const char* const segment_end = line_feed != nullptr ? line_feed + 1 : end;
    const auto segment_size = static_cast<std::uint64_t>(segment_end - line);
    // A CR may only stand right before LF, or last in this append (its LF may come next).
    const char* const last_allowed_cr = line_feed != nullptr ? line_feed - 1 : end - 1;
    const char* const bare_cr =
        last_allowed_cr > line ? findByte(line, last_allowed_cr, '\r') : nullptr;
    const bool bare_lf =
        line_feed != nullptr && !(line_feed > begin ? line_feed[-1] == '\r' : pending_cr_);
    const bool too_long = exceeds(line_length_ + segment_size, limits_.max_line_length);
    const bool header_too_big =
        in_header_ && exceeds(size_ + segment_size, limits_.max_header_size);
    const bool too_big = exceeds(size_ + segment_size, limits_.max_message_size);
    if (bare_cr != nullptr || bare_lf || too_long || header_too_big || too_big) {
      const ContentProblem problem = firstProblem(line, bare_cr, bare_lf ? line_feed : nullptr);
      size_ = size_after;
      flag(problem);
      return;
    }
    line_length_ += segment_size;
    size_ += segment_size;
    if (line_feed != nullptr) {
      if (line_length_ == 2) in_header_ = false;  // CRLF alone: the end of the header section
      line_length_ = 0;
    }
    line = segment_end;
  }
  pending_cr_ = end[-1] == '\r';
  content_.append(bytes);
}

// Several problems can start within one line. The one reported is the one whose byte comes first,
// so that the reply does not depend on how TCP happened to cut the data; at the same byte a bare
// line ending wins, then the line, header and message limits.
ContentProblem ContentAccumulator::firstProblem(const char* line, const char* bare_cr,
                                                const char* bare_lf) const {
  constexpr std::uint64_t kNever = ~std::uint64_t{0};
  std::uint64_t bare_at = kNever;
  // A CR is known to be bare at the byte after it.
  if (bare_cr != nullptr) bare_at = static_cast<std::uint64_t>(bare_cr + 1 - line);
  if (bare_lf != nullptr) bare_at = std::min(bare_at, static_cast<std::uint64_t>(bare_lf - line));
  // Offset within this segment of the first byte past each limit (limits not yet passed).
  auto crossing = [](std::uint64_t used, std::uint64_t limit) {
    return limit == 0 ? kNever : limit - used;
  };
  const std::uint64_t line_at = crossing(line_length_, limits_.max_line_length);
  const std::uint64_t header_at = in_header_ ? crossing(size_, limits_.max_header_size) : kNever;
  const std::uint64_t size_at = crossing(size_, limits_.max_message_size);
  const std::uint64_t first = std::min({bare_at, line_at, header_at, size_at});
  if (first == bare_at) return ContentProblem::bare_line_ending;
  if (first == line_at) return ContentProblem::line_too_long;
  if (first == header_at) return ContentProblem::header_too_big;
  return ContentProblem::too_big;
}

void ContentAccumulator::finish() {
  if (pending_cr_) flag(ContentProblem::bare_line_ending);
  pending_cr_ = false;
}

DataDecoder::DataDecoder(ContentLimits limits) : content_(limits) {}

std::size_t DataDecoder::feed(std::string_view input) {
  if (finished_) return 0;
  const char* const begin = input.data();
  const char* const end = begin + input.size();
  const char* position = begin;
  // Bytes from span_start to position are message data not yet handed to content_.
  const char* span_start = begin;
  while (position < end) {
    switch (state_) {
      case State::line_start:
        if (*position == '.') {
          content_.append(
              std::string_view(span_start, static_cast<std::size_t>(position - span_start)));
          ++position;
          span_start = position;  // the dot is stuffing or the end marker: never data
          state_ = State::dot;
        } else {
          state_ = State::middle;
        }
        break;
      case State::dot:
        if (*position == '\r') {
          ++position;
          span_start = position;
          state_ = State::dot_cr;
        } else {
          state_ = State::middle;  // a stuffed dot: dropped, the rest of the line is data
        }
        break;
      case State::dot_cr:
        if (*position == '\n') {
          ++position;
          finished_ = true;
          content_.finish();
          return static_cast<std::size_t>(position - begin);
        }
        // ".\r" then something else: the CR (maybe from an earlier feed) is data, and a bare one.
        content_.append("\r");
        state_ = State::middle;
        break;
      case State::middle:
      case State::middle_cr: {
        const char* line_feed = findByte(position, end, '\n');
        if (line_feed == nullptr) {
          position = end;
          state_ = end[-1] == '\r' ? State::middle_cr : State::middle;
          break;
        }
        const bool after_cr =
            line_feed > position ? line_feed[-1] == '\r' : state_ == State::middle_cr;
        position = line_feed + 1;
        // Only CRLF starts a line; after a bare LF a dot is plain data (the accumulator flags it).
        state_ = after_cr ? State::line_start : State::middle;
        break;
      }
    }
  }
  content_.append(std::string_view(span_start, static_cast<std::size_t>(position - span_start)));
  return input.size();
}

}  // namespace bulwark::smtp
