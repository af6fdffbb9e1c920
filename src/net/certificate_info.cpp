// Certificate descriptions and names; see certificate_info.h.
#include "net/certificate_info.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

#include "common/strings.h"

namespace bulwark::net {
namespace {

std::string bioText(BIO* memory) {
  char* data = nullptr;
  long length = BIO_get_mem_data(memory, &data);
  return length > 0 ? std::string(data, static_cast<std::size_t>(length)) : std::string();
}

// A name usable for matching: printable ASCII without spaces (a NUL or control byte inside a
// dNSName is an old forgery trick), lower-cased.
bool takeName(const ASN1_STRING* value, std::vector<std::string>& names) {
  if (value == nullptr) return false;
  const unsigned char* data = ASN1_STRING_get0_data(value);
  const int length = ASN1_STRING_length(value);
  if (data == nullptr || length <= 0 || length > 255) return false;
  std::string name(reinterpret_cast<const char*>(data), static_cast<std::size_t>(length));
  for (unsigned char c : name) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  names.push_back(asciiLower(name));
  return true;
}

}  // namespace

std::string certificateSubject(const x509_st* certificate) {
  std::unique_ptr<BIO, decltype(&BIO_free)> memory(BIO_new(BIO_s_mem()), BIO_free);
  if (!memory || certificate == nullptr) return {};
  X509_NAME_print_ex(memory.get(), X509_get_subject_name(certificate), 0, XN_FLAG_RFC2253);
  return bioText(memory.get());
}

std::string certificateFingerprint(const x509_st* certificate) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (certificate == nullptr || X509_digest(certificate, EVP_sha256(), digest, &length) != 1) {
    return {};
  }
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string text;
  for (unsigned int index = 0; index < length; ++index) {
    if (index > 0) text += ':';
    text += kHex[digest[index] >> 4];
    text += kHex[digest[index] & 0x0f];
  }
  return text;
}

std::string certificateNotAfter(const x509_st* certificate) {
  std::unique_ptr<BIO, decltype(&BIO_free)> memory(BIO_new(BIO_s_mem()), BIO_free);
  if (!memory || certificate == nullptr) return {};
  ASN1_TIME_print_ex(memory.get(), X509_get0_notAfter(certificate), ASN1_DTFLGS_ISO8601);
  return bioText(memory.get());
}

std::vector<std::string> certificateDomainNames(const x509_st* certificate) {
  std::vector<std::string> names;
  if (certificate == nullptr) return names;
  int critical = 0;
  auto* alternatives = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(certificate, NID_subject_alt_name, &critical, nullptr));
  if (alternatives != nullptr) {
    for (int index = 0; index < sk_GENERAL_NAME_num(alternatives); ++index) {
      const GENERAL_NAME* entry = sk_GENERAL_NAME_value(alternatives, index);
      if (entry->type == GEN_DNS) takeName(entry->d.dNSName, names);
    }
    GENERAL_NAMES_free(alternatives);
    return names;
  }
  // critical == -1: no SAN extension at all (-2 would be a malformed duplicate: no names then).
  if (critical != -1) return names;
  const X509_NAME* subject = X509_get_subject_name(certificate);
  int position = -1;
  while ((position = X509_NAME_get_index_by_NID(subject, NID_commonName, position)) >= 0) {
    const X509_NAME_ENTRY* entry = X509_NAME_get_entry(subject, position);
    takeName(X509_NAME_ENTRY_get_data(entry), names);
  }
  return names;
}

}  // namespace bulwark::net
