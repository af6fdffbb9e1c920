// RFC 5321 4.1.2 path and mailbox syntax (with RFC 6531 UTF-8 where allowed). Does no I/O; input
// is untrusted. Source routes ("<@a,@b:user@dom>") are accepted and dropped (RFC 5321 4.1.1.3,
// C). Quoted local parts are kept with their quotes removed and quoted-pairs resolved.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace bulwark::smtp {

struct Mailbox {
  std::string local_part;       // unquoted form
  std::string domain;           // as written; for an address literal the text inside [ ]
  bool domain_is_literal = false;
  bool local_part_was_quoted = false;
  std::string text() const;     // local@domain, re-quoted when needed
};

// "user@example.com" (no angle brackets). nullopt when it is not a valid Mailbox.
std::optional<Mailbox> parseMailbox(std::string_view text, bool allow_utf8);

// "<...>" including the null path "<>" (returns a Mailbox with empty parts) and source routes.
std::optional<Mailbox> parsePath(std::string_view text, bool allow_utf8);

// RFC 3461 4 xtext decoding ("+2B" → "+"); nullopt on malformed input.
std::optional<std::string> decodeXtext(std::string_view text);

}  // namespace bulwark::smtp
