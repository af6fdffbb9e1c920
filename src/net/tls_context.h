// Server-side TLS settings for receive connectors (RFC 8996: TLS 1.2 and 1.3 only; RFC 7525
// cipher guidance). Returns an OpenSSL SSL_CTX so that this header needs neither Asio nor OpenSSL.
#pragma once

#include "common/result.h"

#include <filesystem>
#include <memory>
#include <string>

struct ssl_ctx_st;

namespace bulwark::net {

struct TlsContextDeleter {
  void operator()(ssl_ctx_st* context) const;
};
using TlsContextPointer = std::unique_ptr<ssl_ctx_st, TlsContextDeleter>;

// Loads the certificate chain and key; an error names the file and what OpenSSL said.
Result<TlsContextPointer> makeServerTlsContext(const std::filesystem::path& certificate_chain,
                                               const std::filesystem::path& private_key);

// "TLSv1.3" and "TLS_AES_256_GCM_SHA384" for an established connection (an SSL*).
struct TlsDetails {
  std::string version;
  std::string cipher;
  int bits = 0;
};
TlsDetails describeTls(const void* ssl);

}  // namespace bulwark::net
