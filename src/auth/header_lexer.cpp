// The structured header field lexer; see header_lexer.h. RFC 5322 3.2.2-3.2.4.
#include "auth/header_lexer.h"

namespace bulwark::auth {

bool isAtext(char character) {
  if ((character >= 'a' && character <= 'z') || (character >= 'A' && character <= 'Z') ||
      (character >= '0' && character <= '9')) {
    return true;
  }
  return std::string_view("!#$%&'*+-/=?^_`{|}~").find(character) != std::string_view::npos;
}

bool HeaderLexer::fail(std::string message) {
  if (error_.empty()) error_ = std::move(message) + " (at byte " + std::to_string(position_) + ")";
  return false;
}

bool HeaderLexer::readComment(std::string& comment) {
  unsigned depth = 0;
  while (true) {
    if (atEnd()) return fail("a comment is not closed");
    char character = text_[position_++];
    if (character == '\\') {
      if (atEnd()) return fail("a comment ends in a backslash");
      comment += text_[position_++];
    } else if (character == '(') {
      if (++depth > max_comment_depth_) {
        return fail("comments nested deeper than " + std::to_string(max_comment_depth_));
      }
      if (depth > 1) comment += character;
    } else if (character == ')') {
      if (--depth == 0) return true;
      comment += character;
    } else {
      comment += character;
    }
  }
}

std::optional<std::string> HeaderLexer::readQuoted() {
  ++position_;
  std::string content;
  while (true) {
    if (atEnd()) {
      fail("a quoted string is not closed");
      return std::nullopt;
    }
    char character = text_[position_++];
    if (character == '"') return content;
    if (character == '\\') {
      if (atEnd()) {
        fail("a quoted string ends in a backslash");
        return std::nullopt;
      }
      content += text_[position_++];
    } else if (character != '\r' && character != '\n') {
      content += character;
    }
  }
}

}  // namespace bulwark::auth
