// Receives message content for DATA (RFC 5321 4.1.1.4, 4.5.2: only CRLF.CRLF ends it; leading
// dots unstuffed) and BDAT (RFC 3030: raw chunks). Does no I/O. Input is untrusted: it enforces
// the size, line-length and header-size limits and detects bare CR or LF (SMTP smuggling,
// CVE-2023-51764..51766). After a problem the rest is still consumed, up to the end of DATA, so
// that nothing inside the data is ever taken for a command, but it is no longer stored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace bulwark::smtp {

// A limit of 0 means "no limit"; the server fills these from ConnectorLimits, whose defaults are
// never 0. Exceeding a limit by one byte is a problem.
struct ContentLimits {
  std::uint64_t max_message_size = 0;
  std::uint32_t max_line_length = 0;  // bytes including CRLF
  std::uint32_t max_header_size = 0;  // bytes up to and including the empty line
};

enum class ContentProblem { none, too_big, line_too_long, header_too_big, bare_line_ending };

// Checks message bytes as they arrive (after dot-unstuffing) and keeps them. Shared by DATA and
// BDAT so both apply the same rules. The first problem is the one reported; it also discards what
// was kept (the message will be refused), while size() goes on counting every byte.
class ContentAccumulator {
 public:
  explicit ContentAccumulator(ContentLimits limits);
  void append(std::string_view bytes);
  // Call once at the end: a message must end with CRLF (a final CR alone is a bare CR).
  void finish();
  ContentProblem problem() const { return problem_; }
  std::uint64_t size() const { return size_; }
  std::string takeContent() { return std::move(content_); }
  const std::string& content() const { return content_; }

 private:
  void flag(ContentProblem problem);
  ContentProblem firstProblem(const char* line, const char* bare_cr, const char* bare_lf) const;
  ContentLimits limits_;
  std::string content_;
  std::uint64_t size_ = 0;
  std::uint64_t line_length_ = 0;  // bytes of the current line so far
  bool in_header_ = true;          // no empty line seen yet
  bool pending_cr_ = false;        // the last byte appended was CR; the next must be LF
  ContentProblem problem_ = ContentProblem::none;
};

class DataDecoder {
 public:
  explicit DataDecoder(ContentLimits limits);
  // Consumes bytes, returning how many it used: it stops right after the terminating CRLF.CRLF,
  // leaving any pipelined commands that follow in the caller's buffer. At the end it calls
  // content().finish(); once finished it consumes nothing.
  std::size_t feed(std::string_view input);
  bool finished() const { return finished_; }
  ContentAccumulator& content() { return content_; }

 private:
  // Where the decoder is within a line. Only CRLF starts a line: a "." after a bare LF or CR is
  // ordinary data, never the end of DATA.
  enum class State {
    line_start,  // after CRLF, or before the first byte
    dot,         // "." at line start, not yet known to be stuffing or the end marker
    dot_cr,      // ".\r" at line start: LF ends DATA, anything else makes the CR data
    middle,      // inside a line, last byte not CR
    middle_cr,   // inside a line, last byte CR
  };
  ContentAccumulator content_;
  State state_ = State::line_start;
  bool finished_ = false;
};

}  // namespace bulwark::smtp
