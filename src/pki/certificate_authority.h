// The built-in PKI (MISSION.md 1 "Domain Security", issue 3 item 7): a private CA under
// <data_dir>/pki/, TLS certificates it issues for our servers and our partner-facing client
// identity (RFC 5280 profile: v3, SAN dNSName, EKU serverAuth/clientAuth), and the store of partner
// CAs we trust for Domain Security. Input that is untrusted: a file handed to trustAuthority (it
// may be anything). Limits: unencrypted PEM keys (mode 0600); no revocation lists yet.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace bulwark::pki {

// Where everything lives: <data_dir>/pki/ca.pem, ca.key, issued/NAME.pem + NAME.key, trusted/*.pem.
struct PkiLayout {
  std::filesystem::path root;

  explicit PkiLayout(const std::filesystem::path& data_dir) : root(data_dir / "pki") {}
  std::filesystem::path authorityCertificate() const { return root / "ca.pem"; }
  std::filesystem::path authorityKey() const { return root / "ca.key"; }
  std::filesystem::path issuedDirectory() const { return root / "issued"; }
  std::filesystem::path trustedDirectory() const { return root / "trusted"; }
  std::filesystem::path issuedCertificate(std::string_view name) const {
    return issuedDirectory() / (std::string(name) + ".pem");
  }
  std::filesystem::path issuedKey(std::string_view name) const {
    return issuedDirectory() / (std::string(name) + ".key");
  }
};

enum class KeyType { ecdsa_p256, rsa_2048 };

inline constexpr int kDefaultAuthorityDays = 3650;  // ten years: the CA outlives its leaves
inline constexpr int kDefaultLeafDays = 825;        // about two years and three months
inline constexpr int kMaximumDays = 36500;

struct AuthorityOptions {
  std::string organization = "Bulwark";  // the CA's O, and its CN "<organization> CA"
  int days = kDefaultAuthorityDays;
  KeyType key_type = KeyType::ecdsa_p256;
};

// What a leaf certificate is for: a server certificate may also be shown as a client certificate
// (an MTA is both), a client certificate is clientAuth only.
enum class Usage { server, client };

struct IssueOptions {
  int days = kDefaultLeafDays;
  KeyType key_type = KeyType::ecdsa_p256;
};

struct IssuedFiles {
  std::filesystem::path certificate;
  std::filesystem::path private_key;  // empty for a trusted partner CA
  std::string subject;                // one line, RFC 2253
  std::string fingerprint;            // SHA-256 of the DER certificate, hex with colons
};

// Creates ca.pem and ca.key (mode 0600, created exclusively: an existing CA is never replaced).
Result<IssuedFiles> createAuthority(const PkiLayout& layout, const AuthorityOptions& options);

// Issues issued/NAME.pem and NAME.key signed by our CA. `name` is a DNS name (the SAN dNSName and
// CN); it is refused unless it is a plain host or domain name, since it also names the files.
// An existing certificate of that name is never replaced.
Result<IssuedFiles> issueCertificate(const PkiLayout& layout, std::string_view name, Usage usage,
                                     const IssueOptions& options);

// Copies a partner's CA certificate into trusted/. Refuses anything that is not exactly one PEM
// X.509 CA certificate (basicConstraints CA:TRUE, keyCertSign when keyUsage is present), in date,
// self-consistent; the error says what the file is instead.
Result<IssuedFiles> trustAuthority(const PkiLayout& layout, const std::filesystem::path& file);

// The partner trust store by default: our own CA (when it exists) and every trusted/*.pem, sorted.
std::vector<std::filesystem::path> partnerTrustFiles(const PkiLayout& layout);

// One line per certificate for `bulwark pki list`.
struct CertificateSummary {
  std::string role;  // "authority", "server", "client", "trusted"
  std::filesystem::path file;
  std::string subject;
  std::vector<std::string> names;  // SAN dNSNames
  std::string not_after;           // "2028-01-31 12:00:00 UTC"
  std::string fingerprint;
};
Result<std::vector<CertificateSummary>> listCertificates(const PkiLayout& layout);

// Empty when `name` is usable as a certificate and file name; else what is wrong with it.
std::string nameProblem(std::string_view name);

}  // namespace bulwark::pki
