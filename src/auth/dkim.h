// DKIM, RFC 6376, with the algorithm updates of RFC 8301 (rsa-sha1 not accepted, RSA keys under
// 1024 bits refused) and RFC 8463 (ed25519-sha256): verification of every DKIM-Signature of a
// message, and signing. Works on the raw message bytes, never on re-serialised ones. Inputs are
// untrusted: the message and the key records in DNS.
#pragma once

#include "common/result.h"
#include "dns/resolver.h"

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace bulwark::auth {

// RFC 8601 2.7.1 result names.
enum class DkimResult { none, pass, fail, policy, neutral, temperror, permerror };
std::string_view dkimResultName(DkimResult result);

enum class DkimAlgorithm { rsa_sha256, ed25519_sha256, rsa_sha1 };
enum class Canonicalization { simple, relaxed };

// One DKIM-Signature field and what became of it.
struct DkimSignatureResult {
  DkimResult result = DkimResult::none;
  std::string domain;     // d=, lower-case
  std::string selector;   // s=
  std::string identity;   // i= (default "@" + d=)
  std::string algorithm;  // a= as written
  std::string signature_prefix;  // first 8 characters of b=, for A-R header.b (RFC 6008)
  bool body_length_limited = false;  // l= was present: content after it is unsigned
  std::size_t unsigned_body_bytes = 0;  // bytes of the canonical body past l=
  bool testing = false;   // the key record has t=y
  std::string reason;     // why not pass, in words ("body hash did not verify", ...)
};

struct DkimVerifyOptions {
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
  unsigned max_signatures = 10;       // verified per message; any beyond: permerror
  unsigned minimum_rsa_bits = 1024;   // RFC 8301 3.2
  bool accept_rsa_sha1 = false;       // RFC 8301 3.1: false reports rsa-sha1 as `policy`
};

// Verifies every DKIM-Signature field of `message` (CRLF line endings), in header order.
// An empty vector means the message carries no signature (result "none").
std::vector<DkimSignatureResult> verifyDkim(dns::Resolver& resolver, std::string_view message,
                                            const DkimVerifyOptions& options = {});

// A private key and where its public half is published (<selector>._domainkey.<domain>).
class DkimKey {
 public:
  // PEM PKCS#8 or traditional RSA / Ed25519 private key. RSA under 1024 bits is refused.
  static Result<DkimKey> fromPem(std::string domain, std::string selector, std::string_view pem);
  // An Ed25519 key from its 32-byte private seed (RFC 8032 5.1.5; RFC 8463 A.1 prints one).
  static Result<DkimKey> fromEd25519Seed(std::string domain, std::string selector,
                                         std::string_view seed);
  static Result<DkimKey> load(std::string domain, std::string selector,
                              const std::filesystem::path& file);
  DkimAlgorithm algorithm() const;
  const std::string& domain() const;
  const std::string& selector() const;
  // The TXT record to publish: "v=DKIM1; k=rsa; p=..." (RFC 6376 3.6.1, RFC 8463 4).
  std::string dnsRecord() const;
  // The signature over `data` (RSASSA-PKCS1-v1_5 with SHA-256 of data; Ed25519 of SHA-256 of
  // data, RFC 8463 3), for DKIM and ARC signing.
  Result<std::string> signData(std::string_view data) const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

struct DkimSignOptions {
  Canonicalization header_canonicalization = Canonicalization::relaxed;
  Canonicalization body_canonicalization = Canonicalization::relaxed;
  // Fields signed when present; each of `oversigned` is also signed once more than it occurs,
  // so no instance can be added later (RFC 6376 8.15).
  std::vector<std::string> headers = {"From", "Reply-To", "Subject", "Date", "To", "Cc",
                                      "Message-ID", "In-Reply-To", "References", "MIME-Version",
                                      "Content-Type", "Content-Transfer-Encoding",
                                      "List-Id", "List-Unsubscribe", "Sender"};
  std::vector<std::string> oversigned = {"From", "To", "Cc", "Subject", "Date", "Reply-To",
                                         "Sender", "Message-ID", "MIME-Version", "Content-Type"};
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
  std::chrono::seconds expiry{0};  // x= after t=; 0: no x=
};

// The DKIM-Signature field (with its CRLF, folded under 78 columns) to prepend to `message`.
// Never uses l=.
Result<std::string> signDkim(std::string_view message, const DkimKey& key,
                             const DkimSignOptions& options = {});

// The signing keys of data_dir/dkim/<domain>/<selector>.key (see docs/dkim.md). Every key of a
// domain signs (several selectors, RSA and Ed25519 together). The directory is re-read when it
// changes (checked at most once a second), so keys rotate without a restart. Thread-safe.
class DkimKeyring {
 public:
  explicit DkimKeyring(std::filesystem::path directory);
  ~DkimKeyring();
  // The keys for `domain` (lower-case); empty when it has none. Unreadable files are logged once
  // and skipped.
  std::vector<DkimKey> keysFor(std::string_view domain);
  // DKIM-Signature fields for every key of `domain`, in one string, to prepend; empty when the
  // domain has no key.
  std::string sign(std::string_view domain, std::string_view message,
                   const DkimSignOptions& options = {});

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace bulwark::auth
