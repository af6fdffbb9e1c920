// OpenSSL's DANE verifier for one outbound connection; see dane_tls.h.
#include "smtp/client/dane_tls.h"

#include "net/openssl_errors.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

namespace bulwark::smtp {
namespace {

std::string usageName(std::uint8_t usage) {
  switch (usage) {
    case 0: return "pkix-ta";
    case 1: return "pkix-ee";
    case 2: return "dane-ta";
    case 3: return "dane-ee";
    default: return "usage-" + std::to_string(usage);
  }
}

bool isAddress(const std::string& host) {
  unsigned char address[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, host.c_str(), address) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), address) == 1;
}

}  // namespace

std::optional<std::string> enableDane(SSL_CTX* context, SSL* ssl, const ClientEndpoint& endpoint) {
  if (endpoint.host.empty() || isAddress(endpoint.host)) {
    return "DANE needs the host's name as TLSA base domain, not '" + endpoint.host + "'";
  }
  if (SSL_CTX_dane_enable(context) <= 0) {
    return "cannot enable DANE in the TLS context: " + net::drainOpenSslErrors();
  }
  SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nullptr);
  SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
  // Also sets the base domain as the reference identifier that DANE-TA checks (SSL_set1_host).
  if (SSL_dane_enable(ssl, endpoint.host.c_str()) <= 0) {
    return "cannot enable DANE for " + endpoint.host + ": " + net::drainOpenSslErrors();
  }
  SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
  SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  int usable = 0;
  for (const auto& record : endpoint.tlsa) {
    const int added = SSL_dane_tlsa_add(ssl, record.usage, record.selector, record.matching_type,
                                        record.data.data(), record.data.size());
    if (added < 0) {
      return "OpenSSL refused a TLSA record of " + endpoint.host + ": " +
             net::drainOpenSslErrors();
    }
    if (added > 0) ++usable;
  }
  // Without a usable record OpenSSL would fall back to PKIX; DANE asked for more than that.
  if (usable == 0) return "none of the TLSA records of " + endpoint.host + " is usable";
  return std::nullopt;
}

std::string daneMatch(SSL* ssl) {
  std::uint8_t usage = 0;
  std::uint8_t selector = 0;
  std::uint8_t matching = 0;
  const unsigned char* data = nullptr;
  std::size_t length = 0;
  const int depth = SSL_get0_dane_tlsa(ssl, &usage, &selector, &matching, &data, &length);
  if (depth < 0) return {};
  std::string text = usageName(usage) + " " + std::to_string(usage) + " " +
                     std::to_string(selector) + " " + std::to_string(matching);
  if (depth > 0) text += " depth " + std::to_string(depth);
  return text;
}

std::string daneFailure(long verification) {
  if (verification == X509_V_ERR_DANE_NO_MATCH) {
    return "no TLSA record matches the certificate (DANE, RFC 7672)";
  }
  return std::string("certificate verification against the TLSA records failed: ") +
         X509_verify_cert_error_string(verification);
}

std::optional<std::string> checkPkixAfterDane(SSL* ssl, const std::string& host) {
  X509* leaf = SSL_get0_peer_certificate(ssl);
  if (leaf == nullptr) return std::string("no certificate to verify");
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> context(X509_STORE_CTX_new(),
                                                                          X509_STORE_CTX_free);
  X509_STORE* store = SSL_CTX_get_cert_store(SSL_get_SSL_CTX(ssl));
  // On the client side the peer chain includes the leaf; the leaf is given separately too.
  if (!context || store == nullptr ||
      X509_STORE_CTX_init(context.get(), store, leaf, SSL_get_peer_cert_chain(ssl)) != 1 ||
      X509_STORE_CTX_set_default(context.get(), "ssl_server") != 1) {
    return "cannot set up the certificate check: " + net::drainOpenSslErrors();
  }
  X509_VERIFY_PARAM* parameters = X509_STORE_CTX_get0_param(context.get());
  X509_VERIFY_PARAM_set_hostflags(parameters, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  const int named = isAddress(host) ? X509_VERIFY_PARAM_set1_ip_asc(parameters, host.c_str())
                                    : X509_VERIFY_PARAM_set1_host(parameters, host.c_str(), 0);
  if (host.empty() || named != 1) return "cannot check the certificate name '" + host + "'";
  if (X509_verify_cert(context.get()) != 1) {
    net::drainOpenSslErrors();
    return std::string("certificate verification failed: ") +
           X509_verify_cert_error_string(X509_STORE_CTX_get_error(context.get()));
  }
  return std::nullopt;
}

}  // namespace bulwark::smtp
