// Charset conversion to UTF-8 for the MIME view (RFC 2046 4.1.2, RFC 2047 5, RFC 3629 3): iconv
// through GMime's alias table (g_mime_iconv_open caches converters under a lock, so threads may
// share it). Input bytes are untrusted; each invalid sequence becomes one U+FFFD.
#include "mime/charset_conversion.h"

#include "mime/mime_message.h"

#include <gmime/gmime.h>

#include <algorithm>
#include <cctype>
#include <cerrno>

namespace bulwark::mime {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

std::string lowerCase(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower;
}

// Charsets whose bytes are read as UTF-8 directly: US-ASCII is a subset, and 8-bit octets in
// mail labelled US-ASCII are in practice UTF-8 far more often than anything else.
bool isUtf8Compatible(std::string_view lower) {
  return lower.empty() || lower == "utf-8" || lower == "utf8" || lower == "us-ascii" ||
         lower == "ascii" || lower == "ansi_x3.4-1968" || lower == "iso646-us";
}

// Length of the well-formed UTF-8 sequence at `bytes[at]` (RFC 3629 4 table), 0 when invalid.
std::size_t utf8SequenceLength(std::string_view bytes, std::size_t at) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(bytes[i]); };
  unsigned char lead = byte(at);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;   // no overlongs
    if (lead == 0xED) high = 0x9F;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;  // nothing past U+10FFFF
  } else {
    return 0;
  }
  if (at + length > bytes.size()) return 0;
  if (byte(at + 1) < low || byte(at + 1) > high) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if (byte(at + i) < 0x80 || byte(at + i) > 0xBF) return 0;
  }
  return length;
}

}  // namespace

void appendCodePoint(std::string& out, unsigned long code_point) {
  if ((code_point >= 0xD800 && code_point <= 0xDFFF) || code_point > 0x10FFFF) {
    out += kReplacement;
  } else if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xC0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    out += static_cast<char>(0xE0 | (code_point >> 12));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code_point >> 18));
    out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
}

bool appendRepairedUtf8(std::string& out, std::string_view bytes) {
  bool replaced = false;
  std::size_t at = 0;
  while (at < bytes.size()) {
    // Runs of valid text are appended in one piece; only the invalid bytes cost extra work.
    std::size_t run_start = at;
    std::size_t length = 0;
    while (at < bytes.size() && (length = utf8SequenceLength(bytes, at)) != 0) at += length;
    out.append(bytes.substr(run_start, at - run_start));
    if (at < bytes.size()) {
      out += kReplacement;
      replaced = true;
      ++at;
    }
  }
  return replaced;
}

bool isKnownCharset(std::string_view charset) {
  std::string lower = lowerCase(charset);
  if (isUtf8Compatible(lower)) return true;
  initializeMimeLibrary();  // GMime's charset tables (decodeHeaderText may run before any parse)
  iconv_t converter = g_mime_iconv_open("UTF-8", lower.c_str());
  if (converter == reinterpret_cast<iconv_t>(-1)) return false;
  g_mime_iconv_close(converter);
  return true;
}

ConvertedText convertToUtf8(std::string_view bytes, std::string_view charset) {
  ConvertedText result;
  std::string lower = lowerCase(charset);
  if (isUtf8Compatible(lower)) {
    result.text.reserve(bytes.size());
    result.replaced = appendRepairedUtf8(result.text, bytes);
    return result;
  }
  initializeMimeLibrary();
  iconv_t converter = g_mime_iconv_open("UTF-8", lower.c_str());
  if (converter == reinterpret_cast<iconv_t>(-1)) {
    result.unknown_charset = true;
    result.replaced = appendRepairedUtf8(result.text, bytes);
    return result;
  }
  // iconv wants mutable pointers; it only reads the input.
  char* input = const_cast<char*>(bytes.data());
  std::size_t input_left = bytes.size();
  std::string buffer(bytes.size() * 2 + 16, '\0');
  std::size_t written = 0;
  while (input_left > 0) {
    char* output = buffer.data() + written;
    std::size_t output_left = buffer.size() - written;
    std::size_t status = iconv(converter, &input, &input_left, &output, &output_left);
    written = buffer.size() - output_left;
    if (status != static_cast<std::size_t>(-1)) break;
    if (errno == E2BIG) {
      buffer.resize(buffer.size() * 2);
    } else {
      // EILSEQ (invalid sequence) or EINVAL (cut off at the end): one replacement, skip a byte.
      if (buffer.size() - written < kReplacement.size()) buffer.resize(buffer.size() * 2);
      buffer.replace(written, kReplacement.size(), kReplacement);
      written += kReplacement.size();
      result.replaced = true;
      ++input;
      --input_left;
    }
  }
  // Stateful charsets (ISO-2022-JP) may owe a reset sequence; flushing writes nothing to UTF-8
  // in practice, but the converter must return to its initial state before it is cached again.
  iconv(converter, nullptr, nullptr, nullptr, nullptr);
  g_mime_iconv_close(converter);
  buffer.resize(written);
  result.text = std::move(buffer);
  return result;
}

}  // namespace bulwark::mime
