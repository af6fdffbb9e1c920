// Header section scanning; see header_scan.h.
#include "mime/header_scan.h"

#include "common/strings.h"

namespace bulwark::mime {

std::size_t headerSectionEnd(std::string_view message) {
  if (message.starts_with("\r\n")) return 2;
  auto found = message.find("\r\n\r\n");
  return found == std::string_view::npos ? message.size() : found + 4;
}

std::optional<std::string> findHeaderValue(std::string_view message, std::string_view name) {
  std::string_view header = message.substr(0, headerSectionEnd(message));
  size_t position = 0;
  while (position < header.size()) {
    size_t line_end = header.find("\r\n", position);
    if (line_end == std::string_view::npos) line_end = header.size();
    std::string_view line = header.substr(position, line_end - position);
    size_t colon = line.find(':');
    if (colon != std::string_view::npos && equalsIgnoreCase(trim(line.substr(0, colon)), name) &&
        line.front() != ' ' && line.front() != '\t') {
      std::string value(trim(line.substr(colon + 1)));
      // Continuation lines start with whitespace (folding, RFC 5322 2.2.3).
      size_t next = line_end + 2;
      while (next < header.size() && (header[next] == ' ' || header[next] == '\t')) {
        size_t continuation_end = header.find("\r\n", next);
        if (continuation_end == std::string_view::npos) continuation_end = header.size();
        value += ' ';
        value += trim(header.substr(next, continuation_end - next));
        next = continuation_end + 2;
      }
      return value;
    }
    position = line_end + 2;
  }
  return std::nullopt;
}

std::size_t removeFieldsWithPrefix(std::string& message, std::string_view prefix) {
  const std::size_t header_end = headerSectionEnd(message);
  std::size_t removed = 0;
  std::string kept;
  std::size_t position = 0;
  bool dropping = false;
  while (position < header_end) {
    std::size_t line_end = message.find("\r\n", position);
    line_end = line_end == std::string::npos || line_end + 2 > header_end ? header_end : line_end + 2;
    std::string_view line(message.data() + position, line_end - position);
    bool continuation = !line.empty() && (line.front() == ' ' || line.front() == '\t');
    if (!continuation) {
      dropping = startsWithIgnoreCase(line, prefix) && line.find(':') != std::string_view::npos;
      if (dropping) ++removed;
    }
    if (!dropping) kept.append(line);
    position = line_end;
  }
  if (removed == 0) return 0;
  kept.append(message, header_end, std::string::npos);
  message = std::move(kept);
  return removed;
}

}  // namespace bulwark::mime
