// header_fields: fields as views into the raw bytes, folding kept, obsolete "Name :" syntax.
#include "mime/header_fields.h"

#include <gtest/gtest.h>

namespace bulwark::mime {
namespace {

TEST(HeaderFields, SplitsFoldedFieldsAndKeepsRawBytes) {
  std::string message =
      "From: a@example.com\r\nSubject: one\r\n\ttwo\r\nTo : b@example.net\r\n\r\nbody\r\n";
  auto fields = headerFields(message);
  ASSERT_EQ(fields.size(), 3u);
  EXPECT_EQ(fields[0].name, "From");
  EXPECT_EQ(fields[0].raw, "From: a@example.com\r\n");
  EXPECT_EQ(fields[0].value, " a@example.com");
  EXPECT_EQ(fields[1].raw, "Subject: one\r\n\ttwo\r\n");
  EXPECT_EQ(fields[1].value, " one\r\n\ttwo");
  EXPECT_EQ(unfold(fields[1].value), "one\ttwo");
  EXPECT_EQ(fields[2].name, "To");
  EXPECT_TRUE(fields[2].space_before_colon);
  EXPECT_FALSE(fields[0].space_before_colon);
  EXPECT_EQ(message.substr(bodyOffset(message)), "body\r\n");
}

TEST(HeaderFields, ToleratesBareLineFeedsAndSkipsLinesWithoutColon) {
  std::string message = "garbage line\n\tcontinued\nX: 1\n\nbody";
  auto fields = headerFields(message);
  ASSERT_EQ(fields.size(), 1u);
  EXPECT_EQ(fields[0].name, "X");
  EXPECT_EQ(fields[0].raw, "X: 1\n");
  EXPECT_EQ(message.substr(bodyOffset(message)), "body");
}

TEST(HeaderFields, MessageWithoutBodyOrHeader) {
  EXPECT_EQ(bodyOffset("A: b\r\n"), 6u);
  EXPECT_TRUE(headerFields("\r\nbody").empty());
  EXPECT_EQ(bodyOffset("\r\nbody"), 2u);
  EXPECT_EQ(headerFields("A: b").size(), 1u);
  EXPECT_EQ(headerFields("A: b")[0].value, " b");
}

}  // namespace
}  // namespace bulwark::mime
