// DANE for outbound SMTP, the DNS half (RFC 7672 2.2, 3.1; RFC 7671 4): for a host whose MX RRset
// and address records are DNSSEC-secure, the TLSA records at _<port>._tcp.<host> decide the
// host's TLS level and the records its certificate must match. TLSA answers are untrusted: each
// record is checked for usability before it reaches the client.
#pragma once

#include "dns/resolver.h"
#include "smtp/client/smtp_client.h"

#include <cstdint>
#include <string>
#include <vector>

namespace bulwark::queue {

// RFC 7672 3.1: DANE-TA(2) and DANE-EE(3) only (PKIX-TA/EE are not for SMTP, 3.1.3), selector
// 0 or 1, matching type 0, 1 or 2, and a digest of its type's length (32 or 64 bytes).
bool usableForSmtp(const dns::TlsaRecord& record);

struct DaneLookup {
  enum class Outcome {
    not_applicable,  // no secure TLSA RRset: the route's own level
    dane,            // usable records: level dane, the certificate must match one of them
    encrypt_only,    // a secure RRset with no usable record: TLS required, any certificate
    failed,          // SERVFAIL, timeout or bogus: this host must not be used now (2.1.1)
  };
  Outcome outcome = Outcome::not_applicable;
  std::vector<dns::TlsaRecord> records;  // the usable ones (dane)
  std::string reason;                    // failed: why, for the deferral
};

// "_25._tcp.mx.example.com"
std::string tlsaName(const std::string& host, std::uint16_t port);

// Looks up and judges the TLSA records of `host`. Call it only when DANE applies to the host:
// the MX RRset (or, for the implicit MX or a smart host, nothing) and the host's address records
// are secure.
DaneLookup lookupDane(dns::Resolver& resolver, const std::string& host, std::uint16_t port);

// Puts the outcome on an endpoint of that host (dns_level and tlsa).
void applyDane(const DaneLookup& lookup, smtp::ClientEndpoint& endpoint);

}  // namespace bulwark::queue
