// SPF, RFC 7208: check_host() (section 4) with every mechanism and modifier (5, 6), macros (7),
// the DNS lookup limits (4.6.4), the HELO and MAIL FROM identities (2.3, 2.4), explanations (6.2).
// Inputs are untrusted: the client's claims (HELO, MAIL FROM) and every DNS answer.
#pragma once

#include "dns/resolver.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace bulwark::auth {

enum class SpfResult { none, neutral, pass, fail, softfail, temperror, permerror };

// "pass", "fail", ... as written in Authentication-Results (RFC 8601 2.7.2) and Received-SPF.
std::string_view spfResultName(SpfResult result);

struct SpfLimits {
  unsigned dns_mechanisms = 10;  // include, a, mx, ptr, exists, redirect (RFC 7208 4.6.4)
  unsigned void_lookups = 2;     // lookups answering NXDOMAIN or no records (4.6.4)
  unsigned mx_names = 10;        // MX names looked up per mx mechanism (4.6.4)
  unsigned ptr_names = 10;       // PTR names used per ptr mechanism or %{p} (4.6.4)
  unsigned nesting = 20;         // include/redirect depth; guards the stack if dns_mechanisms grows
};

struct SpfRequest {
  std::string client_address;  // textual IPv4 or IPv6 of the SMTP client
  std::string helo;            // HELO/EHLO argument
  std::string sender;          // MAIL FROM address, empty for the null reverse-path
  std::string receiver;        // our host name, for the %{r} macro
  std::int64_t timestamp = 0;  // seconds since the epoch for %{t} in explanations; 0: now
};

struct SpfOutcome {
  SpfResult result = SpfResult::none;
  std::string identity;     // "mailfrom" or "helo": which identity was checked
  std::string domain;       // the domain checked (MAIL FROM domain, or the HELO name)
  std::string sender;       // the <sender> used: MAIL FROM, or postmaster@<helo> (RFC 7208 2.4)
  std::string explanation;  // on fail: the exp= text after macro expansion, else empty
  std::string mechanism;    // what decided: "ip4:192.0.2.0/24", "-all", "default" ...
  std::string problem;      // on temperror / permerror: why, for logs and the A-R reason
};

// check_host(ip, domain, sender) of RFC 7208 4. `helo` feeds the %{h} macro.
SpfOutcome checkHost(dns::Resolver& resolver, const SpfRequest& request, std::string_view domain,
                     const SpfLimits& limits = {});

// The identity a receiver evaluates (RFC 7208 2.4): the MAIL FROM domain; for the null sender
// postmaster@<HELO>. A HELO that is not a domain name (an address literal) gives `none`.
SpfOutcome checkSender(dns::Resolver& resolver, const SpfRequest& request,
                       const SpfLimits& limits = {});

// The HELO identity alone (RFC 7208 2.3).
SpfOutcome checkHelo(dns::Resolver& resolver, const SpfRequest& request,
                     const SpfLimits& limits = {});

}  // namespace bulwark::auth
