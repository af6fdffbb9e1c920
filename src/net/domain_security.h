// Domain Security (MISSION.md 1; Exchange's TLSSendDomainSecureList/TLSReceiveDomainSecureList):
// the TLS pieces of mutual authentication with partner organisations. Receiving: ask every TLS
// client for a certificate without ever failing the handshake over it, then decide whether the
// certificate chains to a partner CA (RFC 5280 6 path validation, TLS client purpose), is in date
// and names (RFC 6125: SAN dNSName, CN only without SAN) a domain on the receive list. Sending:
// present our client certificate and trust the partner CAs as well. Peer certificates are
// untrusted input. Headers: no OpenSSL types beyond forward declarations.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

struct ssl_ctx_st;
struct x509_st;
struct x509_store_st;
struct stack_st_X509;

namespace bulwark::net {

// The receive-list domains among `certificate_names` (exact, case-insensitive; a certificate for
// "mail.partner.example" does not stand for "partner.example", and wildcards are not expanded).
std::vector<std::string> partnerDomainsNamed(const std::vector<std::string>& certificate_names,
                                             const std::vector<std::string>& receive_domains);

// What the TLS client showed us.
struct PartnerCheck {
  std::vector<std::string> domains;  // receive-list domains it is authenticated for; empty: none
  std::string subject;               // the certificate's subject; empty when none was shown
  std::string reason;                // why it is not a partner (for the log); empty when it is
};

class PartnerVerifier {
 public:
  // Loads every PEM certificate of `trust_files` as a trust anchor. An unreadable file, or no
  // certificate at all, is an error naming the file: a partner list that could never match is a
  // configuration mistake, not something to find out from rejected mail.
  static Result<std::unique_ptr<PartnerVerifier>> load(
      const std::vector<std::filesystem::path>& trust_files,
      std::vector<std::string> receive_domains);
  ~PartnerVerifier();
  PartnerVerifier(const PartnerVerifier&) = delete;
  PartnerVerifier& operator=(const PartnerVerifier&) = delete;

  // The client certificate of an established server-side connection (an SSL*).
  PartnerCheck checkConnection(const void* ssl) const;
  // The same for a leaf and the chain the peer sent with it (may be null); `at` replaces the
  // current time (tests of expiry).
  PartnerCheck checkCertificate(x509_st* leaf, stack_st_X509* chain,
                                std::optional<std::chrono::system_clock::time_point> at = {}) const;

  // Server side: request a client certificate (SSL_VERIFY_PEER without FAIL_IF_NO_PEER_CERT) with
  // a callback that accepts whatever comes (a bad or absent certificate only means "not a
  // partner"), name the partner CAs in the request, and turn off session resumption, so every
  // session's certificate is the one checked (a resumed session carries no chain).
  Result<void> requestClientCertificates(ssl_ctx_st* context) const;

 private:
  PartnerVerifier() = default;
  x509_store_st* store_ = nullptr;
  std::vector<std::filesystem::path> trust_files_;
  std::vector<std::string> receive_domains_;  // lower-cased
};

// Client side (TlsLevel::mutual). Loads our certificate chain and key into `context`; errors name
// the file. Also used at start-up to check the configured files once.
Result<void> useClientCertificate(ssl_ctx_st* context, const std::filesystem::path& certificate,
                                  const std::filesystem::path& private_key);
// Adds every certificate of `files` to the context's trust store (besides what is there).
Result<void> addTrustAnchors(ssl_ctx_st* context, const std::vector<std::filesystem::path>& files);
// Loads the pair into a throwaway context: the start-up check of [domain_secure] client files.
Result<void> checkClientCertificate(const std::filesystem::path& certificate,
                                    const std::filesystem::path& private_key);

}  // namespace bulwark::net
