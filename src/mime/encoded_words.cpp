// Unstructured header text with RFC 2047 encoded words decoded to UTF-8 (RFC 2047 2, 4.1 "B",
// 4.2 "Q", 6.2 adjacent words; RFC 2231 5 language suffix; RFC 5322 2.2.3 unfolding). The value
// is untrusted: a word that is not well formed, or whose charset is unknown, stays as written.
// Linear in the input.
#include "common/strings.h"
#include "mime/charset_conversion.h"
#include "mime/encoded_word.h"
#include "mime/mime_message.h"

#include <cctype>
#include <optional>

namespace bulwark::mime {
namespace {

bool isWhitespace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

int base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// RFC 2047 4.1. Whitespace inside the word is skipped: senders that fold in the middle of an
// encoded word are common, and the fold carries no meaning there. Returns nullopt when the text
// is not base64 (the word is then kept as written).
std::optional<std::string> decodeBase64Word(std::string_view text) {
  std::string out;
  unsigned long accumulator = 0;
  int bits = 0;
  bool padding = false;
  for (char c : text) {
    if (isWhitespace(c)) continue;
    if (c == '=') {
      padding = true;
      continue;
    }
    int value = base64Value(c);
    if (value < 0 || padding) return std::nullopt;
    accumulator = (accumulator << 6) | static_cast<unsigned long>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((accumulator >> bits) & 0xFF);
    }
  }
  // Six leftover bits cannot carry a byte: the text was cut (RFC 4648 3.3 "dangling" bits).
  if (bits >= 6) return std::nullopt;
  return out;
}

// RFC 2047 4.2: "_" is a space, "=XX" an octet. A fold inside the word (marked '\n' by
// unfold()) is skipped; a space the sender wrote inside the word is kept, as readers show it.
std::optional<std::string> decodeQuotedWord(std::string_view text) {
  std::string spaced;
  spaced.reserve(text.size());
  for (char c : text) {
    if (c != '\n') spaced += c == '_' ? ' ' : c;
  }
  return decodeHexEscapes(spaced, '=');
}

// Folding (RFC 5322 2.2.3) removed: the whitespace around each fold becomes one '\n' marker
// (a space in the text, nothing inside an encoded word). Whitespace that is not at a fold is kept.
std::string unfold(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  std::size_t i = 0;
  while (i < value.size()) {
    char c = value[i];
    if (c == '\r' || c == '\n') {
      while (!out.empty() && (out.back() == ' ' || out.back() == '\t')) out.pop_back();
      while (i < value.size() && isWhitespace(value[i])) ++i;
      if (!out.empty() && out.back() != '\n') out += '\n';
      continue;
    }
    out += c;
    ++i;
  }
  std::size_t first = out.find_first_not_of(" \t\n");
  std::size_t last = out.find_last_not_of(" \t\n");
  if (first == std::string::npos) return {};
  return out.substr(first, last - first + 1);
}

// Plain text between encoded words, fold markers shown as spaces.
void appendPlain(std::string& out, std::string_view text) {
  std::size_t start = out.size();
  appendRepairedUtf8(out, text);
  for (std::size_t i = start; i < out.size(); ++i) {
    if (out[i] == '\n') out[i] = ' ';
  }
}

}  // namespace

std::optional<EncodedWord> readEncodedWord(std::string_view value, std::size_t at) {
  std::size_t charset_start = at + 2;
  std::size_t charset_end = value.find('?', charset_start);
  if (charset_end == std::string_view::npos || charset_end == charset_start) return std::nullopt;
  std::string_view charset = value.substr(charset_start, charset_end - charset_start);
  for (char c : charset) {
    if (isWhitespace(c) || c == '=' || static_cast<unsigned char>(c) < 0x21 ||
        static_cast<unsigned char>(c) > 0x7E) {
      return std::nullopt;
    }
  }
  if (charset_end + 2 >= value.size() || value[charset_end + 2] != '?') return std::nullopt;
  char encoding =
      static_cast<char>(std::toupper(static_cast<unsigned char>(value[charset_end + 1])));
  if (encoding != 'B' && encoding != 'Q') return std::nullopt;
  std::size_t text_start = charset_end + 3;
  std::size_t text_end = value.find("?=", text_start);
  if (text_end == std::string_view::npos) return std::nullopt;
  std::string_view text = value.substr(text_start, text_end - text_start);
  // Another word's start inside the text means this one was never closed.
  if (text.find("=?") != std::string_view::npos) return std::nullopt;
  std::optional<std::string> bytes =
      encoding == 'B' ? decodeBase64Word(text) : decodeQuotedWord(text);
  if (!bytes) return std::nullopt;
  std::string_view name = charset.substr(0, charset.find('*'));  // RFC 2231 5: "*language"
  if (name.empty()) return std::nullopt;
  return EncodedWord{text_end + 2 - at, std::string(name), std::move(*bytes),
                     isKnownCharset(name)};
}

std::string decodeHeaderText(std::string_view raw_value) {
  std::string value = unfold(raw_value);
  std::string out;
  out.reserve(value.size());
  // Octets of adjacent words in one charset are converted together: a multi-byte character may
  // be split across two words.
  std::string pending_bytes;
  std::string pending_charset;
  auto flushPending = [&] {
    if (pending_bytes.empty()) return;
    out += convertToUtf8(pending_bytes, pending_charset).text;
    pending_bytes.clear();
  };
  std::size_t plain_start = 0;  // start of text not yet copied
  bool previous_was_word = false;
  std::size_t i = 0;
  while (i < value.size()) {
    std::size_t candidate = value.find("=?", i);
    if (candidate == std::string::npos) break;
    std::optional<EncodedWord> word = readEncodedWord(value, candidate);
    // A word in a charset we cannot convert stays as written.
    if (!word || !word->known_charset) {
      i = candidate + 1;
      continue;
    }
    std::string_view between = std::string_view(value).substr(plain_start, candidate - plain_start);
    bool only_whitespace = between.find_first_not_of(" \t\n") == std::string_view::npos;
    // RFC 2047 6.2: whitespace between two encoded words is not displayed.
    if (!(previous_was_word && only_whitespace)) {
      flushPending();
      appendPlain(out, between);
    }
    if (!pending_bytes.empty() && pending_charset != word->charset) flushPending();
    pending_charset = word->charset;
    pending_bytes += word->bytes;
    previous_was_word = true;
    i = candidate + word->length;
    plain_start = i;
  }
  flushPending();
  appendPlain(out, std::string_view(value).substr(plain_start));
  return out;
}

}  // namespace bulwark::mime
