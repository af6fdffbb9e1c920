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

struct LocalDomain {
  std::string name = "example.test";
  std::string delivery = "maildir";  // only "maildir" in this version
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
  std::uint32_t queue_retry_seconds = 300;     // first retry of a deferred local delivery

  std::filesystem::path queueDirectory() const { return data_dir / "queue"; }
  std::filesystem::path mailDirectory() const { return data_dir / "mail"; }
  std::filesystem::path storeDirectory() const { return data_dir / "store"; }
  std::filesystem::path tlsDirectory() const { return data_dir / "tls"; }
  bool isLocalDomain(std::string_view domain) const;
};

// The embedded default of DESIGN.md "Configuration", as TOML text, so that it is loaded and
// validated by exactly the same code as a file.
extern const char* const kEmbeddedDefaultConfig;

}  // namespace bulwark
