// Header section scanning and the removal of our own X-Bulwark- fields from untrusted messages:
// folded values, case, fields that only look similar, and bodies that must stay untouched.
#include "mime/header_scan.h"

#include <gtest/gtest.h>

namespace bulwark::mime {
namespace {

TEST(HeaderScan, FindsUnfoldedValuesCaseInsensitively) {
  std::string message = "Subject: one\r\n two\r\nmessage-id: <a@b>\r\n\r\nSubject: body\r\n";
  EXPECT_EQ(findHeaderValue(message, "subject"), "one two");
  EXPECT_EQ(findHeaderValue(message, "Message-ID"), "<a@b>");
  EXPECT_FALSE(findHeaderValue(message, "Date"));
  EXPECT_EQ(headerSectionEnd(message), message.find("Subject: body"));
}

TEST(HeaderScan, RemovesOurFieldsWithTheirContinuations) {
  std::string message =
      "Received: from a\r\n"
      "X-Bulwark-Auth-As: Partner\r\n"
      "x-bulwark-auth-domain: partner.test\r\n"
      "\tfolded.partner.test\r\n"
      "X-Bulwarks: not ours\r\n"
      "X-Other: X-Bulwark-Auth-As: kept\r\n"
      "Subject: hi\r\n"
      "\r\n"
      "X-Bulwark-Auth-As: body text stays\r\n";
  EXPECT_EQ(removeFieldsWithPrefix(message, "X-Bulwark-"), 2u);
  EXPECT_EQ(message,
            "Received: from a\r\n"
            "X-Bulwarks: not ours\r\n"
            "X-Other: X-Bulwark-Auth-As: kept\r\n"
            "Subject: hi\r\n"
            "\r\n"
            "X-Bulwark-Auth-As: body text stays\r\n");
}

TEST(HeaderScan, MessageWithoutOurFieldsIsUntouched) {
  std::string message = "Subject: hi\r\n\r\nbody\r\n";
  const std::string original = message;
  EXPECT_EQ(removeFieldsWithPrefix(message, "X-Bulwark-"), 0u);
  EXPECT_EQ(message, original);
}

TEST(HeaderScan, MessageThatIsAllHeader) {
  std::string message = "X-Bulwark-Auth-As: Partner\r\nSubject: x\r\n";
  EXPECT_EQ(removeFieldsWithPrefix(message, "x-bulwark-"), 1u);
  EXPECT_EQ(message, "Subject: x\r\n");
}

}  // namespace
}  // namespace bulwark::mime
