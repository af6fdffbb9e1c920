// Unit tests of the MIME view (mime::parseMessage, decodeHeaderText, htmlToText): structure and
// sections, decoding, charsets, attachments, every limit past its bound, unparseable input,
// hostile HTML, and parsing in several threads at once.
#include "mime/mime_message.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

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

const MimePart* partWithSection(const ParsedMessage& message, std::string_view section) {
  for (const MimePart& part : message.parts) {
    if (part.section == section && !part.is_multipart) return &part;
  }
  return nullptr;
}

std::string parameter(const MimePart& part, std::string_view name) {
  for (const auto& [key, value] : part.parameters) {
    if (key == name) return value;
  }
  return "<absent>";
}

constexpr std::string_view kSimple =
    "From: ann@example.test\n"
    "Subject: =?utf-8?Q?Gr=C3=BC=C3=9Fe?= from\n"
    " =?iso-8859-1?B?TPxiZWNr?=\n"
    "\n"
    "Hello,\n"
    "world\n";

TEST(ParseMessage, SinglePartMessageIsTheRoot) {
  ParsedMessage message = parseMessage(kSimple);
  EXPECT_EQ(message.status, ParsedMessage::Status::ok);
  ASSERT_EQ(message.parts.size(), 1u);
  const MimePart& root = message.parts[0];
  EXPECT_EQ(root.section, "");
  EXPECT_EQ(root.content_type, "text/plain");  // RFC 2045 5.2 default
  EXPECT_EQ(root.text, "Hello,\nworld\n");
  EXPECT_FALSE(root.is_attachment);
  EXPECT_EQ(message.subject, "Grüße from Lübeck");
  ASSERT_EQ(message.headers.size(), 2u);
  EXPECT_EQ(message.headers[0].first, "From");
  EXPECT_EQ(message.headers[1].second, "Grüße from Lübeck");
  EXPECT_EQ(message.bodyText(), "Hello,\nworld\n");
  EXPECT_TRUE(message.attachments().empty());
}

TEST(ParseMessage, CrlfAndLfGiveTheSameView) {
  ParsedMessage lf = parseMessage(kSimple);
  ParsedMessage with_crlf = parseMessage(crlf(kSimple));
  ASSERT_EQ(with_crlf.parts.size(), 1u);
  EXPECT_EQ(with_crlf.parts[0].text, lf.parts[0].text);
  EXPECT_EQ(with_crlf.subject, lf.subject);
  EXPECT_EQ(with_crlf.parts[0].content, "Hello,\r\nworld\r\n");  // content is the bytes as sent
}

constexpr std::string_view kForwarded =
    "From: ann@example.test\n"
    "Subject: Forwarded\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=outer\n"
    "\n"
    "preamble\n"
    "--outer\n"
    "Content-Type: multipart/alternative; boundary=\"inner\"\n"
    "\n"
    "--inner\n"
    "Content-Type: text/plain; charset=iso-8859-1\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "Top secret: caf=E9\n"
    "--inner\n"
    "Content-Type: text/html; charset=utf-8\n"
    "\n"
    "<html><head><title>T</title><style>p{}</style></head><body><p>Top&nbsp;secret:\n"
    "caf&eacute;</p><script>alert(1)</script></body></html>\n"
    "--inner--\n"
    "--outer\n"
    "Content-Type: application/pdf\n"
    "Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "JVBERi0xLjQK\n"
    "--outer\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "From: carl@example.test\n"
    "Subject: Inner\n"
    "Content-Type: multipart/mixed; boundary=deep\n"
    "\n"
    "--deep\n"
    "Content-Type: text/plain\n"
    "\n"
    "inner text\n"
    "--deep\n"
    "Content-Type: image/png\n"
    "Content-Disposition: inline\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "iVBORw0KGgo=\n"
    "--deep--\n"
    "--outer\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "Subject: single\n"
    "\n"
    "single-part attached message\n"
    "--outer--\n";

TEST(ParseMessage, TreeAndSectionsFollowImap) {
  ParsedMessage message = parseMessage(kForwarded);
  EXPECT_EQ(message.status, ParsedMessage::Status::ok);
  std::vector<std::string> shape;
  for (const MimePart& part : message.parts) {
    shape.push_back(std::to_string(part.depth) + " [" + part.section + "] " + part.content_type);
  }
  EXPECT_EQ(shape, (std::vector<std::string>{
                       "0 [] multipart/mixed",
                       "1 [1] multipart/alternative",
                       "2 [1.1] text/plain",
                       "2 [1.2] text/html",
                       "1 [2] application/pdf",
                       "1 [3] message/rfc822",
                       "2 [3] multipart/mixed",  // RFC 3501: its parts are 3.1, 3.2
                       "3 [3.1] text/plain",
                       "3 [3.2] image/png",
                       "1 [4] message/rfc822",
                       "2 [4.1] text/plain",  // a single-part attached message's body is N.1
                   }));
  EXPECT_EQ(message.parts[0].children, (std::vector<std::size_t>{1, 4, 5, 9}));
  EXPECT_EQ(message.parts[5].children, (std::vector<std::size_t>{6}));
  EXPECT_EQ(message.parts[7].parent, 6u);
  EXPECT_TRUE(message.parts[5].is_message);
  EXPECT_TRUE(message.parts[0].is_multipart);
  EXPECT_EQ(parameter(message.parts[0], "boundary"), "outer");
}

TEST(ParseMessage, DecodesTextCharsetsAndHtml) {
  ParsedMessage message = parseMessage(kForwarded);
  const MimePart* plain = partWithSection(message, "1.1");
  ASSERT_NE(plain, nullptr);
  EXPECT_EQ(plain->charset, "iso-8859-1");
  EXPECT_EQ(plain->transfer_encoding, "quoted-printable");
  // Decoded, charset untouched; the line break before a delimiter is the delimiter's (RFC 2046
  // 5.1.1).
  EXPECT_EQ(plain->content, "Top secret: caf\xE9");
  EXPECT_EQ(plain->text, "Top secret: café");
  const MimePart* html = partWithSection(message, "1.2");
  ASSERT_NE(html, nullptr);
  EXPECT_EQ(html->text, "Top secret: café");
  EXPECT_NE(html->html.find("<script>"), std::string::npos);
  std::string body = message.bodyText();
  EXPECT_NE(body.find("Top secret: café\nTop secret: café\n"), std::string::npos);
  EXPECT_NE(body.find("inner text"), std::string::npos);
  EXPECT_NE(body.find("single-part attached message"), std::string::npos);
  EXPECT_EQ(body.find("alert"), std::string::npos);
}

TEST(ParseMessage, AttachmentsAsAMailClientShowsThem) {
  ParsedMessage message = parseMessage(kForwarded);
  std::vector<std::string> sections;
  for (const MimePart* part : message.attachments()) sections.push_back(part->section);
  // The PDF (disposition attachment) and both attached messages; not the inline image without
  // a name, not the text parts.
  EXPECT_EQ(sections, (std::vector<std::string>{"2", "3", "4"}));
  const MimePart* pdf = partWithSection(message, "2");
  ASSERT_NE(pdf, nullptr);
  EXPECT_EQ(pdf->filename, "résumé.pdf");  // RFC 2231 decoded
  EXPECT_EQ(pdf->disposition, "attachment");
  EXPECT_EQ(pdf->content, "%PDF-1.4\n");
  const MimePart* image = partWithSection(message, "3.2");
  ASSERT_NE(image, nullptr);
  EXPECT_FALSE(image->is_attachment);
  EXPECT_EQ(image->content, std::string("\x89PNG\r\n\x1A\n", 8));
}

TEST(ParseMessage, NamedNonTextPartsAndTextMarkedAttachmentAreAttachments) {
  ParsedMessage message = parseMessage(
      "Content-Type: multipart/mixed; boundary=b\n\n"
      "--b\nContent-Type: application/octet-stream; name=\"=?utf-8?B?w6kuZXhl?=\"\n\nMZ\n"
      "--b\nContent-Type: text/plain\nContent-Disposition: attachment; filename=notes.txt\n\nx\n"
      "--b\nContent-Type: image/gif\nContent-Disposition: inline; filename=logo.gif\n\nGIF\n"
      "--b\nContent-Type: text/plain\nContent-Disposition: x-unknown\n\ny\n"
      "--b--\n");
  ASSERT_EQ(message.parts.size(), 5u);
  EXPECT_EQ(message.parts[1].filename, "é.exe");  // from name=, RFC 2047 decoded
  EXPECT_TRUE(message.parts[1].is_attachment);
  EXPECT_TRUE(message.parts[2].is_attachment);
  EXPECT_TRUE(message.parts[3].is_attachment);  // a named inline image is listed too
  EXPECT_EQ(message.parts[4].disposition, "attachment");  // RFC 2183 2.8: unknown
  EXPECT_TRUE(message.parts[4].is_attachment);
}

TEST(ParseMessage, Base64EncodedAttachedMessageIsParsed) {
  // "Subject: hi\n\nbody\n" in base64 (RFC 2046 5.2.1 forbids it; senders do it).
  ParsedMessage message = parseMessage(
      "Content-Type: multipart/mixed; boundary=b\n\n"
      "--b\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n"
      "U3ViamVjdDogaGkKCmJvZHkK\n--b--\n");
  EXPECT_EQ(message.status, ParsedMessage::Status::ok);
  ASSERT_EQ(message.parts.size(), 3u);
  EXPECT_TRUE(message.parts[1].is_message);
  ASSERT_EQ(message.parts[1].children.size(), 1u);
  EXPECT_EQ(message.parts[2].section, "1.1");
  EXPECT_EQ(message.parts[2].text, "body\n");
}

TEST(ParseMessage, BadBase64AndUnknownCharsetAreProblems) {
  ParsedMessage message = parseMessage(
      "Content-Type: multipart/mixed; boundary=b\n\n"
      "--b\nContent-Type: application/zip\nContent-Transfer-Encoding: base64\n\nUEsD*!!\n"
      "--b\nContent-Type: text/plain; charset=x-klingon\n\nvalid \xC3\xA9 and \xFF invalid\n"
      "--b\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-"
      "printable\n\na=ZZb\n"
      "--b--\n");
  EXPECT_EQ(message.status, ParsedMessage::Status::damaged);
  ASSERT_EQ(message.parts.size(), 4u);
  EXPECT_TRUE(message.parts[1].encoding_problem);
  EXPECT_EQ(message.parts[1].content, "PK\x03");  // decoded as far as it went
  EXPECT_TRUE(message.parts[2].encoding_problem);
  EXPECT_EQ(message.parts[2].text, "valid é and \xEF\xBF\xBD invalid");
  EXPECT_TRUE(message.parts[3].encoding_problem);
  ASSERT_EQ(message.problems.size(), 3u);
  EXPECT_NE(message.problems[0].find("part 1: bad base64"), std::string::npos);
  EXPECT_NE(message.problems[1].find("unknown charset \"x-klingon\""), std::string::npos);
  EXPECT_NE(message.problems[2].find("part 3: bad quoted-printable"), std::string::npos);
}

TEST(ParseMessage, ContentTypeWithoutMediaTypeIsPlainText) {
  ParsedMessage message = parseMessage("Content-Type: inline; name=x.exe\n\nMZ\n");
  ASSERT_EQ(message.parts.size(), 1u);
  EXPECT_EQ(message.parts[0].content_type, "text/plain");  // RFC 2045 5.2
  EXPECT_TRUE(message.parts[0].parameters.empty());
  EXPECT_EQ(message.status, ParsedMessage::Status::damaged);
}

TEST(ParseMessage, CommentAfterParameterValueIsNotPartOfIt) {
  ParsedMessage message =
      parseMessage("Content-Type: text/plain; charset=us-ascii (Plain text)\n\nx\n");
  ASSERT_EQ(message.parts.size(), 1u);
  EXPECT_EQ(message.parts[0].charset, "us-ascii");
}

TEST(ParseMessage, WithoutHeaderOrEmptyIsUnparseable) {
  for (std::string_view input :
       {std::string_view(""), std::string_view("just some text\nno header\n\nbody\n"),
        std::string_view("\x01\x02\xFF\xFE garbage\0\0\0 \x80\x81", 17)}) {
    ParsedMessage message = parseMessage(input);
    EXPECT_EQ(message.status, ParsedMessage::Status::unparseable) << input;
    EXPECT_TRUE(message.parts.empty());
    EXPECT_FALSE(message.problems.empty());
    EXPECT_EQ(message.bodyText(), "");
  }
}

std::string nestedMultiparts(unsigned levels) {
  std::string message = "Content-Type: multipart/mixed; boundary=b0\n\n";
  for (unsigned level = 1; level <= levels; ++level) {
    message += "--b" + std::to_string(level - 1) + "\nContent-Type: multipart/mixed; boundary=b" +
               std::to_string(level) + "\n\n";
  }
  message += "--b" + std::to_string(levels) + "\nContent-Type: text/plain\n\ndeep\n";
  for (unsigned level = levels + 1; level-- > 0;) message += "--b" + std::to_string(level) + "--\n";
  return message;
}

TEST(ParseMessage, DepthLimitStopsDescending) {
  std::string message = nestedMultiparts(30);
  ParsedMessage unlimited = parseMessage(message, MimeLimits{.max_depth = 40});
  EXPECT_FALSE(unlimited.limit_exceeded);
  EXPECT_EQ(unlimited.parts.back().text, "deep");
  ParsedMessage limited = parseMessage(message, MimeLimits{.max_depth = 5});
  EXPECT_TRUE(limited.limit_exceeded);
  EXPECT_EQ(limited.status, ParsedMessage::Status::damaged);
  EXPECT_EQ(limited.parts.size(), 6u);  // depths 0..5
  for (const MimePart& part : limited.parts) EXPECT_LE(part.depth, 5u);
  ASSERT_FALSE(limited.problems.empty());
  EXPECT_NE(limited.problems[0].find("nested deeper than 5 levels"), std::string::npos);
}

TEST(ParseMessage, PartLimitStopsReading) {
  std::string message = "Content-Type: multipart/mixed; boundary=b\n\n";
  for (int i = 0; i < 10; ++i) message += "--b\nContent-Type: text/plain\n\npart\n";
  message += "--b--\n";
  EXPECT_EQ(parseMessage(message).parts.size(), 11u);
  ParsedMessage limited = parseMessage(message, MimeLimits{.max_parts = 4});
  EXPECT_EQ(limited.parts.size(), 4u);
  EXPECT_TRUE(limited.limit_exceeded);
  ASSERT_EQ(limited.problems.size(), 1u);  // reported once, not per part
  EXPECT_NE(limited.problems[0].find("more than 4 parts"), std::string::npos);
}

TEST(ParseMessage, DecodedBytesLimitCutsContent) {
  std::string message = "Content-Type: multipart/mixed; boundary=b\n\n"
                        "--b\nContent-Type: text/plain\n\n0123456789\n"
                        "--b\nContent-Type: text/plain\n\nabcdefghij\n"
                        "--b\nContent-Type: text/plain\n\nnever decoded\n--b--\n";
  ParsedMessage limited = parseMessage(message, MimeLimits{.max_decoded_bytes = 15});
  ASSERT_EQ(limited.parts.size(), 4u);
  EXPECT_EQ(limited.parts[1].content, "0123456789");
  EXPECT_EQ(limited.parts[2].content, "abcde");
  EXPECT_EQ(limited.parts[3].content, "");
  EXPECT_TRUE(limited.limit_exceeded);
  ASSERT_EQ(limited.problems.size(), 1u);
  EXPECT_NE(limited.problems[0].find("part 2: decoded content past 15 bytes"), std::string::npos);
  EXPECT_FALSE(parseMessage(message).limit_exceeded);
}

TEST(ParseMessage, ParsesInEightThreadsAtOnce) {
  const std::string message = std::string(kForwarded);
  const ParsedMessage expected = parseMessage(message);
  std::vector<std::thread> threads;
  std::vector<int> mismatches(8, 0);
  for (int thread = 0; thread < 8; ++thread) {
    threads.emplace_back([&, thread] {
      for (int round = 0; round < 40; ++round) {
        ParsedMessage parsed = parseMessage(message);
        if (parsed.bodyText() != expected.bodyText() ||
            parsed.parts.size() != expected.parts.size() ||
            parsed.attachments().size() != expected.attachments().size()) {
          ++mismatches[thread];
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(mismatches, std::vector<int>(8, 0));
}

// ---- decodeHeaderText ------------------------------------------------------------------------

TEST(DecodeHeaderText, DecodesBAndQWords) {
  EXPECT_EQ(decodeHeaderText(" =?ISO-8859-1?Q?Andr=E9?= Pirard"), "André Pirard");
  EXPECT_EQ(decodeHeaderText("=?utf-8?b?w6k=?="), "é");
  EXPECT_EQ(decodeHeaderText("=?utf-8?q?a_b?="), "a b");
  EXPECT_EQ(decodeHeaderText("=?utf-8*en?q?hello?="), "hello");  // RFC 2231 5 language
}

TEST(DecodeHeaderText, JoinsAdjacentWordsEvenAcrossASplitCharacter) {
  EXPECT_EQ(decodeHeaderText("=?utf-8?q?a?= =?utf-8?q?b?="), "ab");  // RFC 2047 6.2
  EXPECT_EQ(decodeHeaderText("=?utf-8?q?a?=\r\n =?utf-8?q?b?="), "ab");
  // "é" (C3 A9) split between two words.
  EXPECT_EQ(decodeHeaderText("=?utf-8?q?caf=C3?= =?utf-8?q?=A9?="), "café");
  EXPECT_EQ(decodeHeaderText("=?utf-8?q?a?= plain =?utf-8?q?b?="), "a plain b");
}

TEST(DecodeHeaderText, KeepsBrokenWordsAndUnknownCharsetsAsWritten) {
  EXPECT_EQ(decodeHeaderText("=?x-klingon?q?abc?="), "=?x-klingon?q?abc?=");
  EXPECT_EQ(decodeHeaderText("=?utf-8?x?abc?="), "=?utf-8?x?abc?=");
  EXPECT_EQ(decodeHeaderText("=?utf-8?b?!!!?="), "=?utf-8?b?!!!?=");
  EXPECT_EQ(decodeHeaderText("=?utf-8?q?unterminated"), "=?utf-8?q?unterminated");
  EXPECT_EQ(decodeHeaderText("=?utf-8?q?=ZZ?="), "=?utf-8?q?=ZZ?=");
}

TEST(DecodeHeaderText, UnfoldsAndRepairsRawBytes) {
  EXPECT_EQ(decodeHeaderText(" Fwd: \r\n\tSaying \r\n Hello\r\n"), "Fwd: Saying Hello");
  EXPECT_EQ(decodeHeaderText("raw \xC3\xA9 and \xE9"), "raw é and \xEF\xBF\xBD");
}

// ---- htmlToText ------------------------------------------------------------------------------

TEST(HtmlToText, RemovesTagsAndHiddenContent) {
  EXPECT_EQ(htmlToText("<html><head><title>Title</title><style>p {color: red}</style>"
                       "<script>var a = '</p>';</script></head><body><b>Hello</b> <i>you</i>"
                       "</body></html>"),
            "Hello you");
}

TEST(HtmlToText, BlockElementsBreakLines) {
  EXPECT_EQ(htmlToText("<p>one</p><p>two</p>a<br>b<br/><br>c<div>d</div><ul><li>e<li>f</ul>"
                       "<h1>g</h1><table><tr><td>h</td><td>i</td></tr></table>"),
            "one\ntwo\na\nb\n\nc\nd\ne\nf\ng\nh i");
}

TEST(HtmlToText, DecodesCharacterReferences) {
  EXPECT_EQ(htmlToText("caf&eacute; &amp; &lt;tag&gt; &#233;&#xE9;&#X1F600; &euro;5 &amp"),
            "café & <tag> éé\xF0\x9F\x98\x80 €5 &");
  EXPECT_EQ(htmlToText("&unknown; &#; &#xZZ; &#0; &#1114112;"),
            "&unknown; &#; &#xZZ; \xEF\xBF\xBD \xEF\xBF\xBD");
}

TEST(HtmlToText, DropsInvisibleCharactersUsedToHideWords) {
  EXPECT_EQ(htmlToText("top&shy;se&#8203;cret"), "topsecret");
}

TEST(HtmlToText, CollapsesWhitespace) {
  EXPECT_EQ(htmlToText("  a \n\t b&nbsp;&nbsp;c  \n"), "a b c");
}

TEST(HtmlToText, SurvivesHostileMarkup) {
  EXPECT_EQ(htmlToText("a < b and c <3 d"), "a < b and c <3 d");
  EXPECT_EQ(htmlToText("x<!-- hidden <p> -->y"), "xy");
  EXPECT_EQ(htmlToText("x<!-- never closed"), "x");
  EXPECT_EQ(htmlToText("x<![CDATA[ hidden ]]>y"), "xy");
  EXPECT_EQ(htmlToText("x<a href=\"never closed>y"), "x");
  EXPECT_EQ(htmlToText("x<script>never closed"), "x");
  EXPECT_EQ(htmlToText("<img alt='a > b'>after"), "after");
  EXPECT_EQ(htmlToText("<!DOCTYPE html>text"), "text");
  // An unclosed head does not hide the body text a browser shows.
  EXPECT_EQ(htmlToText("<head><p>visible"), "visible");
}

TEST(HtmlToText, IsLinearOnPathologicalInput) {
  // Each of these would be quadratic in a reducer that rescans: 4 MiB must stay fast.
  const std::size_t size = 4 * 1024 * 1024;
  std::vector<std::string> inputs;
  inputs.push_back("<a " + std::string(size, 'x'));
  inputs.push_back(std::string(size / 4, '<') + std::string(size / 4, 'a'));
  std::string scripts;
  while (scripts.size() < size) scripts += "<script></scrip";
  inputs.push_back(scripts);
  std::string quotes = "<a b=";
  while (quotes.size() < size) quotes += "= '";
  inputs.push_back(quotes);
  std::string references;
  while (references.size() < size) references += "&#99999999999999999999&";
  inputs.push_back(references);
  auto start = std::chrono::steady_clock::now();
  for (const std::string& input : inputs) htmlToText(input);
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, std::chrono::seconds(10));  // sanitizer build; quadratic takes hours
}

}  // namespace
}  // namespace bulwark::mime
