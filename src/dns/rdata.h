// Decoding of the record data (RDATA) the resolver hands back, and the one normal form of domain
// names used across the DNS seam. RFC 1035 3.1 (names on the wire), 3.3.9 (MX), 3.3.14 (TXT),
// 3.3.12 (PTR), 3.4.1 (A), 3.5 (in-addr.arpa); RFC 3596 2.2 (AAAA),
// 2.5 (ip6.arpa); RFC 7505 (null MX); RFC 6698 2.1 (TLSA).
// Every byte here comes from the network and is untrusted: each length is checked against the
// RDATA size, compression pointers are refused (the resolver returns RDATA uncompressed, so one
// can only be an attack or a bug), and names whose labels contain bytes that would change their
// meaning once written as text (dots, spaces, control bytes, backslashes) are refused.
// No I/O: these functions take bytes and return values, so they can be tested and fuzzed alone.
#pragma once

#include "dns/resolver.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace bulwark::dns {

// A name as the callers of Resolver see it: ASCII lower case, no trailing dot, labels of 1 to 63
// bytes, at most 253 characters, no bytes that DNS text syntax would read specially. nullopt for
// anything else (including "" and "."): such a name cannot be asked about.
std::optional<std::string> normaliseName(std::string_view name);

// MX RDATA: preference, then the exchange as an uncompressed wire-format name that must end
// exactly at the end of the RDATA. The root name (null MX) gives exchange "".
std::optional<MxRecord> parseMxRdata(std::span<const std::uint8_t> rdata);

// A RDATA (exactly 4 bytes) or AAAA RDATA (exactly 16 bytes) as a textual address.
std::optional<std::string> parseAddressRdata(std::span<const std::uint8_t> rdata);

// TXT RDATA: one or more length-prefixed character-strings, concatenated (RFC 7208 3.3 and
// RFC 6376 3.6.2.2 read a record that way). Zero strings give "".
std::optional<std::string> parseTxtRdata(std::span<const std::uint8_t> rdata);

// PTR RDATA (RFC 1035 3.3.12): one uncompressed wire-format name filling the RDATA.
std::optional<std::string> parsePtrRdata(std::span<const std::uint8_t> rdata);

// The reverse-lookup name of a textual address: "4.3.2.1.in-addr.arpa", or the 32 nibbles of an
// IPv6 address under ip6.arpa (RFC 3596 2.5); nullopt when `address` is not an address.
std::optional<std::string> reverseName(std::string_view address);

// TLSA RDATA: usage, selector, matching type (one byte each), then at least one byte of
// certificate association data; nullopt for anything shorter. The values are not judged here: a
// record with unknown parameters, or a digest whose length does not fit its matching type, is
// unusable (RFC 7671 4, RFC 7672 2.2), which is the caller's decision, not a broken answer.
std::optional<TlsaRecord> parseTlsaRdata(std::span<const std::uint8_t> rdata);

}  // namespace bulwark::dns
