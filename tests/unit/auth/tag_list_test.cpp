// Tag=value lists (RFC 6376 3.2): what DKIM, ARC and DMARC records are written in.
#include "auth/tag_list.h"

#include <gtest/gtest.h>

namespace bulwark::auth {
namespace {

TEST(TagList, TagsInOrderWithFoldingWhitespaceRemovedAroundValues) {
  auto tags = parseTagList(" v=1;\r\n\ta = rsa-sha256 ; h=from : to;b=abc\r\n def;");
  ASSERT_TRUE(tags.has_value()) << tags.error().message;
  ASSERT_EQ(tags->size(), 4u);
  EXPECT_EQ((*tags)[0].name, "v");
  EXPECT_EQ((*tags)[1].name, "a");
  EXPECT_EQ((*tags)[1].value, "rsa-sha256");
  EXPECT_EQ((*tags)[2].value, "from : to");
  EXPECT_EQ((*tags)[3].value, "abc\r\n def");
  EXPECT_EQ(withoutWhitespace((*tags)[3].value), "abcdef");
  EXPECT_EQ(findTag(*tags, "h").value_or("absent"), "from : to");
  EXPECT_FALSE(findTag(*tags, "H").has_value());  // names are case-sensitive
}

TEST(TagList, WhitespaceRemovedIntoStorageOnlyWhenThereIsAny) {
  std::string storage;
  constexpr std::string_view compact = "dGVzdA==";
  std::string_view same = withoutWhitespace(compact, storage);
  EXPECT_EQ(same.data(), compact.data());
  EXPECT_TRUE(storage.empty());
  std::string_view unfolded = withoutWhitespace("dGVz\r\n\tdA ==", storage);
  EXPECT_EQ(unfolded, "dGVzdA==");
  EXPECT_EQ(unfolded.data(), storage.data());
}

TEST(TagList, EmptyValuesAndEmptyLists) {
  auto tags = parseTagList("p=; t=");
  ASSERT_TRUE(tags.has_value());
  EXPECT_EQ(findTag(*tags, "p").value_or("absent"), "");
  auto empty = parseTagList("");
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->empty());
}

TEST(TagList, ValuesMayContainEqualsSigns) {
  auto tags = parseTagList("bh=abc==; i=a=40b");
  ASSERT_TRUE(tags.has_value());
  EXPECT_EQ(findTag(*tags, "bh").value_or(""), "abc==");
  EXPECT_EQ(findTag(*tags, "i").value_or(""), "a=40b");
}

TEST(TagList, Errors) {
  struct Case {
    const char* text;
    const char* message;
  };
  for (const Case& test :
       {Case{"v=1; v=2", "tag v= appears twice"},
        Case{"v=1; novalue", "tag \"novalue\" has no '='"},
        Case{"1a=x", "\"1a\" is not a tag name"}, Case{"a-b=x", "\"a-b\" is not a tag name"},
        Case{"=x", "\"\" is not a tag name"},
        Case{"a=1;; b=2", "empty tag between ';' separators"}}) {
    auto tags = parseTagList(test.text);
    ASSERT_FALSE(tags.has_value()) << test.text;
    EXPECT_EQ(tags.error().code, "syntax");
    EXPECT_EQ(tags.error().message, test.message) << test.text;
  }
}

}  // namespace
}  // namespace bulwark::auth
