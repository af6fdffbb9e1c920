// Message edits (see mime_edit.h): header fields on the raw header section (RFC 5322 2.2, 2.2.3
// folding; RFC 2047 encoded words for non-ASCII values), a disclaimer through GMime (RFC 2045
// 6.7 quoted-printable, RFC 2046 5.1 multipart), signed content (RFC 1847, RFC 8551) wrapped on
// the raw bytes so the signed entity keeps every byte. The message is untrusted.
#include "mime/mime_edit.h"

#include <gmime/gmime.h>
#include <iconv.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>

#include "mime/header_fields.h"

namespace bulwark::mime {
namespace {

struct GObjectRelease {
  void operator()(gpointer object) const {
    if (object != nullptr) g_object_unref(object);
  }
};
template <class T>
using GObjectPointer = std::unique_ptr<T, GObjectRelease>;

struct GFreeRelease {
  void operator()(char* text) const { g_free(text); }
};
using GText = std::unique_ptr<char, GFreeRelease>;

// GMime's default parser and format options and its charset tables exist only after g_mime_init.
// main() initialises it before any thread starts (mime::initializeMimeLibrary); tools and tests
// that edit without parsing first get it here. g_mime_init counts its calls, so a second
// initialisation is only an increment.
void ensureGMime() {
  static std::once_flag initialized;
  std::call_once(initialized, [] { g_mime_init(); });
}

constexpr std::size_t kFoldColumn = 78;  // RFC 5322 2.1.1: lines SHOULD be at most 78 characters

bool isAscii(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

char lowerAscii(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equalsIgnoringCase(std::string_view left, std::string_view right) {
  return left.size() == right.size() &&
         std::equal(left.begin(), left.end(), right.begin(),
                    [](char a, char b) { return lowerAscii(a) == lowerAscii(b); });
}

bool startsWithIgnoringCase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && equalsIgnoringCase(text.substr(0, prefix.size()), prefix);
}

// The message's own line ending, so an added field matches the ones around it.
std::string_view lineEndingOf(std::string_view message) {
  const std::size_t newline = message.find('\n');
  if (newline == std::string_view::npos) return "\r\n";
  return newline > 0 && message[newline - 1] == '\r' ? "\r\n" : "\n";
}

Result<void> checkField(std::string_view name, std::string_view value) {
  if (name.empty()) return makeError("invalid", "a header field needs a name");
  for (char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 33 || byte > 126 || c == ':') {
      return makeError("invalid", "the header field name \"" + std::string(name) +
                                      "\" has a character RFC 5322 2.2 does not allow");
    }
  }
  if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
    return makeError("invalid", "the value of " + std::string(name) +
                                    " contains CR, LF or NUL (header injection refused)");
  }
  return {};
}

// RFC 2047 encoded words (UTF-8) when the value is not ASCII; GMime splits long text into
// several words separated by spaces, which the folding below uses.
std::string encodeValue(std::string_view value) {
  if (isAscii(value)) return std::string(value);
  ensureGMime();
  const std::string text(value);
  GText encoded(g_mime_utils_header_encode_text(nullptr, text.c_str(), "utf-8"));
  return encoded ? std::string(encoded.get()) : text;
}

// "Name: value" folded at spaces before column 78 (RFC 5322 2.2.3); a word longer than a line
// stays whole (lines up to 998 characters are allowed).
std::string foldedField(std::string_view name, std::string_view value, std::string_view newline) {
  std::string field(name);
  field += ":";
  std::size_t column = field.size();
  std::size_t position = 0;
  bool first = true;
  while (position <= value.size()) {
    std::size_t space = value.find(' ', position);
    if (space == std::string_view::npos) space = value.size();
    const std::string_view word = value.substr(position, space - position);
    if (!first && column + 1 + word.size() > kFoldColumn) {
      field += newline;
      column = 0;
    }
    field += ' ';
    field += word;
    column += 1 + word.size();
    first = false;
    position = space + 1;
  }
  field += newline;
  return field;
}

std::size_t offsetIn(std::string_view whole, std::string_view part) {
  return static_cast<std::size_t>(part.data() - whole.data());
}

std::string decodedText(std::string_view value) {
  ensureGMime();
  const std::string unfolded = unfold(value);
  GText decoded(g_mime_utils_header_decode_text(nullptr, unfolded.c_str()));
  return decoded ? std::string(decoded.get()) : unfolded;
}

// --- disclaimer ---------------------------------------------------------------------------

// Converts with iconv; nullopt when a character has no equivalent in `to` or `from` is unknown.
std::optional<std::string> convert(std::string_view text, const char* to, const char* from) {
  iconv_t converter = iconv_open(to, from);
  if (converter == reinterpret_cast<iconv_t>(-1)) return std::nullopt;
  std::string output(text.size() * 4 + 16, '\0');
  char* input = const_cast<char*>(text.data());
  std::size_t input_left = text.size();
  char* out = output.data();
  std::size_t out_left = output.size();
  bool ok = true;
  while (input_left > 0) {
    if (iconv(converter, &input, &input_left, &out, &out_left) == static_cast<std::size_t>(-1)) {
      if (errno == E2BIG) {
        const std::size_t used = output.size() - out_left;
        output.resize(output.size() * 2);
        out = output.data() + used;
        out_left = output.size() - used;
        continue;
      }
      ok = false;
      break;
    }
  }
  // Flush any shift state (stateful encodings such as ISO-2022-JP).
  if (ok && iconv(converter, nullptr, nullptr, &out, &out_left) == static_cast<std::size_t>(-1)) {
    ok = false;
  }
  iconv_close(converter);
  if (!ok) return std::nullopt;
  output.resize(output.size() - out_left);
  return output;
}

std::string htmlEscaped(std::string_view text) {
  std::string escaped;
  for (char c : text) {
    switch (c) {
      case '&': escaped += "&amp;"; break;
      case '<': escaped += "&lt;"; break;
      case '>': escaped += "&gt;"; break;
      case '"': escaped += "&quot;"; break;
      case '\n': escaped += "<br>"; break;
      case '\r': break;
      default: escaped += c;
    }
  }
  return escaped;
}

std::string withLineEnding(std::string_view text, std::string_view newline) {
  std::string out;
  for (char c : text) {
    if (c == '\r') continue;
    if (c == '\n') {
      out += newline;
    } else {
      out += c;
    }
  }
  return out;
}

std::string lowerString(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) c = lowerAscii(c);
  return lower;
}

std::string contentTypeOf(GMimeObject* object) {
  GMimeContentType* type = g_mime_object_get_content_type(object);
  if (type == nullptr) return "text/plain";
  GText mime_type(g_mime_content_type_get_mime_type(type));
  return mime_type ? lowerString(mime_type.get()) : "text/plain";
}

bool isSignedOrEncrypted(std::string_view content_type) {
  return content_type == "multipart/signed" || content_type == "multipart/encrypted" ||
         content_type == "application/pkcs7-mime" || content_type == "application/x-pkcs7-mime";
}

bool isAttachment(GMimeObject* object) {
  const char* disposition = g_mime_object_get_disposition(object);
  return disposition != nullptr && equalsIgnoringCase(disposition, "attachment");
}

struct BodyParts {
  std::vector<GMimeTextPart*> text_parts;
  std::string protected_kind;  // "signed" or "encrypted" when such an entity is in the way
};

// The parts a reader sees as the message's text: a text/plain or text/html leaf at the top; the
// first part of multipart/mixed, related and others; the first text/plain and text/html of an
// alternative (descending into its multipart children). Attached messages, attachments and
// everything after the first part of a mixed are left alone.
void findBodyParts(GMimeObject* object, BodyParts& found) {
  const std::string type = contentTypeOf(object);
  if (isSignedOrEncrypted(type)) {
    found.protected_kind = type == "multipart/signed"      ? "signed"
                           : type == "multipart/encrypted" ? "encrypted"
                                                           : "S/MIME";
    return;
  }
  if (GMIME_IS_MULTIPART(object)) {
    auto* multipart = GMIME_MULTIPART(object);
    const int count = g_mime_multipart_get_count(multipart);
    if (count == 0) return;
    if (type != "multipart/alternative") {
      findBodyParts(g_mime_multipart_get_part(multipart, 0), found);
      return;
    }
    bool have_plain = false;
    bool have_html = false;
    for (int index = 0; index < count && found.protected_kind.empty(); ++index) {
      GMimeObject* child = g_mime_multipart_get_part(multipart, index);
      const std::string child_type = contentTypeOf(child);
      if (GMIME_IS_TEXT_PART(child) && !isAttachment(child)) {
        bool& have = child_type == "text/html" ? have_html : have_plain;
        if ((child_type == "text/plain" || child_type == "text/html") && !have) {
          have = true;
          found.text_parts.push_back(GMIME_TEXT_PART(child));
        }
      } else if (GMIME_IS_MULTIPART(child) || isSignedOrEncrypted(child_type)) {
        findBodyParts(child, found);
      }
    }
    return;
  }
  if (GMIME_IS_TEXT_PART(object) && !isAttachment(object) &&
      (type == "text/plain" || type == "text/html")) {
    found.text_parts.push_back(GMIME_TEXT_PART(object));
  }
}

// The part's content with its transfer encoding removed (charset untouched).
std::string decodedContent(GMimePart* part) {
  GMimeDataWrapper* wrapper = g_mime_part_get_content(part);
  if (wrapper == nullptr) return {};
  GObjectPointer<GMimeStream> stream(g_mime_stream_mem_new());
  g_mime_data_wrapper_write_to_stream(wrapper, stream.get());
  GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(stream.get()));
  return std::string(reinterpret_cast<const char*>(bytes->data), bytes->len);
}

std::size_t longestLine(std::string_view text) {
  std::size_t longest = 0;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    longest = std::max(longest, end - start);
    start = end + 1;
  }
  return longest;
}

// RFC 2045 6.7: 7bit and 8bit text must keep lines under 998 octets; 7bit must stay ASCII.
GMimeContentEncoding encodingFor(GMimeContentEncoding original, std::string_view content) {
  const bool long_lines = longestLine(content) > 990;
  switch (original) {
    case GMIME_CONTENT_ENCODING_BASE64:
    case GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE:
    case GMIME_CONTENT_ENCODING_BINARY: return original;
    case GMIME_CONTENT_ENCODING_8BIT:
      return long_lines ? GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE : original;
    default:
      if (long_lines || !isAscii(content)) return GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE;
      return original == GMIME_CONTENT_ENCODING_DEFAULT ? GMIME_CONTENT_ENCODING_DEFAULT
                                                        : GMIME_CONTENT_ENCODING_7BIT;
  }
}

// Inserts `addition` (UTF-8) into one text part, in the part's charset when it can hold it,
// else with the whole content converted to UTF-8.
bool appendToPart(GMimeTextPart* text_part, const Disclaimer& disclaimer) {
  GMimePart* part = GMIME_PART(text_part);
  const bool html = contentTypeOf(GMIME_OBJECT(part)) == "text/html";
  std::string content = decodedContent(part);
  const std::string_view newline = content.find("\r\n") != std::string::npos ? "\r\n" : "\n";
  std::string addition;
  if (html) {
    addition =
        disclaimer.html.empty() ? "<p>" + htmlEscaped(disclaimer.text) + "</p>" : disclaimer.html;
    addition = withLineEnding(addition, newline);
  } else {
    // One blank line between the text and the disclaimer; a final line break stays final.
    const bool ends_with_break = !content.empty() && content.back() == '\n';
    addition = withLineEnding(
        ends_with_break ? "\n" + disclaimer.text + "\n" : "\n\n" + disclaimer.text, newline);
  }
  const char* declared = g_mime_text_part_get_charset(text_part);
  std::string charset = declared != nullptr ? lowerString(declared) : "us-ascii";
  const bool utf8 = charset == "utf-8" || charset == "utf8";
  std::optional<std::string> converted;
  if (utf8 || (isAscii(addition) && charset != "utf-16" && charset != "utf-32")) {
    converted = addition;
  } else {
    const char* iconv_name = g_mime_charset_iconv_name(charset.c_str());
    converted = convert(addition, iconv_name, "UTF-8");
  }
  if (!converted) {
    // The part's charset cannot hold the disclaimer: the whole text goes to UTF-8.
    const char* iconv_name = g_mime_charset_iconv_name(charset.c_str());
    auto as_utf8 = convert(content, "UTF-8", iconv_name);
    if (!as_utf8) {
      GText lenient(g_mime_utils_decode_8bit(nullptr, content.data(), content.size()));
      as_utf8 = lenient ? std::string(lenient.get()) : content;
    }
    content = std::move(*as_utf8);
    converted = addition;
    g_mime_object_set_content_type_parameter(GMIME_OBJECT(part), "charset", "utf-8");
  }
  if (html) {
    // Before the last </body> when there is one, so the text stays inside the document.
    const std::string lower = lowerString(content);
    const std::size_t body_end = lower.rfind("</body");
    if (body_end != std::string::npos) {
      content.insert(body_end, *converted);
    } else {
      content += *converted;
    }
  } else {
    content += *converted;
  }
  const GMimeContentEncoding encoding =
      encodingFor(g_mime_part_get_content_encoding(part), content);
  GObjectPointer<GMimeStream> stream(
      g_mime_stream_mem_new_with_buffer(content.data(), content.size()));
  GObjectPointer<GMimeDataWrapper> wrapper(
      g_mime_data_wrapper_new_with_stream(stream.get(), GMIME_CONTENT_ENCODING_DEFAULT));
  g_mime_part_set_content(part, wrapper.get());
  g_mime_part_set_content_encoding(part, encoding);
  return true;
}

// Every line break as CRLF (GMime writes the headers it rebuilt with the format's newline, but
// content it copies keeps whatever line ends it had).
std::string withCrlf(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 32);
  for (std::size_t index = 0; index < text.size(); ++index) {
    const char c = text[index];
    if (c == '\r') {
      out += "\r\n";
      if (index + 1 < text.size() && text[index + 1] == '\n') ++index;
    } else if (c == '\n') {
      out += "\r\n";
    } else {
      out += c;
    }
  }
  return out;
}

// RFC 2045 6.7 quoted-printable of UTF-8 text, CRLF hard breaks, soft breaks before column 76.
std::string quotedPrintable(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  std::size_t column = 0;
  auto put = [&](std::string_view piece) {
    if (column + piece.size() > 75) {
      out += "=\r\n";
      column = 0;
    }
    out += piece;
    column += piece.size();
  };
  for (std::size_t index = 0; index < text.size(); ++index) {
    const auto byte = static_cast<unsigned char>(text[index]);
    if (byte == '\r') continue;
    if (byte == '\n') {
      out += "\r\n";
      column = 0;
      continue;
    }
    const bool line_end =
        index + 1 == text.size() || text[index + 1] == '\n' || text[index + 1] == '\r';
    const bool plain =
        (byte >= 33 && byte <= 126 && byte != '=') || ((byte == ' ' || byte == '\t') && !line_end);
    if (plain) {
      const char c = static_cast<char>(byte);
      put(std::string_view(&c, 1));
    } else {
      const char escaped[3] = {'=', kHex[byte >> 4], kHex[byte & 15]};
      put(std::string_view(escaped, 3));
    }
  }
  return out;
}

std::string newBoundary(std::string_view message) {
  static constexpr char kAlphabet[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::random_device device;
  std::mt19937_64 generator(device());
  for (;;) {
    std::string boundary = "=_bulwark_";
    for (int index = 0; index < 24; ++index) boundary += kAlphabet[generator() % 62];
    if (message.find(boundary) == std::string_view::npos) return boundary;
  }
}

bool isMimeField(std::string_view name) {
  return startsWithIgnoringCase(name, "Content-") || equalsIgnoringCase(name, "MIME-Version");
}

// The original entity, unchanged, as part 1 of a new multipart/mixed; the disclaimer part 2.
// Everything is done on the raw bytes: the signed or encrypted entity keeps every byte, so its
// signature still verifies (RFC 1847 2.1, RFC 8551 3.5).
std::string wrapped(std::string_view message, const Disclaimer& disclaimer) {
  const std::vector<HeaderField> fields = headerFields(message);
  const std::size_t body_offset = bodyOffset(message);
  const std::string boundary = newBoundary(message);
  std::string out;
  out.reserve(message.size() + disclaimer.text.size() * 3 + 512);
  std::string inner_headers;
  for (const HeaderField& field : fields) {
    if (equalsIgnoringCase(field.name, "MIME-Version")) continue;
    std::string& target = isMimeField(field.name) ? inner_headers : out;
    target += withCrlf(field.raw);
  }
  out += "MIME-Version: 1.0\r\n";
  out += "Content-Type: multipart/mixed; boundary=\"" + boundary + "\"\r\n\r\n";
  out += "This is a multi-part message in MIME format.\r\n";
  out += "--" + boundary + "\r\n";
  if (inner_headers.empty()) inner_headers = "Content-Type: text/plain; charset=us-ascii\r\n";
  out += inner_headers;
  out += "\r\n";
  std::string_view body = message.substr(std::min(body_offset, message.size()));
  out += body;
  if (!body.empty() && body.back() != '\n') out += "\r\n";
  out += "\r\n--" + boundary + "\r\n";
  out += "Content-Type: text/plain; charset=utf-8\r\n";
  out += "Content-Transfer-Encoding: quoted-printable\r\n";
  out += "Content-Disposition: inline\r\n\r\n";
  out += quotedPrintable(disclaimer.text);
  out += "\r\n--" + boundary + "--\r\n";
  return out;
}

// Counts the entities of the tree (attached messages included) against the limits; stops
// walking as soon as one is exceeded.
void measureTree(GMimeObject* object, unsigned depth, const MimeLimits& limits, std::size_t& count,
                 bool& exceeded) {
  if (exceeded) return;
  if (++count > limits.max_parts || depth > limits.max_depth) {
    exceeded = true;
    return;
  }
  if (GMIME_IS_MULTIPART(object)) {
    auto* multipart = GMIME_MULTIPART(object);
    for (int index = 0; index < g_mime_multipart_get_count(multipart) && !exceeded; ++index) {
      measureTree(g_mime_multipart_get_part(multipart, index), depth + 1, limits, count, exceeded);
    }
  } else if (GMIME_IS_MESSAGE_PART(object)) {
    GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(object));
    GMimeObject* body = inner != nullptr ? g_mime_message_get_mime_part(inner) : nullptr;
    if (body != nullptr) measureTree(body, depth + 1, limits, count, exceeded);
  }
}

}  // namespace

Result<void> addHeader(std::string& message, std::string_view name, std::string_view value) {
  if (auto checked = checkField(name, value); !checked) return checked.error();
  message.insert(0, foldedField(name, encodeValue(value), lineEndingOf(message)));
  return {};
}

Result<void> setHeader(std::string& message, std::string_view name, std::string_view value) {
  if (auto checked = checkField(name, value); !checked) return checked.error();
  removeHeader(message, name);
  return addHeader(message, name, value);
}

std::size_t removeHeader(std::string& message, std::string_view name) {
  const std::vector<HeaderField> fields = headerFields(message);
  std::size_t removed = 0;
  // From the last to the first, so the earlier fields' offsets stay valid.
  for (auto field = fields.rbegin(); field != fields.rend(); ++field) {
    if (!equalsIgnoringCase(field->name, name)) continue;
    message.erase(offsetIn(message, field->raw), field->raw.size());
    ++removed;
  }
  return removed;
}

Result<void> prependSubject(std::string& message, std::string_view prefix) {
  if (auto checked = checkField("Subject", prefix); !checked) return checked.error();
  const std::vector<HeaderField> fields = headerFields(message);
  const std::string_view newline = lineEndingOf(message);
  const HeaderField* subject = nullptr;
  for (const HeaderField& field : fields) {
    if (equalsIgnoringCase(field.name, "Subject")) {
      subject = &field;
      break;
    }
  }
  if (subject == nullptr) return addHeader(message, "Subject", prefix);
  const std::string decoded = decodedText(subject->value);
  if (decoded.starts_with(prefix)) return {};
  const std::string unfolded = unfold(subject->value);
  // Plain ASCII without encoded words keeps its text as written; anything else is re-encoded
  // whole, so the prefix and the old text read as one decoded subject.
  const bool plain = isAscii(prefix) && isAscii(decoded) && decoded == unfolded;
  const std::string value =
      plain ? std::string(prefix) + unfolded : encodeValue(std::string(prefix) + decoded);
  const std::size_t offset = offsetIn(message, subject->raw);
  const std::size_t length = subject->raw.size();
  std::string replacement = foldedField("Subject", value, newline);
  message.replace(offset, length, replacement);
  return {};
}

Result<DisclaimerOutcome> appendDisclaimer(std::string& message, const Disclaimer& disclaimer,
                                           const MimeLimits& limits) {
  ensureGMime();
  DisclaimerOutcome outcome;
  GObjectPointer<GMimeStream> input(
      g_mime_stream_mem_new_with_buffer(message.data(), message.size()));
  GObjectPointer<GMimeParser> parser(g_mime_parser_new_with_stream(input.get()));
  g_mime_parser_set_format(parser.get(), GMIME_FORMAT_MESSAGE);
  GObjectPointer<GMimeMessage> parsed(g_mime_parser_construct_message(parser.get(), nullptr));
  if (!parsed) return makeError("unparseable", "the message has no MIME structure GMime can read");
  GMimeObject* root = g_mime_message_get_mime_part(parsed.get());
  if (root == nullptr) return makeError("unparseable", "the message has no body entity");
  std::size_t count = 0;
  bool exceeded = false;
  measureTree(root, 0, limits, count, exceeded);
  if (exceeded) {
    return makeError("limit", "the message has more than " + std::to_string(limits.max_parts) +
                                  " parts or nests deeper than " +
                                  std::to_string(limits.max_depth) + "; no disclaimer added");
  }
  BodyParts found;
  findBodyParts(root, found);
  if (!found.protected_kind.empty()) {
    if (disclaimer.signed_content == Disclaimer::SignedContent::skip) {
      outcome.how = "skipped: " + found.protected_kind;
      return outcome;
    }
    message = wrapped(message, disclaimer);
    outcome.changed = true;
    outcome.how = "wrapped: " + found.protected_kind;
    return outcome;
  }
  if (found.text_parts.empty()) {
    outcome.how = "skipped: no body text part";
    return outcome;
  }
  for (GMimeTextPart* part : found.text_parts) appendToPart(part, disclaimer);

  GMimeFormatOptions* format = g_mime_format_options_new();
  g_mime_format_options_set_newline_format(format, GMIME_NEWLINE_FORMAT_DOS);
  GObjectPointer<GMimeStream> output(g_mime_stream_mem_new());
  const ssize_t written =
      g_mime_object_write_to_stream(GMIME_OBJECT(parsed.get()), format, output.get());
  g_mime_format_options_free(format);
  if (written < 0) return makeError("io", "GMime could not write the changed message");
  GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(output.get()));
  message = withCrlf(std::string_view(reinterpret_cast<const char*>(bytes->data), bytes->len));
  outcome.changed = true;
  outcome.how = "appended to " + std::to_string(found.text_parts.size()) + " text part" +
                (found.text_parts.size() == 1 ? "" : "s");
  return outcome;
}

}  // namespace bulwark::mime
