// Domain names as DNS looks them up: ASCII lower-cased, U-labels converted to A-labels with
// IDNA2008 and the UTS 46 mapping (RFC 5891 5, libidn2, NFC applied first), so that a name a
// mail client displays in Unicode and the same name in punycode are one name. Input is untrusted.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace bulwark::auth {

// One label: ASCII is lower-cased; a label with bytes over 0x7f must be UTF-8 that IDNA accepts.
// nullopt when it is not (or is empty).
std::optional<std::string> asciiLabel(std::string_view label);

// Every label through asciiLabel; nullopt for an empty name, an empty label (leading, trailing
// or double dot) or a label IDNA refuses.
std::optional<std::string> asciiDomain(std::string_view domain);

}  // namespace bulwark::auth
