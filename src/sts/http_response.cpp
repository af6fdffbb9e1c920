// HttpResponseParser; see http_response.h. Lines may end in CRLF or a bare LF (RFC 9112 2.2 lets
// a recipient accept LF alone).
#include "sts/http_response.h"

#include "common/strings.h"

#include <algorithm>
#include <charconv>

namespace bulwark::sts {
namespace {

constexpr std::size_t kMaximumChunkLine = 1024;

Error httpError(std::string message) {
  return makeError("http", std::move(message));
}
Error limitError(std::string message) {
  return makeError("limit", std::move(message));
}

std::string_view withoutCarriageReturn(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

bool isTokenCharacter(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string_view trimOptionalWhitespace(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool isDigits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::string_view HttpResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return {};
}

Result<bool> HttpResponseParser::feed(std::string_view bytes) {
  if (state_ == State::complete) return true;
  buffer_.append(bytes);
  bool progressed = true;
  while (progressed && state_ != State::complete) {
    progressed = false;
    if (auto stepped = step(progressed); !stepped) return stepped.error();
  }
  return state_ == State::complete;
}

Result<void> HttpResponseParser::finish() {
  if (state_ == State::close_body || state_ == State::complete) {
    state_ = State::complete;
    return {};
  }
  return httpError(state_ == State::head ? "the connection closed before the end of the header"
                                         : "the connection closed before the end of the body");
}

Result<void> HttpResponseParser::appendBody(std::string_view bytes) {
  if (response_.body.size() + bytes.size() > body_limit_) {
    return limitError("the body is larger than " + std::to_string(body_limit_) + " bytes");
  }
  response_.body.append(bytes);
  return {};
}

Result<void> HttpResponseParser::step(bool& progressed) {
  switch (state_) {
    case State::head: {
      // The header section ends at the first empty line.
      std::size_t position = 0;
      while (true) {
        const std::size_t newline = buffer_.find('\n', position);
        if (newline == std::string::npos || newline > header_limit_) break;
        const std::string_view line =
            withoutCarriageReturn(std::string_view(buffer_).substr(position, newline - position));
        if (line.empty() && position > 0) {
          if (auto parsed = parseHead(std::string_view(buffer_).substr(0, position)); !parsed) {
            return parsed.error();
          }
          buffer_.erase(0, newline + 1);
          progressed = true;
          return {};
        }
        position = newline + 1;
      }
      if (buffer_.size() > header_limit_) {
        return limitError("the status line and header are longer than " +
                          std::to_string(header_limit_) + " bytes");
      }
      return {};
    }
    case State::length_body:
    case State::chunk_data: {
      if (buffer_.empty()) return {};
      const std::size_t take = std::min(remaining_, buffer_.size());
      if (auto added = appendBody(std::string_view(buffer_).substr(0, take)); !added) {
        return added.error();
      }
      buffer_.erase(0, take);
      remaining_ -= take;
      if (remaining_ == 0) {
        state_ = state_ == State::length_body ? State::complete : State::chunk_end;
      }
      progressed = true;
      return {};
    }
    case State::chunk_size: {
      const std::size_t newline = buffer_.find('\n');
      if (newline == std::string::npos) {
        if (buffer_.size() > kMaximumChunkLine) return httpError("a chunk size line is too long");
        return {};
      }
      if (newline > kMaximumChunkLine) return httpError("a chunk size line is too long");
      std::string_view line = withoutCarriageReturn(std::string_view(buffer_).substr(0, newline));
      // chunk-size [ chunk-ext ]: extensions are ignored.
      line = trimOptionalWhitespace(line.substr(0, line.find(';')));
      std::uint64_t size = 0;
      const auto [end, error] = std::from_chars(line.data(), line.data() + line.size(), size, 16);
      if (line.empty() || line.size() > 16 || error != std::errc() ||
          end != line.data() + line.size()) {
        return httpError("a chunk size is not a hexadecimal number");
      }
      if (size > body_limit_ - response_.body.size()) {
        return limitError("the body is larger than " + std::to_string(body_limit_) + " bytes");
      }
      buffer_.erase(0, newline + 1);
      remaining_ = static_cast<std::size_t>(size);
      state_ = size == 0 ? State::trailers : State::chunk_data;
      progressed = true;
      return {};
    }
    case State::chunk_end: {
      if (buffer_.empty() || buffer_ == "\r") return {};
      if (buffer_.starts_with("\r\n")) {
        buffer_.erase(0, 2);
      } else if (buffer_.front() == '\n') {
        buffer_.erase(0, 1);
      } else {
        return httpError("a chunk is longer than its size says");
      }
      state_ = State::chunk_size;
      progressed = true;
      return {};
    }
    case State::trailers: {
      const std::size_t newline = buffer_.find('\n');
      if (newline == std::string::npos) {
        if (trailer_bytes_ + buffer_.size() > header_limit_) {
          return limitError("the trailer section is longer than " + std::to_string(header_limit_) +
                            " bytes");
        }
        return {};
      }
      const std::string_view line =
          withoutCarriageReturn(std::string_view(buffer_).substr(0, newline));
      if (line.empty()) {
        state_ = State::complete;
      } else if (line.find(':') == std::string_view::npos) {
        return httpError("a trailer field has no \":\"");
      } else {
        trailer_bytes_ += newline + 1;
        if (trailer_bytes_ > header_limit_) {
          return limitError("the trailer section is longer than " + std::to_string(header_limit_) +
                            " bytes");
        }
      }
      buffer_.erase(0, newline + 1);
      progressed = true;
      return {};
    }
    case State::close_body: {
      if (buffer_.empty()) return {};
      if (auto added = appendBody(buffer_); !added) return added.error();
      buffer_.clear();
      progressed = true;
      return {};
    }
    case State::complete: return {};
  }
  return {};
}

Result<void> HttpResponseParser::parseHead(std::string_view head) {
  std::vector<std::string_view> lines = split(head, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();  // after the last line's LF
  if (lines.empty()) return httpError("no status line");
  // status-line = HTTP-version SP status-code SP [ reason-phrase ]
  const std::string_view status_line = withoutCarriageReturn(lines.front());
  if (status_line.size() < 12 || !status_line.starts_with("HTTP/1.") || status_line[7] < '0' ||
      status_line[7] > '9' || status_line[8] != ' ' || !isDigits(status_line.substr(9, 3)) ||
      (status_line.size() > 12 && status_line[12] != ' ')) {
    return httpError("not an HTTP/1.x status line: \"" + std::string(status_line.substr(0, 80)) +
                     "\"");
  }
  response_.status =
      (status_line[9] - '0') * 100 + (status_line[10] - '0') * 10 + (status_line[11] - '0');
  if (response_.status < 200) {
    return httpError("an interim " + std::to_string(response_.status) +
                     " response, which a GET without Expect never asks for");
  }
  for (std::size_t index = 1; index < lines.size(); ++index) {
    const std::string_view line = withoutCarriageReturn(lines[index]);
    if (line.empty()) return httpError("an empty line inside the header");
    if (line.front() == ' ' || line.front() == '\t') {
      return httpError("a folded header line (obsolete line folding is refused)");
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return httpError("a header line without a field name and \":\"");
    }
    const std::string_view name = line.substr(0, colon);
    if (!std::all_of(name.begin(), name.end(), isTokenCharacter)) {
      return httpError("the header field name \"" + std::string(name.substr(0, 80)) +
                       "\" is not a token");
    }
    const std::string_view value = trimOptionalWhitespace(line.substr(colon + 1));
    const bool control = std::any_of(value.begin(), value.end(), [](char c) {
      const auto octet = static_cast<unsigned char>(c);
      return (octet < 0x20 && c != '\t') || octet == 0x7f;
    });
    if (control) return httpError("a control character in the header field " + std::string(name));
    response_.headers.emplace_back(asciiLower(name), std::string(value));
  }

  // Framing (RFC 9112 6.3). Both framings at once is how responses get smuggled: refused.
  std::vector<std::string_view> lengths;
  std::size_t codings = 0;
  for (const auto& [name, value] : response_.headers) {
    if (name == "content-length") lengths.push_back(value);
    if (name == "transfer-encoding") ++codings;
  }
  if (codings > 0) {
    if (!lengths.empty()) return httpError("both Transfer-Encoding and Content-Length");
    if (codings > 1 || !equalsIgnoreCase(response_.header("transfer-encoding"), "chunked")) {
      return httpError("the transfer coding \"" +
                       std::string(response_.header("transfer-encoding")) +
                       "\" is not supported (only chunked)");
    }
    state_ = State::chunk_size;
    return {};
  }
  if (!lengths.empty()) {
    for (auto length : lengths) {
      if (length != lengths.front() || !isDigits(length)) {
        return httpError("an invalid or contradictory Content-Length");
      }
    }
    std::uint64_t length = 0;
    const std::string_view text = lengths.front();
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), length);
    if (error != std::errc() || length > body_limit_) {
      return limitError("the body is larger than " + std::to_string(body_limit_) +
                        " bytes (Content-Length " + std::string(text.substr(0, 20)) + ")");
    }
    remaining_ = static_cast<std::size_t>(length);
    state_ = remaining_ == 0 ? State::complete : State::length_body;
    return {};
  }
  state_ = State::close_body;
  return {};
}

}  // namespace bulwark::sts
