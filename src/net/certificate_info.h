// What a certificate says about itself, as text for logs, the trace and `bulwark pki list`, and
// the DNS names it carries (RFC 5280 4.2.1.6 subjectAltName dNSName; the subject CN only when
// there is no SAN, as RFC 6125 6.4.4 allows). Certificates may come from peers: untrusted bytes
// already parsed by OpenSSL; nothing here says whether a certificate is valid.
#pragma once

#include <string>
#include <vector>

struct x509_st;

namespace bulwark::net {

// Subject, one line, RFC 2253 order ("CN=mx.example.com,O=Example").
std::string certificateSubject(const x509_st* certificate);
// SHA-256 of the DER encoding, upper-case hex pairs joined by ':' (as `openssl x509 -fingerprint`).
std::string certificateFingerprint(const x509_st* certificate);
// "2028-01-31 12:00:00Z" (ISO 8601, UTC).
std::string certificateNotAfter(const x509_st* certificate);
// The dNSName entries of subjectAltName, lower-cased; when the certificate has no SAN extension
// at all, its subject CN values instead. Entries with bytes outside printable ASCII are skipped.
std::vector<std::string> certificateDomainNames(const x509_st* certificate);

}  // namespace bulwark::net
