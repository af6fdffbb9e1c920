// The DNS seam (DESIGN.md "Seams"): the lookups mail routing and transport security need, with
// each answer's DNSSEC state and the difference between "does not exist" (NXDOMAIN / NODATA) and
// "could not find out" (SERVFAIL, timeout), which decides bounce versus retry (RFC 5321 5.1).
// Answers come from the network: untrusted.
#pragma once

#include "common/result.h"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace bulwark::dns {

enum class Status {
  ok,         // records present
  nxdomain,   // the name does not exist
  nodata,     // the name exists, without records of this type
  temporary,  // SERVFAIL, timeout, network trouble: try again later
  bogus,      // DNSSEC validation failed: treat as temporary, never as absent
};

struct MxRecord {
  std::uint16_t preference = 0;
  std::string exchange;  // lower-case, no trailing dot; "" for the null MX "." (RFC 7505)
};

// A TLSA record (RFC 6698 2.1), as published: the three parameters and the certificate
// association data. Whether SMTP can use it is decided by the caller (RFC 7672 3.1).
struct TlsaRecord {
  std::uint8_t usage = 0;          // 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE (RFC 7218)
  std::uint8_t selector = 0;       // 0 whole certificate, 1 SubjectPublicKeyInfo
  std::uint8_t matching_type = 0;  // 0 exact bytes, 1 SHA-256, 2 SHA-512
  std::vector<std::uint8_t> data;

  bool operator==(const TlsaRecord&) const = default;
};

// Which address records to ask for: A (RFC 1035 3.4.1) or AAAA (RFC 3596).
enum class AddressFamily { ipv4, ipv6 };

template <class Record>
struct Answer {
  Status status = Status::temporary;
  bool secure = false;            // DNSSEC-validated (RFC 4035 "secure")
  std::vector<Record> records;
  std::string reason;             // for logs and bounces when status is not ok
};

// Lookups block the calling thread (delivery workers); an implementation must be thread-safe.
class Resolver {
 public:
  virtual ~Resolver() = default;
  virtual Answer<MxRecord> mx(std::string_view domain) = 0;
  // A and AAAA together, as textual addresses; IPv4 first.
  virtual Answer<std::string> addresses(std::string_view host) = 0;
  // A only or AAAA only: SPF's a and mx mechanisms and its void-lookup count look at the client's
  // family alone (RFC 7208 5.3, 4.6.4), so the other family must not be asked.
  virtual Answer<std::string> addresses(std::string_view host, AddressFamily family) = 0;
  // PTR names of a textual IPv4 or IPv6 address, whose reverse name (in-addr.arpa, ip6.arpa) the
  // resolver builds; lower-case, no trailing dot. An address that does not parse is nxdomain.
  virtual Answer<std::string> ptr(std::string_view address) = 0;
  virtual Answer<std::string> txt(std::string_view name) = 0;
  // TLSA at `name` as given ("_25._tcp.mx.example.com"); `secure` is what DANE rests on.
  virtual Answer<TlsaRecord> tlsa(std::string_view name) = 0;
};

struct ResolverOptions {
  // Upstream servers ("127.0.0.1", "127.0.0.1@5353"); empty: /etc/resolv.conf.
  std::vector<std::string> forwarders;
  // DNSSEC trust anchor file (DS or DNSKEY lines); empty: the system's root anchor if present.
  std::filesystem::path trust_anchor_file;
  // Records answered without any network, in zone-file syntax ("mx.test. 300 IN A 127.0.0.1"),
  // for tests and offline sites. Their names are served as local data.
  std::vector<std::string> local_records;
  // Zone files (RFC 1035 5) served as if from the zone's authoritative servers, without any
  // network: libunbound `auth-zone`s. Signed zones validate against trust_anchor_file, so DNSSEC
  // and DANE work offline (tests, closed sites). The zone's name is the owner of its SOA record.
  std::vector<std::filesystem::path> zone_files;
  unsigned timeout_seconds = 10;
};

// The production resolver: libunbound (validating when a trust anchor is available).
Result<std::unique_ptr<Resolver>> openUnboundResolver(const ResolverOptions& options);

}  // namespace bulwark::dns
