// DKIM canonicalisation and header selection; see dkim_canonical.h. RFC 6376 3.4, 3.7, 5.4.2.
// The message is untrusted: every byte sequence canonicalises, nothing here fails on content.
#include "auth/dkim_canonical.h"

#include <openssl/evp.h>

#include <bit>
#include <cstdint>
#include <cstring>
#include <memory>
#include <utility>

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

// Field names without case (RFC 5322 1.2.2). Most pairs differ in length or first letter,
// decided here without a call: bytes equal without case are still equal after `| 0x20`, so that
// test only turns away pairs that differ.
bool sameFieldName(std::string_view left, std::string_view right) {
  return left.size() == right.size() &&
         (left.empty() || (left.front() | 0x20) == (right.front() | 0x20)) &&
         equalsIgnoreCase(left, right);
}

std::string_view withoutLineBreak(std::string_view text) {
  if (text.ends_with('\n')) text.remove_suffix(1);
  if (text.ends_with('\r')) text.remove_suffix(1);
  return text;
}

// Where the body canonicaliser must look at the input itself, from `position` on: a line end or
// a CR that may start one, and (relaxed) any other control byte, HTAB, or SP that is followed by
// whitespace, a line end or nothing (a whitespace run that changes, or trailing whitespace).
// Everything before that position is output as it is. 32 bytes at a time: the usual body line
// is text with single spaces and only its CRLF is looked at.
template <bool kRelaxed>
bool needsAttention(const unsigned char* bytes, std::size_t position, std::size_t size) {
  const unsigned char byte = bytes[position];
  if constexpr (kRelaxed) {
    return byte <= ' ' && (byte != ' ' || position + 1 == size || bytes[position + 1] <= ' ');
  } else {
    return byte == '\r' || byte == '\n';
  }
}

template <bool kRelaxed>
std::size_t nextAttention(std::string_view text, std::size_t position) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t size = text.size();
#if defined(__GNUC__)
  using Block = unsigned char __attribute__((vector_size(16)));
  // Which bytes of the 16 at `at` need attention (0xFF) or not (0); in relaxed mode each block is
  // read with the one after it shifted by a byte, so SP sees its successor.
  auto marks = [bytes](std::size_t at) {
    Block current;
    std::memcpy(&current, bytes + at, sizeof current);
    if constexpr (kRelaxed) {
      Block next;
      std::memcpy(&next, bytes + at + 1, sizeof next);
      return reinterpret_cast<Block>((current <= ' ') & ((current != ' ') | (next <= ' ')));
    } else {
      return reinterpret_cast<Block>((current == '\r') | (current == '\n'));
    }
  };
  // Two blocks a round, tested together: most rounds find nothing.
  while (position + 2 * sizeof(Block) + 1 <= size) {
    const Block first = marks(position);
    const Block second = marks(position + sizeof(Block));
    std::uint64_t words[4];
    std::memcpy(words, &first, sizeof first);
    std::memcpy(words + 2, &second, sizeof second);
    if ((words[0] | words[1] | words[2] | words[3]) != 0) {
      for (std::size_t word = 0;; ++word) {
        if (words[word] == 0) continue;
        const int bit = std::endian::native == std::endian::little
                            ? std::countr_zero(words[word])
                            : std::countl_zero(words[word]);
        return position + word * 8 + static_cast<std::size_t>(bit) / 8;
      }
    }
    position += 2 * sizeof(Block);
  }
#endif
  while (position < size && !needsAttention<kRelaxed>(bytes, position, size)) ++position;
  return position;
}

// Empty lines owed to the output are written from here, many per sink call.
constexpr std::string_view kLineBreaks =
    "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n"
    "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n";

// Relaxed canonicalisation of a header field value (RFC 6376 3.4.2), given in one piece or in
// several (the signature field around its removed b= value): line breaks removed, each whitespace
// run one SP, none at either end. What needs no change is appended in whole stretches.
class RelaxedValueWriter {
 public:
  explicit RelaxedValueWriter(std::string& out) : out_(out) {}

  void append(std::string_view value) {
    std::size_t position = 0;
    while (position < value.size()) {
      const char character = value[position];
      if (isWhitespace(character) || character == '\r' || character == '\n') {
        pending_space_ = pending_space_ || (started_ && isWhitespace(character));
        ++position;
        continue;
      }
      const std::size_t end = nextAttention<true>(value, position + 1);
      if (pending_space_) out_ += ' ';
      pending_space_ = false;
      started_ = true;
      out_.append(value.substr(position, end - position));
      position = end;
    }
  }

 private:
  std::string& out_;
  bool started_ = false;
  bool pending_space_ = false;  // whitespace after content: one SP if more content follows
};

void appendRelaxedName(std::string_view name, std::string& out) {
  for (char character : name) out += asciiLower(character);
  out += ':';
}

// The bytes of the b= value in `field` (without its final line break), as [first, second):
// the base64 characters and folding whitespace after "b=", not whitespace after the last base64
// character (RFC 6376 3.5 "b=", 3.7). Both field.size() when there is no b= tag.
std::pair<std::size_t, std::size_t> signatureValueSpan(std::string_view field) {
  const std::pair<std::size_t, std::size_t> none{field.size(), field.size()};
  std::size_t colon = field.find(':');
  if (colon == std::string_view::npos) return none;
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
        return {value_start, value_end};
      }
    }
    position = end + 1;
  }
  return none;
}

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
  appendRelaxedName(field.name, out);
  RelaxedValueWriter(out).append(field.value);
  out += "\r\n";
}

std::string withoutSignatureValue(std::string_view raw_field) {
  const std::string_view field = withoutLineBreak(raw_field);
  const auto [value_start, value_end] = signatureValueSpan(field);
  std::string result(field.substr(0, value_start));
  result.append(field.substr(value_end));
  return result;
}

void appendCanonicalSignatureField(Canonicalization canonicalization, std::string_view raw_field,
                                   std::string& out) {
  // The field is canonicalised in the two pieces around its b= value, not copied without it.
  const std::string_view field = withoutLineBreak(raw_field);
  const auto [value_start, value_end] = signatureValueSpan(field);
  const std::string_view before = field.substr(0, value_start);
  const std::string_view after = field.substr(value_end);
  if (canonicalization == Canonicalization::simple) {
    appendWithCrlf(before, out);
    appendWithCrlf(after, out);
    return;
  }
  const std::size_t colon = before.find(':');
  std::string_view name = before.substr(0, colon);
  while (!name.empty() && isWhitespace(name.back())) name.remove_suffix(1);
  appendRelaxedName(name, out);
  if (colon == std::string_view::npos) return;
  RelaxedValueWriter value(out);
  value.append(before.substr(colon + 1));
  value.append(after);
}

std::vector<const mime::HeaderField*> selectSignedFields(
    const std::vector<mime::HeaderField>& fields, const std::vector<std::string_view>& names) {
  std::vector<const mime::HeaderField*> selected;
  selected.reserve(names.size());
  std::vector<bool> used(fields.size(), false);
  for (std::string_view name : names) {
    for (std::size_t index = fields.size(); index-- > 0;) {
      if (!used[index] && sameFieldName(fields[index].name, name)) {
        used[index] = true;
        selected.push_back(&fields[index]);
        break;
      }
    }
  }
  return selected;
}

std::size_t signedDataSize(const std::vector<const mime::HeaderField*>& selected,
                           std::string_view signature_field) {
  std::size_t size = signature_field.size() + 2;
  for (const mime::HeaderField* field : selected) size += field->raw.size() + 2;
  return size;
}

BodyCanonicalizer::BodyCanonicalizer(Canonicalization canonicalization, Sink sink)
    : sink_(std::move(sink)), relaxed_(canonicalization == Canonicalization::relaxed) {}

void BodyCanonicalizer::flushTo(std::size_t end) {
  if (end > run_start_) sink_(piece_.substr(run_start_, end - run_start_));
  run_start_ = end;
}

void BodyCanonicalizer::emitOwedLines() {
  while (owed_empty_lines_ > 0) {
    const std::size_t count = std::min(owed_empty_lines_, kLineBreaks.size() / 2);
    sink_(kLineBreaks.substr(0, count * 2));
    owed_empty_lines_ -= count;
  }
}

// A line ends at piece_[position], with CRLF (`length` 2) or a bare LF (1).
void BodyCanonicalizer::lineEnd(std::size_t position, std::size_t length) {
  owed_space_ = false;  // whitespace at the end of a line goes (relaxed)
  if (!line_has_content_) {
    // Kept back until a line with content shows it is not trailing.
    flushTo(position);
    ++owed_empty_lines_;
    run_start_ = position + length;
    return;
  }
  line_has_content_ = false;
  wrote_line_ = true;
  if (length == 2) return;  // CRLF: stays in the unchanged run
  flushTo(position);
  sink_(kLineBreaks.substr(0, 2));
  run_start_ = position + 1;
}

// Relaxed: a whitespace run starting at piece_[position]; `position` moves past it.
void BodyCanonicalizer::whitespace(std::size_t& position) {
  std::size_t end = position + 1;
  while (end < piece_.size() && isWhitespace(piece_[end])) ++end;
  const bool at_piece_end =
      end == piece_.size() || (piece_[end] == '\r' && end + 1 == piece_.size());
  if (at_piece_end) {
    // Whether this run is inside the line or at its end shows in the next piece.
    flushTo(position);
    owed_space_ = true;
    run_start_ = end;
    position = end;
    return;
  }
  if (piece_[end] == '\n' || (piece_[end] == '\r' && piece_[end + 1] == '\n')) {
    flushTo(position);  // trailing whitespace: dropped
    run_start_ = end;
    position = end;
    return;
  }
  // Whitespace before content: one SP. A single SP with nothing owed stays in the run.
  if (owed_empty_lines_ > 0 || owed_space_ || piece_[position] != ' ' || end != position + 1) {
    flushTo(position);
    emitOwedLines();
    sink_(" ");
    owed_space_ = false;
    run_start_ = end;
  }
  line_has_content_ = true;
  position = end;
}

void BodyCanonicalizer::update(std::string_view piece) {
  if (piece.empty()) return;
  piece_ = piece;
  run_start_ = 0;
  std::size_t position = 0;
  if (pending_carriage_return_) {
    pending_carriage_return_ = false;
    if (piece_[0] == '\n') {
      // The CRLF straddles the pieces: its CR went with the previous piece, so a line with
      // content ends with CRLF written from the constant, as a bare LF does.
      lineEnd(0, 1);
      position = 1;
    } else {
      // A CR that does not start a line end is content (with the whitespace before it).
      emitOwedLines();
      sink_(owed_space_ ? " \r" : "\r");
      owed_space_ = false;
      line_has_content_ = true;
    }
  }
  const std::size_t size = piece_.size();
  while (position < size) {
    if (line_has_content_ && !owed_space_) {
      for (;;) {
        position = relaxed_ ? nextAttention<true>(piece_, position)
                            : nextAttention<false>(piece_, position);
        // The usual line end: CRLF after content, the next line starting with content. It
        // stays in the run and the state stays as it is.
        if (position + 2 < size && piece_[position] == '\r' && piece_[position + 1] == '\n' &&
            static_cast<unsigned char>(piece_[position + 2]) > ' ') {
          wrote_line_ = true;
          position += 3;
          continue;
        }
        break;
      }
      if (position == size) break;
    }
    const char character = piece_[position];
    if (character == '\n') {
      lineEnd(position, 1);
      ++position;
      continue;
    }
    if (character == '\r') {
      if (position + 1 == size) {
        flushTo(position);
        pending_carriage_return_ = true;
        run_start_ = size;
        break;
      }
      if (piece_[position + 1] == '\n') {
        lineEnd(position, 2);
        position += 2;
        continue;
      }
    }
    if (relaxed_ && isWhitespace(character)) {
      whitespace(position);
      continue;
    }
    // Content (a lone CR too): what is owed goes before it.
    if (owed_empty_lines_ > 0 || owed_space_) {
      flushTo(position);
      emitOwedLines();
      if (owed_space_) sink_(" ");
      owed_space_ = false;
    }
    line_has_content_ = true;
    ++position;
  }
  flushTo(size);
  piece_ = {};
  run_start_ = 0;
}

void BodyCanonicalizer::finish() {
  if (pending_carriage_return_) {
    // The body ends in a CR without LF: content, with the whitespace before it.
    pending_carriage_return_ = false;
    emitOwedLines();
    sink_(owed_space_ ? " \r" : "\r");
    line_has_content_ = true;
  }
  owed_space_ = false;
  owed_empty_lines_ = 0;  // trailing empty lines are dropped (RFC 6376 3.4.3, 3.4.4)
  if (line_has_content_ || (!relaxed_ && !wrote_line_)) {
    sink_(kLineBreaks.substr(0, 2));
    wrote_line_ = true;
  }
  line_has_content_ = false;
}

void canonicalizeBody(Canonicalization canonicalization, std::string_view body,
                      const std::function<void(std::string_view)>& sink) {
  BodyCanonicalizer canonicalizer(canonicalization, std::ref(sink));
  canonicalizer.update(body);
  canonicalizer.finish();
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
