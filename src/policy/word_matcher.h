// One multi-pattern matcher for word lists (Aho-Corasick, built once at load): every word of
// every rule goes into one automaton, and one pass over the folded text finds them all, so 1,000
// words cost about what 10 do. Words and text are folded (text_folding.h) before they meet here;
// a hit counts only at whole-word boundaries. The text is untrusted; the words are the
// administrator's. Limit: states × byte classes below 2^31 (about 10 MB of distinct word bytes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bulwark::policy {

class WordMatcher {
 public:
  // Adds a folded word (foldForMatching) and returns its id; the same word twice has one id.
  // Must not be called after build(). An empty word is never found.
  std::size_t add(std::string_view folded_word);
  void build();
  bool built() const { return built_; }
  std::size_t size() const { return words_.size(); }
  const std::string& word(std::size_t id) const { return words_[id]; }

  // Calls found(id) once per distinct word that occurs as a whole word in `folded_text`, in the
  // order of first occurrence. Requires build().
  template <class Found>
  void scan(std::string_view folded_text, Found&& found) const;

  // The ids found in `folded_text`: found[id] != 0 for each (resized to size()).
  void scan(std::string_view folded_text, std::vector<std::uint8_t>& found) const;

 private:
  struct TrieNode {
    std::vector<std::pair<unsigned char, std::int32_t>> children;
  };
  bool wholeWordAt(std::string_view text, std::size_t end, std::size_t word) const;

  std::vector<std::string> words_;
  std::vector<TrieNode> trie_;             // during add(); cleared by build()
  std::vector<std::int32_t> word_at_;      // per state: the word ending here, or -1
  std::vector<std::int32_t> output_link_;  // per state: nearest proper suffix state with a word
  // The dense DFA: row (state * classes_) + class → the next state's row * 2, plus 1 when a word
  // ends there, so the scan does one dependent load per byte.
  std::vector<std::uint32_t> transitions_;
  std::uint16_t byte_class_[256] = {};  // bytes that occur in no word share class 0
  std::size_t classes_ = 1;
  bool built_ = false;
};

template <class Found>
void WordMatcher::scan(std::string_view folded_text, Found&& found) const {
  if (words_.empty()) return;
  std::vector<std::uint8_t> seen(words_.size(), 0);
  const std::uint32_t* transitions = transitions_.data();
  const std::uint16_t* byte_class = byte_class_;
  std::uint32_t entry = 0;  // the root's row, no output
  for (std::size_t index = 0; index < folded_text.size(); ++index) {
    const unsigned char byte = static_cast<unsigned char>(folded_text[index]);
    entry = transitions[(entry >> 1) + byte_class[byte]];
    if ((entry & 1) == 0) continue;
    const std::size_t state = (entry >> 1) / classes_;
    std::int32_t at = word_at_[state] >= 0 ? static_cast<std::int32_t>(state) : output_link_[state];
    for (; at >= 0; at = output_link_[static_cast<std::size_t>(at)]) {
      const auto word = static_cast<std::size_t>(word_at_[static_cast<std::size_t>(at)]);
      if (seen[word] || !wholeWordAt(folded_text, index + 1, word)) continue;
      seen[word] = 1;
      found(word);
    }
  }
}

}  // namespace bulwark::policy
