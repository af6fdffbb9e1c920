// The pieces of SPF that need no DNS: record selection (RFC 7208 4.5), the record syntax (4.6,
// 5, 6, 12 ABNF), domain-spec syntax (7.1) and macro expansion (7.2-7.4). All input is untrusted
// (TXT records from DNS, the client's HELO and MAIL FROM). No I/O: %{p} comes from a callback.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace bulwark::auth::spf {

// The records among `txtRecords` that are SPF version 1 records: "v=spf1" in any case, then a
// space or the end (4.5). Views into the given strings.
std::vector<std::string_view> selectRecords(const std::vector<std::string>& txtRecords);

enum class Qualifier { pass, fail, softfail, neutral };
enum class MechanismKind { all, include, a, mx, ptr, ip4, ip6, exists };

struct Mechanism {
  Qualifier qualifier = Qualifier::pass;
  MechanismKind kind = MechanismKind::all;
  std::string_view term;         // as written, for logs and the A-R "mechanism" (with qualifier)
  std::string_view domain_spec;  // unexpanded; empty: the current domain (a, mx, ptr)
  unsigned ipv4_prefix = 32;     // a, mx, ip4
  unsigned ipv6_prefix = 128;    // a, mx, ip6
  std::array<std::uint8_t, 16> network{};  // ip4 (IPv4-mapped) and ip6
};

// A parsed record; views into the record text, which must outlive it.
struct Record {
  std::vector<Mechanism> mechanisms;
  std::optional<std::string_view> redirect;     // domain-spec of redirect= (6.1)
  std::optional<std::string_view> explanation;  // domain-spec of exp= (6.2)
  bool has_all = false;  // redirect is ignored when an "all" mechanism is present (6.1)
};

// Parses a selected record. Any syntax error anywhere is an error (the result is permerror,
// 4.6): unknown mechanisms, bad CIDR lengths, bad addresses, invalid macros, a domain-spec
// without a valid top label, redirect= or exp= twice, bytes outside printable ASCII.
Result<Record> parseRecord(std::string_view text);

// Where a macro-string appears: in a domain-spec (c, r, t refused, no spaces) or in an
// explanation fetched by exp= (c, r, t allowed, spaces allowed: explain-string, 6.2).
enum class MacroContext { domain, explanation };

// Syntax check of a macro-string (7.1) without expanding it.
Result<void> checkMacroString(std::string_view text, MacroContext context);

// Syntax check of a domain-spec: a valid macro-string that ends in a macro-expand or in
// "." toplabel ["."] (7.1, 4.8). Empty is an error.
Result<void> checkDomainSpec(std::string_view text);

// The values macros expand to (7.3). Views must outlive the expansion.
struct MacroValues {
  std::string_view sender;         // s
  std::string_view local_part;     // l
  std::string_view sender_domain;  // o
  std::string_view domain;         // d, the current domain
  std::string_view helo;           // h
  std::string_view receiver;       // r ("unknown" when empty)
  std::string dotted_address;      // i: dotted decimal, or 32 dot-separated nibbles for IPv6
  std::string readable_address;    // c: dotted decimal, or RFC 5952 text for IPv6
  bool ipv6 = false;               // v: "ip6" or "in-addr"
  std::int64_t timestamp = 0;      // t
  std::function<std::string()> validated_domain;  // p, looked up only when used (5.5, 7.3)
};

// Expands a macro-string; in MacroContext::domain the result is then trimmed of one trailing dot
// and, when longer than 253 characters, of its leftmost labels (7.3). Syntax errors as above.
Result<std::string> expandMacros(std::string_view text, const MacroValues& values,
                                 MacroContext context);

// A domain name SPF may query: 1 to 63 bytes per label, at most 253 characters (one trailing dot
// allowed). DNS itself allows any byte in a label ("%_" expands to a space); what a resolver can
// ask is its business. `multiLabel` also requires at least two labels (4.3).
bool isQueryableName(std::string_view name, bool multiLabel = false);

}  // namespace bulwark::auth::spf
