// The work the text conditions of one evaluation share, so that each text of a message is
// folded and searched once for all rules: TextIndex (built at load) holds the words and patterns
// of every subject/body condition of a rule set in one WordMatcher and one PatternSet;
// MessageScan (one per evaluation) caches the folded texts and each index's hits. The message is
// untrusted; its texts come from the MIME view (decoded, UTF-8).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "policy/pattern.h"
#include "policy/word_matcher.h"

namespace bulwark::policy {

struct MessageFacts;

class TextIndex {
 public:
  // The word as written by the administrator; folded here. Before build() only.
  std::size_t addWord(std::string_view word);
  Result<std::size_t> addPattern(std::string_view pattern, std::int64_t max_memory);
  // set_memory bounds the RE2::Set automaton of all patterns together.
  void build(std::int64_t set_memory = 64 << 20);
  bool built() const { return built_; }
  const WordMatcher& words() const { return words_; }
  const PatternSet& patterns() const { return patterns_; }

 private:
  WordMatcher words_;
  PatternSet patterns_;
  bool built_ = false;
};

class MessageScan {
 public:
  explicit MessageScan(const MessageFacts& facts) : facts_(facts) {}

  struct BodyText {
    std::string section;    // IMAP section of the part ("1", "2.1")
    std::string_view text;  // the part's decoded UTF-8 text (HTML reduced to text)
  };
  // Every text part of the message, depth-first, each once.
  const std::vector<BodyText>& bodyTexts();
  std::string_view subject() const;

  struct Hits {
    bool subject_done = false;
    bool body_done = false;
    std::vector<std::uint8_t> subject_words;     // per word id
    std::vector<std::uint8_t> subject_patterns;  // per pattern id
    std::vector<std::int32_t> body_words;        // per word id: first body text index, or -1
    std::vector<std::int32_t> body_patterns;     // per pattern id: first body text index, or -1
  };
  const Hits& subjectHits(const TextIndex& index);
  const Hits& bodyHits(const TextIndex& index);

 private:
  Hits& hitsFor(const TextIndex& index);
  const std::string& foldedBody(std::size_t text);

  const MessageFacts& facts_;
  bool body_listed_ = false;
  std::vector<BodyText> body_texts_;
  std::vector<std::string> folded_bodies_;  // parallel to body_texts_, filled on demand
  std::vector<std::uint8_t> folded_ready_;
  std::vector<std::pair<const TextIndex*, Hits>> hits_;
};

}  // namespace bulwark::policy
