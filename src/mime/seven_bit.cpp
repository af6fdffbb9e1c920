// 8-bit to 7-bit conversion (RFC 6152 3); see seven_bit.h. Structure follows RFC 2045 (header
// fields, Content-Type syntax 5.1, Content-Transfer-Encoding 6) and RFC 2046 5.1.1 (boundary
// delimiter lines); encodings RFC 2045 6.7 and 6.8. Input is untrusted: recursion is bounded by
// SevenBitOptions::max_depth and only follows entities that hold 8-bit octets.
#include "mime/seven_bit.h"

#include <optional>
#include <vector>

#include "common/strings.h"
#include "net/base64.h"

namespace bulwark::mime {
namespace {

constexpr std::string_view kCrlf = "\r\n";
// RFC 2045 6.7 (5): encoded lines are at most 76 characters; the soft line break "=" needs the
// last column, so encoded text fills at most 75.
constexpr std::size_t kQuotedPrintableText = 75;
constexpr std::size_t kBase64Line = 76;  // RFC 2045 6.8: at most 76 characters a line

enum class Encoding { seven_bit, eight_bit, binary, quoted_printable, base64, unknown };

struct Field {
  std::string_view raw;    // the whole field with its continuation lines and final CRLF
  std::string_view name;   // before the colon, trailing blanks removed; empty when there is none
  std::string_view value;  // after the colon, folding included
};

// An entity (RFC 2045 2.4): header fields, the empty line, the body.
struct Entity {
  std::vector<Field> fields;
  std::string_view header;  // the fields' bytes, without the empty line
  std::string_view body;    // empty also when there is no empty line (all header)
};

Entity splitEntity(std::string_view bytes) {
  Entity entity;
  std::size_t header_end = bytes.size();
  std::size_t body_start = bytes.size();
  if (bytes.starts_with(kCrlf)) {
    header_end = 0;
    body_start = 2;
  } else if (std::size_t blank = bytes.find("\r\n\r\n"); blank != std::string_view::npos) {
    header_end = blank + 2;
    body_start = blank + 4;
  }
  entity.header = bytes.substr(0, header_end);
  entity.body = bytes.substr(body_start);

  std::size_t position = 0;
  while (position < entity.header.size()) {
    std::size_t end = entity.header.find(kCrlf, position);
    end = end == std::string_view::npos ? entity.header.size() : end + 2;
    std::string_view line = entity.header.substr(position, end - position);
    const bool continuation = line.front() == ' ' || line.front() == '\t';
    if (continuation && !entity.fields.empty()) {
      Field& field = entity.fields.back();
      field.raw = std::string_view(field.raw.data(), field.raw.size() + line.size());
      if (!field.name.empty()) {
        field.value = std::string_view(field.value.data(), field.value.size() + line.size());
      }
    } else {
      Field field;
      field.raw = line;
      if (std::size_t colon = line.find(':'); colon != std::string_view::npos) {
        field.name = trim(line.substr(0, colon));
        field.value = line.substr(colon + 1);
      }
      entity.fields.push_back(field);
    }
    position = end;
  }
  return entity;
}

// Reads RFC 2045 5.1 values: tokens, quoted strings, and RFC 822 comments, which may appear
// between any two of them and nest.
class ValueReader {
 public:
  explicit ValueReader(std::string_view text) : text_(text) {}

  void skipBlanksAndComments() {
    std::size_t comment_depth = 0;
    while (position_ < text_.size()) {
      const char c = text_[position_];
      if (comment_depth > 0) {
        if (c == '\\')
          ++position_;
        else if (c == '(')
          ++comment_depth;
        else if (c == ')')
          --comment_depth;
        ++position_;
      } else if (c == '(') {
        comment_depth = 1;
        ++position_;
      } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        ++position_;
      } else {
        return;
      }
    }
  }

  bool consume(char wanted) {
    skipBlanksAndComments();
    if (position_ < text_.size() && text_[position_] == wanted) {
      ++position_;
      return true;
    }
    return false;
  }

  // RFC 2045 5.1 token: any CHAR except SPACE, CTLs and tspecials.
  std::optional<std::string> token() {
    skipBlanksAndComments();
    static constexpr std::string_view kSpecials = "()<>@,;:\\\"/[]?=";
    const std::size_t start = position_;
    while (position_ < text_.size()) {
      const auto octet = static_cast<unsigned char>(text_[position_]);
      if (octet <= 32 || octet >= 127 ||
          kSpecials.find(static_cast<char>(octet)) != std::string_view::npos) {
        break;
      }
      ++position_;
    }
    if (position_ == start) return std::nullopt;
    return std::string(text_.substr(start, position_ - start));
  }

  // A token or a quoted string (RFC 822 quoted-string, backslash escapes).
  std::optional<std::string> value() {
    skipBlanksAndComments();
    if (position_ >= text_.size() || text_[position_] != '"') return token();
    ++position_;
    std::string out;
    while (position_ < text_.size() && text_[position_] != '"') {
      if (text_[position_] == '\\' && position_ + 1 < text_.size()) ++position_;
      const char c = text_[position_++];
      if (c != '\r' && c != '\n') out += c;  // folding inside the quotes is not part of it
    }
    if (position_ >= text_.size()) return std::nullopt;  // unterminated
    ++position_;
    return out;
  }

 private:
  std::string_view text_;
  std::size_t position_ = 0;
};

struct ContentType {
  std::string type;     // lower-cased
  std::string subtype;  // lower-cased
  std::string boundary;
};

// RFC 2045 5.1; nullopt when the value is not type "/" subtype (RFC 2045 5.2: then the default
// applies).
std::optional<ContentType> parseContentType(std::string_view value) {
  ValueReader reader(value);
  ContentType parsed;
  auto type = reader.token();
  if (!type || !reader.consume('/')) return std::nullopt;
  auto subtype = reader.token();
  if (!subtype) return std::nullopt;
  parsed.type = asciiLower(*type);
  parsed.subtype = asciiLower(*subtype);
  while (reader.consume(';')) {
    auto attribute = reader.token();
    if (!attribute || !reader.consume('=')) break;
    auto parameter = reader.value();
    if (!parameter) break;
    // The first boundary counts; RFC 2231 continuations (boundary*0=) are not boundaries.
    if (equalsIgnoreCase(*attribute, "boundary") && parsed.boundary.empty()) {
      parsed.boundary = *parameter;
    }
  }
  return parsed;
}

Encoding parseEncoding(std::string_view value) {
  ValueReader reader(value);
  auto token = reader.token();
  if (!token) return Encoding::unknown;
  const std::string name = asciiLower(*token);
  if (name == "7bit") return Encoding::seven_bit;
  if (name == "8bit") return Encoding::eight_bit;
  if (name == "binary") return Encoding::binary;
  if (name == "quoted-printable") return Encoding::quoted_printable;
  if (name == "base64") return Encoding::base64;
  return Encoding::unknown;
}

bool isContentType(const Field& field) {
  return equalsIgnoreCase(field.name, "Content-Type");
}
bool isEncoding(const Field& field) {
  return equalsIgnoreCase(field.name, "Content-Transfer-Encoding");
}

// RFC 2045 6.7: every line's octets as literal characters where allowed, "=XX" otherwise;
// blanks at the end of a line encoded (rule 3); soft line breaks keep lines within 76.
void appendQuotedPrintable(std::string_view body, std::string& out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::size_t position = 0;
  while (position < body.size()) {
    std::size_t end = body.find(kCrlf, position);
    const bool hard_break = end != std::string_view::npos;
    if (!hard_break) end = body.size();
    std::size_t column = 0;
    for (std::size_t index = position; index < end; ++index) {
      const auto octet = static_cast<unsigned char>(body[index]);
      const bool blank = octet == ' ' || octet == '\t';
      const bool literal =
          (octet >= 33 && octet <= 126 && octet != '=') || (blank && index + 1 < end);
      const std::size_t width = literal ? 1 : 3;
      if (column + width > kQuotedPrintableText) {
        out += "=\r\n";
        column = 0;
      }
      if (literal) {
        out += static_cast<char>(octet);
      } else {
        out += '=';
        out += kHex[octet >> 4];
        out += kHex[octet & 0x0f];
      }
      column += width;
    }
    if (hard_break) out += kCrlf;
    position = hard_break ? end + 2 : end;
  }
}

// RFC 2045 6.8 in lines of 76. The CRLF that ends the body belongs to what follows it (the
// boundary delimiter, RFC 2046 5.1.1, or the end of the message), so it stays a line break.
void appendBase64(std::string_view body, std::string& out) {
  const bool final_break = body.ends_with(kCrlf);
  if (final_break) body.remove_suffix(2);
  const std::string encoded = net::base64Encode(body);
  for (std::size_t position = 0; position < encoded.size(); position += kBase64Line) {
    if (position > 0) out += kCrlf;
    out.append(encoded, position, kBase64Line);
  }
  if (final_break) out += kCrlf;
}

Error conversionError(std::string reason) {
  return makeError("conversion", std::move(reason));
}

std::string describe(const ContentType& type) {
  return type.type + "/" + type.subtype;
}

class Converter {
 public:
  Converter(const SevenBitOptions& options, std::string& out) : options_(options), out_(out) {}

  // Appends the 7-bit form of `bytes` (one entity). `message`: the entity is a message (the top
  // level or a message/rfc822 body), whose header needs MIME-Version once it uses MIME (RFC 2045
  // 4). `digest_part`: a part of multipart/digest, whose default type is message/rfc822 (RFC 2046
  // 5.1.5) instead of text/plain.
  Result<void> convert(std::string_view bytes, std::size_t depth, bool message, bool digest_part) {
    if (!hasEightBitOctets(bytes)) {
      out_.append(bytes);
      return {};
    }
    if (depth > options_.max_depth) {
      return conversionError("MIME structure nested deeper than " +
                             std::to_string(options_.max_depth) + " levels");
    }
    Entity entity = splitEntity(bytes);
    for (const Field& field : entity.fields) {
      if (hasEightBitOctets(field.raw)) {
        if (field.name.empty() || hasEightBitOctets(field.name)) {
          return conversionError("8-bit octets in a header line that is not a field");
        }
        return conversionError("8-bit octets in the header field " + std::string(field.name));
      }
    }

    ContentType type{digest_part ? "message" : "text", digest_part ? "rfc822" : "plain", ""};
    bool has_type = false;
    bool has_mime_version = false;
    Encoding encoding = Encoding::seven_bit;  // RFC 2045 6.1: the default
    bool has_encoding = false;
    for (const Field& field : entity.fields) {
      if (isContentType(field) && !has_type) {
        has_type = true;
        if (auto parsed = parseContentType(field.value)) {
          type = std::move(*parsed);
        } else {
          type = ContentType{"text", "plain", ""};  // RFC 2045 5.2: invalid means the default
        }
      } else if (isEncoding(field) && !has_encoding) {
        has_encoding = true;
        encoding = parseEncoding(field.value);
      } else if (equalsIgnoreCase(field.name, "MIME-Version")) {
        has_mime_version = true;
      }
    }
    const bool encoded = encoding == Encoding::quoted_printable || encoding == Encoding::base64 ||
                         encoding == Encoding::unknown;

    std::vector<std::string> added;
    if (message && !has_mime_version) added.emplace_back("MIME-Version: 1.0");

    if (type.type == "multipart") {
      if (encoded) return encodedError(type);
      if (type.boundary.empty()) {
        return conversionError("8-bit octets in an entity of type " + describe(type) +
                               " without a boundary parameter");
      }
      writeHeader(entity, "7bit", false, added);
      return convertMultipart(entity.body, type, depth);
    }
    if (type.type == "message" && (type.subtype == "partial" || type.subtype == "external-body")) {
      return conversionError("8-bit octets in " + describe(type) + ", which must be 7bit");
    }
    if (type.type == "message" && type.subtype == "rfc822") {
      if (encoded) return encodedError(type);
      writeHeader(entity, "7bit", false, added);
      return convert(entity.body, depth + 1, true, false);
    }
    // A leaf: its own body holds the 8-bit octets (the header fields did not).
    if (encoded) return encodedError(type);
    const bool text = type.type == "text";
    if (text && !has_type) added.emplace_back("Content-Type: text/plain; charset=unknown-8bit");
    writeHeader(entity, text ? "quoted-printable" : "base64", true, added);
    if (text) {
      appendQuotedPrintable(entity.body, out_);
    } else {
      appendBase64(entity.body, out_);
    }
    return {};
  }

 private:
  Error encodedError(const ContentType& type) {
    return conversionError("8-bit octets in an entity of type " + describe(type) +
                           " whose Content-Transfer-Encoding is not 7bit, 8bit or binary");
  }

  // The header fields unchanged, except Content-Transfer-Encoding: the first becomes
  // `encoding`, further ones go; added when absent and `add_when_absent` (a composite entity
  // without one is 7bit already). Then `added` and the empty line.
  void writeHeader(const Entity& entity, std::string_view encoding, bool add_when_absent,
                   std::vector<std::string> added) {
    const std::string field = "Content-Transfer-Encoding: " + std::string(encoding);
    bool written = false;
    for (const Field& existing : entity.fields) {
      if (!isEncoding(existing)) {
        out_.append(existing.raw);
        if (!existing.raw.ends_with(kCrlf)) out_ += kCrlf;
      } else if (!written) {
        out_ += field;
        out_ += kCrlf;
        written = true;
      }
    }
    if (!written && add_when_absent) added.push_back(field);
    for (const auto& line : added) {
      out_ += line;
      out_ += kCrlf;
    }
    out_ += kCrlf;
  }

  // RFC 2046 5.1.1: "--" boundary, then "--" for the last one, then optional blanks.
  enum class Delimiter { none, part, close };
  static Delimiter delimiterKind(std::string_view line, std::string_view boundary) {
    if (!line.starts_with("--") || line.substr(2, boundary.size()) != boundary) {
      return Delimiter::none;
    }
    std::string_view rest = line.substr(2 + boundary.size());
    Delimiter kind = Delimiter::part;
    if (rest.starts_with("--")) {
      kind = Delimiter::close;
      rest.remove_prefix(2);
    }
    for (char c : rest) {
      if (c != ' ' && c != '\t') return Delimiter::none;
    }
    return kind;
  }

  Result<void> convertMultipart(std::string_view body, const ContentType& type, std::size_t depth) {
    const bool digest = type.subtype == "digest";
    std::optional<std::size_t> part_start;  // set after the first delimiter line
    std::size_t position = 0;
    bool closed = false;
    while (position < body.size() && !closed) {
      std::size_t end = body.find(kCrlf, position);
      const std::size_t next = end == std::string_view::npos ? body.size() : end + 2;
      if (end == std::string_view::npos) end = body.size();
      const Delimiter kind = delimiterKind(body.substr(position, end - position), type.boundary);
      if (kind != Delimiter::none) {
        std::string_view before = part_start ? body.substr(*part_start, position - *part_start)
                                             : body.substr(0, position);
        if (part_start) {
          if (auto converted = convert(before, depth + 1, false, digest); !converted) {
            return converted;
          }
        } else if (hasEightBitOctets(before)) {
          return conversionError("8-bit octets in the preamble of an entity of type " +
                                 describe(type));
        } else {
          out_.append(before);
        }
        out_.append(body.substr(position, next - position));
        part_start = next;
        closed = kind == Delimiter::close;
      }
      position = next;
    }
    if (!part_start) {
      return conversionError("8-bit octets in an entity of type " + describe(type) +
                             " that has no line with its boundary");
    }
    std::string_view rest = body.substr(*part_start);
    if (closed) {
      if (hasEightBitOctets(rest)) {
        return conversionError("8-bit octets in the epilogue of an entity of type " +
                               describe(type));
      }
      out_.append(rest);
      return {};
    }
    // No closing delimiter: the last part runs to the end, as mail readers take it.
    return convert(rest, depth + 1, false, digest);
  }

  const SevenBitOptions& options_;
  std::string& out_;
};

}  // namespace

bool hasEightBitOctets(std::string_view bytes) {
  for (char c : bytes) {
    if (static_cast<unsigned char>(c) >= 0x80) return true;
  }
  return false;
}

Result<std::string> convertToSevenBit(std::string_view message, const SevenBitOptions& options) {
  std::string out;
  if (!hasEightBitOctets(message)) return std::string(message);
  out.reserve(message.size() + message.size() / 2);
  Converter converter(options, out);
  if (auto converted = converter.convert(message, 0, true, false); !converted) {
    return converted.error();
  }
  return out;
}

}  // namespace bulwark::mime
