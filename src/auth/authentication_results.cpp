// Authentication-Results (RFC 8601 2.2): rendering with RFC 2045 value quoting and folding,
// parsing with CFWS anywhere, and removal of fields claiming our authserv-id (RFC 8601 5).
// Parsed values and messages are untrusted; parsing is iterative and linear in the input.
#include "auth/authentication_results.h"

#include "auth/header_lexer.h"
#include "common/strings.h"
#include "mime/header_fields.h"

#include <algorithm>
#include <optional>

namespace bulwark::auth {
namespace {

constexpr std::size_t kLineLimit = 78;  // RFC 5322 2.1.1: lines SHOULD stay under 78 characters

// token (RFC 2045 5.1): printable US-ASCII except SPACE and tspecials.
bool isTokenCharacter(char character) {
  if (character <= 0x20 || character >= 0x7f) return false;
  return std::string_view("()<>@,;:\\\"/[]?=").find(character) == std::string_view::npos;
}

bool isToken(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), isTokenCharacter);
}

bool isDotAtom(std::string_view text) {
  if (text.empty() || text.front() == '.' || text.back() == '.') return false;
  if (text.find("..") != std::string_view::npos) return false;
  return std::all_of(text.begin(), text.end(), [](char c) { return c == '.' || isAtext(c); });
}

bool isDomainName(std::string_view text) {
  if (!isDotAtom(text)) return false;
  return std::all_of(text.begin(), text.end(), [](char c) {
    return c == '.' || c == '-' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9');
  });
}

// pvalue's unquoted alternative (RFC 8601 2.2): [[local-part] "@"] domain-name.
bool isAddressValue(std::string_view text) {
  std::size_t at = text.rfind('@');
  if (at == std::string_view::npos) return false;
  std::string_view local = text.substr(0, at);
  return (local.empty() || isDotAtom(local)) && isDomainName(text.substr(at + 1));
}

std::string quoted(std::string_view text) {
  std::string out = "\"";
  for (char character : text) {
    if (character == '"' || character == '\\') out += '\\';
    if (character == '\r' || character == '\n') continue;
    out += character;
  }
  out += '"';
  return out;
}

std::string valueText(std::string_view text) {
  return isToken(text) ? std::string(text) : quoted(text);
}

std::string propertyValueText(std::string_view text) {
  return isToken(text) || isAddressValue(text) ? std::string(text) : quoted(text);
}

// A comment's words, each a piece the folding may put on a new line.
std::vector<std::string> commentPieces(std::string_view comment) {
  std::string escaped;
  for (char character : comment) {
    if (character == '(' || character == ')' || character == '\\') escaped += '\\';
    if (character == '\r' || character == '\n') continue;
    escaped += character;
  }
  std::vector<std::string> pieces;
  std::size_t position = 0;
  while (position < escaped.size()) {
    std::size_t start = escaped.find_first_not_of(" \t", position);
    if (start == std::string::npos) break;
    std::size_t end = escaped.find_first_of(" \t", start);
    if (end == std::string::npos) end = escaped.size();
    pieces.push_back(escaped.substr(start, end - start));
    position = end;
  }
  if (pieces.empty()) return pieces;
  pieces.front().insert(0, "(");
  pieces.back() += ')';
  return pieces;
}

class Parser : private HeaderLexer {
 public:
  explicit Parser(std::string_view text) : HeaderLexer(text) {}

  Result<AuthenticationResults> parse() {
    AuthenticationResults results;
    if (!skipCfws()) return failure();
    std::optional<std::string> id = readValue();
    if (!id || id->empty()) {
      fail("no authserv-id");
      return failure();
    }
    results.authserv_id = std::move(*id);
    if (!skipCfws()) return failure();
    if (!atEnd() && isDigit(peek())) {
      std::string version = readDigits();
      if (version != "1") {
        fail("unsupported version " + version);
        return failure();
      }
      if (!skipCfws()) return failure();
    }
    if (atEnd() || peek() != ';') {
      fail("no ';' after the authserv-id");
      return failure();
    }
    bool first = true;
    while (!atEnd()) {
      ++position_;  // the ';'
      if (!skipCfws()) return failure();
      if (atEnd()) break;  // a trailing ';'
      std::size_t start = position_;
      std::string method = asciiLower(readKeyword());
      if (method.empty()) {
        fail("a method is not a keyword");
        return failure();
      }
      if (!skipCfws()) return failure();
      if (first && method == "none" && atEnd()) return results;
      position_ = start;
      MethodResult result;
      if (!parseResultInfo(result)) return failure();
      results.results.push_back(std::move(result));
      first = false;
    }
    return results;
  }

 private:
  static bool isDigit(char character) { return character >= '0' && character <= '9'; }
  static bool isKeywordCharacter(char character) {
    return isDigit(character) || (character >= 'a' && character <= 'z') ||
           (character >= 'A' && character <= 'Z') || character == '-' || character == '_';
  }

  // [CFWS]; with `comments`, each comment's text is appended to it.
  bool skipCfws(std::string* comments = nullptr) {
    if (comments == nullptr) return HeaderLexer::skipCfws();
    return HeaderLexer::skipCfws([comments](std::string&& comment) {
      // Folding and runs of whitespace in a comment are one space: it is text for people.
      bool space = !comments->empty();
      for (char character : comment) {
        if (isWhitespace(character)) {
          space = true;
          continue;
        }
        if (space && !comments->empty()) *comments += ' ';
        space = false;
        *comments += character;
      }
    });
  }

  std::string readDigits() {
    std::size_t start = position_;
    while (!atEnd() && isDigit(peek())) ++position_;
    return std::string(text_.substr(start, position_ - start));
  }

  std::string readKeyword() {
    std::size_t start = position_;
    while (!atEnd() && isKeywordCharacter(peek())) ++position_;
    return std::string(text_.substr(start, position_ - start));
  }

  // value = token / quoted-string (RFC 2045).
  std::optional<std::string> readValue() {
    if (atEnd()) return std::string();
    if (peek() == '"') return readQuoted();
    std::size_t start = position_;
    while (!atEnd() && isTokenCharacter(peek())) ++position_;
    return std::string(text_.substr(start, position_ - start));
  }

  // pvalue = value / [[local-part] "@"] domain-name. Real fields also carry base64 ("header.b=
  // ab/c+=") unquoted, so anything up to whitespace, ';' or a comment is taken.
  std::optional<std::string> readPropertyValue() {
    std::string value;
    if (!atEnd() && peek() == '"') {
      std::optional<std::string> local = readQuoted();
      if (!local) return std::nullopt;
      value = std::move(*local);
      if (atEnd() || peek() != '@') return value;
    }
    std::size_t start = position_;
    while (!atEnd() && !isWhitespace(peek()) && peek() != ';' && peek() != '(' && peek() != '"') {
      ++position_;
    }
    value += text_.substr(start, position_ - start);
    return value;
  }

  // resinfo after its ';': methodspec [reasonspec] *propspec, comments kept.
  bool parseResultInfo(MethodResult& result) {
    result.method = asciiLower(readKeyword());
    if (!skipCfws()) return false;
    if (!atEnd() && peek() == '/') {
      ++position_;
      if (!skipCfws()) return false;
      std::string version = readDigits();
      if (version.empty()) return fail("a method version is not a number");
      result.method += "/" + version;
      if (!skipCfws()) return false;
    }
    if (atEnd() || peek() != '=') return fail("no '=' after the method " + result.method);
    ++position_;
    if (!skipCfws()) return false;
    result.result = asciiLower(readKeyword());
    if (result.result.empty()) return fail("no result for the method " + result.method);
    while (true) {
      if (!skipCfws(&result.comment)) return false;
      if (atEnd() || peek() == ';') return true;
      std::string name = asciiLower(readKeyword());
      if (name.empty()) return fail(std::string("unexpected '") + peek() + "'");
      if (!skipCfws(&result.comment)) return false;
      if (atEnd()) return fail("no '=' after " + name);
      ResultProperty property;
      if (peek() == '.') {
        ++position_;
        if (!skipCfws()) return false;
        property.type = std::move(name);
        property.name = asciiLower(readKeyword());
        if (property.name.empty()) return fail("a property is not a keyword");
        if (!skipCfws()) return false;
      } else if (name == "reason") {
        if (peek() != '=') return fail("no '=' after reason");
        ++position_;
        if (!skipCfws()) return false;
        std::optional<std::string> reason = readValue();
        if (!reason) return false;
        result.reason = std::move(*reason);
        continue;
      } else {
        // "action=none" and the like (Microsoft 365 writes them): a property without ptype.
        property.name = std::move(name);
      }
      if (atEnd() || peek() != '=') return fail("no '=' after the property " + property.name);
      ++position_;
      if (!skipCfws()) return false;
      std::optional<std::string> value = readPropertyValue();
      if (!value) return false;
      property.value = std::move(*value);
      result.properties.push_back(std::move(property));
    }
  }

};

// Whether `word` occurs in `text` delimited by characters that cannot be part of a host name.
bool containsWord(std::string_view text, std::string_view word) {
  if (word.empty()) return false;
  std::string haystack = asciiLower(text);
  std::string needle = asciiLower(word);
  auto boundary = [&](std::size_t index) {
    return index >= haystack.size() || !isTokenCharacter(haystack[index]);
  };
  for (std::size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + 1)) {
    if ((at == 0 || boundary(at - 1)) && boundary(at + needle.size())) return true;
  }
  return false;
}

}  // namespace

std::string renderResultsValue(const AuthenticationResults& results) {
  std::string out = valueText(results.authserv_id);
  if (results.results.empty()) return out + "; none";
  out += ';';
  for (std::size_t index = 0; index < results.results.size(); ++index) {
    const MethodResult& result = results.results[index];
    std::vector<std::string> pieces;
    pieces.push_back(result.method + "=" + result.result);
    if (!result.reason.empty()) pieces.push_back("reason=" + quoted(result.reason));
    for (const ResultProperty& property : result.properties) {
      std::string piece =
          property.type.empty() ? property.name : property.type + "." + property.name;
      pieces.push_back(piece + "=" + propertyValueText(property.value));
    }
    for (std::string& piece : commentPieces(result.comment)) pieces.push_back(std::move(piece));
    if (index + 1 < results.results.size()) pieces.back() += ';';
    out += "\r\n\t";
    std::size_t line_length = 1;
    bool line_start = true;
    for (const std::string& piece : pieces) {
      if (!line_start && line_length + 1 + piece.size() > kLineLimit) {
        out += "\r\n\t";
        line_length = 1;
        line_start = true;
      }
      if (!line_start) {
        out += ' ';
        ++line_length;
      }
      out += piece;
      line_length += piece.size();
      line_start = false;
    }
  }
  return out;
}

std::string renderAuthenticationResults(const AuthenticationResults& results) {
  return "Authentication-Results: " + renderResultsValue(results) + "\r\n";
}

Result<AuthenticationResults> parseAuthenticationResults(std::string_view value) {
  return Parser(value).parse();
}

std::size_t removeOurAuthenticationResults(std::string& message, std::string_view authserv_id) {
  std::vector<std::pair<std::size_t, std::size_t>> ranges;  // offset, length
  for (const mime::HeaderField& field : mime::headerFields(message)) {
    if (!equalsIgnoreCase(field.name, "authentication-results")) continue;
    Result<AuthenticationResults> parsed = parseAuthenticationResults(field.value);
    // A field that does not parse is ours if it names our id anywhere: a forger must not slip
    // one past us by breaking its syntax, and a broken field of someone else is worth nothing.
    const bool ours = parsed ? equalsIgnoreCase(parsed->authserv_id, authserv_id)
                             : containsWord(field.value, authserv_id);
    if (ours) {
      ranges.emplace_back(static_cast<std::size_t>(field.raw.data() - message.data()),
                          field.raw.size());
    }
  }
  for (auto range = ranges.rbegin(); range != ranges.rend(); ++range) {
    message.erase(range->first, range->second);
  }
  return ranges.size();
}

}  // namespace bulwark::auth
