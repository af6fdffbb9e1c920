// An HTTP/1.1 response parser for the MTA-STS policy fetch (RFC 9112: status line, header fields,
// a body framed by Content-Length, chunked transfer coding, or the end of the connection). Only
// what a policy fetch needs; anything ambiguous (both framings, folded header lines, a bad chunk
// size) is an error rather than a guess. The bytes come from the policy host: untrusted. Does no
// I/O: the caller feeds what it read and learns whether the response is complete. Limits: the
// status line and header section together, and the body (after removing chunk framing).
#pragma once

#include "common/result.h"

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bulwark::sts {

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case, values trimmed
  std::string body;

  // The first field called `name` (lower-case), or "" when there is none.
  std::string_view header(std::string_view name) const;
};

class HttpResponseParser {
 public:
  explicit HttpResponseParser(std::size_t body_limit, std::size_t header_limit = 16 * 1024)
      : body_limit_(body_limit), header_limit_(header_limit) {}

  // Takes the next bytes; true once the response is complete (later bytes are ignored). Errors:
  // code "http" (malformed or ambiguous) or "limit" (a limit was passed).
  Result<bool> feed(std::string_view bytes);
  // The connection ended: completes a body that runs to the end of the connection; any other
  // unfinished response is an error ("http", truncated).
  Result<void> finish();
  bool complete() const { return state_ == State::complete; }
  const HttpResponse& response() const { return response_; }

 private:
  enum class State {
    head,
    length_body,
    chunk_size,
    chunk_data,
    chunk_end,
    trailers,
    close_body,
    complete
  };
  Result<void> parseHead(std::string_view head);
  Result<void> step(bool& progressed);
  Result<void> appendBody(std::string_view bytes);

  std::size_t body_limit_;
  std::size_t header_limit_;
  State state_ = State::head;
  std::string buffer_;         // bytes not consumed yet
  std::size_t remaining_ = 0;  // of the Content-Length body or of the current chunk
  std::size_t trailer_bytes_ = 0;
  HttpResponse response_;
};

}  // namespace bulwark::sts
