// Tests of the HTTP/1.1 response parser of the policy fetch: the three framings, fed whole and one
// byte at a time, each limit at and past its bound, and the ambiguous responses it refuses.
#include "sts/http_response.h"

#include <gtest/gtest.h>

namespace bulwark::sts {
namespace {

// Feeds `bytes` whole, or one byte at a time; then the end of the connection when `closed`.
Result<HttpResponse> parse(std::string_view bytes, std::size_t body_limit = 1024,
                           bool one_byte_at_a_time = false, bool closed = false,
                           std::size_t header_limit = 16 * 1024) {
  HttpResponseParser parser(body_limit, header_limit);
  if (one_byte_at_a_time) {
    for (char c : bytes) {
      auto fed = parser.feed(std::string_view(&c, 1));
      if (!fed) return fed.error();
      if (*fed) break;
    }
  } else {
    auto fed = parser.feed(bytes);
    if (!fed) return fed.error();
  }
  if (closed) {
    if (auto finished = parser.finish(); !finished) return finished.error();
  }
  if (!parser.complete()) return makeError("incomplete", "the parser wants more");
  return parser.response();
}

TEST(StsHttpResponse, ContentLengthBodyWholeAndByteByByte) {
  const std::string response =
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\n"
      "X-Other:  spaced value \r\n\r\nhelloEXTRA";
  for (bool bytewise : {false, true}) {
    auto parsed = parse(response, 1024, bytewise);
    ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
    EXPECT_EQ(parsed->status, 200);
    EXPECT_EQ(parsed->body, "hello");
    EXPECT_EQ(parsed->header("content-type"), "text/plain; charset=utf-8");
    EXPECT_EQ(parsed->header("x-other"), "spaced value");
    EXPECT_EQ(parsed->header("missing"), "");
  }
}

TEST(StsHttpResponse, ChunkedBodyWithExtensionsAndTrailers) {
  const std::string response =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "4;name=value\r\nvers\r\nA\r\nion: STSv1\r\n0\r\nTrailer: x\r\n\r\n";
  for (bool bytewise : {false, true}) {
    auto parsed = parse(response, 1024, bytewise);
    ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
    EXPECT_EQ(parsed->body, "version: STSv1");
  }
}

TEST(StsHttpResponse, BodyToTheEndOfTheConnectionAndBareLineFeeds) {
  auto parsed =
      parse("HTTP/1.0 200 OK\nContent-Type: text/plain\n\nmode: enforce\n", 1024, false, true);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_EQ(parsed->body, "mode: enforce\n");
  // Without the end of the connection it is not complete.
  EXPECT_EQ(parse("HTTP/1.0 200 OK\r\n\r\nbody").error().code, "incomplete");
}

TEST(StsHttpResponse, StatusCodesAreReported) {
  auto moved = parse(
      "HTTP/1.1 301 Moved Permanently\r\nLocation: https://elsewhere.test/\r\n"
      "Content-Length: 0\r\n\r\n");
  ASSERT_TRUE(moved.has_value()) << moved.error().message;
  EXPECT_EQ(moved->status, 301);
  EXPECT_EQ(moved->header("location"), "https://elsewhere.test/");
  EXPECT_EQ(parse("HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n").value().status, 404);
}

TEST(StsHttpResponse, BodyLimitAtAndPastItForEachFraming) {
  const std::string ten(10, 'x');
  EXPECT_EQ(parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n" + ten, 10).value().body, ten);
  auto declared = parse("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n" + ten + "x", 10);
  ASSERT_FALSE(declared.has_value());
  EXPECT_EQ(declared.error().code, "limit");
  auto huge = parse("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", 10);
  ASSERT_FALSE(huge.has_value());
  EXPECT_EQ(huge.error().code, "limit");

  EXPECT_EQ(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nxxxxx\r\n5\r\nxxxxx"
                  "\r\n0\r\n\r\n",
                  10)
                .value()
                .body,
            ten);
  auto chunked =
      parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nxxxxx\r\n6\r\n", 10);
  ASSERT_FALSE(chunked.has_value());
  EXPECT_EQ(chunked.error().code, "limit");

  EXPECT_EQ(parse("HTTP/1.1 200 OK\r\n\r\n" + ten, 10, false, true).value().body, ten);
  auto until_close = parse("HTTP/1.1 200 OK\r\n\r\n" + ten + "x", 10, true, true);
  ASSERT_FALSE(until_close.has_value());
  EXPECT_EQ(until_close.error().code, "limit");
}

TEST(StsHttpResponse, HeaderLimitAtAndPastIt) {
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  EXPECT_TRUE(parse(head, 10, false, false, head.size()).has_value());
  auto endless = parse("HTTP/1.1 200 OK\r\nX: " + std::string(100, 'a'), 10, false, false, 64);
  ASSERT_FALSE(endless.has_value());
  EXPECT_EQ(endless.error().code, "limit");
}

TEST(StsHttpResponse, RefusesAmbiguousAndMalformedResponses) {
  for (const std::string& bad : std::vector<std::string>{
           std::string(
               "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n"),
           std::string("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n"),
           std::string("HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\n"),
           std::string("HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\n"),
           std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
           std::string("HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n\r\n"),
           std::string("HTTP/1.1 200 OK\r\nBad Name: 1\r\n\r\n"),
           std::string("HTTP/1.1 200 OK\r\nNoColon\r\n\r\n"),
           std::string("HTTP/1.1 200 OK\r\n: empty name\r\n\r\n"),
           std::string("HTTP/1.1 200 OK\r\nX: a\x01z\r\n\r\n"),
           std::string("HTTP/1.1 100 Continue\r\n\r\n"),
           std::string("HTTP/2 200\r\n\r\n"),
           std::string("ICY 200 OK\r\n\r\n"),
           std::string("HTTP/1.1 20 OK\r\n\r\n"),
           std::string("HTTP/1.1 200OK\r\n\r\n"),
           std::string("\r\n\r\n"),
           std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
           std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n"),
           std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nno colon\r\n"),
       }) {
    SCOPED_TRACE(bad);
    auto parsed = parse(bad);
    ASSERT_FALSE(parsed.has_value());
    EXPECT_EQ(parsed.error().code, "http") << parsed.error().message;
  }
}

TEST(StsHttpResponse, TruncatedResponsesAreErrorsAtTheEnd) {
  for (const std::string& cut : std::vector<std::string>{
           std::string("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc"),
           std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"),
           std::string("HTTP/1.1 200 OK\r\nContent-Le")}) {
    SCOPED_TRACE(cut);
    auto parsed = parse(cut, 1024, false, true);
    ASSERT_FALSE(parsed.has_value());
    EXPECT_EQ(parsed.error().code, "http");
    EXPECT_NE(parsed.error().message.find("connection closed"), std::string::npos);
  }
}

}  // namespace
}  // namespace bulwark::sts
