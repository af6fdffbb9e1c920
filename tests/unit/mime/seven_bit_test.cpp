// 8-bit to 7-bit conversion (mime/seven_bit.h) over the messages in data/: each NAME.eml converts
// to NAME.7bit.eml byte for byte (files are stored with LF and read with CRLF), the result is 7-bit
// and decodes back to the original octets; messages that cannot be converted fail with a reason;
// the nesting limit holds at the limit and one level past it.
#include "mime/seven_bit.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "net/base64.h"

namespace bulwark::mime {
namespace {

std::string crlf(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

std::string readData(const std::string& name) {
  std::ifstream file(std::string(MIME_TEST_DATA_DIR) + "/" + name, std::ios::binary);
  EXPECT_TRUE(file.good()) << name;
  std::stringstream buffer;
  buffer << file.rdbuf();
  return crlf(buffer.str());
}

std::vector<std::string_view> lines(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t position = 0;
  while (position < text.size()) {
    std::size_t end = text.find("\r\n", position);
    if (end == std::string_view::npos) end = text.size();
    out.push_back(text.substr(position, end - position));
    position = end + 2;
  }
  return out;
}

// What every converted message must be: 7-bit, CRLF only, lines within SMTP's 998 (RFC 5321
// 4.5.3.1.6).
void expectSevenBitTransport(std::string_view message) {
  EXPECT_FALSE(hasEightBitOctets(message));
  for (std::size_t index = 0; index < message.size(); ++index) {
    if (message[index] == '\r') {
      ASSERT_TRUE(index + 1 < message.size() && message[index + 1] == '\n') << index;
    } else if (message[index] == '\n') {
      ASSERT_TRUE(index > 0 && message[index - 1] == '\r') << index;
    }
  }
  for (auto line : lines(message)) EXPECT_LE(line.size(), 998u);
}

// RFC 2045 6.7 decoding, strict: "=XX" with upper-case hex, "=" CRLF soft breaks.
std::string decodeQuotedPrintable(std::string_view text) {
  std::string out;
  for (std::size_t index = 0; index < text.size(); ++index) {
    if (text[index] != '=') {
      out += text[index];
      continue;
    }
    if (text.substr(index + 1, 2) == "\r\n") {
      index += 2;
      continue;
    }
    out += static_cast<char>(std::stoi(std::string(text.substr(index + 1, 2)), nullptr, 16));
    index += 2;
  }
  return out;
}

void eraseLine(std::string& text, std::string_view line) {
  const std::size_t at = text.find(line);
  ASSERT_NE(at, std::string::npos) << line;
  text.erase(at, line.size());
}

std::string body(std::string_view message) {
  return std::string(message.substr(message.find("\r\n\r\n") + 4));
}

class Golden : public ::testing::TestWithParam<const char*> {};

TEST_P(Golden, ConvertsToTheExpectedBytes) {
  const std::string name = GetParam();
  const std::string input = readData(name + ".eml");
  ASSERT_TRUE(hasEightBitOctets(input));
  auto converted = convertToSevenBit(input);
  ASSERT_TRUE(converted.has_value()) << converted.error().message;
  EXPECT_EQ(*converted, readData(name + ".7bit.eml"));
  expectSevenBitTransport(*converted);
}

INSTANTIATE_TEST_SUITE_P(SevenBit, Golden,
                         ::testing::Values("simple", "no_mime", "multipart", "nested",
                                           "boundary_in_body", "long_lines"));

TEST(SevenBit, SevenBitMessageIsUnchanged) {
  const std::string input = readData("seven_bit.eml");
  ASSERT_FALSE(hasEightBitOctets(input));
  auto converted = convertToSevenBit(input);
  ASSERT_TRUE(converted.has_value());
  EXPECT_EQ(*converted, input);
}

TEST(SevenBit, QuotedPrintableDecodesToTheOriginalAndKeepsLinesWithin76) {
  for (const char* name : {"simple", "long_lines", "no_mime"}) {
    SCOPED_TRACE(name);
    const std::string input = readData(std::string(name) + ".eml");
    auto converted = convertToSevenBit(input);
    ASSERT_TRUE(converted.has_value());
    const std::string encoded = body(*converted);
    for (auto line : lines(encoded)) EXPECT_LE(line.size(), 76u) << line;
    EXPECT_EQ(decodeQuotedPrintable(encoded), body(input));
    // The header section is the original's, but for the fields that say what the body is now.
    std::string original_header = input.substr(0, input.find("\r\n\r\n") + 2);
    std::string converted_header = converted->substr(0, converted->find("\r\n\r\n") + 2);
    if (original_header.find("Content-Transfer-Encoding:") != std::string::npos) {
      eraseLine(original_header, "Content-Transfer-Encoding: 8bit\r\n");
    }
    eraseLine(converted_header, "Content-Transfer-Encoding: quoted-printable\r\n");
    if (original_header.find("MIME-Version:") == std::string::npos) {
      eraseLine(converted_header, "MIME-Version: 1.0\r\n");
    }
    if (original_header.find("Content-Type:") == std::string::npos) {
      eraseLine(converted_header, "Content-Type: text/plain; charset=unknown-8bit\r\n");
    }
    EXPECT_EQ(converted_header, original_header);
  }
}

TEST(SevenBit, Base64PartDecodesToTheOriginalOctets) {
  auto converted = convertToSevenBit(readData("multipart.eml"));
  ASSERT_TRUE(converted.has_value());
  const std::string marker = "filename=\"blob.bin\"\r\n\r\n";
  const std::size_t start = converted->find(marker);
  ASSERT_NE(start, std::string::npos);
  const std::size_t begin = start + marker.size();
  const std::string encoded =
      converted->substr(begin, converted->find("\r\n--outer", begin) - begin);
  auto decoded = net::base64Decode(encoded);
  ASSERT_TRUE(decoded.has_value());
  const unsigned char expected[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe,
                                    0x41, 0x42, 0xc3, 0xa9, 0x20, 0x09};
  EXPECT_EQ(*decoded, std::string(reinterpret_cast<const char*>(expected), sizeof expected));
}

TEST(SevenBit, Base64LinesAreAtMost76) {
  std::string binary;
  for (int index = 0; index < 1000; ++index) binary += static_cast<char>(0x80 + index % 100);
  const std::string message =
      "MIME-Version: 1.0\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: binary\r\n\r\n" +
      binary + "\r\n";
  auto converted = convertToSevenBit(message);
  ASSERT_TRUE(converted.has_value());
  const std::string encoded = body(*converted);
  auto encoded_lines = lines(encoded);
  ASSERT_GT(encoded_lines.size(), 10u);
  for (auto line : encoded_lines) EXPECT_LE(line.size(), 76u);
  EXPECT_EQ(encoded_lines.front().size(), 76u);
  std::string joined;
  for (auto line : encoded_lines) joined += line;
  EXPECT_EQ(net::base64Decode(joined), binary);
  EXPECT_NE(converted->find("Content-Transfer-Encoding: base64\r\n"), std::string::npos);
}

void expectFailure(const std::string& message, std::string_view reason) {
  auto converted = convertToSevenBit(message);
  ASSERT_FALSE(converted.has_value());
  EXPECT_EQ(converted.error().code, "conversion");
  EXPECT_NE(converted.error().message.find(reason), std::string::npos) << converted.error().message;
}

TEST(SevenBit, MessagesThatCannotBeConverted) {
  expectFailure(readData("header_8bit.eml"), "8-bit octets in the header field Subject");
  expectFailure(readData("encoded_8bit.eml"),
                "application/pdf whose Content-Transfer-Encoding is not 7bit, 8bit or binary");
  expectFailure(readData("preamble_8bit.eml"), "preamble of an entity of type multipart/mixed");
}

TEST(SevenBit, MoreMessagesThatCannotBeConverted) {
  // An 8-bit header field of a part, not only of the top level.
  expectFailure(crlf("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
                     "Content-Type: text/plain; name=\"r\xc3\xa9sum\xc3\xa9.txt\"\n\nx\n--b--\n"),
                "header field Content-Type");
  expectFailure(crlf("MIME-Version: 1.0\nContent-Type: multipart/mixed\n\n--b\n\n\xc3\xa9\n"),
                "without a boundary parameter");
  expectFailure(crlf("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n"
                     "\xc3\xa9 but no delimiter line\n"),
                "has no line with its boundary");
  expectFailure(crlf("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n"
                     "--b--\nepilogue \xc3\xa9\n"),
                "epilogue");
  expectFailure(crlf("MIME-Version: 1.0\nContent-Type: message/partial; id=\"a\"; number=1\n\n"
                     "Subject: x\n\n\xc3\xa9\n"),
                "message/partial, which must be 7bit");
  expectFailure(crlf("MIME-Version: 1.0\nContent-Type: text/plain\nContent-Transfer-Encoding: "
                     "x-unknown\n\n\xc3\xa9\n"),
                "whose Content-Transfer-Encoding is not");
  expectFailure(crlf("From: a@b\nA line that is no field \xc3\xa9\n\nbody\n"),
                "header line that is not a field");
}

// A message whose leaf entity lies under `levels` nested multiparts (at depth `levels`).
std::string nested(std::size_t levels,
                   std::string_view leaf = "Content-Type: text/plain\r\n\r\n\xc3\xbc\r\n") {
  std::string message = "MIME-Version: 1.0\r\n";
  for (std::size_t level = levels; level >= 1; --level) {
    const std::string boundary = "b" + std::to_string(level);
    message +=
        "Content-Type: multipart/mixed; boundary=" + boundary + "\r\n\r\n--" + boundary + "\r\n";
  }
  message += leaf;
  for (std::size_t level = 1; level <= levels; ++level) {
    message += "--b" + std::to_string(level) + "--\r\n";
  }
  return message;
}

TEST(SevenBit, NestingUpToTheLimitConvertsOnePastItFails) {
  auto at_limit = convertToSevenBit(nested(kMaximumConversionDepth));
  ASSERT_TRUE(at_limit.has_value()) << at_limit.error().message;
  EXPECT_NE(at_limit->find("\r\n=C3=BC\r\n"), std::string::npos);
  expectSevenBitTransport(*at_limit);
  expectFailure(nested(kMaximumConversionDepth + 1),
                "nested deeper than " + std::to_string(kMaximumConversionDepth) + " levels");

  SevenBitOptions shallow;
  shallow.max_depth = 2;
  EXPECT_TRUE(convertToSevenBit(nested(2), shallow).has_value());
  auto past = convertToSevenBit(nested(3), shallow);
  ASSERT_FALSE(past.has_value());
  EXPECT_EQ(past.error().message, "MIME structure nested deeper than 2 levels");

  // message/rfc822 counts as a level too.
  const std::string message_leaf =
      "Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\n\xc3\xbc\r\n";
  EXPECT_TRUE(convertToSevenBit(nested(1, message_leaf), shallow).has_value());
  EXPECT_FALSE(convertToSevenBit(nested(2, message_leaf), shallow).has_value());
}

TEST(SevenBit, DeepSevenBitStructureIsCopiedNotWalked) {
  // 10 000 levels without an 8-bit octet next to one 8-bit text part: only the 8-bit part's path
  // is parsed, so the depth of the rest does not matter.
  const std::string deep = nested(10000, "Content-Type: text/plain\r\n\r\nascii\r\n");
  const std::string deep_part = deep.substr(deep.find("\r\n") + 2);
  const std::string message =
      "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=top\r\n\r\n--top\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n\r\n\xc3\xbc\r\n--top\r\n" +
      deep_part + "--top--\r\n";
  auto converted = convertToSevenBit(message);
  ASSERT_TRUE(converted.has_value()) << converted.error().message;
  EXPECT_NE(converted->find(deep_part), std::string::npos);
  EXPECT_NE(converted->find("Content-Transfer-Encoding: quoted-printable\r\n\r\n=C3=BC\r\n"),
            std::string::npos);
}

TEST(SevenBit, ContentTypeSyntax) {
  // Comments, a quoted boundary with an escaped quote and a space, parameter case.
  const std::string message = crlf(
      "MIME-Version: 1.0\n"
      "Content-Type: (comment (nested)) Multipart/Mixed ; (c) BOUNDARY = \"a \\\"b\\\" c\"\n\n"
      "--a \"b\" c\nContent-Type: text/plain\n\n\xc3\xa9\n--a \"b\" c--\n");
  auto converted = convertToSevenBit(message);
  ASSERT_TRUE(converted.has_value()) << converted.error().message;
  EXPECT_NE(converted->find("\r\n--a \"b\" c\r\nContent-Type: text/plain\r\n"
                            "Content-Transfer-Encoding: quoted-printable\r\n\r\n=C3=A9\r\n"),
            std::string::npos);
  // An unparseable Content-Type means text/plain (RFC 2045 5.2), and stays as written.
  auto broken = convertToSevenBit(crlf("MIME-Version: 1.0\nContent-Type: nonsense\n\n\xc3\xa9\n"));
  ASSERT_TRUE(broken.has_value());
  EXPECT_EQ(*broken, crlf("MIME-Version: 1.0\nContent-Type: nonsense\n"
                          "Content-Transfer-Encoding: quoted-printable\n\n=C3=A9\n"));
}

TEST(SevenBit, LastPartWithoutClosingDelimiterRunsToTheEnd) {
  auto converted =
      convertToSevenBit(crlf("MIME-Version: 1.0\nContent-Type: multipart/mixed; "
                             "boundary=b\n\n--b\nContent-Type: text/plain\n\n\xc3\xa9\n"));
  ASSERT_TRUE(converted.has_value());
  EXPECT_EQ(*converted, crlf("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n"
                             "--b\nContent-Type: text/plain\nContent-Transfer-Encoding: "
                             "quoted-printable\n\n=C3=A9\n"));
}

TEST(SevenBit, DuplicateTransferEncodingFieldsBecomeOne) {
  auto converted =
      convertToSevenBit(crlf("MIME-Version: 1.0\nContent-Transfer-Encoding: 8bit\nSubject: x\n"
                             "Content-Transfer-Encoding: base64\n\n\xc3\xa9\n"));
  ASSERT_TRUE(converted.has_value());
  EXPECT_EQ(*converted, crlf("MIME-Version: 1.0\nContent-Transfer-Encoding: quoted-printable\n"
                             "Subject: x\nContent-Type: text/plain; charset=unknown-8bit\n\n"
                             "=C3=A9\n"));
}

}  // namespace
}  // namespace bulwark::mime
