// Self-signed certificate generation with OpenSSL 3 (RFC 5280 profile: v3, SAN dNSName, 10 years).
#include "net/self_signed.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <memory>

namespace bulwark::net {
namespace {

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* pointer) const { Free(pointer); }
};
using KeyPointer = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using CertificatePointer = std::unique_ptr<X509, Deleter<X509, X509_free>>;

bool addExtension(X509* certificate, int nid, const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, certificate, certificate, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
  if (!extension) return false;
  bool ok = X509_add_ext(certificate, extension, -1) == 1;
  X509_EXTENSION_free(extension);
  return ok;
}

// Writes through a temporary file and renames, so a crash never leaves half a key behind.
Result<void> writePem(const std::filesystem::path& path, mode_t mode,
                      const std::function<bool(FILE*)>& write) {
  auto temporary = path;
  temporary += ".tmp";
  int descriptor = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (descriptor < 0) return makeError("io", "cannot create " + temporary.string());
  FILE* file = fdopen(descriptor, "w");
  bool ok = file && write(file) && fflush(file) == 0 && fsync(descriptor) == 0;
  if (file) fclose(file); else ::close(descriptor);
  if (!ok || ::rename(temporary.c_str(), path.c_str()) != 0) {
    ::unlink(temporary.c_str());
    return makeError("io", "cannot write " + path.string());
  }
  return {};
}

}  // namespace

Result<CertificateFiles> ensureSelfSignedCertificate(const std::filesystem::path& directory,
                                                     const std::string& hostname) {
  CertificateFiles files{directory / "self-signed.crt", directory / "self-signed.key", false};
  std::error_code error;
  if (std::filesystem::exists(files.certificate, error) &&
      std::filesystem::exists(files.private_key, error)) {
    return files;
  }
  std::filesystem::create_directories(directory, error);
  if (error) return makeError("io", "cannot create " + directory.string() + ": " + error.message());

  KeyPointer key(EVP_EC_gen("P-256"));
  CertificatePointer certificate(X509_new());
  if (!key || !certificate) return makeError("tls", "cannot generate a key");
  X509_set_version(certificate.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  BIGNUM* serial_number = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(serial_number, X509_get_serialNumber(certificate.get()));
  BN_free(serial_number);
  X509_gmtime_adj(X509_getm_notBefore(certificate.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(certificate.get()), 10L * 365 * 24 * 3600);
  X509_set_pubkey(certificate.get(), key.get());
  X509_NAME* name = X509_get_subject_name(certificate.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(hostname.c_str()), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("Bulwark self-signed"), -1,
                             -1, 0);
  X509_set_issuer_name(certificate.get(), name);
  std::string alternative_name = "DNS:" + hostname;
  if (!addExtension(certificate.get(), NID_subject_alt_name, alternative_name.c_str()) ||
      !addExtension(certificate.get(), NID_basic_constraints, "critical,CA:FALSE") ||
      !addExtension(certificate.get(), NID_key_usage, "critical,digitalSignature") ||
      !addExtension(certificate.get(), NID_ext_key_usage, "serverAuth,clientAuth")) {
    return makeError("tls", "cannot build certificate extensions for " + hostname);
  }
  if (X509_sign(certificate.get(), key.get(), EVP_sha256()) == 0) {
    return makeError("tls", "cannot sign the self-signed certificate");
  }
  auto key_written = writePem(files.private_key, 0600, [&](FILE* file) {
    return PEM_write_PrivateKey(file, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
  });
  if (!key_written) return key_written.error();
  auto certificate_written = writePem(files.certificate, 0644, [&](FILE* file) {
    return PEM_write_X509(file, certificate.get()) == 1;
  });
  if (!certificate_written) return certificate_written.error();
  files.generated = true;
  return files;
}

}  // namespace bulwark::net
