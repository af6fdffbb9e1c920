// Tag=value list parsing; see tag_list.h.
#include "auth/tag_list.h"

#include <algorithm>

namespace bulwark::auth {
namespace {

bool isWhitespace(char character) {
  return character == ' ' || character == '\t' || character == '\r' || character == '\n';
}

std::string_view trimmed(std::string_view text) {
  while (!text.empty() && isWhitespace(text.front())) text.remove_prefix(1);
  while (!text.empty() && isWhitespace(text.back())) text.remove_suffix(1);
  return text;
}

// tag-name = ALPHA *ALNUMPUNC (ALNUMPUNC = ALPHA / DIGIT / "_")
bool isTagName(std::string_view name) {
  if (name.empty()) return false;
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (!alpha(name.front())) return false;
  for (char c : name) {
    if (!alpha(c) && !(c >= '0' && c <= '9') && c != '_') return false;
  }
  return true;
}

}  // namespace

Result<std::vector<Tag>> parseTagList(std::string_view text) {
  std::vector<Tag> tags;
  tags.reserve(static_cast<std::size_t>(std::count(text.begin(), text.end(), ';')) + 1);
  std::size_t position = 0;
  while (position <= text.size()) {
    std::size_t end = text.find(';', position);
    if (end == std::string_view::npos) end = text.size();
    std::string_view spec = trimmed(text.substr(position, end - position));
    const bool last = end >= text.size();
    if (spec.empty()) {
      // Only a trailing ';' (or an empty list) may leave an empty spec.
      if (!last && !trimmed(text.substr(end + 1)).empty()) {
        return makeError("syntax", "empty tag between ';' separators");
      }
      break;
    }
    std::size_t equals = spec.find('=');
    if (equals == std::string_view::npos) {
      return makeError("syntax", "tag \"" + std::string(spec) + "\" has no '='");
    }
    Tag tag{std::string(trimmed(spec.substr(0, equals))),
            std::string(trimmed(spec.substr(equals + 1)))};
    if (!isTagName(tag.name)) {
      return makeError("syntax", "\"" + tag.name + "\" is not a tag name");
    }
    for (const auto& seen : tags) {
      if (seen.name == tag.name) return makeError("syntax", "tag " + tag.name + "= appears twice");
    }
    tags.push_back(std::move(tag));
    if (last) break;
    position = end + 1;
  }
  return tags;
}

std::optional<std::string_view> findTag(const std::vector<Tag>& tags, std::string_view name) {
  for (const auto& tag : tags) {
    if (tag.name == name) return std::string_view(tag.value);
  }
  return std::nullopt;
}

std::string_view withoutWhitespace(std::string_view value, std::string& storage) {
  for (char character : value) {
    if (isWhitespace(character)) {
      storage = withoutWhitespace(value);
      return storage;
    }
  }
  return value;
}

std::string withoutWhitespace(std::string_view value) {
  // Every byte is written and the end moves past the ones kept: no branch per byte.
  std::string result(value.size(), '\0');
  std::size_t kept = 0;
  for (char character : value) {
    result[kept] = character;
    kept += isWhitespace(character) ? 0 : 1;
  }
  result.resize(kept);
  return result;
}

}  // namespace bulwark::auth
