// mime_edit: header edits on the raw header section, subject prefix with RFC 2047, disclaimers
// through GMime (transfer encodings, charsets, alternative/mixed/attached messages), signed
// messages wrapped (the signature still verifies with openssl smime) or skipped, and outputs
// that re-parse in GMime and in Python's email package.
#include "mime/mime_edit.h"

#include <gmime/gmime.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>

#include "mime/header_fields.h"

namespace bulwark::mime {
namespace {

struct Unref {
  void operator()(gpointer object) const {
    if (object) g_object_unref(object);
  }
};

std::unique_ptr<GMimeMessage, Unref> gmimeParse(const std::string& message) {
  std::unique_ptr<GMimeStream, Unref> stream(
      g_mime_stream_mem_new_with_buffer(message.data(), message.size()));
  std::unique_ptr<GMimeParser, Unref> parser(g_mime_parser_new_with_stream(stream.get()));
  return std::unique_ptr<GMimeMessage, Unref>(
      g_mime_parser_construct_message(parser.get(), nullptr));
}

// The decoded UTF-8 text of the text part at `path` (indexes into multiparts).
std::string partText(const std::string& message, std::vector<int> path) {
  auto parsed = gmimeParse(message);
  if (!parsed) return "<unparseable>";
  GMimeObject* object = g_mime_message_get_mime_part(parsed.get());
  for (int index : path) {
    if (!GMIME_IS_MULTIPART(object)) return "<not multipart>";
    object = g_mime_multipart_get_part(GMIME_MULTIPART(object), index);
    if (object == nullptr) return "<no part>";
  }
  if (!GMIME_IS_TEXT_PART(object)) return "<not text>";
  char* text = g_mime_text_part_get_text(GMIME_TEXT_PART(object));
  std::string result = text ? text : "";
  g_free(text);
  return result;
}

std::string partHeader(const std::string& message, std::vector<int> path, const char* name) {
  auto parsed = gmimeParse(message);
  GMimeObject* object = g_mime_message_get_mime_part(parsed.get());
  for (int index : path) object = g_mime_multipart_get_part(GMIME_MULTIPART(object), index);
  const char* value = g_mime_object_get_header(object, name);
  return value ? value : "";
}

bool everyLineEndIsCrlf(std::string_view text) {
  for (std::size_t index = 0; index < text.size(); ++index) {
    if (text[index] == '\n' && (index == 0 || text[index - 1] != '\r')) return false;
    if (text[index] == '\r' && (index + 1 == text.size() || text[index + 1] != '\n')) return false;
  }
  return true;
}

struct CommandResult {
  int status = -1;
  std::string output;
};

CommandResult run(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer{};
  std::size_t got = 0;
  while ((got = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
    result.output.append(buffer.data(), got);
  }
  const int status = ::pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

class TemporaryDirectory {
 public:
  TemporaryDirectory() {
    std::string pattern = (std::filesystem::temp_directory_path() / "mime-edit-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TemporaryDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::filesystem::path file(std::string_view name, std::string_view content) const {
    std::filesystem::path path = path_ / name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string readFile(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

// Python's email package (policy.default) reads the message: prints "defects=N" for the whole
// tree and the text of the body part it would show (text/plain preferred).
CommandResult pythonParse(const std::string& message) {
  TemporaryDirectory directory;
  auto path = directory.file("message.eml", message);
  auto script = directory.file("parse.py", R"(
import email, email.policy, sys
with open(sys.argv[1], 'rb') as f:
    message = email.message_from_binary_file(f, policy=email.policy.default)
defects = sum(len(part.defects) for part in message.walk())
print('defects=%d' % defects)
body = message.get_body(preferencelist=('plain', 'html'))
print(body.get_content() if body is not None else '<no body>')
)");
  return run("/usr/bin/python3 " + script.string() + " " + path.string());
}

// ---- header edits ------------------------------------------------------------------------

const std::string kSimple =
    "Received: from x by y; Thu, 1 Jan 2026 00:00:00 +0000\r\n"
    "From: Alice <alice@example.org>\r\n"
    "To: bob@example.net\r\n"
    "Subject: Quarterly numbers\r\n"
    "X-Old: one\r\n"
    "x-old: two,\r\n"
    "\tcontinued\r\n"
    "\r\n"
    "Hello Bob.\r\n";

// Runs first (file order): the edits initialise GMime themselves, as in a tool that never parses.
TEST(MimeEditHeaders, EditsWorkBeforeAnythingElseInitialisedGMime) {
  std::string message = "Subject: =?iso-8859-1?q?caf=E9?=\r\n\r\nx\r\n";
  ASSERT_TRUE(prependSubject(message, "[A] "));
  EXPECT_NE(message.find("=?UTF-8?"), std::string::npos) << message;
}

TEST(MimeEditHeaders, AddHeaderGoesOnTopAndLeavesTheRestAlone) {
  std::string message = kSimple;
  ASSERT_TRUE(addHeader(message, "X-Bulwark-Classification", "confidential"));
  EXPECT_EQ(message, "X-Bulwark-Classification: confidential\r\n" + kSimple);
}

TEST(MimeEditHeaders, UsesTheMessagesOwnLineEnding) {
  std::string message = "From: a@example.org\n\nbody\n";
  ASSERT_TRUE(addHeader(message, "X-Test", "1"));
  EXPECT_EQ(message, "X-Test: 1\nFrom: a@example.org\n\nbody\n");
}

TEST(MimeEditHeaders, RefusesLineBreaksInValuesAndBadNames) {
  std::string message = kSimple;
  EXPECT_FALSE(addHeader(message, "X-Test", "a\r\nBcc: evil@example.com"));
  EXPECT_FALSE(addHeader(message, "X-Test", "a\nb"));
  EXPECT_FALSE(addHeader(message, "X Test", "a"));
  EXPECT_FALSE(addHeader(message, "X:Test", "a"));
  EXPECT_FALSE(addHeader(message, "", "a"));
  EXPECT_FALSE(setHeader(message, "X-Test", "a\rb"));
  EXPECT_FALSE(prependSubject(message, "[A]\r\nBcc: x"));
  EXPECT_EQ(message, kSimple);
}

TEST(MimeEditHeaders, EncodesNonAsciiValuesAndFoldsLongOnes) {
  std::string message = kSimple;
  const std::string value =
      "Vertraulich: Grüße an alle Empfänger dieser Nachricht, bitte nicht weiterleiten, "
      "danke schön";
  ASSERT_TRUE(addHeader(message, "X-Note", value));
  auto fields = headerFields(message);
  ASSERT_EQ(fields.front().name, "X-Note");
  const std::string raw(fields.front().raw);
  EXPECT_NE(raw.find("=?UTF-8?"), std::string::npos) << raw;
  for (char c : raw) EXPECT_LT(static_cast<unsigned char>(c), 0x80) << raw;
  // Folded: every physical line within 78 characters, continuation lines start with a space.
  std::size_t start = 0;
  int lines = 0;
  while (start < raw.size()) {
    std::size_t end = raw.find("\r\n", start);
    EXPECT_LE(end - start, 78u) << raw;
    if (lines > 0) {
      EXPECT_EQ(raw[start], ' ');
    }
    start = end + 2;
    ++lines;
  }
  EXPECT_GT(lines, 1);
  const std::string unfolded = unfold(fields.front().value);
  char* decoded = g_mime_utils_header_decode_text(nullptr, unfolded.c_str());
  EXPECT_EQ(std::string(decoded), value);
  g_free(decoded);
}

TEST(MimeEditHeaders, SetReplacesEveryFieldOfThatNameAndRemoveCountsThem) {
  std::string message = kSimple;
  ASSERT_TRUE(setHeader(message, "X-OLD", "three"));
  auto fields = headerFields(message);
  int count = 0;
  for (const auto& field : fields) {
    if (field.name == "X-OLD" || field.name == "X-Old" || field.name == "x-old") ++count;
  }
  EXPECT_EQ(count, 1);
  EXPECT_EQ(message.find("continued"), std::string::npos);
  EXPECT_EQ(removeHeader(message, "x-old"), 1u);
  EXPECT_EQ(removeHeader(message, "x-old"), 0u);
  EXPECT_EQ(message.substr(bodyOffset(message)), "Hello Bob.\r\n");
  std::string again = kSimple;
  EXPECT_EQ(removeHeader(again, "X-Old"), 2u);
  EXPECT_EQ(again.find("continued"), std::string::npos);
}

TEST(MimeEditHeaders, HeaderEditsNeverTouchTheBody) {
  std::string message = "Subject: a\r\n\r\nX-Old: in the body\r\nSubject: also body\r\n";
  EXPECT_EQ(removeHeader(message, "X-Old"), 0u);
  ASSERT_TRUE(prependSubject(message, "[EXT] "));
  EXPECT_EQ(message, "Subject: [EXT] a\r\n\r\nX-Old: in the body\r\nSubject: also body\r\n");
}

TEST(MimeEditSubject, PrefixesAsciiSubjectInPlaceAndIsIdempotent) {
  std::string message = kSimple;
  ASSERT_TRUE(prependSubject(message, "[EXTERNAL] "));
  EXPECT_NE(message.find("From: Alice <alice@example.org>\r\nTo: bob@example.net\r\n"
                         "Subject: [EXTERNAL] Quarterly numbers\r\nX-Old"),
            std::string::npos)
      << message;
  const std::string once = message;
  ASSERT_TRUE(prependSubject(message, "[EXTERNAL] "));
  EXPECT_EQ(message, once);
}

TEST(MimeEditSubject, EncodedSubjectKeepsItsMeaning) {
  std::string message = "Subject: =?iso-8859-1?q?Caf=E9_cr=E8me?=\r\n\r\nx\r\n";
  ASSERT_TRUE(prependSubject(message, "[EXT] "));
  auto fields = headerFields(message);
  ASSERT_EQ(fields.size(), 1u);
  const std::string unfolded = unfold(fields[0].value);
  char* decoded = g_mime_utils_header_decode_text(nullptr, unfolded.c_str());
  EXPECT_EQ(std::string(decoded), "[EXT] Café crème");
  g_free(decoded);
  const std::string once = message;
  ASSERT_TRUE(prependSubject(message, "[EXT] "));  // decoded, it already starts with it
  EXPECT_EQ(message, once);
}

TEST(MimeEditSubject, NonAsciiPrefixIsEncodedAndMissingSubjectIsAdded) {
  std::string message = "From: a@example.org\r\n\r\nx\r\n";
  ASSERT_TRUE(prependSubject(message, "[Vertraulich äöü] "));
  auto fields = headerFields(message);
  ASSERT_EQ(fields.size(), 2u);
  EXPECT_EQ(fields[0].name, "Subject");
  EXPECT_NE(std::string(fields[0].raw).find("=?UTF-8?"), std::string::npos);
  std::string with_subject = kSimple;
  ASSERT_TRUE(prependSubject(with_subject, "[Ä] "));
  fields = headerFields(with_subject);
  const std::string unfolded = unfold(fields[3].value);
  char* decoded = g_mime_utils_header_decode_text(nullptr, unfolded.c_str());
  EXPECT_EQ(std::string(decoded), "[Ä] Quarterly numbers");
  g_free(decoded);
}

// ---- disclaimers -------------------------------------------------------------------------

Disclaimer plainDisclaimer(std::string text = "This message is confidential.") {
  Disclaimer disclaimer;
  disclaimer.text = std::move(text);
  return disclaimer;
}

TEST(MimeEditDisclaimer, PlainTextMessageGetsItAfterABlankLine) {
  std::string message = kSimple;
  auto outcome = appendDisclaimer(message, plainDisclaimer());
  ASSERT_TRUE(outcome) << outcome.error().message;
  EXPECT_TRUE(outcome->changed);
  EXPECT_EQ(outcome->how, "appended to 1 text part");
  EXPECT_TRUE(everyLineEndIsCrlf(message)) << message;
  EXPECT_EQ(partText(message, {}), "Hello Bob.\r\n\r\nThis message is confidential.\r\n");
  // The top-level fields keep their bytes (the folded X-Old included).
  EXPECT_EQ(message.substr(0, bodyOffset(message)), kSimple.substr(0, bodyOffset(kSimple)));
  auto python = pythonParse(message);
  EXPECT_EQ(python.status, 0) << python.output;
  EXPECT_NE(python.output.find("defects=0"), std::string::npos) << python.output;
  EXPECT_NE(python.output.find("Hello Bob.\n\nThis message is confidential."), std::string::npos)
      << python.output;
}

const std::string kAlternativeWithAttachments =
    "From: alice@example.org\r\n"
    "To: bob@example.net\r\n"
    "Subject: report\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
    "\r\n"
    "--outer\r\n"
    "Content-Type: multipart/alternative; boundary=\"inner\"\r\n"
    "\r\n"
    "--inner\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Gr=C3=BC=C3=9Fe, the report is attached.\r\n"
    "--inner\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "PGh0bWw+PGJvZHk+PHA+R3LDvMOfZSwgdGhlIHJlcG9ydCBpcyBhdHRhY2hlZC48L3A+PC9ib2R5\r\n"
    "PjwvaHRtbD4=\r\n"
    "--inner--\r\n"
    "\r\n"
    "--outer\r\n"
    "Content-Type: text/plain; name=\"notes.txt\"\r\n"
    "Content-Disposition: attachment; filename=\"notes.txt\"\r\n"
    "\r\n"
    "attached notes\r\n"
    "--outer\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "From: carol@example.com\r\n"
    "Subject: forwarded\r\n"
    "\r\n"
    "forwarded text\r\n"
    "--outer--\r\n";

TEST(MimeEditDisclaimer, AlternativeGetsItInPlainAndHtmlNotInAttachmentsOrAttachedMessages) {
  std::string message = kAlternativeWithAttachments;
  Disclaimer disclaimer = plainDisclaimer("Vertraulich & <intern>");
  auto outcome = appendDisclaimer(message, disclaimer);
  ASSERT_TRUE(outcome) << outcome.error().message;
  EXPECT_EQ(outcome->how, "appended to 2 text parts");
  EXPECT_TRUE(everyLineEndIsCrlf(message));
  EXPECT_EQ(partText(message, {0, 0}),
            "Grüße, the report is attached.\r\n\r\nVertraulich & <intern>");
  EXPECT_EQ(partText(message, {0, 1}),
            "<html><body><p>Grüße, the report is attached.</p>"
            "<p>Vertraulich &amp; &lt;intern&gt;</p></body></html>");
  // Transfer encodings kept.
  EXPECT_EQ(partHeader(message, {0, 0}, "Content-Transfer-Encoding"), "quoted-printable");
  EXPECT_EQ(partHeader(message, {0, 1}, "Content-Transfer-Encoding"), "base64");
  // The attachment and the attached message keep their bytes.
  EXPECT_NE(message.find("Content-Disposition: attachment; filename=\"notes.txt\"\r\n\r\n"
                         "attached notes\r\n--outer\r\n"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("From: carol@example.com\r\nSubject: forwarded\r\n\r\n"
                         "forwarded text\r\n--outer--"),
            std::string::npos)
      << message;
  auto python = pythonParse(message);
  EXPECT_NE(python.output.find("defects=0"), std::string::npos) << python.output;
  EXPECT_NE(python.output.find("Vertraulich & <intern>"), std::string::npos) << python.output;
}

TEST(MimeEditDisclaimer, HtmlWithoutBodyTagAndAdministratorHtml) {
  std::string message = "Content-Type: text/html; charset=us-ascii\r\n\r\n<b>hello</b>\r\n";
  Disclaimer disclaimer = plainDisclaimer("ignored for html");
  disclaimer.html = "<hr><i>confidential</i>";
  auto outcome = appendDisclaimer(message, disclaimer);
  ASSERT_TRUE(outcome);
  EXPECT_EQ(partText(message, {}), "<b>hello</b>\r\n<hr><i>confidential</i>");
}

TEST(MimeEditDisclaimer, SevenBitPartGetsQuotedPrintableForEightBitText) {
  std::string message =
      "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
      "plain ascii\r\n";
  auto outcome = appendDisclaimer(message, plainDisclaimer("Ça reste entre nous."));
  ASSERT_TRUE(outcome);
  EXPECT_EQ(partHeader(message, {}, "Content-Transfer-Encoding"), "quoted-printable");
  EXPECT_EQ(partText(message, {}), "plain ascii\r\n\r\nÇa reste entre nous.\r\n");
  for (char c : message) ASSERT_LT(static_cast<unsigned char>(c), 0x80) << message;
}

TEST(MimeEditDisclaimer, EightBitPartStaysEightBit) {
  std::string message =
      "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
      "déjà vu\r\n";
  auto outcome = appendDisclaimer(message, plainDisclaimer("Ça reste entre nous."));
  ASSERT_TRUE(outcome);
  EXPECT_EQ(partHeader(message, {}, "Content-Transfer-Encoding"), "8bit");
  EXPECT_NE(message.find("déjà vu\r\n\r\nÇa reste entre nous.\r\n"), std::string::npos);
}

TEST(MimeEditDisclaimer, LatinOnePartKeepsItsCharsetWhenItCanHoldTheText) {
  std::string message =
      "Content-Type: text/plain; charset=iso-8859-1\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
      "caf=E9\r\n";
  auto outcome = appendDisclaimer(message, plainDisclaimer("Vertraulich, schön."));
  ASSERT_TRUE(outcome);
  EXPECT_EQ(partHeader(message, {}, "Content-Type"), "text/plain; charset=iso-8859-1");
  EXPECT_NE(message.find("sch=F6n"), std::string::npos) << message;
  EXPECT_EQ(partText(message, {}), "café\r\n\r\nVertraulich, schön.\r\n");
}

TEST(MimeEditDisclaimer, LatinOnePartBecomesUtf8ForANonLatinDisclaimer) {
  std::string message =
      "Content-Type: text/plain; charset=iso-8859-1\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
      "caf=E9\r\n";
  auto outcome = appendDisclaimer(message, plainDisclaimer("Конфиденциально"));
  ASSERT_TRUE(outcome);
  EXPECT_NE(partHeader(message, {}, "Content-Type").find("charset=utf-8"), std::string::npos);
  EXPECT_EQ(partText(message, {}), "café\r\n\r\nКонфиденциально\r\n");
  auto python = pythonParse(message);
  EXPECT_NE(python.output.find("café\n\nКонфиденциально"), std::string::npos) << python.output;
}

TEST(MimeEditDisclaimer, MessageWithoutBodyTextIsLeftAlone) {
  std::string message =
      "Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERg==\r\n";
  const std::string original = message;
  auto outcome = appendDisclaimer(message, plainDisclaimer());
  ASSERT_TRUE(outcome);
  EXPECT_FALSE(outcome->changed);
  EXPECT_EQ(outcome->how, "skipped: no body text part");
  EXPECT_EQ(message, original);
}

TEST(MimeEditDisclaimer, PartLimitAndDepthLimitRefuseTheEdit) {
  std::string message = kAlternativeWithAttachments;
  MimeLimits limits;
  limits.max_parts = 3;  // the message has 7 entities
  auto outcome = appendDisclaimer(message, plainDisclaimer(), limits);
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().code, "limit");
  EXPECT_EQ(message, kAlternativeWithAttachments);
  limits = {};
  limits.max_depth = 1;  // the alternative's parts are at depth 2
  outcome = appendDisclaimer(message, plainDisclaimer(), limits);
  ASSERT_FALSE(outcome);
  limits.max_depth = 2;
  EXPECT_TRUE(appendDisclaimer(message, plainDisclaimer(), limits));
}

// ---- signed content ----------------------------------------------------------------------

class SignedMessage : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dir = directory_.path().string();
    auto made =
        run("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=alice@example.org"
            " -keyout " +
            dir + "/key.pem -out " + dir + "/cert.pem");
    ASSERT_EQ(made.status, 0) << made.output;
    directory_.file("content.txt", "Content-Type: text/plain\r\n\r\nSigned words.\r\n");
    auto signed_run = run("openssl smime -sign -in " + dir + "/content.txt -signer " + dir +
                          "/cert.pem -inkey " + dir +
                          "/key.pem -from alice@example.org -to "
                          "bob@example.net -subject Signed -crlfeol -out " +
                          dir + "/signed.eml");
    ASSERT_EQ(signed_run.status, 0) << signed_run.output;
    // openssl writes the base64 signature with bare LF; over SMTP every line ends in CRLF.
    for (char c : readFile(directory_.path() / "signed.eml")) {
      if (c == '\n' && (signed_.empty() || signed_.back() != '\r')) signed_ += '\r';
      signed_ += c;
    }
    ASSERT_NE(signed_.find("multipart/signed"), std::string::npos);
  }

  CommandResult verify(const std::string& message) {
    auto path = directory_.file("verify.eml", message);
    const std::string dir = directory_.path().string();
    return run("openssl smime -verify -in " + path.string() + " -CAfile " + dir +
               "/cert.pem -out /dev/null");
  }

  TemporaryDirectory directory_;
  std::string signed_;
};

// The first part of the wrapping multipart/mixed, as a mail client hands it to S/MIME.
std::string firstPart(const std::string& message) {
  auto fields = headerFields(message);
  std::string boundary;
  for (const auto& field : fields) {
    if (field.name != "Content-Type") continue;
    const std::string value(field.value);
    auto start = value.find("boundary=\"") + 10;
    boundary = value.substr(start, value.find('"', start) - start);
  }
  const std::string delimiter = "--" + boundary + "\r\n";
  const std::size_t begin = message.find(delimiter) + delimiter.size();
  const std::size_t end = message.find("\r\n--" + boundary, begin);
  return message.substr(begin, end - begin);
}

TEST_F(SignedMessage, WrapKeepsTheSignatureValid) {
  ASSERT_EQ(verify(signed_).status, 0);
  std::string message = signed_;
  auto outcome = appendDisclaimer(message, plainDisclaimer("Confidentiel – interne."));
  ASSERT_TRUE(outcome) << outcome.error().message;
  EXPECT_TRUE(outcome->changed);
  EXPECT_EQ(outcome->how, "wrapped: signed");
  EXPECT_TRUE(everyLineEndIsCrlf(message));
  // Outside: the original From/To/Subject, a new multipart/mixed.
  auto fields = headerFields(message);
  std::vector<std::string> names;
  for (const auto& field : fields) names.emplace_back(field.name);
  EXPECT_NE(std::find(names.begin(), names.end(), "Subject"), names.end());
  EXPECT_EQ(partHeader(message, {}, "Content-Type").rfind("multipart/mixed", 0), 0u);
  EXPECT_EQ(partText(message, {1}), "Confidentiel – interne.");
  // Inside: the signed entity, byte for byte, still verifies.
  const std::string inner = firstPart(message);
  EXPECT_EQ(inner.rfind("Content-Type: multipart/signed", 0), 0u) << inner;
  auto verified = verify(inner);
  EXPECT_EQ(verified.status, 0) << verified.output;
  // And the same check fails when the signed content is changed: the test can tell.
  std::string tampered = inner;
  tampered.replace(tampered.find("Signed words."), 6, "Signex");
  EXPECT_NE(verify(tampered).status, 0);
  auto python = pythonParse(message);
  EXPECT_NE(python.output.find("defects=0"), std::string::npos) << python.output;
}

TEST_F(SignedMessage, SkipLeavesItUnchanged) {
  std::string message = signed_;
  Disclaimer disclaimer = plainDisclaimer();
  disclaimer.signed_content = Disclaimer::SignedContent::skip;
  auto outcome = appendDisclaimer(message, disclaimer);
  ASSERT_TRUE(outcome);
  EXPECT_FALSE(outcome->changed);
  EXPECT_EQ(outcome->how, "skipped: signed");
  EXPECT_EQ(message, signed_);
}

TEST(MimeEditDisclaimer, OpaqueSmimeIsWrappedToo) {
  std::string message =
      "From: a@example.org\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
      "Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\nMIAGCSqGSIb3DQEHA6CAMIACAQA=\r\n";
  auto outcome = appendDisclaimer(message, plainDisclaimer());
  ASSERT_TRUE(outcome);
  EXPECT_EQ(outcome->how, "wrapped: S/MIME");
  EXPECT_NE(message.find("Content-Type: application/pkcs7-mime; smime-type=enveloped-data; "
                         "name=smime.p7m\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                         "MIAGCSqGSIb3DQEHA6CAMIACAQA=\r\n"),
            std::string::npos);
}

}  // namespace
}  // namespace bulwark::mime
