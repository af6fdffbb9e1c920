// The outbound SMTP client (RFC 5321 client side, RFC 3207 STARTTLS, RFC 2920 PIPELINING,
// RFC 1870 SIZE, RFC 6152 8BITMIME with conversion to 7 bit, RFC 3030 CHUNKING, RFC 6531 SMTPUTF8,
// RFC 3461 DSN, RFC 8689 REQUIRETLS, RFC 4954 AUTH PLAIN), or the same dialogue as LMTP (RFC 2033)
// to a mailbox server: one delivery attempt of one message to one host, with the TLS level the
// caller resolved. Everything the server sends is untrusted. Blocking: runs on a delivery worker
// thread.
#pragma once

#include "common/config.h"
#include "dns/resolver.h"
#include "smtp/proto/reply.h"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace bulwark::smtp {

struct OutboundRecipient {
  std::string address;
  std::string original;       // ORCPT, passed on when the server offers DSN
  std::uint8_t notify = 0;    // NotifyFlags (common/dsn.h)
};

struct OutboundMessage {
  std::string sender;                     // "" for the null reverse-path
  std::vector<OutboundRecipient> recipients;
  std::string body_type;                  // "7BIT" / "8BITMIME" (BODY= passed on when offered)
  bool smtputf8 = false;                  // needs SMTPUTF8 from the server, else 5.6.7 (RFC 6531 3.4)
  bool require_tls = false;               // REQUIRETLS: needs TLS (verify) and the extension
  // A rule's TLS requirement: needs TLS (verify); REQUIRETLS is sent when the server offers it.
  bool offer_require_tls = false;
  std::string dsn_return;                 // RET=
  std::string dsn_envelope_id;            // ENVID=
  std::string_view data;                  // CRLF lines; dot-stuffed for DATA, as is for BDAT
};

struct ClientEndpoint {
  std::string host;          // name used for certificate checks and SNI (MX name, smart host)
  std::string address;       // IP to connect to
  std::uint16_t port = 25;
  // DANE (RFC 7672), set by the router from DNSSEC-secure DNS: the level DNS asks of this host
  // (dane with usable TLSA records, required when every record was unusable, none when DANE does
  // not apply) and the usable records (DANE-TA, DANE-EE) its certificate must match.
  TlsLevel dns_level = TlsLevel::none;
  std::vector<dns::TlsaRecord> tlsa;
  std::string unix_socket;   // when set: connect to this local socket path instead (LMTP)
};

enum class Protocol {
  smtp,  // EHLO (HELO fallback), one reply to the end of data for all recipients
  lmtp,  // RFC 2033: LHLO, and after the end of data one reply per accepted recipient
};

struct ClientSettings {
  Protocol protocol = Protocol::smtp;
  std::string helo_name;                  // our hostname
  TlsLevel tls = TlsLevel::opportunistic;
  std::filesystem::path ca_file;          // for verify; empty: OpenSSL's default paths
  std::string auth_user;                  // AUTH PLAIN when set (only after TLS is up)
  std::string auth_password;
  std::chrono::seconds connect_timeout{30};
  std::chrono::seconds command_timeout{300};
  bool chunking = true;                   // BDAT instead of DATA when offered (RFC 3030)
  std::size_t chunk_size = 1024 * 1024;   // octets per BDAT command; the last one says LAST
  // Domain Security, used at TlsLevel::mutual only: our certificate is presented, the partner
  // CAs are trusted besides ca_file, and the server's certificate must name partner_domain (the
  // recipient domain, not the MX host: see docs/configuration.md "[domain_secure]").
  std::filesystem::path client_certificate;
  std::filesystem::path client_private_key;
  std::vector<std::filesystem::path> partner_ca_files;
  std::string partner_domain;
};

// What happened on the wire, for the trace (MISSION.md 1 "per-hop evidence").
struct HopEvidence {
  std::string host;
  std::string address;
  std::uint16_t port = 0;
  TlsLevel required = TlsLevel::none;
  std::string tls_version;          // empty: clear text
  std::string tls_cipher;
  std::string peer_subject;         // peer certificate subject, one line
  std::string peer_fingerprint;     // SHA-256 of the DER certificate, hex with colons
  Protocol protocol = Protocol::smtp;  // address is "unix:/path" (port 0) for a local socket
  std::string transfer;             // "DATA" or "BDAT" once message content was being sent
  bool converted_to_7bit = false;   // 8-bit content re-encoded for a server without 8BITMIME
  // "pkix" (chain and name checked), "mta-sts" (pkix, for an MX host the MTA-STS policy
  // lists), "dane" (matched a TLSA record), "pkix+dane" (both, for a level above dane), "none"
  // (not checked)
  std::string verification;
  std::string tlsa_match;           // the TLSA record that matched: "dane-ee 3 1 1"
  std::string verified_name;        // the name the certificate was checked for, when verified
};

struct AttemptResult {
  // The attempt as a whole: a failure here (connect, greeting, TLS, EHLO, MAIL, DATA, a lost
  // connection) applies to every recipient without its own reply. 250 when the message went out.
  Reply session;
  // One reply per recipient of the request, in order: the RCPT reply when it was refused, else
  // the reply to the end of data (LMTP: that recipient's own reply; when the server went away
  // before giving it, a 4xx). Empty when the attempt failed before RCPT. With LMTP, `session` is
  // the first 2xx (else 5xx) reply to the end of data when there is one, so that the recipients'
  // own replies count even if the connection broke before the last of them.
  std::vector<Reply> recipients;
  HopEvidence evidence;
};

// Delivers `message` to one endpoint. Never throws; every failure is in the returned replies,
// with a 4xx code when trying again later may help (timeouts, TLS not available where required,
// certificate problems) and the server's own code otherwise. TLS requirements are never
// downgraded: at `required` or `verify`, no byte of the envelope is sent in clear. The level is
// the strongest of settings.tls, endpoint.dns_level and what REQUIRETLS needs.
AttemptResult deliverMessage(const ClientEndpoint& endpoint, const ClientSettings& settings,
                             const OutboundMessage& message);

}  // namespace bulwark::smtp
