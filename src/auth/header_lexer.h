// The lexical layer of the structured header field parsers (address lists, Authentication-
// Results): CFWS with nested comments and quoted-pairs (RFC 5322 3.2.2), quoted-string (3.2.4)
// and atext (3.2.3). Input is untrusted header text; comments nest iteratively (no recursion),
// up to a depth limit the parser passes.
#pragma once

#include <cstddef>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace bulwark::auth {

// atext (RFC 5322 3.2.3): ASCII letters, digits and "!#$%&'*+-/=?^_`{|}~".
bool isAtext(char character);

// A cursor over one field value with the first syntax error it met. Parsers derive from it
// (privately) and read text_ and position_ directly; every error goes through fail().
class HeaderLexer {
 public:
  static constexpr unsigned kUnlimitedDepth = std::numeric_limits<unsigned>::max();

  // Space, tab, CR and LF: the whitespace of an unfolded or still folded field.
  static bool isWhitespace(char character) {
    return character == ' ' || character == '\t' || character == '\r' || character == '\n';
  }

  explicit HeaderLexer(std::string_view text, unsigned max_comment_depth = kUnlimitedDepth)
      : text_(text), max_comment_depth_(max_comment_depth) {}

  bool atEnd() const { return position_ >= text_.size(); }
  char peek() const { return text_[position_]; }

  // Keeps the first error, with the byte it happened at; always false, for "return fail(...)".
  bool fail(std::string message);
  Error failure() const { return makeError("syntax", error_); }

  // [CFWS]: whitespace and comments; `on_comment` gets each comment's text (quoted-pairs
  // unescaped, the outer parentheses removed, inner ones kept). False on a broken comment.
  template <typename OnComment>
  bool skipCfws(OnComment&& on_comment) {
    while (!atEnd()) {
      if (isWhitespace(peek())) {
        ++position_;
        continue;
      }
      if (peek() != '(') return true;
      std::string comment;
      if (!readComment(comment)) return false;
      on_comment(std::move(comment));
    }
    return true;
  }
  bool skipCfws() {
    return skipCfws([](std::string&&) {});
  }

  // quoted-string whose opening quote is at position_: the content, quoted-pairs unescaped and
  // line breaks dropped; nullopt (and an error) when it is not closed.
  std::optional<std::string> readQuoted();

 protected:
  std::string_view text_;
  std::size_t position_ = 0;

 private:
  // The comment whose '(' is at position_, up to and including its matching ')'.
  bool readComment(std::string& comment);

  unsigned max_comment_depth_;
  std::string error_;
};

}  // namespace bulwark::auth
