// Administrator patterns: RE2 only (linear-time matching, so no message can make a rule slow),
// compiled once at load with a bound on the compiled program's memory, case-insensitive unless
// the pattern says "(?-i)". Many patterns over the same text run as one RE2::Set pass. Texts are
// untrusted UTF-8; RE2 types stay out of this header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace re2 {
class RE2;
}

namespace bulwark::policy {

class Pattern {
 public:
  // Problems (invalid syntax, program larger than max_memory allows) come back as an Error
  // whose message says what to change.
  static Result<Pattern> compile(std::string_view source, std::int64_t max_memory);

  // The first match in `text` (unanchored), or nothing. The view points into `text`.
  std::optional<std::string_view> search(std::string_view text) const;
  const std::string& source() const { return source_; }

 private:
  std::string source_;
  std::shared_ptr<const re2::RE2> regex_;
};

// Many patterns searched in one pass: which of them match a text. When RE2's automaton for the
// set would outgrow `max_memory` (at compile or match time), each pattern runs on its own
// instead: slower, same answer.
class PatternSet {
 public:
  PatternSet();
  ~PatternSet();
  PatternSet(PatternSet&&) noexcept;
  PatternSet& operator=(PatternSet&&) noexcept;

  // Compiles the pattern on its own (for its size check and its own matches) and for the set.
  Result<std::size_t> add(std::string_view source, std::int64_t max_memory);
  void build(std::int64_t max_memory);
  std::size_t size() const { return patterns_.size(); }
  const Pattern& pattern(std::size_t id) const { return patterns_[id]; }

  // found[id] != 0 for each pattern that matches `text` (resized to size()).
  void match(std::string_view text, std::vector<std::uint8_t>& found) const;

 private:
  struct Compiled;
  std::vector<Pattern> patterns_;
  std::unique_ptr<Compiled> compiled_;
};

}  // namespace bulwark::policy
