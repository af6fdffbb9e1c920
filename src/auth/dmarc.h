// DMARC, RFC 7489 (with np= from DMARCbis): the author domain a mail client displays (RFC 7489
// 6.6.1, and the "Composition Kills" ambiguities of Chen et al. 2020), record discovery and
// parsing (6.3, 6.6.3), identifier alignment (3.1), and the policy result (6.6.2, 6.6.4).
// Inputs are untrusted: the message's From fields and every DNS answer.
#pragma once

#include "auth/address_list.h"
#include "auth/dkim.h"
#include "auth/public_suffix.h"
#include "auth/spf.h"
#include "dns/resolver.h"

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bulwark::auth {

// The RFC5322.From domain DMARC evaluates: always the domain a mail client displays. Anything a
// client could display differently from another reading is `ambiguous` (RFC 7489 6.6.1 leaves
// the choice to the receiver; Bulwark refuses to guess): several From fields (also "From :"
// spelled with space before the colon), addresses of different domains in one From, encoded-word,
// comment, quoted-pair or route-syntax tricks that hide the real address, an unparseable address.
// Several addresses of one domain are that domain. `none`: no From field at all. The cases
// judged ambiguous are listed in docs/dmarc.md.
struct AuthorDomain {
  enum class Status { single, none, ambiguous } status = Status::none;
  std::string domain;  // lower-case A-labels (U-labels converted, IDNA2008); set only when single
  std::string reason;  // for none/ambiguous, in words ("2 From fields", ...)
};
AuthorDomain authorDomain(std::string_view message, const AddressListLimits& limits = {});

enum class DmarcPolicy { none, quarantine, reject };
std::string_view dmarcPolicyName(DmarcPolicy policy);

struct DmarcRecord {
  DmarcPolicy policy = DmarcPolicy::none;                    // p=
  std::optional<DmarcPolicy> subdomain_policy;                // sp=
  std::optional<DmarcPolicy> nonexistent_subdomain_policy;    // np= (DMARCbis)
  bool strict_dkim = false;                                   // adkim=s
  bool strict_spf = false;                                    // aspf=s
  unsigned percent = 100;                                     // pct=
  std::vector<std::string> aggregate_addresses;               // rua= URIs as written
  std::vector<std::string> failure_addresses;                 // ruf=
  std::string failure_options = "0";                          // fo=
  unsigned report_interval = 86400;                           // ri=
  // Tags whose value was not valid and that were left at their defaults (RFC 7489 6.3: "syntax
  // errors in the remainder of the record SHOULD be discarded in favor of default values"), and
  // a missing or invalid p= read as p=none because rua= is valid (6.6.3), in words, for logs.
  std::vector<std::string> ignored;
};

// One TXT record's text; an error names what is wrong (RFC 7489 6.3: p= missing or invalid
// without a valid rua= to fall back on, v=DMARC1 not first, ...). Tag names and keyword values
// are case-insensitive (RFC 5234 quoted strings); unknown tags are ignored. rua=/ruf= URIs are
// kept as written, whitespace removed.
Result<DmarcRecord> parseDmarcRecord(std::string_view text);

// True when a TXT record starts with the tag v=DMARC1 (RFC 7489 6.6.3 discards all others).
bool isDmarcRecord(std::string_view text);

// Identifier alignment (RFC 7489 3.1): strict means the same name, relaxed the same
// Organizational Domain. Names that are not domain names never align.
bool domainsAligned(const PublicSuffixList& suffixes, std::string_view author_domain,
                    std::string_view other_domain, bool strict);

enum class DmarcResult { none, pass, fail, temperror, permerror };
std::string_view dmarcResultName(DmarcResult result);

struct DmarcInput {
  AuthorDomain author;
  SpfResult spf = SpfResult::none;
  std::string spf_domain;  // the domain SPF checked (MAIL FROM domain, or HELO for <>)
  std::vector<DkimSignatureResult> dkim;
};

struct DmarcOutcome {
  DmarcResult result = DmarcResult::none;
  std::string domain;                 // the author domain
  std::string organizational_domain;
  std::string record_domain;          // where the record was found (author or organizational)
  std::optional<DmarcRecord> record;
  DmarcPolicy policy = DmarcPolicy::none;       // the policy that applies (p, sp or np)
  DmarcPolicy disposition = DmarcPolicy::none;  // after pct= sampling (RFC 7489 6.6.4)
  bool spf_aligned = false;
  bool dkim_aligned = false;
  std::string dkim_domain;   // the aligned passing d=, or the first passing one
  std::string reason;        // for none / temperror / permerror / fail, in words
};

struct DmarcOptions {
  // A number in [0, 100) compared with pct= (RFC 7489 6.6.4): the policy is applied when it is
  // below pct. Tests fix it; empty: a uniformly random number.
  std::function<unsigned()> sample;
};

// Evaluates `input` (RFC 7489 6.6). An ambiguous author, and a message without From (RFC 5322
// 3.6 requires one), give permerror with policy reject: nothing was authenticated, and a client
// may show anything. The np= policy applies when the author domain is below the record's
// domain and answers NXDOMAIN for A, AAAA and MX (DMARCbis); only then are those looked up.
DmarcOutcome evaluateDmarc(dns::Resolver& resolver, const PublicSuffixList& suffixes,
                           const DmarcInput& input, const DmarcOptions& options = {});

}  // namespace bulwark::auth
