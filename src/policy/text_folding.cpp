// Case folding and word boundaries for the word matcher; see text_folding.h. glib is used only
// here (GMime already depends on it), so no glib type appears in a header.
#include "policy/text_folding.h"

#include <glib.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>

namespace bulwark::policy {
namespace {

bool isAsciiSpace(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool isAsciiWordCharacter(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// ASCII folded, every whitespace byte as ' '.
constexpr std::array<char, 128> kAsciiFold = [] {
  std::array<char, 128> table{};
  for (int c = 0; c < 128; ++c) {
    const bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
    table[c] = static_cast<char>(space ? ' ' : (c >= 'A' && c <= 'Z') ? c + 32 : c);
  }
  return table;
}();

struct GlibFree {
  void operator()(gchar* text) const { g_free(text); }
};
using GlibString = std::unique_ptr<gchar, GlibFree>;

bool isScriptWithoutSpaces(gunichar character) {
  switch (g_unichar_get_script(character)) {
    case G_UNICODE_SCRIPT_HAN:
    case G_UNICODE_SCRIPT_HIRAGANA:
    case G_UNICODE_SCRIPT_KATAKANA:
    case G_UNICODE_SCRIPT_THAI:
    case G_UNICODE_SCRIPT_LAO:
    case G_UNICODE_SCRIPT_KHMER:
    case G_UNICODE_SCRIPT_MYANMAR: return true;
    default: return false;
  }
}

bool blocksBoundary(gunichar character) {
  if (character < 0x80) return isAsciiWordCharacter(static_cast<unsigned char>(character));
  if (isScriptWithoutSpaces(character)) return false;
  return g_unichar_isalnum(character) || g_unichar_ismark(character);
}

}  // namespace

std::string foldForMatching(std::string_view text) {
  // ASCII fast path, branch-free per byte: write the folded byte, advance unless it is a space
  // after a space. Falls back to glib at the first non-ASCII byte.
  std::string out(text.size(), '\0');
  char* write = out.data();
  bool in_space = false;
  bool ascii = true;
  for (unsigned char c : text) {
    if (c >= 0x80) {
      ascii = false;
      break;
    }
    const char folded = kAsciiFold[c];
    const bool space = folded == ' ';
    *write = folded;
    write += !(space && in_space);
    in_space = space;
  }
  if (ascii) {
    out.resize(static_cast<std::size_t>(write - out.data()));
    return out;
  }
  out.clear();
  // g_utf8_casefold requires valid UTF-8: invalid bytes become U+FFFD first. glib counts an
  // embedded NUL as invalid too, so none is left to cut the NUL-terminated result short.
  GlibString valid;
  std::string_view input = text;
  if (!g_utf8_validate_len(text.data(), text.size(), nullptr)) {
    valid.reset(g_utf8_make_valid(text.data(), static_cast<gssize>(text.size())));
    input = valid.get();
  }
  GlibString folded(g_utf8_casefold(input.data(), static_cast<gssize>(input.size())));
  const char* cursor = folded.get();
  in_space = false;
  while (*cursor != '\0') {
    const unsigned char lead = static_cast<unsigned char>(*cursor);
    if (lead < 0x80) {
      if (isAsciiSpace(lead)) {
        if (!in_space) out.push_back(' ');
        in_space = true;
      } else {
        out.push_back(static_cast<char>(lead));
        in_space = false;
      }
      ++cursor;
      continue;
    }
    const char* next = g_utf8_next_char(cursor);
    if (g_unichar_isspace(g_utf8_get_char(cursor))) {
      if (!in_space) out.push_back(' ');
      in_space = true;
    } else {
      out.append(cursor, static_cast<std::size_t>(next - cursor));
      in_space = false;
    }
    cursor = next;
  }
  return out;
}

bool isValidUtf8(std::string_view text) {
  return g_utf8_validate_len(text.data(), text.size(), nullptr);
}

bool wordCharacterBefore(std::string_view text, std::size_t position) {
  if (position == 0 || position > text.size()) return false;
  const unsigned char last = static_cast<unsigned char>(text[position - 1]);
  if (last < 0x80) return isAsciiWordCharacter(last);
  std::size_t start = position - 1;
  // Back over continuation bytes (at most three) to the lead byte.
  while (start > 0 && position - start < 4 &&
         (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) {
    --start;
  }
  const gunichar character =
      g_utf8_get_char_validated(text.data() + start, static_cast<gssize>(position - start));
  if (character == static_cast<gunichar>(-1) || character == static_cast<gunichar>(-2)) {
    return false;
  }
  return blocksBoundary(character);
}

bool wordCharacterAt(std::string_view text, std::size_t position) {
  if (position >= text.size()) return false;
  const unsigned char first = static_cast<unsigned char>(text[position]);
  if (first < 0x80) return isAsciiWordCharacter(first);
  const gunichar character = g_utf8_get_char_validated(
      text.data() + position,
      static_cast<gssize>(std::min<std::size_t>(4, text.size() - position)));
  if (character == static_cast<gunichar>(-1) || character == static_cast<gunichar>(-2)) {
    return false;
  }
  return blocksBoundary(character);
}

}  // namespace bulwark::policy
