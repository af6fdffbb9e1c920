// The header section of a raw message (RFC 5322 2.2, 3.6): where it ends, the value of a field,
// and removal of fields by name prefix. Works on the raw bytes, never re-serialising what it
// keeps (DKIM depends on that). Input is untrusted.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace bulwark::mime {

// Offset just past the empty line that ends the header section (CRLF CRLF), or the size of
// `message` when there is none (a message that is all header).
std::size_t headerSectionEnd(std::string_view message);

// The unfolded value of the first field named `name` (case-insensitive), leading whitespace
// removed; nullopt when absent.
std::optional<std::string> findHeaderValue(std::string_view message, std::string_view name);

// Removes every header field whose name starts with `prefix` (case-insensitive), with its folded
// continuation lines, from the header section of `message`; the body is untouched. Returns how
// many fields were removed.
std::size_t removeFieldsWithPrefix(std::string& message, std::string_view prefix);

}  // namespace bulwark::mime
