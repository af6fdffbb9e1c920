// Header field splitting; see header_fields.h.
#include "mime/header_fields.h"

namespace bulwark::mime {
namespace {

bool isWhitespace(char character) { return character == ' ' || character == '\t'; }

// End of the line starting at `position`, including its LF; message.size() without one.
std::size_t lineEnd(std::string_view message, std::size_t position) {
  std::size_t newline = message.find('\n', position);
  return newline == std::string_view::npos ? message.size() : newline + 1;
}

bool isEmptyLine(std::string_view line) { return line == "\r\n" || line == "\n"; }

std::string_view withoutLineBreak(std::string_view text) {
  if (text.ends_with('\n')) text.remove_suffix(1);
  if (text.ends_with('\r')) text.remove_suffix(1);
  return text;
}

}  // namespace

std::size_t bodyOffset(std::string_view message) {
  std::size_t position = 0;
  while (position < message.size()) {
    std::size_t end = lineEnd(message, position);
    if (isEmptyLine(message.substr(position, end - position))) return end;
    position = end;
  }
  return message.size();
}

std::vector<HeaderField> headerFields(std::string_view message) {
  std::vector<HeaderField> fields;
  std::size_t position = 0;
  while (position < message.size()) {
    std::size_t end = lineEnd(message, position);
    std::string_view line = message.substr(position, end - position);
    if (isEmptyLine(line)) break;
    if (isWhitespace(line.front())) {  // a continuation without a field before it
      position = end;
      continue;
    }
    // The field runs on over continuation lines.
    std::size_t field_end = end;
    while (field_end < message.size() && isWhitespace(message[field_end])) {
      field_end = lineEnd(message, field_end);
    }
    std::size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      HeaderField field;
      std::string_view name = line.substr(0, colon);
      while (!name.empty() && isWhitespace(name.back())) {
        name.remove_suffix(1);
        field.space_before_colon = true;
      }
      field.name = name;
      field.raw = message.substr(position, field_end - position);
      field.value = withoutLineBreak(field.raw.substr(colon + 1));
      fields.push_back(field);
    }
    position = field_end;
  }
  return fields;
}

std::string unfold(std::string_view value) {
  std::string unfolded;
  unfolded.reserve(value.size());
  for (char character : value) {
    if (character != '\r' && character != '\n') unfolded += character;
  }
  std::size_t first = unfolded.find_first_not_of(" \t");
  if (first == std::string::npos) return {};
  std::size_t last = unfolded.find_last_not_of(" \t");
  return unfolded.substr(first, last - first + 1);
}

}  // namespace bulwark::mime
