// RE2 patterns and pattern sets for the rule conditions; see pattern.h.
#include "policy/pattern.h"

#include <re2/re2.h>
#include <re2/set.h>

namespace bulwark::policy {
namespace {

RE2::Options patternOptions(std::int64_t max_memory) {
  RE2::Options options;
  options.set_encoding(RE2::Options::EncodingUTF8);
  options.set_case_sensitive(false);
  options.set_log_errors(false);
  options.set_max_mem(max_memory);
  return options;
}

}  // namespace

Result<Pattern> Pattern::compile(std::string_view source, std::int64_t max_memory) {
  auto regex = std::make_shared<const re2::RE2>(re2::StringPiece(source.data(), source.size()),
                                                patternOptions(max_memory));
  if (!regex->ok()) {
    if (regex->error_code() == RE2::ErrorPatternTooLarge) {
      return makeError("pattern_too_large",
                       "pattern is too large: its compiled program exceeds the limit of " +
                           std::to_string(max_memory) +
                           " bytes; use fewer or smaller repetitions and alternatives, or split "
                           "it into several patterns");
    }
    return makeError("pattern_syntax",
                     "invalid pattern (" + regex->error() +
                         "); RE2 syntax: https://github.com/google/re2/wiki/Syntax");
  }
  Pattern pattern;
  pattern.source_ = std::string(source);
  pattern.regex_ = std::move(regex);
  return pattern;
}

std::optional<std::string_view> Pattern::search(std::string_view text) const {
  re2::StringPiece match;
  if (!regex_->Match(re2::StringPiece(text.data(), text.size()), 0, text.size(), RE2::UNANCHORED,
                     &match, 1)) {
    return std::nullopt;
  }
  return std::string_view(match.data(), match.size());
}

struct PatternSet::Compiled {
  explicit Compiled(std::int64_t max_memory) : set(patternOptions(max_memory), RE2::UNANCHORED) {}
  RE2::Set set;
  bool usable = false;  // false: the set did not fit; patterns run one by one
};

PatternSet::PatternSet() = default;
PatternSet::~PatternSet() = default;
PatternSet::PatternSet(PatternSet&&) noexcept = default;
PatternSet& PatternSet::operator=(PatternSet&&) noexcept = default;

Result<std::size_t> PatternSet::add(std::string_view source, std::int64_t max_memory) {
  for (std::size_t id = 0; id < patterns_.size(); ++id) {
    if (patterns_[id].source() == source) return id;
  }
  auto pattern = Pattern::compile(source, max_memory);
  if (!pattern) return pattern.error();
  patterns_.push_back(std::move(*pattern));
  return patterns_.size() - 1;
}

void PatternSet::build(std::int64_t max_memory) {
  compiled_ = std::make_unique<Compiled>(max_memory);
  if (patterns_.empty()) return;
  for (const Pattern& pattern : patterns_) {
    // Each pattern compiled on its own already, so Add cannot fail on syntax.
    if (compiled_->set.Add(pattern.source(), nullptr) < 0) return;
  }
  compiled_->usable = compiled_->set.Compile();
}

void PatternSet::match(std::string_view text, std::vector<std::uint8_t>& found) const {
  found.assign(patterns_.size(), 0);
  if (patterns_.empty()) return;
  if (compiled_ && compiled_->usable) {
    std::vector<int> matched;
    RE2::Set::ErrorInfo error{RE2::Set::kNoError};
    const bool any =
        compiled_->set.Match(re2::StringPiece(text.data(), text.size()), &matched, &error);
    if (any) {
      for (int id : matched) found[static_cast<std::size_t>(id)] = 1;
      return;
    }
    if (error.kind == RE2::Set::kNoError) return;
    // The set's automaton ran out of memory on this text: fall through to one by one.
  }
  for (std::size_t id = 0; id < patterns_.size(); ++id) {
    if (patterns_[id].search(text)) found[id] = 1;
  }
}

}  // namespace bulwark::policy
