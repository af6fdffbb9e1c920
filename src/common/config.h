// The configuration model: what `bulwark serve` runs with, after loading and validation.
// Every limit here is documented in docs/configuration.md with its default; the defaults below are
// the single source of truth for those numbers. Loaded from TOML by config_loader.h.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace bulwark {

enum class TlsMode {
  none,       // plaintext only; STARTTLS not offered
  starttls,   // STARTTLS offered, plaintext allowed (opportunistic)
  required,   // STARTTLS offered; MAIL refused (530 5.7.0) until TLS is up
  implicit,   // TLS from the first byte (port 465 style, RFC 8314)
};

struct ConnectorLimits {
  std::uint64_t max_message_size = 36 * 1024 * 1024;  // bytes; SIZE advertises it; past it 552 5.3.4
  std::uint32_t max_line_length = 4096;                // bytes incl. CRLF, commands and data lines
  std::uint32_t max_header_size = 256 * 1024;          // bytes of the header section; past it 552 5.3.4
  std::uint32_t max_recipients = 100;                  // per message; past it 452 4.5.3
  std::uint32_t max_connections_per_client = 20;       // concurrent, per client IP; past it 421 4.7.0
  std::uint32_t command_timeout_seconds = 300;         // RFC 5321 4.5.3.2.7 server timeout
  std::uint32_t data_timeout_seconds = 180;            // per read while in DATA/BDAT (4.5.3.2.6 is 3 min per block)
  std::uint32_t max_errors = 10;                       // protocol errors before 421 and disconnect
  std::uint32_t max_auth_failures = 3;                 // per client IP per 15 minutes; then 421 4.7.0
};

struct ReceiveConnector {
  std::string name = "default";
  std::string listen = "127.0.0.1:2525";   // host:port; [v6]:port for IPv6
  TlsMode tls = TlsMode::starttls;
  bool auth = true;                          // offer AUTH PLAIN/LOGIN (only ever under TLS)
  std::vector<std::string> relay_networks;   // CIDRs allowed to relay without AUTH
  bool require_auth = false;                 // submission: MAIL refused until AUTH (530 5.7.0)
  ConnectorLimits limits;
  int config_line = 0;                       // where it was defined, for error messages
};

// Outbound TLS levels, weakest to strongest (DESIGN.md "TLS policy"). A delivery uses the strongest
// that applies; the last three come from DNS, a fetched policy or the domain-secure list.
enum class TlsLevel {
  none,           // never STARTTLS
  opportunistic,  // STARTTLS when offered, any certificate; clear text when not offered
  required,       // STARTTLS or defer; any certificate
  verify,         // STARTTLS or defer; certificate chains to a trusted CA, in date, names the host
  mta_sts,        // verify, and the MX host matches the domain's MTA-STS policy (RFC 8461)
  dane,           // the certificate matches DNSSEC-secure TLSA records (RFC 7672)
  mutual,         // verify naming the partner domain, and present our client certificate
};

// Mail for `domains` goes through this connector: to a smart host, or by MX with its own TLS level.
struct SendConnector {
  std::string name;
  // "example.com" (exactly), "*.example.com" (its subdomains, not itself), "*" (everything).
  std::vector<std::string> domains;
  std::string smart_host;          // "host:port" or "[address]:port"; empty: deliver by MX
  TlsLevel tls = TlsLevel::opportunistic;
  std::string auth_user;           // AUTH PLAIN to the smart host, only ever over TLS
  std::filesystem::path auth_password_file;  // the password, first line; never in the config
  int config_line = 0;
};

// A domain whose mail is ours: written to Maildir here, or handed to a downstream mailbox server
// by LMTP (RFC 2033) or SMTP. The hand-off uses the queue's retries, bounces and trace like any
// delivery, with no MX lookup.
struct LocalDomain {
  std::string name = "example.test";
  std::string delivery = "maildir";  // "maildir", "lmtp" or "smtp"
  // lmtp/smtp: "host:port", "[address]:port", or for lmtp "unix:/absolute/path" (a local socket).
  std::string host;
  // Default "none": the mailbox server is usually on this machine (loopback, a unix socket), where
  // TLS protects nothing; a server on another machine should get "verify".
  TlsLevel tls = TlsLevel::none;
  std::string auth_user;                     // smtp only: AUTH PLAIN, only ever over TLS
  std::filesystem::path auth_password_file;  // the password, first line; never in the config
  int config_line = 0;
};

struct DeliverySettings {
  TlsLevel tls = TlsLevel::opportunistic;     // MX delivery not covered by a send connector
  std::uint16_t port = 25;                      // port of MX hosts (tests use another)
  std::filesystem::path ca_file;                // PEM trust store for "verify"; empty: system's
  std::uint32_t connect_timeout_seconds = 30;
  std::uint32_t command_timeout_seconds = 300;  // per reply (RFC 5321 4.5.3.2, simplified)
  std::uint32_t max_connections_per_destination = 10;
  std::vector<std::string> dns_forwarders;      // "127.0.0.1@5353"; empty: /etc/resolv.conf
  std::filesystem::path dns_trust_anchor;       // DNSSEC anchor file; empty: system root anchor
  std::vector<std::string> dns_records;         // local zone-file records (tests, offline sites)
  bool chunking = true;                         // BDAT when the next hop offers CHUNKING (RFC 3030)
  // Zone files served without network (signed ones validate against dns_trust_anchor).
  std::vector<std::filesystem::path> dns_zone_files;
  bool dane = true;  // RFC 7672: DNSSEC-secure TLSA records raise a host's level to dane
  // MTA-STS (RFC 8461) for MX delivery: policies fetched over HTTPS, cached in the store.
  bool mta_sts = true;
  std::uint16_t mta_sts_port = 443;                       // of mta-sts.<domain> (tests use another)
  std::uint32_t mta_sts_max_policy_size = 64 * 1024;      // bytes of the policy body; past it: none
  std::uint32_t mta_sts_timeout_seconds = 30;             // the whole fetch
};

// Domain Security (mutual TLS with partner organisations; docs/configuration.md
// "[domain_secure]"). Domains are stored lower-cased; empty paths mean the defaults below, which
// `bulwark serve` resolves at start (the resolved_* fields).
struct DomainSecureSettings {
  std::vector<std::string> send;     // delivered at TlsLevel::mutual, naming the recipient domain
  std::vector<std::string> receive;  // accepted from only with a verified partner certificate
  std::filesystem::path client_certificate;  // empty: pki/issued/<first local domain>.pem, else
  std::filesystem::path client_private_key;  // the server certificate
  std::filesystem::path trusted_ca_file;     // empty: pki/ca.pem and pki/trusted/*.pem
  bool reject_unauthenticated = true;        // MAIL FROM a receive domain without it: 550 5.7.1
  // Filled in at start from the above: what the server and the queue actually use.
  std::vector<std::filesystem::path> resolved_trust_files;
  std::filesystem::path resolved_client_certificate;
  std::filesystem::path resolved_client_private_key;

  bool sendsTo(std::string_view domain) const;
  bool receivesFrom(std::string_view domain) const;
};

// What to do with a message a sender-authentication check condemns (docs/authentication.md).
enum class AuthenticationAction {
  none,        // deliver; the Authentication-Results header records the result
  spam,        // deliver with "X-Bulwark-Spam: yes" and the reason
  quarantine,  // accept (250) into the queue's hold/ until an operator releases or deletes it
  reject,      // 550 5.7.1 at the end of DATA
};

// [[dmarc_override]]: a local exception for one author domain (RFC 7489 6.7).
struct DmarcOverride {
  std::string domain;  // lower-case; the author (From) domain it applies to
  AuthenticationAction action = AuthenticationAction::none;
  int config_line = 0;
};

// [authentication]: SPF, DKIM, ARC and DMARC on mail from outside; DKIM signing and ARC sealing.
struct AuthenticationSettings {
  // Check mail from clients that are neither authenticated nor in relay_networks.
  bool verify = true;
  std::string authserv_id;  // Authentication-Results authserv-id; empty: the hostname
  std::filesystem::path public_suffix_list = "/usr/share/publicsuffix/public_suffix_list.dat";
  AuthenticationAction dmarc_reject_action = AuthenticationAction::reject;          // p=reject
  AuthenticationAction dmarc_quarantine_action = AuthenticationAction::quarantine;  // p=quarantine
  AuthenticationAction dmarc_none_action = AuthenticationAction::none;  // local policy, p=none
  AuthenticationAction ambiguous_from_action = AuthenticationAction::reject;
  AuthenticationAction spf_fail_action = AuthenticationAction::none;  // SPF "fail" on its own
  // ARC sealers whose passing chain overrides a DMARC failure (RFC 8617 7.2): mailing lists and
  // forwarders the site trusts.
  std::vector<std::string> trusted_arc_sealers;
  std::vector<DmarcOverride> dmarc_overrides;
  // DKIM-sign mail of our own users (authenticated or from relay_networks) whose From domain has
  // keys in data_dir/dkim/<domain>/.
  bool dkim_sign = true;
  // ARC-seal mail from outside that we forward to other domains, with the key
  // data_dir/dkim/<arc_seal_domain>/<arc_seal_selector>.key; empty: no sealing.
  std::string arc_seal_domain;
  std::string arc_seal_selector;

  const DmarcOverride* overrideFor(std::string_view domain) const;
};

// DMARC aggregate reports (RFC 7489 7.2; docs/dmarc-reports.md): evaluations are counted in the
// store and, once per interval, one report per reporting domain goes to its rua= addresses.
struct DmarcReportSettings {
  bool enabled = false;
  std::uint32_t interval_seconds = 86400;  // divides a day, so periods line up with UTC days
  std::string organization_name;           // <org_name> and Subject; empty: the hostname
  std::string sender;                      // From: and <email>; empty: noreply-dmarc@<hostname>
  std::string contact;                     // <extra_contact_info>; empty: not written
  std::uint32_t max_rows_per_report = 10000;  // distinct rows per domain and period
  int config_line = 0;
};

// [rules]: where transport rules come from besides the [[rule]] tables of this file, and how the
// MIME view they read is bounded (docs/rules.md). The rules themselves are loaded by src/policy.
struct RulesSettings {
  std::vector<std::filesystem::path> files;   // more rule files ([[rule]] tables), in order
  std::vector<std::string> internal_domains;  // "inside the organisation" besides local domains
  // A message the MIME parser cannot make sense of: "quarantine" (default), "reject", "deliver".
  std::string unparseable_action = "quarantine";
  std::uint32_t mime_max_depth = 20;
  std::uint32_t mime_max_parts = 2000;
  int config_line = 0;
};

struct User {
  std::string name;           // login name, usually an address
  std::string password_hash;  // "$pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>"
};

struct Config {
  std::filesystem::path source;                // the file it came from; empty for the embedded default
  std::string hostname;                        // our name in greetings and Received; default: system hostname
  std::filesystem::path data_dir = "./var";    // queue, mail, store, generated certificate
  std::string log_level = "info";
  std::filesystem::path tls_certificate;       // PEM; empty: generated self-signed in data_dir/tls/
  std::filesystem::path tls_private_key;
  std::uint32_t max_connections = 1000;        // all connectors together; past it 421 4.7.0
  std::uint64_t min_free_disk_bytes = 100ULL * 1024 * 1024;  // below it MAIL gets 452 4.3.1
  std::vector<ReceiveConnector> receive_connectors{ReceiveConnector{}};
  std::vector<LocalDomain> local_domains{LocalDomain{}};
  std::vector<User> users;
  std::uint32_t queue_retry_seconds = 300;     // first retry after a temporary failure
  std::uint32_t queue_max_backoff_seconds = 4000;          // retries double up to this (Postfix)
  std::uint32_t queue_lifetime_seconds = 5 * 24 * 3600;    // then the message bounces
  std::uint32_t delay_warning_seconds = 4 * 3600;          // 0: never send a delay notice
  std::uint64_t bounce_size_limit = 50000;   // bytes of the original returned whole in a bounce
  std::vector<SendConnector> send_connectors;
  DeliverySettings delivery;
  DomainSecureSettings domain_secure;
  AuthenticationSettings authentication;
  RulesSettings rules;
  DmarcReportSettings dmarc_reports;

  std::filesystem::path queueDirectory() const { return data_dir / "queue"; }
  std::filesystem::path mailDirectory() const { return data_dir / "mail"; }
  std::filesystem::path storeDirectory() const { return data_dir / "store"; }
  std::filesystem::path tlsDirectory() const { return data_dir / "tls"; }
  std::filesystem::path pkiDirectory() const { return data_dir / "pki"; }
  std::filesystem::path dkimDirectory() const { return data_dir / "dkim"; }
  const std::string& authservId() const {
    return authentication.authserv_id.empty() ? hostname : authentication.authserv_id;
  }
  bool isLocalDomain(std::string_view domain) const;
  const LocalDomain* localDomain(std::string_view domain) const;  // null when not local
  // True when mail for `address` is stored in a Maildir here; false when it goes on to another
  // MTA (a remote domain, or a local domain's mailbox server): such mail is forwarded (ARC).
  bool storedHere(std::string_view address) const;
};

// The embedded default of DESIGN.md "Configuration", as TOML text, so that it is loaded and
// validated by exactly the same code as a file.
extern const char* const kEmbeddedDefaultConfig;

}  // namespace bulwark
