// Tests of the shared ASCII helpers (common/strings.h): WSP trimming and the "=XX" / "%XX" hex
// escape decoder used for quoted-printable and URI percent-encoding.
#include "common/strings.h"

#include <gtest/gtest.h>

namespace bulwark {
namespace {

TEST(Strings, TrimRemovesOnlySpacesAndTabs) {
  EXPECT_EQ(trim(" \tvalue \t"), "value");
  EXPECT_EQ(trim("\r\nvalue\r\n"), "\r\nvalue\r\n");
  EXPECT_EQ(trim(" \t "), "");
  EXPECT_TRUE(isSpaceOrTab('\t'));
  EXPECT_FALSE(isSpaceOrTab('\n'));
}

TEST(Strings, DecodeHexEscapesEitherCase) {
  EXPECT_EQ(decodeHexEscapes("a=3Db=3d", '='), "a=b=");
  EXPECT_EQ(decodeHexEscapes("user%40example.com", '%'), "user@example.com");
  EXPECT_EQ(decodeHexEscapes("%e2%82%AC", '%'), "\xe2\x82\xac");
  EXPECT_EQ(decodeHexEscapes("%00", '%'), std::string(1, '\0'));
  EXPECT_EQ(decodeHexEscapes("no escapes", '%'), "no escapes");
  EXPECT_EQ(decodeHexEscapes("", '='), "");
}

TEST(Strings, DecodeHexEscapesOnlyDecodesItsOwnEscape) {
  EXPECT_EQ(decodeHexEscapes("100%25 =41", '%'), "100% =41");
  EXPECT_EQ(decodeHexEscapes("%41=41", '='), "%41A");
}

TEST(Strings, DecodeHexEscapesRejectsBrokenEscapes) {
  EXPECT_EQ(decodeHexEscapes("%", '%'), std::nullopt);
  EXPECT_EQ(decodeHexEscapes("%4", '%'), std::nullopt);
  EXPECT_EQ(decodeHexEscapes("abc%4", '%'), std::nullopt);
  EXPECT_EQ(decodeHexEscapes("%4G", '%'), std::nullopt);
  EXPECT_EQ(decodeHexEscapes("%G4", '%'), std::nullopt);
  EXPECT_EQ(decodeHexEscapes("= 4", '='), std::nullopt);
  EXPECT_EQ(decodeHexEscapes("%%41", '%'), std::nullopt);
}

}  // namespace
}  // namespace bulwark
