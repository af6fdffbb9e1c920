// DKIM signing (RFC 6376 5, RFC 8463 3) and the signing keys (DkimKey): RSA-SHA256 and
// Ed25519-SHA256, over-signing (RFC 6376 8.15), never l=. The message is our own outbound mail
// but may carry anything a sender wrote; key files are trusted operator data.
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <fstream>
#include <iterator>

#include "auth/dkim.h"
#include "auth/dkim_canonical.h"
#include "auth/dkim_syntax.h"
#include "common/strings.h"
#include "mime/header_fields.h"
#include "net/base64.h"

namespace bulwark::auth {
namespace {

struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct DigestContextFree {
  void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
};
struct KeyContextFree {
  void operator()(EVP_PKEY_CTX* context) const { EVP_PKEY_CTX_free(context); }
};
struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};

constexpr std::size_t kMaximumLine = 78;  // RFC 5322 2.1.1 "SHOULD be no more than 78"

// Field names compared without case; most pairs differ in length, decided without a call.
bool sameName(std::string_view left, std::string_view right) {
  return left.size() == right.size() && equalsIgnoreCase(left, right);
}

Result<void> checkNames(const std::string& domain, const std::string& selector) {
  if (!isDkimDomainName(domain, false)) {
    return makeError("syntax", "\"" + domain +
                                   "\" is not a domain name (letters, digits, '-', "
                                   "dot-separated)");
  }
  if (!isDkimDomainName(selector, false)) {
    return makeError("syntax", "\"" + selector +
                                   "\" is not a selector (letters, digits, '-', "
                                   "dot-separated)");
  }
  return {};
}

// Writes tags into a DKIM-Signature field folded at whitespace the tag syntax allows, so no
// line passes 78 columns (continuation lines start with one space).
class FoldedField {
 public:
  FoldedField() : text_("DKIM-Signature:"), column_(text_.size()) {
    text_.reserve(1024);  // a field with an RSA-2048 b= is about 700 bytes: no regrowth
  }

  // A tag that is never split (short values: v=, a=, d=, ...).
  void whole(std::string_view name, std::string_view value) {
    std::size_t width = name.size() + 1 + value.size() + 1;  // with its ';'
    if (column_ + 1 + width > kMaximumLine)
      newLine();
    else
      space();
    append(name);
    append("=");
    append(value);
    append(";");
  }

  // A tag whose value may be folded between `pieces` (h= at its colons), or anywhere when
  // `anywhere` (base64, RFC 6376 3.5 "b=": FWS may occur between any two characters).
  void folded(std::string_view name, const std::vector<std::string_view>& pieces, bool last,
              bool anywhere) {
    std::size_t width = name.size() + 2;  // name, '=' and ';'
    for (std::string_view piece : pieces) width += piece.size();
    // A value that fits on a line of its own is not split; others start where they are.
    bool fresh_line_fits = 1 + width <= kMaximumLine;
    if (column_ + 1 + width > kMaximumLine &&
        (fresh_line_fits || column_ + 3 + name.size() > kMaximumLine)) {
      newLine();
    } else {
      space();
    }
    append(name);
    append("=");
    for (std::string_view piece : pieces) {
      if (!anywhere) {
        // A field name is never split; a name too long for any line just runs over.
        if (column_ + piece.size() + 1 > kMaximumLine && column_ > 1) newLine();
        append(piece);
        continue;
      }
      while (!piece.empty()) {
        // Keeps a column for the ';'.
        std::size_t room = column_ + 1 >= kMaximumLine ? 0 : kMaximumLine - 1 - column_;
        if (room == 0) {
          newLine();
          continue;
        }
        std::size_t take = std::min(room, piece.size());
        append(piece.substr(0, take));
        piece.remove_prefix(take);
      }
    }
    if (!last) append(";");
  }

  void base64(std::string_view name, std::string_view value, bool last) {
    folded(name, {value}, last, true);
  }

  const std::string& text() const { return text_; }
  std::string release() { return std::move(text_); }

 private:
  void newLine() {
    text_ += "\r\n ";
    column_ = 1;
  }
  void space() { append(" "); }
  void append(std::string_view text) {
    text_.append(text);
    column_ += text.size();
  }
  std::string text_;
  std::size_t column_;
};

}  // namespace

struct DkimKey::Impl {
  std::string domain;
  std::string selector;
  DkimAlgorithm algorithm = DkimAlgorithm::rsa_sha256;
  std::unique_ptr<EVP_PKEY, KeyFree> key;
  // Made ready once (setting a context up costs about a hundredth of an RSA-2048 signature and a
  // tenth of an Ed25519 one in OpenSSL 3) and copied for each signature, so that the keyring's
  // keys sign on every thread at once.
  std::unique_ptr<EVP_PKEY_CTX, KeyContextFree> rsa_context;       // PKCS#1 v1.5, SHA-256
  std::unique_ptr<EVP_MD_CTX, DigestContextFree> ed25519_context;  // PureEdDSA

  // The contexts for `key`; an error only if OpenSSL fails.
  Result<void> prepare() {
    bool prepared = false;
    if (algorithm == DkimAlgorithm::ed25519_sha256) {
      ed25519_context.reset(EVP_MD_CTX_new());
      prepared = ed25519_context != nullptr &&
                 EVP_DigestSignInit(ed25519_context.get(), nullptr, nullptr, nullptr,
                                    key.get()) == 1;
    } else {
      rsa_context.reset(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
      const EVP_MD* digest = dkimDigest(false);
      prepared = rsa_context != nullptr && digest != nullptr &&
                 EVP_PKEY_sign_init(rsa_context.get()) == 1 &&
                 EVP_PKEY_CTX_set_rsa_padding(rsa_context.get(), RSA_PKCS1_PADDING) == 1 &&
                 EVP_PKEY_CTX_set_signature_md(rsa_context.get(), digest) == 1;
    }
    ERR_clear_error();
    if (!prepared) return makeError("crypto", "cannot prepare the key for signing");
    return {};
  }
};

Result<DkimKey> DkimKey::fromPem(std::string domain, std::string selector, std::string_view pem) {
  domain = asciiLower(domain);
  if (auto names = checkNames(domain, selector); !names) return names.error();
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (bio == nullptr) return makeError("crypto", "cannot read the key");
  // No password callback prompting on a terminal: an encrypted key is an error.
  auto no_password = [](char*, int, int, void*) -> int { return 0; };
  std::unique_ptr<EVP_PKEY, KeyFree> key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, no_password, nullptr));
  ERR_clear_error();
  if (key == nullptr) {
    return makeError("syntax", "not a PEM private key (PKCS#8 or RSA), or it is encrypted");
  }
  auto impl = std::make_shared<Impl>();
  switch (EVP_PKEY_get_base_id(key.get())) {
    case EVP_PKEY_RSA:
      if (EVP_PKEY_get_bits(key.get()) < 1024) {
        return makeError("weak", "RSA key of " + std::to_string(EVP_PKEY_get_bits(key.get())) +
                                     " bits; DKIM needs at least 1024 (RFC 8301 3.2)");
      }
      impl->algorithm = DkimAlgorithm::rsa_sha256;
      break;
    case EVP_PKEY_ED25519: impl->algorithm = DkimAlgorithm::ed25519_sha256; break;
    default: return makeError("unsupported", "DKIM keys are RSA or Ed25519");
  }
  impl->domain = std::move(domain);
  impl->selector = std::move(selector);
  impl->key = std::move(key);
  if (auto prepared = impl->prepare(); !prepared) return prepared.error();
  DkimKey result;
  result.impl_ = std::move(impl);
  return result;
}

Result<DkimKey> DkimKey::fromEd25519Seed(std::string domain, std::string selector,
                                         std::string_view seed) {
  domain = asciiLower(domain);
  if (auto names = checkNames(domain, selector); !names) return names.error();
  if (seed.size() != 32) return makeError("syntax", "an Ed25519 seed is 32 bytes");
  std::unique_ptr<EVP_PKEY, KeyFree> key(EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(seed.data()), seed.size()));
  ERR_clear_error();
  if (key == nullptr) return makeError("crypto", "cannot make an Ed25519 key from the seed");
  auto impl = std::make_shared<Impl>();
  impl->domain = std::move(domain);
  impl->selector = std::move(selector);
  impl->algorithm = DkimAlgorithm::ed25519_sha256;
  impl->key = std::move(key);
  if (auto prepared = impl->prepare(); !prepared) return prepared.error();
  DkimKey result;
  result.impl_ = std::move(impl);
  return result;
}

Result<DkimKey> DkimKey::load(std::string domain, std::string selector,
                              const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return makeError("io", "cannot read " + file.string());
  std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return makeError("io", "cannot read " + file.string());
  auto key = fromPem(std::move(domain), std::move(selector), pem);
  if (!key) return makeError(key.error().code, file.string() + ": " + key.error().message);
  return key;
}

Result<DkimKey> DkimKey::generate(std::string domain, std::string selector, DkimAlgorithm algorithm,
                                  unsigned rsa_bits) {
  domain = asciiLower(domain);
  if (auto names = checkNames(domain, selector); !names) return names.error();
  EVP_PKEY* generated = nullptr;
  if (algorithm == DkimAlgorithm::ed25519_sha256) {
    generated = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  } else if (algorithm == DkimAlgorithm::rsa_sha256) {
    if (rsa_bits < 1024 || rsa_bits > 8192) {
      return makeError("syntax", "RSA keys are 1024 to 8192 bits (RFC 8301 3.2)");
    }
    generated = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(rsa_bits));
  } else {
    return makeError("unsupported", "new keys are RSA-SHA256 or Ed25519-SHA256 (RFC 8301)");
  }
  ERR_clear_error();
  if (generated == nullptr) return makeError("crypto", "key generation failed");
  auto impl = std::make_shared<Impl>();
  impl->domain = std::move(domain);
  impl->selector = std::move(selector);
  impl->algorithm = algorithm;
  impl->key.reset(generated);
  if (auto prepared = impl->prepare(); !prepared) return prepared.error();
  DkimKey result;
  result.impl_ = std::move(impl);
  return result;
}

Result<std::string> DkimKey::privateKeyPem() const {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_PrivateKey(bio.get(), impl_->key.get(), nullptr, nullptr, 0,
                                                 nullptr, nullptr) != 1) {
    ERR_clear_error();
    return makeError("crypto", "cannot write the private key");
  }
  char* data = nullptr;
  long length = BIO_get_mem_data(bio.get(), &data);
  if (length <= 0 || data == nullptr) return makeError("crypto", "cannot write the private key");
  return std::string(data, static_cast<std::size_t>(length));
}

std::string DkimKey::zoneFileLine() const {
  constexpr std::size_t kStringLimit = 255;  // RFC 1035 3.3.14: <character-string>s of 255
  std::string record = dnsRecord();
  std::string line = impl_->selector + "._domainkey." + impl_->domain + ". IN TXT (";
  for (std::size_t offset = 0; offset < record.size(); offset += kStringLimit) {
    line += " \"" + record.substr(offset, kStringLimit) + "\"";
  }
  return line + " )";
}

DkimAlgorithm DkimKey::algorithm() const {
  return impl_->algorithm;
}
const std::string& DkimKey::domain() const {
  return impl_->domain;
}
const std::string& DkimKey::selector() const {
  return impl_->selector;
}

std::string DkimKey::dnsRecord() const {
  std::string public_key;
  if (impl_->algorithm == DkimAlgorithm::ed25519_sha256) {
    unsigned char raw[32];
    std::size_t length = sizeof raw;
    if (EVP_PKEY_get_raw_public_key(impl_->key.get(), raw, &length) == 1) {
      public_key.assign(reinterpret_cast<const char*>(raw), length);
    }
    ERR_clear_error();
    return "v=DKIM1; k=ed25519; p=" + net::base64Encode(public_key);
  }
  unsigned char* der = nullptr;
  int length = i2d_PUBKEY(impl_->key.get(), &der);
  if (length > 0) public_key.assign(reinterpret_cast<const char*>(der), length);
  OPENSSL_free(der);
  ERR_clear_error();
  return "v=DKIM1; k=rsa; p=" + net::base64Encode(public_key);
}

Result<std::string> DkimKey::signData(std::string_view data) const {
  // RSASSA-PKCS1-v1_5 signs the SHA-256 of the data; so does Ed25519 here (RFC 8463 3).
  unsigned char hash[EVP_MAX_MD_SIZE];
  unsigned int hash_length = 0;
  const EVP_MD* digest = dkimDigest(false);
  const int size = EVP_PKEY_get_size(impl_->key.get());
  if (digest == nullptr || size <= 0 ||
      EVP_Digest(data.data(), data.size(), hash, &hash_length, digest, nullptr) != 1) {
    ERR_clear_error();
    return makeError("crypto", "cannot start the DKIM signature");
  }
  std::string signature(static_cast<std::size_t>(size), '\0');
  auto* output = reinterpret_cast<unsigned char*>(signature.data());
  std::size_t length = signature.size();
  bool signed_data = false;
  if (impl_->algorithm == DkimAlgorithm::ed25519_sha256) {
    std::unique_ptr<EVP_MD_CTX, DigestContextFree> context(EVP_MD_CTX_new());
    signed_data = context != nullptr &&
                  EVP_MD_CTX_copy_ex(context.get(), impl_->ed25519_context.get()) == 1 &&
                  EVP_DigestSign(context.get(), output, &length, hash, hash_length) == 1;
  } else {
    std::unique_ptr<EVP_PKEY_CTX, KeyContextFree> context(
        EVP_PKEY_CTX_dup(impl_->rsa_context.get()));
    signed_data = context != nullptr &&
                  EVP_PKEY_sign(context.get(), output, &length, hash, hash_length) == 1;
  }
  if (!signed_data) {
    ERR_clear_error();
    return makeError("crypto", "cannot sign");
  }
  signature.resize(length);
  return signature;
}

Result<std::string> signDkim(std::string_view message, const DkimKey& key,
                             const DkimSignOptions& options) {
  const std::vector<mime::HeaderField> fields = mime::headerFields(message);
  // h=: every listed field as often as it occurs, the over-signed ones once more (RFC 6376
  // 8.15); From always, first.
  struct Listed {
    std::string name;  // lower-case
    bool oversigned = false;
    std::size_t occurrences = 0;
  };
  std::vector<Listed> listed;
  listed.reserve(1 + options.headers.size() + options.oversigned.size());
  auto list = [&listed](std::string_view name, bool oversigned) {
    for (Listed& seen : listed) {
      if (sameName(seen.name, name)) {
        seen.oversigned = seen.oversigned || oversigned;
        return;
      }
    }
    listed.push_back({asciiLower(name), oversigned, 0});
  };
  list("from", false);
  for (const auto& name : options.headers) list(name, false);
  for (const auto& name : options.oversigned) list(name, true);
  for (const auto& field : fields) {
    for (Listed& entry : listed) {
      if (sameName(entry.name, field.name)) ++entry.occurrences;
    }
  }
  if (listed.front().occurrences == 0) {
    return makeError("syntax", "the message has no From field");
  }
  std::vector<std::string_view> names;
  names.reserve(fields.size() + listed.size());
  for (const Listed& entry : listed) {
    const std::size_t count = entry.occurrences + (entry.oversigned ? 1 : 0);
    for (std::size_t index = 0; index < count; ++index) names.push_back(entry.name);
  }

  auto body_hash = hashBody(options.body_canonicalization,
                            message.substr(mime::bodyOffset(message)), false, std::nullopt);
  if (!body_hash) return body_hash.error();

  const auto timestamp =
      std::chrono::duration_cast<std::chrono::seconds>(options.now.time_since_epoch()).count();
  FoldedField field;
  field.whole("v", "1");
  field.whole("a", dkimAlgorithmName(key.algorithm()));
  field.whole("c", std::string(canonicalizationName(options.header_canonicalization)) + "/" +
                       std::string(canonicalizationName(options.body_canonicalization)));
  field.whole("d", key.domain());
  field.whole("s", key.selector());
  field.whole("t", std::to_string(timestamp));
  if (options.expiry.count() > 0) {
    field.whole("x", std::to_string(timestamp + options.expiry.count()));
  }
  // The h= pieces, each name with the ':' before it (a name is never folded).
  std::string joined;
  for (std::size_t index = 0; index < names.size(); ++index) {
    if (index > 0) joined += ':';
    joined += names[index];
  }
  std::vector<std::string_view> pieces;
  pieces.reserve(names.size());
  for (std::size_t index = 0, offset = 0; index < names.size(); ++index) {
    const std::size_t length = names[index].size() + (index > 0 ? 1 : 0);
    pieces.push_back(std::string_view(joined).substr(offset, length));
    offset += length;
  }
  field.folded("h", pieces, false, false);
  field.base64("bh", net::base64Encode(body_hash->digest), false);
  field.base64("b", "", true);  // the value is what is being computed: empty while hashing

  const std::vector<const mime::HeaderField*> selected = selectSignedFields(fields, names);
  std::string data;
  data.reserve(signedDataSize(selected, field.text()));
  for (const mime::HeaderField* signed_field : selected) {
    appendCanonicalHeader(options.header_canonicalization, *signed_field, data);
  }
  appendCanonicalSignatureField(options.header_canonicalization, field.text(), data);
  auto signature = key.signData(data);
  if (!signature) return signature.error();

  // The signed text ends in "b="; the value continues it, folded like bh=.
  std::string result = field.release();
  std::size_t column = result.size() - (result.rfind('\n') + 1);
  std::string encoded = net::base64Encode(*signature);
  result.reserve(result.size() + encoded.size() + 3 * (encoded.size() / 40 + 1) + 2);
  std::string_view rest = encoded;
  while (!rest.empty()) {
    std::size_t room = kMaximumLine > column ? kMaximumLine - column : 0;
    if (room == 0) {
      result += "\r\n ";
      column = 1;
      continue;
    }
    std::size_t take = std::min(room, rest.size());
    result.append(rest.substr(0, take));
    column += take;
    rest.remove_prefix(take);
  }
  result += "\r\n";
  return result;
}

}  // namespace bulwark::auth
