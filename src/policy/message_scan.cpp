// Shared text scanning for the word and pattern conditions; see message_scan.h.
#include "policy/message_scan.h"

#include "policy/rule.h"
#include "policy/text_folding.h"

namespace bulwark::policy {

std::size_t TextIndex::addWord(std::string_view word) {
  return words_.add(foldForMatching(word));
}

Result<std::size_t> TextIndex::addPattern(std::string_view pattern, std::int64_t max_memory) {
  return patterns_.add(pattern, max_memory);
}

void TextIndex::build(std::int64_t set_memory) {
  words_.build();
  patterns_.build(set_memory);
  built_ = true;
}

std::string_view MessageScan::subject() const {
  return facts_.message != nullptr ? std::string_view(facts_.message->subject) : std::string_view();
}

const std::vector<MessageScan::BodyText>& MessageScan::bodyTexts() {
  if (body_listed_) return body_texts_;
  body_listed_ = true;
  if (facts_.message == nullptr) return body_texts_;
  for (const mime::MimePart& part : facts_.message->parts) {
    if (part.is_multipart || part.is_message || part.text.empty()) continue;
    // A message that is not multipart has its body as section "1" (RFC 3501 6.4.5).
    body_texts_.push_back({part.section.empty() ? std::string("1") : part.section, part.text});
  }
  folded_bodies_.resize(body_texts_.size());
  folded_ready_.assign(body_texts_.size(), 0);
  return body_texts_;
}

const std::string& MessageScan::foldedBody(std::size_t text) {
  if (!folded_ready_[text]) {
    folded_bodies_[text] = foldForMatching(body_texts_[text].text);
    folded_ready_[text] = 1;
  }
  return folded_bodies_[text];
}

MessageScan::Hits& MessageScan::hitsFor(const TextIndex& index) {
  for (auto& [owner, hits] : hits_) {
    if (owner == &index) return hits;
  }
  hits_.emplace_back(&index, Hits{});
  return hits_.back().second;
}

const MessageScan::Hits& MessageScan::subjectHits(const TextIndex& index) {
  Hits& hits = hitsFor(index);
  if (hits.subject_done) return hits;
  hits.subject_done = true;
  const std::string_view text = subject();
  if (index.words().size() > 0) {
    index.words().scan(foldForMatching(text), hits.subject_words);
  } else {
    hits.subject_words.clear();
  }
  index.patterns().match(text, hits.subject_patterns);
  return hits;
}

const MessageScan::Hits& MessageScan::bodyHits(const TextIndex& index) {
  Hits& hits = hitsFor(index);
  if (hits.body_done) return hits;
  hits.body_done = true;
  hits.body_words.assign(index.words().size(), -1);
  hits.body_patterns.assign(index.patterns().size(), -1);
  const auto& texts = bodyTexts();
  std::vector<std::uint8_t> found;
  for (std::size_t text = 0; text < texts.size(); ++text) {
    const auto position = static_cast<std::int32_t>(text);
    if (index.words().size() > 0) {
      index.words().scan(foldedBody(text), [&](std::size_t word) {
        if (hits.body_words[word] < 0) hits.body_words[word] = position;
      });
    }
    if (index.patterns().size() > 0) {
      index.patterns().match(texts[text].text, found);
      for (std::size_t pattern = 0; pattern < found.size(); ++pattern) {
        if (found[pattern] && hits.body_patterns[pattern] < 0)
          hits.body_patterns[pattern] = position;
      }
    }
  }
  return hits;
}

}  // namespace bulwark::policy
