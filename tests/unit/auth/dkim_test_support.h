// Helpers for the DKIM unit tests: freshly generated keys (PEM), a fake DNS holding their
// records, and a hand-made DKIM-Signature with any tags, so verifier checks can be driven past
// what signDkim would ever write (l=, x=, i=, rsa-sha1, ...).
#pragma once

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <map>
#include <string>

#include "auth/dkim.h"
#include "auth/dkim_canonical.h"
#include "net/base64.h"
#include "support/fake_resolver.h"

namespace bulwark::auth::testing {

// PEM (PKCS#8) of a new key: "rsa" with `bits`, or "ed25519". Generated once per kind.
inline std::string generatedKeyPem(const std::string& type, unsigned bits = 2048) {
  static std::map<std::string, std::string> made;
  std::string name = type + std::to_string(bits);
  if (auto found = made.find(name); found != made.end()) return found->second;
  EVP_PKEY* key =
      type == "rsa" ? EVP_RSA_gen(bits) : EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  EXPECT_NE(key, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  EXPECT_EQ(PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr), 1);
  char* data = nullptr;
  long length = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(length));
  BIO_free(bio);
  EVP_PKEY_free(key);
  made[name] = pem;
  return pem;
}

// "v=DKIM1; k=rsa; p=..." for any RSA private key, even one DkimKey refuses.
inline std::string makeKeyRecordFromPem(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  unsigned char* der = nullptr;
  int length = i2d_PUBKEY(key, &der);
  std::string record =
      "v=DKIM1; k=rsa; p=" + net::base64Encode(std::string(reinterpret_cast<char*>(der), length));
  OPENSSL_free(der);
  EVP_PKEY_free(key);
  return record;
}

inline DkimKey makeKey(const std::string& type, const std::string& selector = "sel",
                       const std::string& domain = "example.com", unsigned bits = 2048) {
  auto key = DkimKey::fromPem(domain, selector, generatedKeyPem(type, bits));
  EXPECT_TRUE(key.has_value()) << (key ? "" : key.error().message);
  return *key;
}

inline void publish(bulwark::testing::FakeResolver& resolver, const DkimKey& key) {
  resolver.txt_records[key.selector() + "._domainkey." + key.domain()] = {key.dnsRecord()};
}

inline void replaceOnce(std::string& text, std::string_view from, std::string_view to) {
  std::size_t position = text.find(from);
  ASSERT_NE(position, std::string::npos) << from;
  text.replace(position, from.size(), to);
}

inline constexpr std::string_view kMessage =
    "Received: from relay.example.net by mx.example.org; Tue, 1 Jun 2027 10:00:00 +0000\r\n"
    "From: Alice Example <alice@example.com>\r\n"
    "To: Bob <bob@example.org>\r\n"
    "Subject: Quarterly   report\r\n"
    "\t(folded)\r\n"
    "Date: Tue, 1 Jun 2027 09:59:00 +0000\r\n"
    "Message-ID: <report-1@example.com>\r\n"
    "\r\n"
    "Hello Bob,\r\n"
    "\r\n"
    "the numbers  are in.\t \r\n"
    "\r\n"
    "\r\n";

// A DKIM-Signature field over `message` with the tags `tags` (without bh= and b=), signing the
// fields `signed_names` (which must match the h= in `tags`); `sha1` signs RSA with SHA-1 (for
// rsa-sha1, which DkimKey never does).
inline std::string handMadeSignature(std::string_view message, const DkimKey& key,
                                     const std::string& pem, const std::string& tags,
                                     const std::vector<std::string_view>& signed_names,
                                     Canonicalization header, Canonicalization body,
                                     std::optional<std::size_t> length = std::nullopt,
                                     bool sha1 = false) {
  auto fields = mime::headerFields(message);
  auto body_hash = hashBody(body, message.substr(mime::bodyOffset(message)), sha1, length);
  EXPECT_TRUE(body_hash.has_value());
  std::string field =
      "DKIM-Signature: " + tags + "; bh=" + net::base64Encode(body_hash->digest) + ";\r\n b=";
  std::string data;
  for (const auto* signed_field : selectSignedFields(fields, signed_names)) {
    appendCanonicalHeader(header, *signed_field, data);
  }
  appendCanonicalSignatureField(header, field, data);
  std::string signature;
  if (!sha1) {
    auto signed_data = key.signData(data);
    EXPECT_TRUE(signed_data.has_value());
    signature = *signed_data;
  } else {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    EVP_PKEY* private_key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    EVP_MD_CTX* context = EVP_MD_CTX_new();
    std::size_t size = 0;
    EXPECT_EQ(EVP_DigestSignInit(context, nullptr, EVP_sha1(), nullptr, private_key), 1);
    EXPECT_EQ(EVP_DigestSign(context, nullptr, &size,
                             reinterpret_cast<const unsigned char*>(data.data()), data.size()),
              1);
    signature.resize(size);
    EXPECT_EQ(EVP_DigestSign(context, reinterpret_cast<unsigned char*>(signature.data()), &size,
                             reinterpret_cast<const unsigned char*>(data.data()), data.size()),
              1);
    signature.resize(size);
    EVP_MD_CTX_free(context);
    EVP_PKEY_free(private_key);
  }
  return field + net::base64Encode(signature) + "\r\n";
}

}  // namespace bulwark::auth::testing
