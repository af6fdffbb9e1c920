// DKIM canonicalisation against plain references written from the RFC text (fixed seeds): the
// streaming body canonicaliser (RFC 6376 3.4.3, 3.4.4) on randomised bodies fed whole and in
// random pieces, pieces that split a CRLF or a whitespace run, runs of empty lines, l= limits that
// cut the canonical body anywhere (3.5 "l="); relaxed header fields (3.4.2) including the
// signature field around its removed b= value (3.7).
#include "auth/dkim_canonical.h"

#include <openssl/evp.h>

#include <gtest/gtest.h>

#include <cctype>
#include <random>

namespace bulwark::auth {
namespace {

constexpr auto kSimple = Canonicalization::simple;
constexpr auto kRelaxed = Canonicalization::relaxed;

// The RFC's rules, one line at a time: a line ends at LF (a CR just before it belongs to the line
// end); relaxed reduces every run of SP and HTAB to one SP and drops it at the end of a line; both
// drop empty lines at the end of the body and end the last line with CRLF; simple writes an empty
// body as CRLF.
std::string referenceBody(Canonicalization canonicalization, std::string_view body) {
  std::vector<std::string> lines;
  std::size_t position = 0;
  while (position < body.size()) {
    std::size_t newline = body.find('\n', position);
    std::string_view line = body.substr(position, newline == std::string_view::npos
                                                      ? std::string_view::npos
                                                      : newline - position);
    if (newline != std::string_view::npos && line.ends_with('\r')) line.remove_suffix(1);
    std::string text;
    if (canonicalization == kRelaxed) {
      bool in_whitespace = false;
      for (char character : line) {
        const bool whitespace = character == ' ' || character == '\t';
        if (whitespace && !in_whitespace) text += ' ';
        if (!whitespace) text += character;
        in_whitespace = whitespace;
      }
      if (text.ends_with(' ')) text.pop_back();
    } else {
      text = line;
    }
    lines.push_back(std::move(text));
    if (newline == std::string_view::npos) break;
    position = newline + 1;
  }
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  std::string result;
  for (const auto& line : lines) result += line + "\r\n";
  if (canonicalization == kSimple && result.empty()) result = "\r\n";
  return result;
}

// The canonical body when `body` is fed in the pieces that `cuts` (ascending offsets) make.
std::string fedInPieces(Canonicalization canonicalization, std::string_view body,
                        const std::vector<std::size_t>& cuts) {
  std::string out;
  BodyCanonicalizer canonicalizer(canonicalization,
                                  [&out](std::string_view chunk) { out.append(chunk); });
  std::size_t start = 0;
  for (std::size_t cut : cuts) {
    canonicalizer.update(body.substr(start, cut - start));
    start = cut;
  }
  canonicalizer.update(body.substr(start));
  canonicalizer.finish();
  return out;
}

std::string sha256(std::string_view data) {
  unsigned char value[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EXPECT_EQ(EVP_Digest(data.data(), data.size(), value, &length, EVP_sha256(), nullptr), 1);
  return std::string(reinterpret_cast<const char*>(value), length);
}

// Bodies made mostly of text with the bytes canonicalisation cares about mixed in: long
// stretches without any (the fast path), and clusters of SP, HTAB, CR, LF and other controls.
std::string randomBody(std::mt19937& random) {
  static constexpr std::string_view kSpecial = "  \t\r\n\r\n\n\f\v\x01";
  std::uniform_int_distribution<int> length_of(0, 300);
  std::uniform_int_distribution<int> percent(0, 99);
  std::uniform_int_distribution<std::size_t> special(0, kSpecial.size() - 1);
  std::uniform_int_distribution<int> letter('!', '~');
  const int length = length_of(random);
  const int special_percent = percent(random) / 2;  // some bodies are almost plain text
  std::string body;
  for (int index = 0; index < length; ++index) {
    const int draw = percent(random);
    if (draw < special_percent) {
      body += kSpecial[special(random)];
    } else if (draw < special_percent + 3) {
      body += static_cast<char>(0xC3);  // 8-bit bytes are content
    } else {
      body += static_cast<char>(letter(random));
    }
  }
  return body;
}

TEST(DkimBodyCanonicalizer, RandomBodiesWholeAndInPiecesMatchTheReference) {
  std::mt19937 random(20260302);
  for (int round = 0; round < 4000; ++round) {
    const std::string body = randomBody(random);
    std::vector<std::size_t> cuts;
    std::uniform_int_distribution<std::size_t> offset(0, body.size());
    for (int count = std::uniform_int_distribution<int>(0, 6)(random); count > 0; --count)
      cuts.push_back(offset(random));
    std::sort(cuts.begin(), cuts.end());
    for (auto canonicalization : {kSimple, kRelaxed}) {
      const std::string expected = referenceBody(canonicalization, body);
      ASSERT_EQ(canonicalBody(canonicalization, body), expected)
          << "round " << round << (canonicalization == kRelaxed ? " relaxed" : " simple");
      ASSERT_EQ(fedInPieces(canonicalization, body, cuts), expected)
          << "round " << round << (canonicalization == kRelaxed ? " relaxed" : " simple");
    }
  }
}

TEST(DkimBodyCanonicalizer, OneBytePiecesMatchTheReference) {
  std::mt19937 random(7);
  for (int round = 0; round < 300; ++round) {
    const std::string body = randomBody(random);
    std::vector<std::size_t> cuts;
    for (std::size_t offset = 1; offset < body.size(); ++offset) cuts.push_back(offset);
    for (auto canonicalization : {kSimple, kRelaxed}) {
      ASSERT_EQ(fedInPieces(canonicalization, body, cuts), referenceBody(canonicalization, body))
          << "round " << round;
    }
  }
}

TEST(DkimBodyCanonicalizer, PiecesSplittingALineEnd) {
  EXPECT_EQ(fedInPieces(kRelaxed, "abc\r\ndef\r\n", {4}), "abc\r\ndef\r\n");
  EXPECT_EQ(fedInPieces(kSimple, "abc\r\ndef\r\n", {4}), "abc\r\ndef\r\n");
  // A CR at the end of a piece that turns out not to start a line end is content.
  EXPECT_EQ(fedInPieces(kSimple, "abc\rdef", {4}), "abc\rdef\r\n");
  EXPECT_EQ(fedInPieces(kRelaxed, "abc \rdef", {5}), "abc \rdef\r\n");
  // An empty line split after its CR is still empty, and trailing.
  EXPECT_EQ(fedInPieces(kRelaxed, "abc\r\n\r\n", {6}), "abc\r\n");
  EXPECT_EQ(fedInPieces(kSimple, "abc\r\n\r\n", {6}), "abc\r\n");
}

TEST(DkimBodyCanonicalizer, PiecesSplittingAWhitespaceRun) {
  EXPECT_EQ(fedInPieces(kRelaxed, "a  \t b\r\n", {2, 3, 4}), "a b\r\n");
  EXPECT_EQ(fedInPieces(kSimple, "a  \t b\r\n", {2, 3, 4}), "a  \t b\r\n");
  // Whitespace at the end of a piece, then the line end: trailing, dropped.
  EXPECT_EQ(fedInPieces(kRelaxed, "a \t\r\nb\r\n", {3}), "a\r\nb\r\n");
  EXPECT_EQ(fedInPieces(kRelaxed, "a \t\r\nb\r\n", {3, 4}), "a\r\nb\r\n");
  // Leading whitespace of a line after empty lines, split: the empty lines stay, then one SP.
  EXPECT_EQ(fedInPieces(kRelaxed, "a\r\n\r\n \t b\r\n", {5, 6, 7}), "a\r\n\r\n b\r\n");
}

TEST(DkimBodyCanonicalizer, ManyEmptyLines) {
  std::string inner = "first\r\n";
  for (int line = 0; line < 100; ++line) inner += (line % 3 == 0) ? " \t\r\n" : "\r\n";
  inner += "last\r\n";
  std::string trailing = inner;
  for (int line = 0; line < 10000; ++line) trailing += (line % 7 == 0) ? "\n" : "\r\n";
  for (auto canonicalization : {kSimple, kRelaxed}) {
    EXPECT_EQ(canonicalBody(canonicalization, inner), referenceBody(canonicalization, inner));
    EXPECT_EQ(canonicalBody(canonicalization, trailing), referenceBody(canonicalization, inner));
    EXPECT_EQ(fedInPieces(canonicalization, trailing, {9, 10, 200, 5000}),
              referenceBody(canonicalization, inner));
  }
  std::string relaxed_inner = "first\r\n" + std::string(200, '\r') + "last\r\n";
  EXPECT_EQ(canonicalBody(kRelaxed, relaxed_inner), referenceBody(kRelaxed, relaxed_inner));
}

TEST(DkimBodyCanonicalizer, UnchangedTextReachesTheSinkUncopied) {
  std::string body;
  for (int line = 0; line < 200; ++line) body += "The quick brown fox jumps over the lazy dog\r\n";
  for (auto canonicalization : {kSimple, kRelaxed}) {
    std::vector<std::string_view> chunks;
    canonicalizeBody(canonicalization, body,
                     [&chunks](std::string_view chunk) { chunks.push_back(chunk); });
    ASSERT_EQ(chunks.size(), 1u);
    EXPECT_EQ(chunks[0].data(), body.data());
    EXPECT_EQ(chunks[0].size(), body.size());
  }
}

TEST(DkimBodyCanonicalizer, LengthLimitCutsAnywhere) {
  // l= counts canonical bytes: a cut inside what was a whitespace run or a CRLF hashes exactly
  // that prefix of the canonical body.
  std::mt19937 random(4);
  for (int round = 0; round < 500; ++round) {
    const std::string body = randomBody(random);
    for (auto canonicalization : {kSimple, kRelaxed}) {
      const std::string canonical = referenceBody(canonicalization, body);
      const std::size_t limit =
          std::uniform_int_distribution<std::size_t>(0, canonical.size())(random);
      auto hashed = hashBody(canonicalization, body, false, limit);
      ASSERT_TRUE(hashed);
      EXPECT_EQ(hashed->canonical_length, canonical.size());
      ASSERT_EQ(hashed->digest, sha256(std::string_view(canonical).substr(0, limit)))
          << "round " << round << " limit " << limit;
    }
  }
  auto cut = hashBody(kRelaxed, "abc  \t def\r\n", false, 4);
  ASSERT_TRUE(cut);
  EXPECT_EQ(cut->digest, sha256("abc "));
}

// RFC 6376 3.4.2 step by step: name lower-cased; line breaks removed (unfolding); each run of
// SP and HTAB one SP; whitespace at the ends of the value and before the colon removed.
std::string referenceRelaxedHeader(std::string_view name, std::string_view value) {
  std::string unfolded;
  for (char character : value) {
    if (character != '\r' && character != '\n') unfolded += character;
  }
  std::string reduced;
  bool in_whitespace = false;
  for (char character : unfolded) {
    const bool whitespace = character == ' ' || character == '\t';
    if (whitespace && !in_whitespace) reduced += ' ';
    if (!whitespace) reduced += character;
    in_whitespace = whitespace;
  }
  if (reduced.starts_with(' ')) reduced.erase(0, 1);
  if (reduced.ends_with(' ')) reduced.pop_back();
  std::string lower_name;
  for (char character : name) lower_name += static_cast<char>(std::tolower(character));
  while (!lower_name.empty() && (lower_name.back() == ' ' || lower_name.back() == '\t'))
    lower_name.pop_back();
  return lower_name + ":" + reduced;
}

std::string randomHeaderValue(std::mt19937& random) {
  static constexpr std::string_view kBytes = "  \t\r\n\r\n \x01;=/+abcXYZ019";
  std::uniform_int_distribution<std::size_t> pick(0, kBytes.size() - 1);
  std::uniform_int_distribution<int> word(1, 30);
  std::string value;
  for (int piece = std::uniform_int_distribution<int>(0, 12)(random); piece > 0; --piece) {
    if (pick(random) % 3 == 0) {
      value += kBytes[pick(random)];
    } else {
      value.append(static_cast<std::size_t>(word(random)), "abcdefgh"[pick(random) % 8]);
    }
  }
  return value;
}

TEST(DkimRelaxedHeader, RandomValuesMatchTheReference) {
  std::mt19937 random(11);
  for (int round = 0; round < 3000; ++round) {
    const std::string value = randomHeaderValue(random);
    const std::string message = "X-Test:" + value + "\r\n\r\n";
    mime::HeaderField field;
    field.name = "X-Test";
    field.value = value;
    field.raw = std::string_view(message).substr(0, message.size() - 2);
    std::string out;
    appendCanonicalHeader(kRelaxed, field, out);
    ASSERT_EQ(out, referenceRelaxedHeader("X-Test", value) + "\r\n") << "round " << round;
  }
}

TEST(DkimRelaxedHeader, SignatureFieldAroundItsValueMatchesTheReference) {
  std::mt19937 random(12);
  for (int round = 0; round < 3000; ++round) {
    const std::string before = randomHeaderValue(random);
    const std::string after = randomHeaderValue(random);
    const std::string field = "DKIM-Signature :" + before + "; b=" + "dGVz\r\n dA==" +
                              (round % 2 == 0 ? " " : "") + ";" + after + "\r\n";
    const std::string removed = withoutSignatureValue(field);
    const std::size_t colon = removed.find(':');
    std::string out;
    appendCanonicalSignatureField(kRelaxed, field, out);
    ASSERT_EQ(out, referenceRelaxedHeader(std::string_view(removed).substr(0, colon),
                                          std::string_view(removed).substr(colon + 1)))
        << "round " << round;
  }
}

}  // namespace
}  // namespace bulwark::auth
