// TLSA lookup and usability for outbound DANE; see dane.h.
#include "queue/dane.h"

namespace bulwark::queue {

bool usableForSmtp(const dns::TlsaRecord& record) {
  constexpr std::uint8_t daneTa = 2;
  constexpr std::uint8_t daneEe = 3;
  if (record.usage != daneTa && record.usage != daneEe) return false;
  if (record.selector > 1) return false;
  switch (record.matching_type) {
    case 0: return !record.data.empty();
    case 1: return record.data.size() == 32;  // SHA-256
    case 2: return record.data.size() == 64;  // SHA-512
    default: return false;
  }
}

std::string tlsaName(const std::string& host, std::uint16_t port) {
  return "_" + std::to_string(port) + "._tcp." + host;
}

DaneLookup lookupDane(dns::Resolver& resolver, const std::string& host, std::uint16_t port) {
  DaneLookup lookup;
  const std::string name = tlsaName(host, port);
  auto answer = resolver.tlsa(name);
  switch (answer.status) {
    case dns::Status::temporary:
    case dns::Status::bogus:
      // RFC 7672 2.1.1: the host may have TLSA records we cannot see (or someone is forging the
      // answer); delivering to it without them could be a downgrade.
      lookup.outcome = DaneLookup::Outcome::failed;
      lookup.reason = "cannot look up the TLSA records " + name + " of a DNSSEC-signed host" +
                      (answer.reason.empty() ? "" : ": " + answer.reason);
      return lookup;
    case dns::Status::nxdomain:
    case dns::Status::nodata:
      return lookup;  // no DANE for this host (secure or not, absence is absence)
    case dns::Status::ok:
      break;
  }
  if (!answer.secure) return lookup;  // RFC 7672 2.2: insecure TLSA records are not used
  for (auto& record : answer.records) {
    if (usableForSmtp(record)) lookup.records.push_back(std::move(record));
  }
  // RFC 7672 3.1.3 and 2.2: published but none usable still means the host has TLS.
  lookup.outcome = lookup.records.empty() ? DaneLookup::Outcome::encrypt_only
                                          : DaneLookup::Outcome::dane;
  return lookup;
}

void applyDane(const DaneLookup& lookup, smtp::ClientEndpoint& endpoint) {
  switch (lookup.outcome) {
    case DaneLookup::Outcome::dane:
      endpoint.dns_level = TlsLevel::dane;
      endpoint.tlsa = lookup.records;
      break;
    case DaneLookup::Outcome::encrypt_only:
      endpoint.dns_level = TlsLevel::required;
      break;
    case DaneLookup::Outcome::not_applicable:
    case DaneLookup::Outcome::failed:
      break;
  }
}

}  // namespace bulwark::queue
