// Domain Security TLS helpers; see domain_security.h. Path validation is OpenSSL's
// X509_verify_cert (RFC 5280 6) with the TLS client purpose (extendedKeyUsage clientAuth when the
// certificate has the extension); names come from net/certificate_info.
#include "net/domain_security.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>

#include "common/strings.h"
#include "net/certificate_info.h"
#include "net/openssl_errors.h"

namespace bulwark::net {
namespace {

std::string openSslText() {
  std::string text = drainOpenSslErrors();
  return text.empty() ? "unknown OpenSSL error" : text;
}

// The handshake goes on whatever the client certificate is: whether the client is a partner is
// decided afterwards, and a stranger without one is still welcome to send ordinary mail.
int acceptAnyCertificate(int, X509_STORE_CTX*) {
  return 1;
}

// Loads every certificate of the PEM `file` into `store`; false (with `problem` set) when the file
// cannot be read or holds no certificate (OpenSSL reports that as an error too).
bool loadInto(X509_STORE* store, const std::filesystem::path& file, std::string& problem) {
  if (X509_STORE_load_file(store, file.c_str()) != 1) {
    problem = "cannot load the CA file " + file.string() + ": " + openSslText();
    return false;
  }
  return true;
}

}  // namespace

std::vector<std::string> partnerDomainsNamed(const std::vector<std::string>& certificate_names,
                                             const std::vector<std::string>& receive_domains) {
  std::vector<std::string> domains;
  for (const auto& domain : receive_domains) {
    const bool named =
        std::any_of(certificate_names.begin(), certificate_names.end(),
                    [&](const std::string& name) { return equalsIgnoreCase(name, domain); });
    if (named) domains.push_back(asciiLower(domain));
  }
  return domains;
}

Result<std::unique_ptr<PartnerVerifier>> PartnerVerifier::load(
    const std::vector<std::filesystem::path>& trust_files,
    std::vector<std::string> receive_domains) {
  if (trust_files.empty()) {
    return makeError("config",
                     "domain_secure.receive lists partner domains, but no partner CA is trusted: "
                     "add one with `bulwark pki trust FILE`, or set domain_secure.trusted_ca_file");
  }
  std::unique_ptr<PartnerVerifier> verifier(new PartnerVerifier());
  verifier->store_ = X509_STORE_new();
  if (verifier->store_ == nullptr) return makeError("tls", "cannot create a certificate store");
  for (const auto& file : trust_files) {
    std::string problem;
    if (!loadInto(verifier->store_, file, problem)) return makeError("config", problem);
  }
  if (sk_X509_OBJECT_num(X509_STORE_get0_objects(verifier->store_)) == 0) {
    return makeError("config",
                     "the partner CA files hold no certificate: " + trust_files.front().string());
  }
  verifier->trust_files_ = trust_files;
  for (auto& domain : receive_domains) domain = asciiLower(domain);
  verifier->receive_domains_ = std::move(receive_domains);
  return verifier;
}

PartnerVerifier::~PartnerVerifier() {
  if (store_ != nullptr) X509_STORE_free(store_);
}

PartnerCheck PartnerVerifier::checkCertificate(
    x509_st* leaf, stack_st_X509* chain,
    std::optional<std::chrono::system_clock::time_point> at) const {
  PartnerCheck check;
  if (leaf == nullptr) {
    check.reason = "no client certificate";
    return check;
  }
  check.subject = certificateSubject(leaf);
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> context(X509_STORE_CTX_new(),
                                                                          X509_STORE_CTX_free);
  if (!context || X509_STORE_CTX_init(context.get(), store_, leaf, chain) != 1) {
    check.reason = "cannot verify: " + openSslText();
    return check;
  }
  X509_STORE_CTX_set_purpose(context.get(), X509_PURPOSE_SSL_CLIENT);
  if (at) {
    X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(context.get()),
                               std::chrono::system_clock::to_time_t(*at));
  }
  if (X509_verify_cert(context.get()) != 1) {
    check.reason = std::string("certificate not verified: ") +
                   X509_verify_cert_error_string(X509_STORE_CTX_get_error(context.get()));
    drainOpenSslErrors();
    return check;
  }
  const std::vector<std::string> names = certificateDomainNames(leaf);
  check.domains = partnerDomainsNamed(names, receive_domains_);
  if (check.domains.empty()) {
    std::string listed;
    for (const auto& name : names) listed += (listed.empty() ? "" : ", ") + name;
    check.reason = "the certificate names no domain of domain_secure.receive (it names: " +
                   (listed.empty() ? std::string("nothing") : listed) + ")";
  }
  return check;
}

PartnerCheck PartnerVerifier::checkConnection(const void* ssl) const {
  const SSL* connection = static_cast<const SSL*>(ssl);
  if (SSL_session_reused(connection)) {
    // Resumption is turned off by requestClientCertificates; refuse to guess if it happened.
    PartnerCheck check;
    check.reason = "resumed TLS session (no certificate chain to check)";
    return check;
  }
  return checkCertificate(SSL_get0_peer_certificate(connection),
                          SSL_get_peer_cert_chain(connection));
}

Result<void> PartnerVerifier::requestClientCertificates(ssl_ctx_st* context) const {
  SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE, acceptAnyCertificate);
  STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
  if (names == nullptr) return makeError("tls", "cannot allocate the CA name list");
  for (const auto& file : trust_files_) {
    if (SSL_add_file_cert_subjects_to_stack(names, file.c_str()) != 1) {
      sk_X509_NAME_pop_free(names, X509_NAME_free);
      return makeError("config",
                       "cannot read CA names from " + file.string() + ": " + openSslText());
    }
  }
  SSL_CTX_set_client_CA_list(context, names);  // the context owns the list now
  static constexpr unsigned char kSessionContext[] = "bulwark-smtp";
  SSL_CTX_set_session_id_context(context, kSessionContext, sizeof kSessionContext - 1);
  SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(context, SSL_OP_NO_TICKET);
  SSL_CTX_set_num_tickets(context, 0);
  return {};
}

Result<void> useClientCertificate(ssl_ctx_st* context, const std::filesystem::path& certificate,
                                  const std::filesystem::path& private_key) {
  if (certificate.empty() || private_key.empty()) {
    return makeError("config", "no client certificate configured for Domain Security");
  }
  if (SSL_CTX_use_certificate_chain_file(context, certificate.c_str()) != 1) {
    return makeError(
        "tls", "cannot load the client certificate " + certificate.string() + ": " + openSslText());
  }
  if (SSL_CTX_use_PrivateKey_file(context, private_key.c_str(), SSL_FILETYPE_PEM) != 1) {
    return makeError(
        "tls", "cannot load the client private key " + private_key.string() + ": " + openSslText());
  }
  if (SSL_CTX_check_private_key(context) != 1) {
    drainOpenSslErrors();
    return makeError("tls", "the client private key " + private_key.string() +
                                " does not belong to " + certificate.string());
  }
  return {};
}

Result<void> addTrustAnchors(ssl_ctx_st* context, const std::vector<std::filesystem::path>& files) {
  X509_STORE* store = SSL_CTX_get_cert_store(context);
  for (const auto& file : files) {
    std::string problem;
    if (!loadInto(store, file, problem)) return makeError("tls", problem);
  }
  return {};
}

Result<void> checkClientCertificate(const std::filesystem::path& certificate,
                                    const std::filesystem::path& private_key) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> context(SSL_CTX_new(TLS_client_method()),
                                                            SSL_CTX_free);
  if (!context) return makeError("tls", "cannot create a TLS context: " + openSslText());
  return useClientCertificate(context.get(), certificate, private_key);
}

}  // namespace bulwark::net
