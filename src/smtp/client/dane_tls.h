// DANE on the client's TLS connection (RFC 7672 3, RFC 7671): hands the TLSA records the router
// found (DNSSEC-secure, usable for SMTP) to OpenSSL's DANE verifier, describes which record
// matched for the hop evidence, and runs the PKIX check that a level above `dane` adds. The
// records come from DNS (untrusted, already checked for usability by the router); the
// certificates come from the server (untrusted) and are judged only by OpenSSL.
#pragma once

#include "smtp/client/smtp_client.h"

#include <openssl/ssl.h>

#include <optional>
#include <string>

namespace bulwark::smtp {

// Before the handshake, on a fresh SSL of `context`: DANE with the endpoint's records, the host
// name as TLSA base domain and reference identifier (RFC 7672 3.2.2, wildcards only as a whole
// first label), no name or date checks for DANE-EE (RFC 7672 3.1.1), and SSL_VERIFY_PEER so the
// handshake fails when no record matches. Returns the problem, if any.
std::optional<std::string> enableDane(SSL_CTX* context, SSL* ssl, const ClientEndpoint& endpoint);

// After a successful handshake: the record that authenticated the peer, such as
// "dane-ee 3 1 1" or "dane-ta 2 0 1 depth 1"; empty when none did.
std::string daneMatch(SSL* ssl);

// The failed handshake's verification error, explained for DANE (the reply to the trace).
std::string daneFailure(long verification);

// After a DANE handshake, when the level also asks for PKIX (above `dane`): the peer's chain
// against the trust store of the SSL's context, with the endpoint's host name. The problem, if any.
std::optional<std::string> checkPkixAfterDane(SSL* ssl, const std::string& host);

}  // namespace bulwark::smtp
