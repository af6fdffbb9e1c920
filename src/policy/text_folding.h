// Text normalisation for word conditions: Unicode case folding (glib's full case folding,
// CaseFolding.txt) and whitespace runs collapsed to one space, so that "TOP  Secret" and
// "top secret" compare equal; and the word-character test for whole-word matches. Input is message
// text (untrusted, UTF-8 from the MIME view); invalid UTF-8 is replaced, never trusted.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace bulwark::policy {

// Case-folded text with every whitespace run (ASCII and Unicode spaces, line breaks) replaced by
// one space. ASCII text takes a table-driven fast path; other text goes through
// g_utf8_casefold once.
std::string foldForMatching(std::string_view text);

// Whether the character that ends just before `position` (respectively starts at `position`) of
// UTF-8 `text` makes a boundary impossible: letters, digits and combining marks of any script
// are word characters. Characters of scripts written without spaces between words (Han, Kana,
// Thai, Lao, Khmer, Myanmar) never block a boundary: a whole-word test there would never match.
bool isValidUtf8(std::string_view text);

bool wordCharacterBefore(std::string_view text, std::size_t position);
bool wordCharacterAt(std::string_view text, std::size_t position);

}  // namespace bulwark::policy
