// OpenSSL server context: TLS >= 1.2, server cipher order, no compression or renegotiation.
#include "net/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "net/openssl_errors.h"

namespace bulwark::net {
namespace {

std::string openSslErrors() {
  std::string text = drainOpenSslErrors();
  return text.empty() ? "unknown OpenSSL error" : text;
}

}  // namespace

void TlsContextDeleter::operator()(ssl_ctx_st* context) const {
  SSL_CTX_free(context);
}

Result<TlsContextPointer> makeServerTlsContext(const std::filesystem::path& certificate_chain,
                                               const std::filesystem::path& private_key) {
  TlsContextPointer context(SSL_CTX_new(TLS_server_method()));
  if (!context) return makeError("tls", "cannot create TLS context: " + openSslErrors());
  SSL_CTX_set_min_proto_version(context.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(context.get(), SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                         SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_cipher_list(context.get(), "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:!aNULL:!MD5:!DSS");
  if (SSL_CTX_use_certificate_chain_file(context.get(), certificate_chain.c_str()) != 1) {
    return makeError(
        "tls", "cannot load certificate " + certificate_chain.string() + ": " + openSslErrors());
  }
  if (SSL_CTX_use_PrivateKey_file(context.get(), private_key.c_str(), SSL_FILETYPE_PEM) != 1) {
    return makeError("tls",
                     "cannot load private key " + private_key.string() + ": " + openSslErrors());
  }
  if (SSL_CTX_check_private_key(context.get()) != 1) {
    return makeError("tls", "private key " + private_key.string() + " does not match certificate " +
                                certificate_chain.string());
  }
  return context;
}

TlsDetails describeTls(const void* ssl) {
  const SSL* connection = static_cast<const SSL*>(ssl);
  TlsDetails details;
  details.version = SSL_get_version(connection);
  const SSL_CIPHER* cipher = SSL_get_current_cipher(connection);
  if (cipher) {
    details.cipher = SSL_CIPHER_get_name(cipher);
    details.bits = SSL_CIPHER_get_bits(cipher, nullptr);
  }
  return details;
}

}  // namespace bulwark::net
