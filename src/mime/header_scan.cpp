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

}  // namespace bulwark::mime
