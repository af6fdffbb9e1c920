// The built-in CA with OpenSSL 3 (RFC 5280 certificate profile; CA/Browser-style leaf extensions:
// basicConstraints CA:FALSE, keyUsage digitalSignature, extendedKeyUsage, SAN dNSName, subject and
// authority key identifiers; 128-bit random serials, RFC 5280 4.1.2.2). Files are created
// exclusively (never replaced) through a temporary file and link(), keys with mode 0600 from the
// first byte. The file given to trustAuthority is untrusted.
#include "pki/certificate_authority.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>

#include "common/strings.h"
#include "net/certificate_info.h"
#include "net/openssl_errors.h"

namespace bulwark::pki {
namespace {

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* pointer) const { Free(pointer); }
};
using KeyPointer = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using CertificatePointer = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPointer = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;

// A trusted file larger than this is not a certificate.
constexpr std::uintmax_t kMaximumCertificateFileSize = 1024 * 1024;

std::string openSslText() {
  std::string text = net::drainOpenSslErrors();
  return text.empty() ? "unknown OpenSSL error" : text;
}

KeyPointer generateKey(KeyType type) {
  if (type == KeyType::rsa_2048) return KeyPointer(EVP_RSA_gen(2048));
  return KeyPointer(EVP_EC_gen("P-256"));
}

// `issuer` is null for the self-signed CA (the certificate is then its own issuer).
bool addExtension(X509* certificate, X509* issuer, int nid, const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer ? issuer : certificate, certificate, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
  if (!extension) return false;
  bool ok = X509_add_ext(certificate, extension, -1) == 1;
  X509_EXTENSION_free(extension);
  return ok;
}

bool setRandomSerial(X509* certificate) {
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return false;
  serial[0] &= 0x7f;  // positive (RFC 5280 4.1.2.2)
  serial[0] |= 0x01;  // and never zero
  BIGNUM* number = BN_bin2bn(serial, sizeof serial, nullptr);
  if (!number) return false;
  bool ok = BN_to_ASN1_INTEGER(number, X509_get_serialNumber(certificate)) != nullptr;
  BN_free(number);
  return ok;
}

bool addNameEntry(X509_NAME* name, const char* field, const std::string& value) {
  return X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                    reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1,
                                    0) == 1;
}

// Validity from an hour ago (clock skew between us and the partner) for `days`.
bool setValidity(X509* certificate, int days) {
  return X509_gmtime_adj(X509_getm_notBefore(certificate), -3600) != nullptr &&
         X509_time_adj_ex(X509_getm_notAfter(certificate), days, 0, nullptr) != nullptr;
}

std::string pemOf(const std::function<int(BIO*)>& write) {
  BioPointer memory(BIO_new(BIO_s_mem()));
  if (!memory || write(memory.get()) != 1) return {};
  char* data = nullptr;
  long length = BIO_get_mem_data(memory.get(), &data);
  return length > 0 ? std::string(data, static_cast<std::size_t>(length)) : std::string();
}

Result<void> syncDirectory(const std::filesystem::path& directory) {
  int descriptor = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (descriptor < 0) return makeError("io", "cannot open " + directory.string());
  const bool ok = ::fsync(descriptor) == 0;
  ::close(descriptor);
  if (!ok) return makeError("io", "cannot sync " + directory.string());
  return {};
}

// Creates `path` with `content` and `mode`, or fails when it exists. The bytes go to a temporary
// file opened O_CREAT|O_EXCL with the final mode (a key is never readable by others, not even for
// a moment), are synced, and appear under the final name by link(), which refuses to replace.
Result<void> createFile(const std::filesystem::path& path, mode_t mode,
                        const std::string& content) {
  unsigned char random[8];
  RAND_bytes(random, sizeof random);
  std::string suffix = ".partial-";
  for (unsigned char byte : random) suffix += "0123456789abcdef"[byte & 0x0f];
  std::filesystem::path temporary = path;
  temporary += suffix;
  int descriptor =
      ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (descriptor < 0) {
    return makeError("io", "cannot create " + temporary.string() + ": " + std::strerror(errno));
  }
  std::string_view rest = content;
  bool ok = true;
  while (ok && !rest.empty()) {
    ssize_t written = ::write(descriptor, rest.data(), rest.size());
    if (written < 0 && errno == EINTR) continue;
    ok = written > 0;
    if (ok) rest.remove_prefix(static_cast<std::size_t>(written));
  }
  ok = ok && ::fsync(descriptor) == 0;
  ::close(descriptor);
  if (!ok) {
    ::unlink(temporary.c_str());
    return makeError("io", "cannot write " + path.string());
  }
  if (::link(temporary.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temporary.c_str());
    if (error == EEXIST) {
      return makeError("exists", path.string() +
                                     " already exists; it is never replaced (remove "
                                     "it first if you really mean to)");
    }
    return makeError("io", "cannot create " + path.string() + ": " + std::strerror(error));
  }
  ::unlink(temporary.c_str());
  return syncDirectory(path.parent_path());
}

Result<void> createDirectory(const std::filesystem::path& directory) {
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) return makeError("io", "cannot create " + directory.string() + ": " + error.message());
  return {};
}

Result<std::string> readSmallFile(const std::filesystem::path& path) {
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (error || !std::filesystem::exists(status)) {
    return makeError("missing", path.string() + " does not exist");
  }
  if (!std::filesystem::is_regular_file(status)) {
    return makeError("invalid", path.string() + " is not a regular file");
  }
  const auto size = std::filesystem::file_size(path, error);
  if (error) return makeError("io", "cannot read " + path.string() + ": " + error.message());
  if (size > kMaximumCertificateFileSize) {
    return makeError("invalid", path.string() + " is " + std::to_string(size) +
                                    " bytes, far too large for a CA certificate");
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) return makeError("io", "cannot read " + path.string());
  return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

Result<CertificatePointer> loadCertificate(const std::filesystem::path& path) {
  auto text = readSmallFile(path);
  if (!text) return text.error();
  BioPointer memory(BIO_new_mem_buf(text->data(), static_cast<int>(text->size())));
  CertificatePointer certificate(memory ? PEM_read_bio_X509(memory.get(), nullptr, nullptr, nullptr)
                                        : nullptr);
  net::drainOpenSslErrors();
  if (!certificate) return makeError("invalid", path.string() + " holds no PEM certificate");
  return certificate;
}

Result<KeyPointer> loadKey(const std::filesystem::path& path) {
  BioPointer file(BIO_new_file(path.c_str(), "r"));
  KeyPointer key(file ? PEM_read_bio_PrivateKey(file.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) {
    return makeError("invalid", "cannot read the key " + path.string() + ": " + openSslText());
  }
  return key;
}

Result<IssuedFiles> writePair(X509* certificate, EVP_PKEY* key,
                              const std::filesystem::path& certificate_path,
                              const std::filesystem::path& key_path) {
  std::error_code error;
  if (std::filesystem::exists(certificate_path, error)) {
    return makeError("exists", certificate_path.string() +
                                   " already exists; it is never replaced (remove it and its key "
                                   "first if you really mean to)");
  }
  const std::string key_text = pemOf([&](BIO* bio) {
    return PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  });
  const std::string certificate_text =
      pemOf([&](BIO* bio) { return PEM_write_bio_X509(bio, certificate); });
  if (key_text.empty() || certificate_text.empty()) {
    return makeError("tls", "cannot encode the certificate: " + openSslText());
  }
  if (auto written = createFile(key_path, 0600, key_text); !written) return written.error();
  if (auto written = createFile(certificate_path, 0644, certificate_text); !written) {
    ::unlink(key_path.c_str());  // a key without its certificate is of no use to anyone
    return written.error();
  }
  return IssuedFiles{certificate_path, key_path, net::certificateSubject(certificate),
                     net::certificateFingerprint(certificate)};
}

Result<void> checkDays(int days) {
  if (days < 1 || days > kMaximumDays) {
    return makeError("invalid", "validity of " + std::to_string(days) + " days; use 1 to " +
                                    std::to_string(kMaximumDays));
  }
  return {};
}

bool isSelfIssued(X509* certificate) {
  return X509_check_issued(certificate, certificate) == X509_V_OK;
}

// "acme-ca" from "CN=Acme CA": a readable prefix for the trusted file's name.
std::string fileStem(const std::string& subject) {
  std::string stem;
  for (char c : subject) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (keep) {
      stem += asciiLower(c);
    } else if (!stem.empty() && stem.back() != '-') {
      stem += '-';
    }
    if (stem.size() >= 40) break;
  }
  while (!stem.empty() && stem.back() == '-') stem.pop_back();
  return stem.empty() ? "ca" : stem;
}

std::string commonName(X509* certificate) {
  const X509_NAME* subject = X509_get_subject_name(certificate);
  int position = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (position < 0) return {};
  const ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, position));
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                     static_cast<std::size_t>(ASN1_STRING_length(value)));
}

}  // namespace

std::string nameProblem(std::string_view name) {
  if (name.empty()) return "the name is empty";
  if (name.size() > 253) return "the name is longer than 253 characters";
  if (name.back() == '.') return "remove the trailing dot";
  for (std::string_view label : split(name, '.')) {
    if (label.empty()) return "the name has an empty label (two dots in a row, or a leading dot)";
    if (label.size() > 63) return "the name has a label longer than 63 characters";
    if (label.front() == '-' || label.back() == '-') {
      return "a label of the name starts or ends with a hyphen";
    }
    for (char c : label) {
      const bool valid =
          (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
      if (!valid) {
        return "the name contains '" + std::string(1, c) +
               "'; a host or domain name has only letters, digits, hyphens and dots";
      }
    }
  }
  return {};
}

Result<IssuedFiles> createAuthority(const PkiLayout& layout, const AuthorityOptions& options) {
  if (auto valid = checkDays(options.days); !valid) return valid.error();
  if (options.organization.empty() || options.organization.size() > 64) {
    return makeError("invalid", "the organization name must be 1 to 64 characters");
  }
  std::error_code error;
  if (std::filesystem::exists(layout.authorityKey(), error) ||
      std::filesystem::exists(layout.authorityCertificate(), error)) {
    return makeError("exists", "a CA already exists in " + layout.root.string() +
                                   "; it is never replaced (certificates it issued, and partners "
                                   "who trust it, depend on it)");
  }
  for (const auto& directory : {layout.root, layout.issuedDirectory(), layout.trustedDirectory()}) {
    if (auto made = createDirectory(directory); !made) return made.error();
  }
  KeyPointer key = generateKey(options.key_type);
  CertificatePointer certificate(X509_new());
  if (!key || !certificate) return makeError("tls", "cannot generate a key: " + openSslText());
  X509* ca = certificate.get();
  X509_NAME* name = X509_get_subject_name(ca);
  bool ok = X509_set_version(ca, 2) == 1 && setRandomSerial(ca) && setValidity(ca, options.days) &&
            X509_set_pubkey(ca, key.get()) == 1 && addNameEntry(name, "O", options.organization) &&
            addNameEntry(name, "CN", options.organization + " CA") &&
            X509_set_issuer_name(ca, name) == 1 &&
            // pathlen:0: this CA signs leaf certificates only, never another CA.
            addExtension(ca, nullptr, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") &&
            addExtension(ca, nullptr, NID_key_usage, "critical,keyCertSign,cRLSign") &&
            addExtension(ca, nullptr, NID_subject_key_identifier, "hash") &&
            X509_sign(ca, key.get(), EVP_sha256()) != 0;
  if (!ok) return makeError("tls", "cannot build the CA certificate: " + openSslText());
  return writePair(ca, key.get(), layout.authorityCertificate(), layout.authorityKey());
}

Result<IssuedFiles> issueCertificate(const PkiLayout& layout, std::string_view name, Usage usage,
                                     const IssueOptions& options) {
  if (std::string problem = nameProblem(name); !problem.empty()) {
    return makeError("invalid",
                     "\"" + std::string(name) + "\" is not a host or domain name: " + problem);
  }
  if (auto valid = checkDays(options.days); !valid) return valid.error();
  const std::string lowered = asciiLower(name);
  std::error_code error;
  if (!std::filesystem::exists(layout.authorityKey(), error)) {
    return makeError("missing", "no CA in " + layout.root.string() +
                                    "; create it first with: "
                                    "bulwark pki init");
  }
  auto ca_certificate = loadCertificate(layout.authorityCertificate());
  if (!ca_certificate) return ca_certificate.error();
  auto ca_key = loadKey(layout.authorityKey());
  if (!ca_key) return ca_key.error();
  if (X509_check_private_key(ca_certificate->get(), ca_key->get()) != 1) {
    net::drainOpenSslErrors();
    return makeError("invalid", layout.authorityKey().string() + " does not belong to " +
                                    layout.authorityCertificate().string());
  }
  if (auto made = createDirectory(layout.issuedDirectory()); !made) return made.error();

  KeyPointer key = generateKey(options.key_type);
  CertificatePointer certificate(X509_new());
  if (!key || !certificate) return makeError("tls", "cannot generate a key: " + openSslText());
  X509* leaf = certificate.get();
  X509* issuer = ca_certificate->get();
  const std::string alternative_name = "DNS:" + lowered;
  // RSA key exchange (TLS 1.2 without ECDHE) needs keyEncipherment; ECDSA keys never do that.
  const char* key_usage = options.key_type == KeyType::rsa_2048
                              ? "critical,digitalSignature,keyEncipherment"
                              : "critical,digitalSignature";
  // An MTA's server certificate is also what it shows when it connects out, so it carries both.
  const char* extended_usage = usage == Usage::server ? "serverAuth,clientAuth" : "clientAuth";
  bool ok = X509_set_version(leaf, 2) == 1 && setRandomSerial(leaf) &&
            setValidity(leaf, options.days) && X509_set_pubkey(leaf, key.get()) == 1 &&
            addNameEntry(X509_get_subject_name(leaf), "CN", lowered) &&
            X509_set_issuer_name(leaf, X509_get_subject_name(issuer)) == 1 &&
            addExtension(leaf, issuer, NID_basic_constraints, "critical,CA:FALSE") &&
            addExtension(leaf, issuer, NID_key_usage, key_usage) &&
            addExtension(leaf, issuer, NID_ext_key_usage, extended_usage) &&
            addExtension(leaf, issuer, NID_subject_alt_name, alternative_name.c_str()) &&
            addExtension(leaf, issuer, NID_subject_key_identifier, "hash") &&
            addExtension(leaf, issuer, NID_authority_key_identifier, "keyid:always") &&
            X509_sign(leaf, ca_key->get(), EVP_sha256()) != 0;
  if (!ok) return makeError("tls", "cannot build the certificate: " + openSslText());
  return writePair(leaf, key.get(), layout.issuedCertificate(lowered), layout.issuedKey(lowered));
}

Result<IssuedFiles> trustAuthority(const PkiLayout& layout, const std::filesystem::path& file) {
  auto text = readSmallFile(file);
  if (!text) return text.error();
  const std::string& content = *text;
  if (content.find("PRIVATE KEY-----") != std::string::npos) {
    return makeError("invalid", file.string() +
                                    " holds a private key; give the partner's CA certificate "
                                    "only (and tell them to keep their keys to themselves)");
  }
  BioPointer memory(BIO_new_mem_buf(content.data(), static_cast<int>(content.size())));
  CertificatePointer certificate(memory ? PEM_read_bio_X509(memory.get(), nullptr, nullptr, nullptr)
                                        : nullptr);
  if (!certificate) {
    net::drainOpenSslErrors();
    return makeError("invalid", file.string() +
                                    " is not a PEM certificate (expected \"-----BEGIN "
                                    "CERTIFICATE-----\"; convert DER with: openssl x509 -inform "
                                    "der -in FILE -out FILE.pem)");
  }
  CertificatePointer another(PEM_read_bio_X509(memory.get(), nullptr, nullptr, nullptr));
  net::drainOpenSslErrors();
  if (another) {
    return makeError("invalid", file.string() +
                                    " holds more than one certificate; give one CA certificate "
                                    "per file, and trust each root separately");
  }
  X509* candidate = certificate.get();
  const std::string subject = net::certificateSubject(candidate);
  // EXFLAG_CA is set only by basicConstraints CA:TRUE (X509_check_ca also counts old v1 roots).
  const std::uint32_t flags = X509_get_extension_flags(candidate);
  if ((flags & EXFLAG_CA) == 0) {
    return makeError("invalid", file.string() + " (" + subject +
                                    ") is not a CA certificate (no basicConstraints CA:TRUE); "
                                    "ask the partner for the certificate of the CA that issued "
                                    "their certificate, not their server certificate");
  }
  if ((flags & EXFLAG_KUSAGE) != 0 && (X509_get_key_usage(candidate) & KU_KEY_CERT_SIGN) == 0) {
    return makeError("invalid", file.string() + " (" + subject +
                                    ") may not sign certificates (keyUsage lacks keyCertSign)");
  }
  if (!isSelfIssued(candidate)) {
    return makeError("invalid", file.string() + " (" + subject +
                                    ") is an intermediate CA; trust the partner's root CA "
                                    "(self-signed) instead");
  }
  EVP_PKEY* public_key = X509_get0_pubkey(candidate);
  if (public_key == nullptr || X509_verify(candidate, public_key) != 1) {
    net::drainOpenSslErrors();
    return makeError("invalid", file.string() + " (" + subject +
                                    ") has a signature that does not verify with its own key");
  }
  if (X509_cmp_current_time(X509_get0_notAfter(candidate)) <= 0) {
    return makeError("invalid", file.string() + " (" + subject + ") expired on " +
                                    net::certificateNotAfter(candidate));
  }
  if (X509_cmp_current_time(X509_get0_notBefore(candidate)) >= 0) {
    return makeError("invalid", file.string() + " (" + subject + ") is not valid yet");
  }
  const std::string fingerprint = net::certificateFingerprint(candidate);
  for (const auto& existing : partnerTrustFiles(layout)) {
    auto loaded = loadCertificate(existing);
    if (loaded && net::certificateFingerprint(loaded->get()) == fingerprint) {
      return makeError("exists", subject + " is already trusted: " + existing.string());
    }
  }
  if (auto made = createDirectory(layout.trustedDirectory()); !made) return made.error();
  std::string stem = fileStem(commonName(candidate));
  std::string hex;
  for (char c : fingerprint.substr(0, 11)) {
    if (c != ':') hex += asciiLower(c);
  }
  const auto destination = layout.trustedDirectory() / (stem + "-" + hex + ".pem");
  // Written as we re-encode it, so text around the PEM block (which may be anything) is dropped.
  const std::string pem = pemOf([&](BIO* bio) { return PEM_write_bio_X509(bio, candidate); });
  if (pem.empty()) return makeError("tls", "cannot encode the certificate: " + openSslText());
  if (auto written = createFile(destination, 0644, pem); !written) return written.error();
  return IssuedFiles{destination, {}, subject, fingerprint};
}

std::vector<std::filesystem::path> partnerTrustFiles(const PkiLayout& layout) {
  std::vector<std::filesystem::path> files;
  std::error_code error;
  if (std::filesystem::exists(layout.authorityCertificate(), error)) {
    files.push_back(layout.authorityCertificate());
  }
  std::vector<std::filesystem::path> trusted;
  for (std::filesystem::directory_iterator entry(layout.trustedDirectory(), error), end;
       !error && entry != end; entry.increment(error)) {
    if (entry->path().extension() == ".pem" && entry->is_regular_file(error)) {
      trusted.push_back(entry->path());
    }
  }
  std::sort(trusted.begin(), trusted.end());
  files.insert(files.end(), trusted.begin(), trusted.end());
  return files;
}

Result<std::vector<CertificateSummary>> listCertificates(const PkiLayout& layout) {
  std::vector<CertificateSummary> summaries;
  auto describe = [&](const std::filesystem::path& path, std::string role) -> Result<void> {
    auto certificate = loadCertificate(path);
    if (!certificate) return certificate.error();
    X509* loaded = certificate->get();
    if (role.empty()) {
      // An issued certificate: serverAuth makes it a server certificate (see issueCertificate).
      const bool server = (X509_get_extension_flags(loaded) & EXFLAG_XKUSAGE) != 0 &&
                          (X509_get_extended_key_usage(loaded) & XKU_SSL_SERVER) != 0;
      role = server ? "server" : "client";
    }
    summaries.push_back(CertificateSummary{
        std::move(role), path, net::certificateSubject(loaded), net::certificateDomainNames(loaded),
        net::certificateNotAfter(loaded), net::certificateFingerprint(loaded)});
    return {};
  };
  std::error_code error;
  if (std::filesystem::exists(layout.authorityCertificate(), error)) {
    if (auto described = describe(layout.authorityCertificate(), "authority"); !described) {
      return described.error();
    }
  }
  std::vector<std::filesystem::path> issued;
  for (std::filesystem::directory_iterator entry(layout.issuedDirectory(), error), end;
       !error && entry != end; entry.increment(error)) {
    if (entry->path().extension() == ".pem") issued.push_back(entry->path());
  }
  std::sort(issued.begin(), issued.end());
  for (const auto& path : issued) {
    if (auto described = describe(path, ""); !described) return described.error();
  }
  for (const auto& path : partnerTrustFiles(layout)) {
    if (path == layout.authorityCertificate()) continue;
    if (auto described = describe(path, "trusted"); !described) return described.error();
  }
  return summaries;
}

}  // namespace bulwark::pki
