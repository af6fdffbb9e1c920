// Reply reading and EHLO parsing for the outbound client (RFC 5321 4.2 and 4.1.1.1, RFC 2034,
// RFC 3463, RFC 1870, RFC 4954). Input is untrusted server output; see reply_reader.h for limits.
#include "smtp/client/reply_reader.h"

#include <algorithm>
#include <charconv>

#include "common/strings.h"

namespace bulwark::smtp {
namespace {

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

// RFC 3463 2: class "." subject "." detail; subject and detail 1 to 3 digits. The class must match
// the reply's first digit (RFC 2034 4), so "250 1.2.3 text" keeps "1.2.3" as text.
std::size_t enhancedCodeLength(std::string_view text, int code) {
  if (text.size() < 5 || text[0] != static_cast<char>('0' + code / 100) || text[1] != '.') {
    return 0;
  }
  std::size_t index = 2;
  auto digits = [&](std::size_t& position) {
    std::size_t start = position;
    while (position < text.size() && isDigit(text[position]) && position - start < 4) ++position;
    return position - start;
  };
  std::size_t subject = digits(index);
  if (subject < 1 || subject > 3 || index >= text.size() || text[index] != '.') return 0;
  ++index;
  std::size_t detail = digits(index);
  if (detail < 1 || detail > 3) return 0;
  // The code must be followed by a space or end the line; "2.1.5x" is text.
  if (index < text.size() && text[index] != ' ') return 0;
  return index;
}

}  // namespace

void ReplyReader::feed(std::string_view bytes) {
  // Drop the parsed prefix before growing, so the buffer holds at most one line plus what the
  // server sent ahead.
  if (consumed_ > 0 && consumed_ == buffer_.size()) {
    buffer_.clear();
    consumed_ = 0;
  } else if (consumed_ > 65536) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
  buffer_.append(bytes);
}

void ReplyReader::clear() {
  buffer_.clear();
  consumed_ = 0;
  pending_lines_.clear();
  pending_enhanced_.clear();
  pending_code_ = 0;
  failure_.reset();
}

Result<std::optional<Reply>> ReplyReader::next() {
  if (failure_) return *failure_;
  auto fail = [&](const char* code, std::string message) -> Result<std::optional<Reply>> {
    failure_ = makeError(code, std::move(message));
    return *failure_;
  };
  while (true) {
    const std::string_view rest = std::string_view(buffer_).substr(consumed_);
    const std::size_t newline = rest.find('\n');
    if (newline == std::string_view::npos) {
      if (rest.size() >= limits_.max_line_length) {
        return fail("limit", "reply line longer than " + std::to_string(limits_.max_line_length) +
                                 " octets");
      }
      return std::optional<Reply>();
    }
    if (newline + 1 > limits_.max_line_length) {
      return fail("limit",
                  "reply line longer than " + std::to_string(limits_.max_line_length) + " octets");
    }
    // Lines end in CRLF; a bare LF is accepted from servers (robustness, RFC 5321 4.5.2 leaves
    // the client free here) but a CR anywhere else in the line is not.
    std::string_view line = rest.substr(0, newline);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    consumed_ += newline + 1;

    if (line.size() < 3 || !isDigit(line[0]) || !isDigit(line[1]) || !isDigit(line[2])) {
      return fail("syntax", "reply line does not start with a three-digit code");
    }
    if (line[0] < '2' || line[0] > '5' || line[1] > '5') {
      return fail("syntax", "reply code " + std::string(line.substr(0, 3)) + " is out of range");
    }
    const int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    bool last = true;
    std::string_view text;
    if (line.size() > 3) {
      if (line[3] == '-') {
        last = false;
      } else if (line[3] != ' ') {
        return fail("syntax", "reply code not followed by a space or hyphen");
      }
      text = line.substr(4);
    }
    if (std::any_of(text.begin(), text.end(), [](char c) { return c == '\r' || c == '\0'; })) {
      return fail("syntax", "reply text contains CR or NUL");
    }
    if (!pending_lines_.empty() && code != pending_code_) {
      return fail("syntax", "multi-line reply changes its code from " +
                                std::to_string(pending_code_) + " to " + std::to_string(code));
    }
    if (pending_lines_.size() >= limits_.max_lines) {
      return fail("limit", "reply has more than " + std::to_string(limits_.max_lines) + " lines");
    }
    pending_code_ = code;
    const std::size_t enhanced_length = enhancedCodeLength(text, code);
    if (enhanced_length > 0) {
      // The last line's code wins; they should all be equal (RFC 2034 4).
      pending_enhanced_ = std::string(text.substr(0, enhanced_length));
      text.remove_prefix(enhanced_length);
      if (!text.empty()) text.remove_prefix(1);
    }
    pending_lines_.emplace_back(text);
    if (last) {
      Reply reply;
      reply.code = code;
      reply.enhanced = std::move(pending_enhanced_);
      reply.lines = std::move(pending_lines_);
      pending_lines_.clear();
      pending_enhanced_.clear();
      pending_code_ = 0;
      return std::optional<Reply>(std::move(reply));
    }
  }
}

bool ServerCapabilities::has(std::string_view keyword) const {
  return keywords.find(std::string(keyword)) != keywords.end();
}

bool ServerCapabilities::hasAuthMechanism(std::string_view mechanism) const {
  return std::find(auth_mechanisms.begin(), auth_mechanisms.end(), mechanism) !=
         auth_mechanisms.end();
}

ServerCapabilities parseEhloCapabilities(const Reply& reply) {
  ServerCapabilities capabilities;
  for (std::size_t index = 1; index < reply.lines.size(); ++index) {
    std::string_view line = trim(reply.lines[index]);
    std::size_t space = line.find(' ');
    std::string_view keyword = line.substr(0, space);
    std::string_view parameters =
        space == std::string_view::npos ? std::string_view() : trim(line.substr(space + 1));
    // Some old servers write "AUTH=PLAIN LOGIN" as well as "AUTH PLAIN LOGIN".
    if (startsWithIgnoreCase(keyword, "AUTH=")) {
      parameters = line.substr(5);
      keyword = keyword.substr(0, 4);
    }
    if (keyword.empty()) continue;
    std::string upper(keyword);
    for (char& c : upper) {
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    }
    if (upper == "SIZE" && !parameters.empty()) {
      std::uint64_t limit = 0;
      auto [end, error] =
          std::from_chars(parameters.data(), parameters.data() + parameters.size(), limit);
      if (error == std::errc() && end == parameters.data() + parameters.size()) {
        capabilities.size_limit = limit;
      }
    }
    if (upper == "AUTH") {
      for (std::string_view mechanism : split(parameters, ' ')) {
        mechanism = trim(mechanism);
        if (mechanism.empty()) continue;
        std::string name(mechanism);
        for (char& c : name) {
          if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
        }
        if (!capabilities.hasAuthMechanism(name)) capabilities.auth_mechanisms.push_back(name);
      }
    }
    capabilities.keywords.insert(std::move(upper));
  }
  return capabilities;
}

}  // namespace bulwark::smtp
