// DKIM canonicalisation and header selection; see dkim_canonical.h. RFC 6376 3.4, 3.7, 5.4.2.
// The message is untrusted: every byte sequence canonicalises, nothing here fails on content.
#include "auth/dkim_canonical.h"

#include <openssl/evp.h>

#include <memory>

#include "common/strings.h"

namespace bulwark::auth {
namespace {

bool isWhitespace(char character) {
  return character == ' ' || character == '\t';
}

bool isBase64Character(char character) {
  return (character >= 'A' && character <= 'Z') || (character >= 'a' && character <= 'z') ||
         (character >= '0' && character <= '9') || character == '+' || character == '/' ||
         character == '=';
}

// Appends `text`, writing a bare LF as CRLF (the message may have been stored with LF endings).
void appendWithCrlf(std::string_view text, std::string& out) {
  std::size_t start = 0;
  for (std::size_t newline = text.find('\n'); newline != std::string_view::npos;
       newline = text.find('\n', newline + 1)) {
    if (newline == 0 || text[newline - 1] != '\r') {
      out.append(text.substr(start, newline - start));
      out += "\r\n";
      start = newline + 1;
    }
  }
  out.append(text.substr(start));
}

// The same, streamed: unchanged stretches go to `sink` as views into `text`.
void emitWithCrlf(std::string_view text, const std::function<void(std::string_view)>& sink) {
  std::size_t start = 0;
  for (std::size_t newline = text.find('\n'); newline != std::string_view::npos;
       newline = text.find('\n', newline + 1)) {
    if (newline == 0 || text[newline - 1] != '\r') {
      if (newline > start) sink(text.substr(start, newline - start));
      sink("\r\n");
      start = newline + 1;
    }
  }
  if (start < text.size()) sink(text.substr(start));
}

// Relaxed header canonicalisation of one name and value, without the CRLF (RFC 6376 3.4.2):
// the name lower-cased, line breaks removed, whitespace runs as one space, none at either end.
void appendRelaxed(std::string_view name, std::string_view value, std::string& out) {
  for (char character : name) out += asciiLower(character);
  out += ':';
  bool pending_space = false;
  bool started = false;
  std::size_t index = 0;
  while (index < value.size()) {
    char character = value[index];
    if (character == '\r' || character == '\n') {
      ++index;
    } else if (isWhitespace(character)) {
      pending_space = started;
      ++index;
    } else {
      if (pending_space) out += ' ';
      pending_space = false;
      started = true;
      std::size_t run_end = index + 1;
      while (run_end < value.size() && !isWhitespace(value[run_end]) && value[run_end] != '\r' &&
             value[run_end] != '\n') {
        ++run_end;
      }
      out.append(value.substr(index, run_end - index));
      index = run_end;
    }
  }
}

std::string_view withoutLineBreak(std::string_view text) {
  if (text.ends_with('\n')) text.remove_suffix(1);
  if (text.ends_with('\r')) text.remove_suffix(1);
  return text;
}

// Relaxed body lines are rewritten into this buffer and handed on in large chunks, so the hash
// sees few, big updates.
class RelaxedBodyWriter {
 public:
  explicit RelaxedBodyWriter(const std::function<void(std::string_view)>& sink) : sink_(sink) {
    buffer_.reserve(kFlushSize + 1024);
  }

  // One line without its line break.
  void line(std::string_view content) {
    const std::size_t before = buffer_.size();
    bool pending_space = false;
    std::size_t index = 0;
    while (index < content.size()) {
      if (isWhitespace(content[index])) {
        pending_space = true;
        ++index;
        continue;
      }
      if (pending_space) buffer_ += ' ';
      pending_space = false;
      std::size_t run_end = index + 1;
      while (run_end < content.size() && !isWhitespace(content[run_end])) ++run_end;
      buffer_.append(content.substr(index, run_end - index));
      index = run_end;
    }
    if (buffer_.size() == before) {  // an empty line: kept back until a non-empty one follows
      ++pending_empty_lines_;
      return;
    }
    if (pending_empty_lines_ > 0) {
      // The empty lines belong before this line's text, already in the buffer.
      std::string text = buffer_.substr(before);
      buffer_.resize(before);
      for (; pending_empty_lines_ > 0; --pending_empty_lines_) buffer_ += "\r\n";
      buffer_ += text;
    }
    buffer_ += "\r\n";
    if (buffer_.size() >= kFlushSize) flush();
  }

  // Trailing empty lines are dropped (RFC 6376 3.4.4 c).
  void finish() { flush(); }

 private:
  static constexpr std::size_t kFlushSize = 32 * 1024;
  void flush() {
    if (!buffer_.empty()) sink_(buffer_);
    buffer_.clear();
  }
  const std::function<void(std::string_view)>& sink_;
  std::string buffer_;
  std::size_t pending_empty_lines_ = 0;
};

struct DigestContextFree {
  void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
};

}  // namespace

void appendCanonicalHeader(Canonicalization canonicalization, const mime::HeaderField& field,
                           std::string& out) {
  if (canonicalization == Canonicalization::simple) {
    appendWithCrlf(field.raw, out);
    if (!field.raw.ends_with('\n')) out += "\r\n";  // the last line of a body-less message
    return;
  }
  appendRelaxed(field.name, field.value, out);
  out += "\r\n";
}

std::string withoutSignatureValue(std::string_view raw_field) {
  std::string_view field = withoutLineBreak(raw_field);
  std::size_t colon = field.find(':');
  if (colon == std::string_view::npos) return std::string(field);
  std::size_t position = colon + 1;
  while (position <= field.size()) {
    std::size_t end = field.find(';', position);
    if (end == std::string_view::npos) end = field.size();
    std::string_view spec = field.substr(position, end - position);
    std::size_t equals = spec.find('=');
    if (equals != std::string_view::npos) {
      std::string_view name = spec.substr(0, equals);
      while (!name.empty() &&
             (isWhitespace(name.front()) || name.front() == '\r' || name.front() == '\n')) {
        name.remove_prefix(1);
      }
      while (!name.empty() &&
             (isWhitespace(name.back()) || name.back() == '\r' || name.back() == '\n')) {
        name.remove_suffix(1);
      }
      if (name == "b") {
        const std::size_t value_start = position + equals + 1;
        std::size_t value_end = value_start;
        for (std::size_t index = value_start; index < end; ++index) {
          if (isBase64Character(field[index])) value_end = index + 1;
        }
        std::string result(field.substr(0, value_start));
        result.append(field.substr(value_end));
        return result;
      }
    }
    position = end + 1;
  }
  return std::string(field);
}

void appendCanonicalSignatureField(Canonicalization canonicalization, std::string_view raw_field,
                                   std::string& out) {
  std::string field = withoutSignatureValue(raw_field);
  if (canonicalization == Canonicalization::simple) {
    appendWithCrlf(field, out);
    return;
  }
  std::string_view view = field;
  std::size_t colon = view.find(':');
  std::string_view name = view.substr(0, colon == std::string_view::npos ? view.size() : colon);
  while (!name.empty() && isWhitespace(name.back())) name.remove_suffix(1);
  std::string_view value =
      colon == std::string_view::npos ? std::string_view{} : view.substr(colon + 1);
  appendRelaxed(name, value, out);
}

std::vector<const mime::HeaderField*> selectSignedFields(
    const std::vector<mime::HeaderField>& fields, const std::vector<std::string_view>& names) {
  std::vector<const mime::HeaderField*> selected;
  selected.reserve(names.size());
  std::vector<bool> used(fields.size(), false);
  for (std::string_view name : names) {
    for (std::size_t index = fields.size(); index-- > 0;) {
      if (!used[index] && equalsIgnoreCase(fields[index].name, name)) {
        used[index] = true;
        selected.push_back(&fields[index]);
        break;
      }
    }
  }
  return selected;
}

void canonicalizeBody(Canonicalization canonicalization, std::string_view body,
                      const std::function<void(std::string_view)>& sink) {
  if (canonicalization == Canonicalization::simple) {
    // Trailing empty lines go; the body then ends with exactly one CRLF (RFC 6376 3.4.3).
    std::size_t end = body.size();
    while (end > 0 && body[end - 1] == '\n') end -= (end >= 2 && body[end - 2] == '\r') ? 2 : 1;
    if (end + 2 <= body.size() && body[end] == '\r' && body[end + 1] == '\n') {
      emitWithCrlf(body.substr(0, end + 2), sink);  // usually one view: the body as received
    } else if (end < body.size()) {
      emitWithCrlf(body.substr(0, end + 1), sink);  // ends in a bare LF, written as CRLF
    } else {
      emitWithCrlf(body.substr(0, end), sink);
      sink("\r\n");
    }
    return;
  }
  RelaxedBodyWriter writer(sink);
  std::size_t position = 0;
  while (position < body.size()) {
    std::size_t newline = body.find('\n', position);
    std::size_t next = newline == std::string_view::npos ? body.size() : newline + 1;
    std::string_view content = body.substr(
        position, (newline == std::string_view::npos ? body.size() : newline) - position);
    if (newline != std::string_view::npos && content.ends_with('\r')) content.remove_suffix(1);
    writer.line(content);
    position = next;
  }
  writer.finish();
}

std::string canonicalBody(Canonicalization canonicalization, std::string_view body) {
  std::string out;
  canonicalizeBody(canonicalization, body, [&out](std::string_view chunk) { out.append(chunk); });
  return out;
}

const EVP_MD* dkimDigest(bool sha1) {
  static EVP_MD* const sha256_digest = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  static EVP_MD* const sha1_digest = EVP_MD_fetch(nullptr, "SHA1", nullptr);
  return sha1 ? sha1_digest : sha256_digest;
}

Result<BodyHash> hashBody(Canonicalization canonicalization, std::string_view body, bool sha1,
                          std::optional<std::size_t> limit) {
  const EVP_MD* digest = dkimDigest(sha1);
  std::unique_ptr<EVP_MD_CTX, DigestContextFree> context(EVP_MD_CTX_new());
  if (digest == nullptr || context == nullptr ||
      EVP_DigestInit_ex(context.get(), digest, nullptr) != 1) {
    return makeError("crypto", "cannot start the body hash");
  }
  BodyHash result;
  bool failed = false;
  canonicalizeBody(canonicalization, body, [&](std::string_view chunk) {
    std::size_t take = chunk.size();
    if (limit && result.canonical_length + take > *limit) {
      take = *limit > result.canonical_length ? *limit - result.canonical_length : 0;
    }
    result.canonical_length += chunk.size();
    if (take > 0 && EVP_DigestUpdate(context.get(), chunk.data(), take) != 1) failed = true;
  });
  unsigned char value[EVP_MAX_MD_SIZE];
  unsigned int value_length = 0;
  if (failed || EVP_DigestFinal_ex(context.get(), value, &value_length) != 1) {
    return makeError("crypto", "cannot compute the body hash");
  }
  result.digest.assign(reinterpret_cast<const char*>(value), value_length);
  return result;
}

}  // namespace bulwark::auth
