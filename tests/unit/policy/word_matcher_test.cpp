// Folding and the multi-word matcher: whole words, phrases across whitespace runs, case folding
// in several scripts, scripts without spaces, many words in one automaton.
#include "policy/word_matcher.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "policy/text_folding.h"

namespace bulwark::policy {
namespace {

std::vector<std::string> found(const std::vector<std::string>& words, std::string_view text) {
  WordMatcher matcher;
  for (const std::string& word : words) matcher.add(foldForMatching(word));
  matcher.build();
  std::vector<std::string> out;
  matcher.scan(foldForMatching(text), [&](std::size_t id) { out.push_back(matcher.word(id)); });
  return out;
}

TEST(TextFolding, AsciiLowersAndCollapsesWhitespace) {
  EXPECT_EQ(foldForMatching("TOP \t\r\n  Secret"), "top secret");
}

TEST(TextFolding, UnicodeFoldsGreekCyrillicAndSharpS) {
  EXPECT_EQ(foldForMatching("ΣΟΦΊΑ"), foldForMatching("σοφία"));
  EXPECT_EQ(foldForMatching("СЕКРЕТНО"), "секретно");
  EXPECT_EQ(foldForMatching("STRASSE"), foldForMatching("Straße"));
  // A no-break space (U+00A0) is whitespace too.
  EXPECT_EQ(foldForMatching("top\xC2\xA0secret"), "top secret");
}

TEST(TextFolding, InvalidUtf8IsReplacedNotTrusted) {
  const std::string folded = foldForMatching("caf\xE9 OK");
  EXPECT_NE(folded.find("\xEF\xBF\xBD"), std::string::npos);
  EXPECT_NE(folded.find(" ok"), std::string::npos);
  EXPECT_FALSE(isValidUtf8("caf\xE9"));
  EXPECT_TRUE(isValidUtf8("café"));
}

TEST(TextFolding, EmbeddedNulDoesNotCutTheText) {
  EXPECT_EQ(foldForMatching(std::string_view("\xC3\x89T\0\xC3\x89 FIN", 10)),
            "ét\xEF\xBF\xBD\xC3\xA9 fin");
  EXPECT_EQ(foldForMatching(std::string_view("A\0B", 3)), std::string("a\0b", 3));
}

TEST(WordMatcher, WholeWordsOnly) {
  EXPECT_EQ(found({"secret"}, "this is SECRET."), std::vector<std::string>{"secret"});
  EXPECT_TRUE(found({"secret"}, "secretary and secrets").empty());
  EXPECT_TRUE(found({"secret"}, "topsecret").empty());
  EXPECT_EQ(found({"secret"}, "(secret)"), std::vector<std::string>{"secret"});
}

TEST(WordMatcher, UnicodeLettersAreWordCharacters) {
  // "é" is a letter: "secreté" is another word.
  EXPECT_TRUE(found({"secret"}, "secreté").empty());
  EXPECT_EQ(found({"секретно"}, "Документ СЕКРЕТНО!"), std::vector<std::string>{"секретно"});
  EXPECT_TRUE(found({"секрет"}, "секретно").empty());
}

TEST(WordMatcher, PhrasesMatchAcrossAnyWhitespaceRun) {
  EXPECT_EQ(found({"top secret"}, "this is Top\r\n\t  SECRET material"),
            std::vector<std::string>{"top secret"});
  EXPECT_TRUE(found({"top secret"}, "top-secret").empty());
}

TEST(WordMatcher, ScriptsWithoutSpacesMatchInsideText) {
  EXPECT_EQ(found({"机密"}, "这是机密文件"), std::vector<std::string>{"机密"});
}

TEST(WordMatcher, EdgesThatAreNotWordCharactersNeedNoBoundary) {
  EXPECT_EQ(found({"$100"}, "pay US$100 now"), std::vector<std::string>{"$100"});
  EXPECT_TRUE(found({"100"}, "pay US$1000 now").empty());
}

TEST(WordMatcher, OverlappingWordsAreAllFoundEachOnce) {
  const auto words = found({"he", "she", "hers", "his"}, "she said hers is his; she");
  EXPECT_EQ(words, (std::vector<std::string>{"she", "hers", "his"}));
}

TEST(WordMatcher, DuplicateWordsShareAnId) {
  WordMatcher matcher;
  const std::size_t first = matcher.add("alpha");
  EXPECT_EQ(matcher.add("alpha"), first);
  EXPECT_NE(matcher.add("alphabet"), first);
  matcher.build();
  std::vector<std::uint8_t> hits;
  matcher.scan("the alphabet", hits);
  EXPECT_FALSE(hits[first]);
  EXPECT_TRUE(hits[1]);
}

TEST(WordMatcher, ThousandsOfWordsInOneAutomaton) {
  WordMatcher matcher;
  for (int index = 0; index < 5000; ++index) matcher.add("word" + std::to_string(index));
  matcher.build();
  std::vector<std::uint8_t> hits;
  matcher.scan("text with word4999 and word17, not word50000", hits);
  std::vector<std::size_t> ids;
  for (std::size_t id = 0; id < hits.size(); ++id) {
    if (hits[id]) ids.push_back(id);
  }
  EXPECT_EQ(ids, (std::vector<std::size_t>{17, 4999}));
}

TEST(WordMatcher, EmptyMatcherFindsNothing) {
  WordMatcher matcher;
  matcher.build();
  std::vector<std::uint8_t> hits;
  matcher.scan("anything", hits);
  EXPECT_TRUE(hits.empty());
}

}  // namespace
}  // namespace bulwark::policy
