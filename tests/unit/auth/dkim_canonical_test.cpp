// DKIM canonicalisation (RFC 6376 3.4), including the examples of RFC 6376 3.4.5, the b= removal
// of 3.7 and the header selection of 5.4.2.
#include "auth/dkim_canonical.h"

#include <gtest/gtest.h>

namespace bulwark::auth {
namespace {

// RFC 6376 3.4.5, written with its <SP>, <HTAB> and <CRLF> spelled out.
constexpr std::string_view kExample =
    "A: X\r\n"
    "B : Y\t\r\n"
    "\tZ  \r\n"
    "\r\n"
    " C \r\n"
    "D \t E\r\n"
    "\r\n"
    "\r\n";

std::string canonicalHeaders(Canonicalization canonicalization, std::string_view message) {
  std::string out;
  for (const auto& field : mime::headerFields(message)) {
    appendCanonicalHeader(canonicalization, field, out);
  }
  return out;
}

std::string_view bodyOf(std::string_view message) {
  return message.substr(mime::bodyOffset(message));
}

TEST(DkimCanonical, RelaxedHeadersOfRfc6376Example) {
  EXPECT_EQ(canonicalHeaders(Canonicalization::relaxed, kExample), "a:X\r\nb:Y Z\r\n");
}

TEST(DkimCanonical, RelaxedBodyOfRfc6376Example) {
  EXPECT_EQ(canonicalBody(Canonicalization::relaxed, bodyOf(kExample)), " C\r\nD E\r\n");
}

TEST(DkimCanonical, SimpleHeadersOfRfc6376ExampleAreUnchanged) {
  EXPECT_EQ(canonicalHeaders(Canonicalization::simple, kExample), "A: X\r\nB : Y\t\r\n\tZ  \r\n");
}

TEST(DkimCanonical, SimpleBodyOfRfc6376Example) {
  EXPECT_EQ(canonicalBody(Canonicalization::simple, bodyOf(kExample)), " C \r\nD \t E\r\n");
}

TEST(DkimCanonical, EmptyBodies) {
  // RFC 6376 3.4.3: simple makes an empty body one CRLF; 3.4.4 (errata 1384): relaxed leaves it
  // empty.
  EXPECT_EQ(canonicalBody(Canonicalization::simple, ""), "\r\n");
  EXPECT_EQ(canonicalBody(Canonicalization::relaxed, ""), "");
  EXPECT_EQ(canonicalBody(Canonicalization::simple, "\r\n\r\n"), "\r\n");
  EXPECT_EQ(canonicalBody(Canonicalization::relaxed, "\r\n \t\r\n"), "");
}

TEST(DkimCanonical, BodyWithoutFinalLineBreakGetsOne) {
  EXPECT_EQ(canonicalBody(Canonicalization::simple, "last line"), "last line\r\n");
  EXPECT_EQ(canonicalBody(Canonicalization::relaxed, "last  line \t"), "last line\r\n");
}

TEST(DkimCanonical, EmptyLinesInsideTheBodyStay) {
  constexpr std::string_view body = "one\r\n\r\n \r\ntwo\r\n\r\n";
  EXPECT_EQ(canonicalBody(Canonicalization::simple, body), "one\r\n\r\n \r\ntwo\r\n");
  EXPECT_EQ(canonicalBody(Canonicalization::relaxed, body), "one\r\n\r\n\r\ntwo\r\n");
}

TEST(DkimCanonical, BareLineFeedsCountAsLineEnds) {
  EXPECT_EQ(canonicalBody(Canonicalization::simple, "a\nb\r\n\n"), "a\r\nb\r\n");
  EXPECT_EQ(canonicalBody(Canonicalization::relaxed, "a \nb\n\n"), "a\r\nb\r\n");
  EXPECT_EQ(canonicalHeaders(Canonicalization::simple, "X: y\n\nbody"), "X: y\r\n");
}

TEST(DkimCanonical, LongRelaxedBodiesAreStreamedInChunks) {
  std::string body;
  for (int line = 0; line < 5000; ++line) body += "some  text\t here \r\n";
  std::size_t chunks = 0;
  std::string joined;
  canonicalizeBody(Canonicalization::relaxed, body, [&](std::string_view chunk) {
    ++chunks;
    joined.append(chunk);
  });
  EXPECT_GT(chunks, 1u);
  std::string expected;
  for (int line = 0; line < 5000; ++line) expected += "some text here\r\n";
  EXPECT_EQ(joined, expected);
}

TEST(DkimCanonical, BodyHashHonoursLength) {
  auto whole = hashBody(Canonicalization::simple, "abc\r\n", false, std::nullopt);
  auto limited = hashBody(Canonicalization::simple, "abc\r\nmore\r\n", false, 5);
  ASSERT_TRUE(whole && limited);
  EXPECT_EQ(whole->digest, limited->digest);
  EXPECT_EQ(whole->canonical_length, 5u);
  EXPECT_EQ(limited->canonical_length, 11u);
  EXPECT_EQ(whole->digest.size(), 32u);
}

TEST(DkimCanonical, SignatureValueRemovedAndNothingElse) {
  constexpr std::string_view field =
      "DKIM-Signature: v=1; a=rsa-sha256; bh=AbC+/=;\r\n b=dGVz\r\n dA== ; d=example.com\r\n";
  EXPECT_EQ(withoutSignatureValue(field),
            "DKIM-Signature: v=1; a=rsa-sha256; bh=AbC+/=;\r\n b= ; d=example.com");
  EXPECT_EQ(withoutSignatureValue("DKIM-Signature: b = abc;bh=x\r\n"), "DKIM-Signature: b =;bh=x");
}

TEST(DkimCanonical, SignatureFieldHasNoFinalLineBreak) {
  std::string simple;
  appendCanonicalSignatureField(Canonicalization::simple, "DKIM-Signature: a=1;\r\n\tb=xyz\r\n",
                                simple);
  EXPECT_EQ(simple, "DKIM-Signature: a=1;\r\n\tb=");
  std::string relaxed;
  appendCanonicalSignatureField(Canonicalization::relaxed, "DKIM-Signature : a=1;\r\n\tb=xyz\r\n",
                                relaxed);
  EXPECT_EQ(relaxed, "dkim-signature:a=1; b=");
}

TEST(DkimCanonical, FieldsSelectedBottomUpAndMissingOnesSignedAsNull) {
  constexpr std::string_view message = "From: first\r\nTo: t\r\nFrom: second\r\n\r\n";
  auto fields = mime::headerFields(message);
  auto selected = selectSignedFields(fields, {"from", "FROM", "from", "subject", "to"});
  ASSERT_EQ(selected.size(), 3u);
  EXPECT_EQ(selected[0]->value, " second");
  EXPECT_EQ(selected[1]->value, " first");
  EXPECT_EQ(selected[2]->name, "To");
}

}  // namespace
}  // namespace bulwark::auth
