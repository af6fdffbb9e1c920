// Finding the SOA owner of a zone file; see zone_file.h.
#include "dns/zone_file.h"

#include "common/strings.h"
#include "dns/rdata.h"

#include <cctype>
#include <vector>

namespace bulwark::dns {
namespace {

std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> result;
  std::size_t position = 0;
  while (position < line.size()) {
    while (position < line.size() && (line[position] == ' ' || line[position] == '\t')) ++position;
    const std::size_t start = position;
    while (position < line.size() && line[position] != ' ' && line[position] != '\t') ++position;
    if (position > start) result.push_back(line.substr(start, position - start));
  }
  return result;
}

// A TTL field: digits, optionally with BIND's unit letters ("1h30m").
bool isTtl(std::string_view word) {
  if (word.empty() || !std::isdigit(static_cast<unsigned char>(word.front()))) return false;
  for (const char character : word) {
    const char lower = asciiLower(character);
    if (!std::isdigit(static_cast<unsigned char>(character)) && lower != 's' && lower != 'm' &&
        lower != 'h' && lower != 'd' && lower != 'w') {
      return false;
    }
  }
  return true;
}

bool isClass(std::string_view word) {
  const std::string lower = asciiLower(word);
  return lower == "in" || lower == "ch" || lower == "hs" || lower == "cs";
}

// An owner or $ORIGIN name made absolute against `origin` (which ends with a dot, or is empty).
std::optional<std::string> absolute(std::string_view name, const std::string& origin) {
  if (name == "@") {
    if (origin.empty()) return std::nullopt;
    return origin;
  }
  if (name.ends_with('.')) return std::string(name);
  if (origin.empty()) return std::nullopt;
  return std::string(name) + "." + origin;
}

}  // namespace

std::optional<std::string> zoneFileApex(std::string_view text) {
  std::string origin;
  std::string owner;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (const std::size_t comment = line.find(';'); comment != std::string_view::npos) {
      line = line.substr(0, comment);
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const bool continues_owner = !line.empty() && (line.front() == ' ' || line.front() == '\t');
    auto fields = words(line);
    if (fields.empty()) continue;
    const std::string directive = asciiLower(fields.front());
    if (directive == "$origin") {
      if (fields.size() < 2) return std::nullopt;
      auto name = absolute(fields[1], origin);
      if (!name) return std::nullopt;
      origin = *name;
      continue;
    }
    if (directive == "$include") return std::nullopt;  // the SOA must come first (RFC 1035 5.2)
    if (directive.starts_with("$")) continue;          // $TTL and other directives
    std::size_t index = 0;
    if (!continues_owner) {
      auto name = absolute(fields[0], origin);
      if (!name) return std::nullopt;
      owner = *name;
      index = 1;
    }
    // At most one TTL and one class, in either order, before the type.
    for (int skipped = 0; skipped < 2 && index < fields.size(); ++skipped) {
      if (isTtl(fields[index]) || isClass(fields[index])) ++index;
    }
    if (index >= fields.size()) continue;
    if (asciiLower(fields[index]) == "soa") {
      if (owner.empty()) return std::nullopt;
      return normaliseName(owner);
    }
  }
  return std::nullopt;
}

}  // namespace bulwark::dns
