// PBKDF2 (RFC 8018 5.2) through OpenSSL; the stored form is modelled on passlib's.
#include "net/password.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <charconv>
#include <vector>

namespace bulwark::net {
namespace {

std::string toBase64(const unsigned char* data, size_t size) {
  std::string out(4 * ((size + 2) / 3) + 1, '\0');
  int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data,
                                static_cast<int>(size));
  out.resize(static_cast<size_t>(written));
  return out;
}

bool fromBase64(std::string_view text, std::vector<unsigned char>& out) {
  if (text.empty() || text.size() % 4 != 0) return false;
  out.assign(text.size() / 4 * 3 + 1, 0);
  int written = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (written < 0) return false;
  size_t padding = 0;
  if (text.back() == '=') ++padding;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++padding;
  out.resize(static_cast<size_t>(written) - padding);
  return true;
}

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
         toBase64(salt.data(), salt.size()) + "$" + toBase64(hash, sizeof hash);
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
  std::vector<unsigned char> salt, expected;
  if (!fromBase64(rest.substr(first + 1, second - first - 1), salt)) return false;
  if (!fromBase64(rest.substr(second + 1), expected) || expected.empty()) return false;
  std::vector<unsigned char> actual(expected.size());
  if (!derive(password, salt, iterations, actual.data(), actual.size())) return false;
  return CRYPTO_memcmp(actual.data(), expected.data(), actual.size()) == 0;
}

}  // namespace bulwark::net
