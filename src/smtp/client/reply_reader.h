// The client side of SMTP replies, without I/O: a reader that takes bytes as they arrive and yields
// complete replies (RFC 5321 4.2: "250-first", "250 last"; every line the same code, RFC 5321
// 4.2.1), with the enhanced status code (RFC 2034 4, RFC 3463 2) split from the text; and the EHLO
// capability parser (RFC 5321 4.1.1.1, SIZE of RFC 1870, AUTH of RFC 4954).
// Everything here is untrusted server output: line length and lines per reply are limited so a
// hostile server cannot make us buffer without bound, and any malformed line is an error after
// which the connection must be dropped (the reader refuses to go on).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "smtp/proto/reply.h"

namespace bulwark::smtp {

struct ReplyReaderLimits {
  // RFC 5321 4.5.3.1.5 says 512 octets per reply line; real servers send longer texts, so allow
  // more, but not without bound.
  std::size_t max_line_length = 4096;  // including CRLF
  std::size_t max_lines = 200;         // lines of one multi-line reply (EHLO lists are ~20)
};

class ReplyReader {
 public:
  explicit ReplyReader(ReplyReaderLimits limits = {}) : limits_(limits) {}

  // Appends received bytes; they are parsed by next().
  void feed(std::string_view bytes);

  // The next complete reply; an empty optional when more bytes are needed; an Error
  // ("syntax" or "limit") when the server sent something that is not a reply. After an error
  // every further call returns the same error.
  Result<std::optional<Reply>> next();

  // Bytes received and not yet parsed into lines of a reply (a partial line, or later replies).
  // After "220 Ready to start TLS" this must be zero: anything else was sent before the TLS
  // handshake and must not be read as if it came over TLS (response injection, RFC 3207 5 and
  // CVE-2011-0411 family).
  std::size_t buffered() const { return buffer_.size() - consumed_; }

  // Forgets everything buffered (after the TLS handshake the clear-text reader starts afresh).
  void clear();

 private:
  ReplyReaderLimits limits_;
  std::string buffer_;
  std::size_t consumed_ = 0;  // bytes of buffer_ already parsed into complete lines
  // Lines of the reply being read; kept separate so that a reply split across reads resumes.
  std::vector<std::string> pending_lines_;
  std::string pending_enhanced_;
  int pending_code_ = 0;
  std::optional<Error> failure_;
};

// What a server offers in its EHLO reply.
struct ServerCapabilities {
  std::set<std::string> keywords;            // upper-cased: "PIPELINING", "STARTTLS", "SIZE", ...
  std::uint64_t size_limit = 0;              // SIZE N; 0: not offered or no fixed limit
  std::vector<std::string> auth_mechanisms;  // upper-cased: "PLAIN", "LOGIN", ...

  bool has(std::string_view keyword) const;
  bool hasAuthMechanism(std::string_view mechanism) const;
};

// The first line of an EHLO reply is the server's name and greeting; every further line is
// "keyword [parameters]". Unparseable parameters are ignored (a SIZE that is not a number means
// "no known limit").
ServerCapabilities parseEhloCapabilities(const Reply& reply);

}  // namespace bulwark::smtp
