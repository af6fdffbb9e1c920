// HTML reduced to the text a reader sees (HTML Living Standard 13.2 tokenization, simplified):
// tags removed, script / style / title content dropped (the head's invisible parts), block
// elements as line breaks, character references decoded (13.5 named set, common part; numeric),
// whitespace collapsed.
// The HTML is untrusted: one pass, no regular expressions, no recursion, linear time whatever
// the input (unclosed tags and comments end at the end of the input).
#include "mime/charset_conversion.h"
#include "mime/mime_message.h"

#include <array>
#include <cctype>
#include <string>

namespace bulwark::mime {
namespace {

struct NamedReference {
  std::string_view name;
  unsigned long code_point;
};

// The references seen in mail; others are kept as written.
constexpr NamedReference kNamedReferences[] = {
    {"amp", '&'},     {"lt", '<'},        {"gt", '>'},       {"quot", '"'},     {"apos", '\''},
    {"nbsp", ' '},    {"ensp", ' '},      {"emsp", ' '},     {"thinsp", ' '},   {"shy", 0},
    {"zwj", 0},       {"zwnj", 0},        {"lrm", 0},        {"rlm", 0},        {"copy", 0xA9},
    {"reg", 0xAE},    {"trade", 0x2122},  {"hellip", 0x2026}, {"mdash", 0x2014}, {"ndash", 0x2013},
    {"lsquo", 0x2018}, {"rsquo", 0x2019}, {"sbquo", 0x201A}, {"ldquo", 0x201C}, {"rdquo", 0x201D},
    {"bdquo", 0x201E}, {"bull", 0x2022},  {"middot", 0xB7},  {"euro", 0x20AC},  {"pound", 0xA3},
    {"yen", 0xA5},    {"cent", 0xA2},     {"sect", 0xA7},    {"para", 0xB6},    {"deg", 0xB0},
    {"plusmn", 0xB1}, {"times", 0xD7},    {"divide", 0xF7},  {"laquo", 0xAB},   {"raquo", 0xBB},
    {"iexcl", 0xA1},  {"iquest", 0xBF},   {"micro", 0xB5},   {"frac12", 0xBD},  {"frac14", 0xBC},
    {"frac34", 0xBE}, {"sup2", 0xB2},     {"sup3", 0xB3},    {"larr", 0x2190},  {"rarr", 0x2192},
    {"Agrave", 0xC0}, {"Aacute", 0xC1},   {"Acirc", 0xC2},   {"Atilde", 0xC3},  {"Auml", 0xC4},
    {"Aring", 0xC5},  {"AElig", 0xC6},    {"Ccedil", 0xC7},  {"Egrave", 0xC8},  {"Eacute", 0xC9},
    {"Ecirc", 0xCA},  {"Euml", 0xCB},     {"Igrave", 0xCC},  {"Iacute", 0xCD},  {"Icirc", 0xCE},
    {"Iuml", 0xCF},   {"Ntilde", 0xD1},   {"Ograve", 0xD2},  {"Oacute", 0xD3},  {"Ocirc", 0xD4},
    {"Otilde", 0xD5}, {"Ouml", 0xD6},     {"Oslash", 0xD8},  {"Ugrave", 0xD9},  {"Uacute", 0xDA},
    {"Ucirc", 0xDB},  {"Uuml", 0xDC},     {"szlig", 0xDF},   {"agrave", 0xE0},  {"aacute", 0xE1},
    {"acirc", 0xE2},  {"atilde", 0xE3},   {"auml", 0xE4},    {"aring", 0xE5},   {"aelig", 0xE6},
    {"ccedil", 0xE7}, {"egrave", 0xE8},   {"eacute", 0xE9},  {"ecirc", 0xEA},   {"euml", 0xEB},
    {"iacute", 0xED}, {"icirc", 0xEE},    {"iuml", 0xEF},    {"ntilde", 0xF1},  {"oacute", 0xF3},
    {"ocirc", 0xF4},  {"ouml", 0xF6},     {"oslash", 0xF8},  {"uacute", 0xFA},  {"uuml", 0xFC},
};

// Code points a reader does not see: soft hyphen and zero-width characters. Writers hide words
// from filters with them ("se&shy;cret"), so they are dropped rather than kept.
bool isInvisible(unsigned long code_point) {
  return code_point == 0 || code_point == 0xAD || (code_point >= 0x200B && code_point <= 0x200F) ||
         code_point == 0x2060 || code_point == 0xFEFF;
}

// Whitespace of the HTML source (13.1.3 "ASCII whitespace").
bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool equalsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// Elements whose start and end are line breaks in the rendered text.
bool isBlockElement(std::string_view name) {
  static constexpr std::array<std::string_view, 27> kBlocks{
      "p",     "div",    "li",      "tr",         "h1",    "h2",     "h3",     "h4",   "h5",
      "h6",    "ul",     "ol",      "table",      "blockquote", "pre", "hr",   "section", "article",
      "header", "footer", "address", "dl",        "dt",    "dd",     "form",   "center", "caption"};
  for (std::string_view block : kBlocks) {
    if (equalsIgnoringCase(name, block)) return true;
  }
  return false;
}

// Elements whose content is not shown: scripts, styles, templates and the head's title. The head
// element itself is not skipped as a whole: HTML parsing ends it at the first text that belongs
// in a body (13.2.6.4.4), so a message could hide visible text behind an unclosed <head>.
// <noscript> content is shown, as mail clients run no scripts.
bool isHiddenContainer(std::string_view name) {
  return equalsIgnoringCase(name, "script") || equalsIgnoringCase(name, "style") ||
         equalsIgnoringCase(name, "title") || equalsIgnoringCase(name, "template");
}

// Builds the output: whitespace runs become one space, line breaks are kept (at most one empty
// line in a row), nothing leads or trails a line.
class TextWriter {
 public:
  explicit TextWriter(std::size_t capacity) { out_.reserve(capacity); }

  void space() {
    if (!out_.empty() && pending_breaks_ == 0) pending_space_ = true;
  }
  void lineBreak(unsigned count) {
    if (out_.empty()) return;
    pending_space_ = false;
    pending_breaks_ = std::min(2u, pending_breaks_ + count);
  }
  void blockBoundary() {
    if (out_.empty()) return;
    pending_space_ = false;
    if (pending_breaks_ == 0) pending_breaks_ = 1;
  }
  void text(std::string_view text) {
    if (text.empty()) return;
    flush();
    out_.append(text);
  }
  void codePoint(unsigned long code_point) {
    if (isInvisible(code_point)) return;
    if (code_point == ' ') {
      space();
      return;
    }
    flush();
    appendCodePoint(out_, code_point);
  }
  std::string take() { return std::move(out_); }

 private:
  void flush() {
    if (pending_breaks_ > 0) {
      out_.append(pending_breaks_, '\n');
    } else if (pending_space_) {
      out_ += ' ';
    }
    pending_breaks_ = 0;
    pending_space_ = false;
  }

  std::string out_;
  bool pending_space_ = false;
  unsigned pending_breaks_ = 0;
};

// Decodes the character reference at html[at] == '&'; returns the bytes consumed (0: not a
// reference, the '&' is text).
std::size_t readReference(std::string_view html, std::size_t at, TextWriter& writer) {
  std::size_t i = at + 1;
  if (i < html.size() && html[i] == '#') {
    ++i;
    bool hexadecimal = i < html.size() && (html[i] == 'x' || html[i] == 'X');
    if (hexadecimal) ++i;
    std::size_t digits_start = i;
    unsigned long value = 0;
    while (i < html.size() && std::isxdigit(static_cast<unsigned char>(html[i])) &&
           (hexadecimal || std::isdigit(static_cast<unsigned char>(html[i])))) {
      int digit = std::isdigit(static_cast<unsigned char>(html[i])) ? html[i] - '0'
                                                                     : lower(html[i]) - 'a' + 10;
      // Saturate: a reference past U+10FFFF is U+FFFD however many digits follow.
      if (value <= 0x10FFFF) value = value * (hexadecimal ? 16 : 10) + static_cast<unsigned>(digit);
      ++i;
    }
    if (i == digits_start) return 0;
    if (i < html.size() && html[i] == ';') ++i;
    writer.codePoint(value == 0 ? 0xFFFD : value);
    return i - at;
  }
  std::size_t name_start = i;
  while (i < html.size() && i - name_start < 10 &&
         std::isalnum(static_cast<unsigned char>(html[i]))) {
    ++i;
  }
  std::string_view name = html.substr(name_start, i - name_start);
  if (name.empty()) return 0;
  bool terminated = i < html.size() && html[i] == ';';
  for (const NamedReference& reference : kNamedReferences) {
    if (reference.name != name) continue;
    // Without ';' only the legacy references browsers still accept (13.5) are decoded.
    if (!terminated && name != "amp" && name != "lt" && name != "gt" && name != "quot" &&
        name != "nbsp") {
      return 0;
    }
    writer.codePoint(reference.code_point);
    return i - at + (terminated ? 1 : 0);
  }
  return 0;
}

// Offset just past the '>' closing the tag that starts at html[at]; quoted attribute values may
// hold '>'. An unclosed tag ends at the end of the input.
std::size_t tagEnd(std::string_view html, std::size_t at) {
  char quote = 0;
  for (std::size_t i = at; i < html.size(); ++i) {
    char c = html[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      // A quote only opens a value right after '=' (possibly with spaces), as in 13.2.5.
      std::size_t before = i;
      while (before > at && isSpace(html[before - 1])) --before;
      if (before > at && html[before - 1] == '=') quote = c;
    } else if (c == '>') {
      return i + 1;
    }
  }
  return html.size();
}

// Offset of "</name" (any case) from `from`, or the end of the input.
std::size_t findEndTag(std::string_view html, std::size_t from, std::string_view name) {
  for (std::size_t i = html.find("</", from); i != std::string_view::npos;
       i = html.find("</", i + 2)) {
    std::string_view candidate = html.substr(i + 2, name.size());
    std::size_t after = i + 2 + name.size();
    if (equalsIgnoringCase(candidate, name) &&
        (after >= html.size() || isSpace(html[after]) || html[after] == '>' ||
         html[after] == '/')) {
      return i;
    }
  }
  return html.size();
}

}  // namespace

std::string htmlToText(std::string_view html) {
  TextWriter writer(html.size());
  std::size_t i = 0;
  std::size_t text_start = 0;
  auto emitText = [&](std::size_t end) {
    // Text between markup: whitespace runs collapse to one space.
    std::size_t j = text_start;
    while (j < end) {
      if (isSpace(html[j])) {
        writer.space();
        while (j < end && isSpace(html[j])) ++j;
        continue;
      }
      std::size_t run = j;
      while (j < end && !isSpace(html[j])) ++j;
      writer.text(html.substr(run, j - run));
    }
  };
  while (i < html.size()) {
    char c = html[i];
    if (c == '&') {
      emitText(i);
      std::size_t consumed = readReference(html, i, writer);
      if (consumed == 0) {
        writer.text("&");
        consumed = 1;
      }
      i += consumed;
      text_start = i;
      continue;
    }
    if (c != '<' || i + 1 >= html.size()) {
      ++i;
      continue;
    }
    char next = html[i + 1];
    if (html.compare(i, 4, "<!--") == 0) {
      emitText(i);
      std::size_t end = html.find("-->", i + 4);
      i = end == std::string_view::npos ? html.size() : end + 3;
      text_start = i;
      continue;
    }
    if (next == '!' || next == '?') {
      // Doctype, CDATA and processing instructions: bogus comments in HTML (13.2.5.42); a reader
      // sees nothing of them.
      emitText(i);
      std::size_t end = html.compare(i, 9, "<![CDATA[") == 0 ? html.find("]]>", i + 9)
                                                             : std::string_view::npos;
      i = end != std::string_view::npos ? end + 3 : tagEnd(html, i + 2);
      text_start = i;
      continue;
    }
    bool closing = next == '/';
    std::size_t name_start = i + (closing ? 2 : 1);
    if (name_start >= html.size() || !std::isalpha(static_cast<unsigned char>(html[name_start]))) {
      ++i;  // "<" in text ("a < b") stays text
      continue;
    }
    emitText(i);
    std::size_t name_end = name_start;
    while (name_end < html.size() && std::isalnum(static_cast<unsigned char>(html[name_end])))
      ++name_end;
    std::string_view name = html.substr(name_start, name_end - name_start);
    i = tagEnd(html, name_end);
    if (equalsIgnoringCase(name, "br")) {
      writer.lineBreak(1);
    } else if (isBlockElement(name)) {
      writer.blockBoundary();
    } else if (equalsIgnoringCase(name, "td") || equalsIgnoringCase(name, "th")) {
      writer.space();
    } else if (!closing && isHiddenContainer(name)) {
      std::size_t end = findEndTag(html, i, name);
      i = end < html.size() ? tagEnd(html, end) : end;
    }
    text_start = i;
  }
  emitText(html.size());
  return writer.take();
}

}  // namespace bulwark::mime
