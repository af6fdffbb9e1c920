// drainOpenSslErrors; see openssl_errors.h.
#include "net/openssl_errors.h"

#include <openssl/err.h>

namespace bulwark::net {

std::string drainOpenSslErrors() {
  std::string text;
  while (unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    if (!text.empty()) text += "; ";
    text += buffer;
  }
  return text;
}

}  // namespace bulwark::net
