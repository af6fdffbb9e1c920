// The MIME view of a message (RFC 2045-2049; RFC 2046 5.1 multipart, 5.2.1 message/rfc822; RFC
// 2047 / 2231 header and parameter encodings; RFC 2183 disposition; RFC 3501 6.4.5 section
// numbers) built with GMime 3. The message is untrusted: GMime objects live only inside one call
// (no shared state between threads), depth / part count / decoded bytes are bounded, and every
// part that is cut or cannot be decoded is listed in `problems`.
#include "mime/mime_message.h"

#include "mime/charset_conversion.h"
#include "mime/header_fields.h"

#include <gmime/gmime.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>
#include <memory>
#include <mutex>
#include <string>

namespace bulwark::mime {
namespace {

struct GObjectRelease {
  void operator()(void* object) const {
    if (object != nullptr) g_object_unref(object);
  }
};
template <typename T>
using GObjectPointer = std::unique_ptr<T, GObjectRelease>;

struct ParserOptionsRelease {
  void operator()(GMimeParserOptions* options) const { g_mime_parser_options_free(options); }
};

std::string lowerCase(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower;
}

std::string_view trimmed(std::string_view text) {
  std::size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  std::size_t last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

std::string repairedUtf8(const char* text) {
  std::string out;
  if (text != nullptr) appendRepairedUtf8(out, text);
  return out;
}

// CRLF becomes LF: `text` is what a reader sees, whatever the line ends on the wire. A lone CR
// is content (binary junk in a text part) and stays.
std::string withLineFeeds(std::string text) {
  std::size_t write = 0;
  for (std::size_t read = 0; read < text.size(); ++read) {
    char c = text[read];
    if (c == '\r' && read + 1 < text.size() && text[read + 1] == '\n') continue;
    text[write++] = c;
  }
  text.resize(write);
  return text;
}

// RFC 2045 5.1 token characters (8-bit octets tolerated, as GMime does).
bool isTokenCharacter(char c) {
  auto octet = static_cast<unsigned char>(c);
  if (octet >= 0x80) return true;
  if (octet <= 0x20 || octet == 0x7F) return false;
  return std::string_view("()<>@,;:\\\"/[]?=").find(c) == std::string_view::npos;
}

// Skips whitespace and RFC 822 comments (nested; an unclosed one runs to the end).
void skipWhitespaceAndComments(std::string_view text, std::size_t& at) {
  while (at < text.size()) {
    char c = text[at];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      ++at;
    } else if (c == '(') {
      unsigned nesting = 0;
      for (; at < text.size(); ++at) {
        if (text[at] == '\\') {
          ++at;
        } else if (text[at] == '(') {
          ++nesting;
        } else if (text[at] == ')' && --nesting == 0) {
          ++at;
          break;
        }
      }
    } else {
      return;
    }
  }
}

bool readToken(std::string_view text, std::size_t& at) {
  std::size_t start = at;
  while (at < text.size() && isTokenCharacter(text[at])) ++at;
  return at > start;
}

// Whether a Content-Type value starts with type "/" subtype (RFC 2045 5.1). GMime reads a field
// without one as application/octet-stream; RFC 2045 5.2 says such a field means text/plain.
bool hasMediaType(std::string_view value) {
  std::size_t at = 0;
  skipWhitespaceAndComments(value, at);
  if (!readToken(value, at)) return false;
  skipWhitespaceAndComments(value, at);
  if (at >= value.size() || value[at] != '/') return false;
  ++at;
  skipWhitespaceAndComments(value, at);
  return readToken(value, at);
}

// GMime keeps an RFC 822 comment after an unquoted parameter value ("charset=us-ascii (Plain
// text)"); RFC 2045 5.1 allows comments there, and they are not part of the value.
std::string withoutTrailingComment(std::string value, std::string_view field) {
  if (value.empty() || value.back() != ')') return value;
  std::size_t open = value.find(" (");
  if (open == std::string::npos) open = value.find("\t(");
  if (open == std::string::npos) return value;
  if (field.find("\"" + value + "\"") != std::string_view::npos) return value;  // quoted: literal
  value.resize(open);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
  return value;
}

std::string childSection(const std::string& parent, std::size_t ordinal) {
  std::string number = std::to_string(ordinal);
  return parent.empty() ? number : parent + "." + number;
}

std::string partName(const std::string& section) {
  return section.empty() ? std::string("message") : "part " + section;
}

// What GMime reports while parsing. Warnings about the structure make the message damaged;
// header-level ones (duplicated fields, 8-bit text, bad encoded words or parameters, address
// syntax) do not: the values are still read, leniently, and nothing is cut. An invalid
// Content-Type is reported by the tree builder, which knows the part's section.
struct ParseReport {
  std::string where;  // "" for the message, "part 2: " inside an encoded attached message
  std::vector<std::string> problems;
  bool nesting_overflow = false;
};

const char* structuralWarning(GMimeParserWarning code) {
  switch (code) {
    case GMIME_WARN_MALFORMED_MULTIPART:
      return "multipart without any part";
    case GMIME_WARN_TRUNCATED_MESSAGE:
      return "message truncated (a multipart's closing boundary or the header's end is missing)";
    case GMIME_WARN_MALFORMED_MESSAGE:
      return "malformed message";
    case GMIME_CRIT_INVALID_HEADER_NAME:
      return "invalid header field name";
    case GMIME_CRIT_CONFLICTING_HEADER:
      return "conflicting header fields";
    case GMIME_CRIT_CONFLICTING_PARAMETER:
      return "conflicting parameters";
    case GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY:
      return "multipart without a boundary parameter";
    case GMIME_CRIT_NESTING_OVERFLOW:
      return "nesting deeper than GMime reads";
    case GMIME_WARN_PART_WITHOUT_CONTENT:
      return "part header ended by a boundary";
    case GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT:
      return "part without header or content";
    default:
      return nullptr;
  }
}

void collectWarning(gint64 offset, GMimeParserWarning code, const gchar* item,
                    gpointer user_data) {
  auto* report = static_cast<ParseReport*>(user_data);
  const char* description = structuralWarning(code);
  if (description == nullptr) return;
  if (code == GMIME_CRIT_NESTING_OVERFLOW) report->nesting_overflow = true;
  // Bounded: an item can be a whole line of hostile input.
  constexpr std::size_t kMaximumProblems = 100;
  if (report->problems.size() >= kMaximumProblems) return;
  std::string problem = report->where + description;
  if (offset >= 0) problem += " at byte " + std::to_string(offset);
  std::string detail = item != nullptr ? repairedUtf8(item) : std::string();
  detail = std::string(trimmed(detail.substr(0, std::min<std::size_t>(80, detail.find('\n')))));
  if (!detail.empty()) problem += ": " + detail;
  report->problems.push_back(std::move(problem));
}

// A GMime stream over bytes the caller owns, without copying them: GMimeStreamMem reads from a
// GByteArray that does not own its data (the parser keeps substreams of it, so parts are
// decoded straight from the message's bytes).
class BorrowedStream {
 public:
  explicit BorrowedStream(std::string_view bytes) {
    // GMime only reads the stream; the const_cast never leads to a write.
    array_ = g_byte_array_new_take(
        reinterpret_cast<guint8*>(const_cast<char*>(bytes.data())), bytes.size());
    stream_ = g_mime_stream_mem_new_with_byte_array(array_);
    g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(stream_), FALSE);
  }
  ~BorrowedStream() {
    g_object_unref(stream_);
    g_byte_array_free(array_, FALSE);  // FALSE: the bytes stay the caller's
  }
  BorrowedStream(const BorrowedStream&) = delete;
  BorrowedStream& operator=(const BorrowedStream&) = delete;
  GMimeStream* get() const { return stream_; }

 private:
  GByteArray* array_ = nullptr;
  GMimeStream* stream_ = nullptr;
};

// The whole content of a GMime stream (the still-encoded bytes of one part).
std::string readStream(GMimeStream* stream) {
  std::string bytes;
  if (stream == nullptr) return bytes;
  g_mime_stream_reset(stream);
  gint64 length = g_mime_stream_length(stream);
  if (length > 0) bytes.reserve(static_cast<std::size_t>(length));
  char buffer[16384];
  while (true) {
    ssize_t count = g_mime_stream_read(stream, buffer, sizeof buffer);
    if (count <= 0) break;
    bytes.append(buffer, static_cast<std::size_t>(count));
  }
  return bytes;
}

// A table rather than isalnum(): this runs on every byte of every base64 part (locale-free too).
constexpr std::array<bool, 256> kBase64Alphabet = [] {
  std::array<bool, 256> table{};
  constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (char c : kAlphabet) {
    table[static_cast<unsigned char>(c)] = true;
  }
  return table;
}();

bool isBase64Character(char c) { return kBase64Alphabet[static_cast<unsigned char>(c)]; }

// RFC 2045 6.8: only the alphabet, '=' padding at the end and line breaks / spaces (ignored);
// a final group of one character cannot encode a byte.
bool isCleanBase64(std::string_view encoded) {
  std::size_t significant = 0;
  bool padding = false;
  for (char c : encoded) {
    if (c == '\r' || c == '\n' || c == ' ' || c == '\t') continue;
    if (c == '=') {
      padding = true;
    } else if (!isBase64Character(c) || padding) {
      return false;
    } else {
      ++significant;
    }
  }
  return significant % 4 != 1;
}

// RFC 2045 6.7: '=' starts "=XX" or a soft line break (trailing whitespace tolerated, rule 3).
bool isCleanQuotedPrintable(std::string_view encoded) {
  for (std::size_t i = encoded.find('='); i != std::string_view::npos;
       i = encoded.find('=', i + 1)) {
    std::size_t next = i + 1;
    if (next + 1 < encoded.size() && std::isxdigit(static_cast<unsigned char>(encoded[next])) &&
        std::isxdigit(static_cast<unsigned char>(encoded[next + 1]))) {
      continue;
    }
    while (next < encoded.size() && (encoded[next] == ' ' || encoded[next] == '\t')) ++next;
    if (next >= encoded.size() || encoded[next] == '\r' || encoded[next] == '\n') continue;
    return false;
  }
  return true;
}

// Removes the transfer encoding; `clean` says whether the encoded form was well formed.
std::string removeTransferEncoding(std::string encoded, GMimeContentEncoding encoding,
                                   bool& clean) {
  clean = true;
  switch (encoding) {
    case GMIME_CONTENT_ENCODING_BASE64:
      clean = isCleanBase64(encoded);
      break;
    case GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE:
      clean = isCleanQuotedPrintable(encoded);
      break;
    default:
      return encoded;  // 7bit, 8bit, binary: the bytes are the content
  }
  GMimeEncoding state;
  g_mime_encoding_init_decode(&state, encoding);
  std::string decoded(g_mime_encoding_outlen(&state, encoded.size()), '\0');
  std::size_t written = g_mime_encoding_flush(&state, encoded.data(), encoded.size(),
                                              decoded.data());
  decoded.resize(std::min(written, decoded.size()));
  return decoded;
}

class TreeBuilder {
 public:
  TreeBuilder(ParsedMessage& result, const MimeLimits& limits)
      : result_(result), limits_(limits) {}

  // Parses `bytes` as a message; its entity goes under `parent` (the message/rfc822 part), or
  // becomes parts[0] when `parent` is npos. False when GMime finds no message at all.
  bool addMessage(std::string_view bytes, std::size_t parent, unsigned depth,
                  const std::string& section) {
    ParseReport report;
    if (parent != kNoParent) report.where = partName(result_.parts[parent].section) + ": ";
    std::unique_ptr<GMimeParserOptions, ParserOptionsRelease> options(
        g_mime_parser_options_new());
    g_mime_parser_options_set_warning_callback(options.get(), collectWarning, &report);
    BorrowedStream stream(bytes);
    GObjectPointer<GMimeMessage> message;
    {
      GObjectPointer<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
      g_mime_parser_set_format(parser.get(), GMIME_FORMAT_MESSAGE);
      message.reset(g_mime_parser_construct_message(parser.get(), options.get()));
    }
    for (std::string& problem : report.problems) result_.problems.push_back(std::move(problem));
    if (report.nesting_overflow) result_.limit_exceeded = true;
    if (!message) return false;
    addMessageEntity(message.get(), parent, depth, section);
    return true;
  }

  static constexpr std::size_t kNoParent = std::numeric_limits<std::size_t>::max();

 private:
  // The entity of a message (its body's content type, with the message's children).
  void addMessageEntity(GMimeMessage* message, std::size_t parent, unsigned depth,
                        const std::string& message_section) {
    GMimeObject* body = g_mime_message_get_mime_part(message);
    if (body == nullptr) {
      // A message with a header and nothing GMime could take as a body: an empty text part.
      if (!admitPart(parent, depth, message_section)) return;
      MimePart part;
      part.content_type = "text/plain";
      placePart(std::move(part), parent, depth, message_section);
      return;
    }
    // RFC 3501 6.4.5: the parts of a multipart message inside part N are N.1, N.2, ...; a
    // single-part attached message's body is N.1. The root message has section "".
    std::string section = message_section;
    if (parent != kNoParent && !GMIME_IS_MULTIPART(body)) {
      section = childSection(message_section, 1);
    }
    addEntity(body, parent, depth, section);
  }

  // Whether one more part may be added at `depth`; records why not.
  bool admitPart(std::size_t parent, unsigned depth, const std::string& section) {
    if (result_.parts.size() >= limits_.max_parts) {
      result_.limit_exceeded = true;
      if (!parts_limit_reported_) {
        parts_limit_reported_ = true;
        result_.problems.push_back("more than " + std::to_string(limits_.max_parts) +
                                   " parts: " + partName(section) + " and later not read");
      }
      return false;
    }
    if (depth > limits_.max_depth) {
      result_.limit_exceeded = true;
      std::string where = parent == kNoParent ? std::string("message")
                                              : partName(result_.parts[parent].section);
      result_.problems.push_back(where + ": nested deeper than " +
                                 std::to_string(limits_.max_depth) + " levels, not read");
      return false;
    }
    return true;
  }

  std::size_t placePart(MimePart part, std::size_t parent, unsigned depth,
                        const std::string& section) {
    std::size_t index = result_.parts.size();
    part.index = index;
    part.parent = parent == kNoParent ? 0 : parent;
    part.depth = depth;
    part.section = section;
    if (parent != kNoParent) result_.parts[parent].children.push_back(index);
    result_.parts.push_back(std::move(part));
    return index;
  }

  void describe(GMimeObject* object, MimePart& part, const std::string& section) {
    GMimeContentType* type = g_mime_object_get_content_type(object);
    const char* media_type = type != nullptr ? g_mime_content_type_get_media_type(type) : nullptr;
    const char* subtype = type != nullptr ? g_mime_content_type_get_media_subtype(type) : nullptr;
    const char* field = g_mime_object_get_header(object, "Content-Type");
    bool invalid = field != nullptr && !hasMediaType(field);
    if (media_type == nullptr || *media_type == '\0' || invalid) {
      // RFC 2045 5.2: no field, or one without a media type, means plain US-ASCII text; the
      // parameters of a field that cannot be read are not trusted either.
      part.content_type = "text/plain";
      type = nullptr;
      if (invalid) {
        result_.problems.push_back(partName(section) + ": Content-Type without a media type "
                                   "read as text/plain");
      }
    } else {
      part.content_type = lowerCase(repairedUtf8(media_type)) + "/" +
                          lowerCase(repairedUtf8(subtype != nullptr ? subtype : ""));
    }
    if (type != nullptr) {
      GMimeParamList* parameters = g_mime_content_type_get_parameters(type);
      int count = parameters != nullptr ? g_mime_param_list_length(parameters) : 0;
      for (int i = 0; i < count; ++i) {
        GMimeParam* parameter = g_mime_param_list_get_parameter_at(parameters, i);
        std::string name = lowerCase(repairedUtf8(g_mime_param_get_name(parameter)));
        std::string value = withoutTrailingComment(repairedUtf8(g_mime_param_get_value(parameter)),
                                                   field != nullptr ? field : "");
        if (name == "charset") part.charset = lowerCase(trimmed(value));
        part.parameters.emplace_back(std::move(name), std::move(value));
      }
    }
    const char* disposition = g_mime_object_get_disposition(object);
    if (disposition != nullptr && *disposition != '\0') {
      std::string lower = lowerCase(trimmed(disposition));
      // RFC 2183 2.8: an unrecognised disposition is treated as "attachment".
      part.disposition = lower == "inline" ? "inline" : "attachment";
    }
    const char* filename = g_mime_object_get_content_disposition_parameter(object, "filename");
    if (filename == nullptr || *filename == '\0') {
      filename = g_mime_object_get_content_type_parameter(object, "name");
    }
    part.filename = repairedUtf8(filename);
    const char* encoding = g_mime_object_get_header(object, "Content-Transfer-Encoding");
    if (encoding != nullptr) part.transfer_encoding = lowerCase(trimmed(encoding));
  }

  // What a mail client lists as an attachment: an explicit "attachment" disposition; any
  // non-text leaf (including an attached message) unless it is inline without a name; text
  // parts are shown as the body unless marked "attachment".
  static bool looksLikeAttachment(const MimePart& part) {
    if (part.is_multipart) return false;
    if (part.is_message) return true;  // a separate document, even when shown inline
    if (part.disposition == "attachment") return true;
    if (part.content_type.starts_with("text/")) return false;
    return !part.filename.empty() || part.disposition != "inline";
  }

  void addEntity(GMimeObject* object, std::size_t parent, unsigned depth,
                 const std::string& section) {
    if (!admitPart(parent, depth, section)) return;
    MimePart described;
    describe(object, described, section);
    if (GMIME_IS_MULTIPART(object)) {
      described.is_multipart = true;
      std::size_t index = placePart(std::move(described), parent, depth, section);
      auto* multipart = GMIME_MULTIPART(object);
      int count = g_mime_multipart_get_count(multipart);
      for (int i = 0; i < count; ++i) {
        addEntity(g_mime_multipart_get_part(multipart, i), index, depth + 1,
                  childSection(section, static_cast<std::size_t>(i) + 1));
      }
      return;
    }
    if (GMIME_IS_MESSAGE_PART(object)) {
      described.is_message = true;
      described.is_attachment = looksLikeAttachment(described);
      std::size_t index = placePart(std::move(described), parent, depth, section);
      GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(object));
      if (inner == nullptr) {
        result_.problems.push_back(partName(section) + ": attached message is empty");
        return;
      }
      addMessageEntity(inner, index, depth + 1, section);
      return;
    }
    described.is_attachment = looksLikeAttachment(described);
    std::size_t index = placePart(std::move(described), parent, depth, section);
    if (GMIME_IS_PART(object)) decodeLeaf(GMIME_PART(object), index, depth);
  }

  void decodeLeaf(GMimePart* leaf, std::size_t index, unsigned depth) {
    GMimeDataWrapper* wrapper = g_mime_part_get_content(leaf);
    if (wrapper == nullptr) return;
    const std::string section = result_.parts[index].section;
    if (decoded_limit_reached_) return;  // reported once, when the limit was reached
    GMimeContentEncoding encoding = g_mime_data_wrapper_get_encoding(wrapper);
    bool clean = true;
    std::string content;
    if (encoding == GMIME_CONTENT_ENCODING_UUENCODE) {
      // GMime's decoding filter finds the "begin" line itself; the step decoder does not.
      GObjectPointer<GMimeStream> decoded(g_mime_stream_mem_new());
      g_mime_data_wrapper_write_to_stream(wrapper, decoded.get());
      GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(decoded.get()));
      content.assign(reinterpret_cast<const char*>(bytes->data), bytes->len);
    } else {
      content = removeTransferEncoding(readStream(g_mime_data_wrapper_get_stream(wrapper)),
                                       encoding, clean);
    }
    MimePart& part = result_.parts[index];
    if (!clean) {
      part.encoding_problem = true;
      result_.problems.push_back(partName(section) + ": bad " + part.transfer_encoding +
                                 " (decoded as far as it went)");
    }
    std::size_t budget = limits_.max_decoded_bytes - decoded_bytes_;
    if (content.size() > budget) {
      content.resize(budget);
      decoded_limit_reached_ = true;
      result_.limit_exceeded = true;
      result_.problems.push_back(partName(section) + ": decoded content past " +
                                 std::to_string(limits_.max_decoded_bytes) +
                                 " bytes, cut here; later parts not decoded");
    }
    decoded_bytes_ += content.size();
    // A message/rfc822 part GMime left as a leaf because its body is base64 or quoted-printable
    // (RFC 2046 5.2.1 forbids that, but senders do it): parse the decoded message.
    bool encoded_message = (part.content_type == "message/rfc822" ||
                            part.content_type == "message/global") &&
                           (encoding == GMIME_CONTENT_ENCODING_BASE64 ||
                            encoding == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
    if (encoded_message) {
      part.is_message = true;
      if (admitPart(index, depth + 1, section) &&
          !addMessage(content, index, depth + 1, section)) {
        result_.problems.push_back(partName(section) + ": attached message cannot be parsed");
      }
      result_.parts[index].content = std::move(content);
      return;
    }
    if (part.content_type.starts_with("text/")) {
      ConvertedText converted = convertToUtf8(content, part.charset);
      if (converted.unknown_charset) {
        part.encoding_problem = true;
        result_.problems.push_back(partName(section) + ": unknown charset \"" + part.charset +
                                   "\" (UTF-8 kept, other bytes replaced)");
      } else if (converted.replaced) {
        part.encoding_problem = true;
        result_.problems.push_back(partName(section) + ": bytes invalid in charset \"" +
                                   (part.charset.empty() ? "us-ascii" : part.charset) +
                                   "\" replaced");
      }
      std::string text = withLineFeeds(std::move(converted.text));
      if (part.content_type == "text/html") {
        part.text = htmlToText(text);
        part.html = std::move(text);
      } else {
        part.text = std::move(text);
      }
    }
    part.content = std::move(content);
  }

  ParsedMessage& result_;
  const MimeLimits& limits_;
  std::size_t decoded_bytes_ = 0;
  bool decoded_limit_reached_ = false;
  bool parts_limit_reported_ = false;
};

std::once_flag library_initialized;

}  // namespace

void initializeMimeLibrary() {
  std::call_once(library_initialized, [] { g_mime_init(); });
}

ParsedMessage parseMessage(std::string_view message, const MimeLimits& limits) {
  initializeMimeLibrary();  // normally done by main(); call_once makes a second call free
  ParsedMessage result;
  if (message.empty()) {
    result.status = ParsedMessage::Status::unparseable;
    result.problems.push_back("empty message");
    return result;
  }
  if (message.size() > std::numeric_limits<guint>::max()) {
    result.status = ParsedMessage::Status::unparseable;
    result.problems.push_back("message larger than 4 GiB");
    return result;
  }
  for (const HeaderField& field : headerFields(message)) {
    std::string name;
    appendRepairedUtf8(name, field.name);
    std::string value = decodeHeaderText(field.value);
    if (result.subject.empty() && lowerCase(name) == "subject") result.subject = value;
    result.headers.emplace_back(std::move(name), std::move(value));
  }
  TreeBuilder builder(result, limits);
  if (!builder.addMessage(message, TreeBuilder::kNoParent, 0, "")) {
    result.status = ParsedMessage::Status::unparseable;
    result.problems.push_back("no MIME structure: the message does not start with a header");
    return result;
  }
  if (!result.problems.empty()) result.status = ParsedMessage::Status::damaged;
  return result;
}

std::string ParsedMessage::bodyText() const {
  std::string text;
  for (const MimePart& part : parts) {
    if (part.text.empty()) continue;
    if (!text.empty()) text += '\n';
    text += part.text;
  }
  return text;
}

std::vector<const MimePart*> ParsedMessage::attachments() const {
  std::vector<const MimePart*> found;
  for (const MimePart& part : parts) {
    if (part.is_attachment) found.push_back(&part);
  }
  return found;
}

}  // namespace bulwark::mime
