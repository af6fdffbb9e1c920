// Aho-Corasick over bytes of folded UTF-8, compiled to a dense table over byte classes (only the
// bytes that occur in some word get a class of their own), so the scan is one table lookup per
// byte. See word_matcher.h.
#include "policy/word_matcher.h"

#include <algorithm>
#include <deque>

#include "policy/text_folding.h"

namespace bulwark::policy {

std::size_t WordMatcher::add(std::string_view folded_word) {
  if (trie_.empty()) trie_.emplace_back();
  std::int32_t node = 0;
  for (unsigned char byte : folded_word) {
    auto& children = trie_[static_cast<std::size_t>(node)].children;
    auto found = std::find_if(children.begin(), children.end(),
                              [byte](const auto& child) { return child.first == byte; });
    if (found != children.end()) {
      node = found->second;
      continue;
    }
    const auto next = static_cast<std::int32_t>(trie_.size());
    children.emplace_back(byte, next);
    trie_.emplace_back();
    node = next;
  }
  if (static_cast<std::size_t>(node) >= word_at_.size()) word_at_.resize(trie_.size(), -1);
  if (node == 0) {
    // The empty word: recorded so ids stay stable, never reported.
    words_.emplace_back();
    return words_.size() - 1;
  }
  if (word_at_[static_cast<std::size_t>(node)] >= 0) {
    return static_cast<std::size_t>(word_at_[static_cast<std::size_t>(node)]);
  }
  words_.emplace_back(folded_word);
  word_at_[static_cast<std::size_t>(node)] = static_cast<std::int32_t>(words_.size() - 1);
  return words_.size() - 1;
}

void WordMatcher::build() {
  if (trie_.empty()) trie_.emplace_back();
  const std::size_t states = trie_.size();
  word_at_.resize(states, -1);
  word_at_[0] = -1;  // the empty word is never reported
  std::fill(std::begin(byte_class_), std::end(byte_class_), 0);
  classes_ = 1;
  for (const TrieNode& node : trie_) {
    for (const auto& [byte, child] : node.children) {
      if (byte_class_[byte] == 0) byte_class_[byte] = static_cast<std::uint16_t>(classes_++);
    }
  }
  // First the DFA over plain state numbers, then each entry rewritten as row * 2 + output.
  std::vector<std::int32_t> next(states * classes_, 0);
  output_link_.assign(states, -1);
  std::vector<std::uint8_t> has_output(states, 0);
  std::vector<std::int32_t> failure(states, 0);
  // Breadth-first: a state's failure link is complete before its children's are computed.
  std::deque<std::int32_t> queue;
  for (const auto& [byte, child] : trie_[0].children) {
    next[byte_class_[byte]] = child;
    queue.push_back(child);
  }
  while (!queue.empty()) {
    const auto state = static_cast<std::size_t>(queue.front());
    queue.pop_front();
    const auto fallback = static_cast<std::size_t>(failure[state]);
    // Missing transitions follow the failure state's (already complete) row.
    std::copy_n(next.begin() + static_cast<std::ptrdiff_t>(fallback * classes_), classes_,
                next.begin() + static_cast<std::ptrdiff_t>(state * classes_));
    output_link_[state] =
        word_at_[fallback] >= 0 ? static_cast<std::int32_t>(fallback) : output_link_[fallback];
    has_output[state] = word_at_[state] >= 0 || output_link_[state] >= 0;
    for (const auto& [byte, child] : trie_[state].children) {
      failure[static_cast<std::size_t>(child)] = next[fallback * classes_ + byte_class_[byte]];
      next[state * classes_ + byte_class_[byte]] = child;
      queue.push_back(child);
    }
  }
  transitions_.resize(next.size());
  for (std::size_t index = 0; index < next.size(); ++index) {
    const auto target = static_cast<std::size_t>(next[index]);
    transitions_[index] =
        static_cast<std::uint32_t>(target * classes_ * 2 + (has_output[target] ? 1 : 0));
  }
  trie_.clear();
  trie_.shrink_to_fit();
  built_ = true;
}

bool WordMatcher::wholeWordAt(std::string_view text, std::size_t end, std::size_t word) const {
  const std::string& folded = words_[word];
  const std::size_t start = end - folded.size();
  // A boundary is needed only where the word itself has a word character at its edge ("$100"
  // may follow a digit; "100" may not).
  if (wordCharacterAt(folded, 0) && wordCharacterBefore(text, start)) return false;
  if (wordCharacterBefore(folded, folded.size()) && wordCharacterAt(text, end)) return false;
  return true;
}

void WordMatcher::scan(std::string_view folded_text, std::vector<std::uint8_t>& found) const {
  found.assign(words_.size(), 0);
  scan(folded_text, [&found](std::size_t word) { found[word] = 1; });
}

}  // namespace bulwark::policy
