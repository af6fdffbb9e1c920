// PBKDF2 (RFC 8018 5.2) through OpenSSL; the stored form is modelled on passlib's.
#include "net/password.h"

#include "net/base64.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <charconv>
#include <vector>

namespace bulwark::net {
namespace {

bool derive(std::string_view password, const std::vector<unsigned char>& salt, int iterations,
            unsigned char* out, size_t size) {
  return PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(),
                           static_cast<int>(salt.size()), iterations, EVP_sha256(),
                           static_cast<int>(size), out) == 1;
}

}  // namespace

std::string hashPassword(std::string_view password, int iterations) {
  std::vector<unsigned char> salt(16);
  RAND_bytes(salt.data(), static_cast<int>(salt.size()));
  unsigned char hash[32];
  derive(password, salt, iterations, hash, sizeof hash);
  return "$pbkdf2-sha256$" + std::to_string(iterations) + "$" +
         base64Encode(std::string_view(reinterpret_cast<const char*>(salt.data()), salt.size())) +
         "$" + base64Encode(std::string_view(reinterpret_cast<const char*>(hash), sizeof hash));
}

bool verifyPassword(std::string_view password, std::string_view stored_hash) {
  constexpr std::string_view prefix = "$pbkdf2-sha256$";
  if (stored_hash.substr(0, prefix.size()) != prefix) return false;
  auto rest = stored_hash.substr(prefix.size());
  auto first = rest.find('$');
  auto second = first == std::string_view::npos ? first : rest.find('$', first + 1);
  if (second == std::string_view::npos) return false;
  int iterations = 0;
  auto digits = rest.substr(0, first);
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), iterations);
  if (error != std::errc() || end != digits.data() + digits.size() || iterations < 1 ||
      iterations > 10000000) {
    return false;
  }
  auto salt_bytes = base64Decode(rest.substr(first + 1, second - first - 1));
  auto expected = base64Decode(rest.substr(second + 1));
  if (!salt_bytes || salt_bytes->empty() || !expected || expected->empty()) return false;
  std::vector<unsigned char> salt(salt_bytes->begin(), salt_bytes->end());
  std::vector<unsigned char> actual(expected->size());
  if (!derive(password, salt, iterations, actual.data(), actual.size())) return false;
  return CRYPTO_memcmp(actual.data(), expected->data(), actual.size()) == 0;
}

}  // namespace bulwark::net
