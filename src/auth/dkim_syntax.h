// Small syntax checks of DKIM tag values (RFC 6376 3.5, 2.11): domain and selector names,
// dkim-quoted-printable, decimal numbers. Inputs are untrusted header and DNS text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "auth/dkim.h"
#include "common/result.h"

namespace bulwark::auth {

// Dot-separated labels of letters, digits and '-' (and '_' when `allow_underscore`: selectors and
// some domains in the wild use it), none empty, at most 63 characters each, 253 in all.
bool isDkimDomainName(std::string_view name, bool allow_underscore);

// Decodes "=XX" escapes and drops folding whitespace (RFC 6376 2.11); nullopt when malformed.
std::optional<std::string> decodeDkimQuotedPrintable(std::string_view text);

// 1 to `max_digits` decimal digits; values beyond 64 bits saturate (a longer l= than any body).
std::optional<std::uint64_t> parseDkimNumber(std::string_view text, std::size_t max_digits);

// a= names (RFC 6376 3.3, RFC 8463): rsa-sha256, ed25519-sha256 and rsa-sha1 (callers decide
// whether they accept it, RFC 8301); nullopt for any other.
std::optional<DkimAlgorithm> dkimAlgorithmNamed(std::string_view name);
std::string_view dkimAlgorithmName(DkimAlgorithm algorithm);

// c= (RFC 6376 3.5): "header[/body]", each "simple" or "relaxed", the body simple when absent;
// the error names the unknown part.
Result<std::pair<Canonicalization, Canonicalization>> parseCanonicalizationTag(
    std::string_view text);
std::string_view canonicalizationName(Canonicalization canonicalization);

// trimFoldingWhitespace and isFoldingWhitespace are in common/strings.h.

}  // namespace bulwark::auth
