// An RFC 5322 address-list parser (3.4, with the obsolete forms of 4.4 and UTF-8 of RFC 6532)
// that also reports every construction mail clients are known to display differently from what
// the grammar says ("Composition Kills", Chen et al. 2020): route syntax, encoded-words in or
// around an address, addresses inside comments, quoted local parts or display names. Input is
// untrusted (a From field value); the parser is iterative, so nesting costs no stack.
#pragma once

#include "common/result.h"

#include <string>
#include <string_view>
#include <vector>

namespace bulwark::auth {

struct AddressListLimits {
  unsigned max_addresses = 32;      // mailboxes in one list
  unsigned max_comment_depth = 16;  // nested "(...)"
};

struct Mailbox {
  std::string display_name;  // words joined by one space, encoded-words (RFC 2047) decoded
  std::string local_part;    // without quotes and quoted-pair backslashes
  std::string domain;        // as written, CFWS removed; a domain-literal keeps its brackets
  bool quoted_local_part = false;
  bool domain_literal = false;
  bool route = false;  // obs-route "<@a.example:user@b.example>" (RFC 5322 4.4)
};

struct AddressList {
  std::vector<Mailbox> mailboxes;  // group members included (RFC 6854 allows groups in From)
  unsigned groups = 0;
  // Texts of every comment, encoded-words decoded: a comment that holds an address is a way of
  // making a client show one domain while another is evaluated.
  std::vector<std::string> comments;
  // Encoded-words in a charset that can hide ASCII characters (UTF-7, UTF-16, UTF-32, ...).
  bool opaque_charset = false;
};

// Parses an unfolded field value. An error says, in words, where the syntax breaks.
Result<AddressList> parseAddressList(std::string_view value, const AddressListLimits& limits = {});

// RFC 2047 encoded-words in `text` decoded to bytes (B and Q; the charset is not converted:
// what matters here is the ASCII a client would show). Text that is not an encoded-word is
// kept; `opaque_charset` is set when an encoded-word's charset is not ASCII-compatible.
std::string decodeEncodedWords(std::string_view text, bool* opaque_charset = nullptr);

}  // namespace bulwark::auth
