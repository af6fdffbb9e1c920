// A read-only index over the header section of a raw message (RFC 5322 2.2, 3.6): where it ends
// and the value of a field. Works on the raw bytes, never re-serialising them (DKIM depends on
// that). Input is untrusted; no allocation beyond the returned value.
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

}  // namespace bulwark::mime
