// DKIM key records, their lookup, and signature checks; see dkim_key_record.h. RFC 6376 3.6,
// RFC 8463 3-4, RFC 8301 3.2. The records are untrusted DNS data.
#include "auth/dkim_key_record.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <map>
#include <mutex>

#include "auth/dkim_canonical.h"
#include "auth/dkim_syntax.h"
#include "auth/tag_list.h"
#include "common/strings.h"
#include "net/base64.h"

namespace bulwark::auth {

struct DkimVerifyContexts {
  // RSASSA-PKCS1-v1_5 verification with SHA-256, and with SHA-1 (null if OpenSSL refuses it).
  std::unique_ptr<EVP_PKEY_CTX, void (*)(EVP_PKEY_CTX*)> rsa_sha256{nullptr, EVP_PKEY_CTX_free};
  std::unique_ptr<EVP_PKEY_CTX, void (*)(EVP_PKEY_CTX*)> rsa_sha1{nullptr, EVP_PKEY_CTX_free};
  // Ed25519 (PureEdDSA) verification.
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ed25519{nullptr, EVP_MD_CTX_free};
};

namespace {

// Colon-separated lists of the key record (h=, s=, t=), each item trimmed.
std::vector<std::string> colonList(std::string_view value) {
  std::vector<std::string> items;
  for (std::string_view item : split(value, ':')) {
    item = trimFoldingWhitespace(item);
    if (!item.empty()) items.emplace_back(item);
  }
  return items;
}

struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct DigestContextFree {
  void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
};
struct KeyContextFree {
  void operator()(EVP_PKEY_CTX* context) const { EVP_PKEY_CTX_free(context); }
};

// DER of an RSA key: SubjectPublicKeyInfo, as RFC 6376 3.6.1 means in practice, or the bare
// RSAPublicKey (PKCS#1) that some publish.
EVP_PKEY* rsaKeyFromDer(const std::string& der) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(der.data());
  const unsigned char* cursor = bytes;
  EVP_PKEY* key = d2i_PUBKEY(nullptr, &cursor, static_cast<long>(der.size()));
  if (key != nullptr && EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
    EVP_PKEY_free(key);
    return nullptr;
  }
  if (key == nullptr) {
    cursor = bytes;
    key = d2i_PublicKey(EVP_PKEY_RSA, nullptr, &cursor, static_cast<long>(der.size()));
  }
  return key;
}

// Parsed records by their text, so a busy domain's record is parsed and its key decoded once.
class ParsedKeyCache {
 public:
  std::shared_ptr<const DkimPublicKey> find(std::string_view record) {
    std::lock_guard lock(mutex_);
    auto found = keys_.find(record);
    return found == keys_.end() ? nullptr : found->second;
  }
  void insert(std::string_view record, std::shared_ptr<const DkimPublicKey> key) {
    std::lock_guard lock(mutex_);
    if (keys_.size() >= kDkimKeyCacheEntries) keys_.clear();
    keys_.emplace(std::string(record), std::move(key));
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const DkimPublicKey>, std::less<>> keys_;
};

ParsedKeyCache& parsedKeyCache() {
  static ParsedKeyCache cache;
  return cache;
}

// The contexts for `key`, or null if OpenSSL cannot make them (then nothing verifies). RSA-SHA1
// may be refused by the OpenSSL configuration: then only rsa-sha1 signatures fail.
std::shared_ptr<const DkimVerifyContexts> prepareContexts(DkimKeyType type, EVP_PKEY* key) {
  auto contexts = std::make_shared<DkimVerifyContexts>();
  bool prepared = false;
  if (type == DkimKeyType::rsa) {
    auto rsaContext = [key](bool sha1) -> EVP_PKEY_CTX* {
      std::unique_ptr<EVP_PKEY_CTX, KeyContextFree> context(
          EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
      const EVP_MD* digest = dkimDigest(sha1);
      if (context == nullptr || digest == nullptr || EVP_PKEY_verify_init(context.get()) != 1 ||
          EVP_PKEY_CTX_set_rsa_padding(context.get(), RSA_PKCS1_PADDING) != 1 ||
          EVP_PKEY_CTX_set_signature_md(context.get(), digest) != 1) {
        return nullptr;
      }
      return context.release();
    };
    contexts->rsa_sha256.reset(rsaContext(false));
    contexts->rsa_sha1.reset(rsaContext(true));
    prepared = contexts->rsa_sha256 != nullptr;
  } else {
    contexts->ed25519.reset(EVP_MD_CTX_new());
    prepared = contexts->ed25519 != nullptr &&
               EVP_DigestVerifyInit(contexts->ed25519.get(), nullptr, nullptr, nullptr, key) == 1;
  }
  ERR_clear_error();
  return prepared ? contexts : nullptr;
}

Result<DkimPublicKey> parseUncached(std::string_view record) {
  auto tags = parseTagList(record);
  if (!tags) return makeError("syntax", "key record: " + tags.error().message);
  if (auto version = findTag(*tags, "v")) {
    if (*version != "DKIM1") return makeError("syntax", "key record v= is not DKIM1");
    if (tags->front().name != "v") {
      return makeError("syntax", "key record v= is not the first tag");
    }
  }
  DkimPublicKey result;
  std::string_view key_type = findTag(*tags, "k").value_or("rsa");
  if (key_type == "rsa") {
    result.type = DkimKeyType::rsa;
  } else if (key_type == "ed25519") {
    result.type = DkimKeyType::ed25519;
  } else {
    return makeError("unsupported", "key record k=" + std::string(key_type) + " is not known");
  }
  if (auto hashes = findTag(*tags, "h")) result.hashes = colonList(*hashes);
  if (auto services = findTag(*tags, "s")) {
    bool email = false;
    for (const auto& service : colonList(*services))
      email = email || service == "*" || service == "email";
    if (!email) return makeError("unsupported", "key record s= does not include email");
  }
  if (auto flags = findTag(*tags, "t")) {
    for (const auto& flag : colonList(*flags)) {
      if (flag == "y") result.testing = true;
      if (flag == "s") result.strict = true;
    }
  }
  auto public_key = findTag(*tags, "p");
  if (!public_key) return makeError("syntax", "key record has no p=");
  std::string encoded = withoutWhitespace(*public_key);
  if (encoded.empty()) return makeError("revoked", "key revoked (empty p=)");
  auto der = net::base64Decode(encoded);
  if (!der) return makeError("syntax", "key record p= is not base64");
  EVP_PKEY* parsed = nullptr;
  if (result.type == DkimKeyType::rsa) {
    parsed = rsaKeyFromDer(*der);
  } else if (der->size() == 32) {
    parsed = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                         reinterpret_cast<const unsigned char*>(der->data()),
                                         der->size());
  }
  ERR_clear_error();
  if (parsed == nullptr) {
    return makeError("syntax", "key record p= is not a valid " + std::string(key_type) + " key");
  }
  result.key = std::shared_ptr<EVP_PKEY>(parsed, KeyFree{});
  result.bits = static_cast<unsigned>(EVP_PKEY_get_bits(parsed));
  result.contexts = prepareContexts(result.type, parsed);
  return result;
}

bool verifyWith(const DkimVerifyContexts& contexts, DkimKeyType type, bool sha1,
                std::string_view data, std::string_view signature) {
  // RFC 8463 3: Ed25519 is PureEdDSA over the SHA-256 of the data; RSA signs its digest.
  unsigned char hash[EVP_MAX_MD_SIZE];
  unsigned int hash_length = 0;
  const EVP_MD* digest = dkimDigest(type == DkimKeyType::rsa && sha1);
  if (digest == nullptr ||
      EVP_Digest(data.data(), data.size(), hash, &hash_length, digest, nullptr) != 1) {
    return false;
  }
  const auto* signature_bytes = reinterpret_cast<const unsigned char*>(signature.data());
  if (type == DkimKeyType::rsa) {
    EVP_PKEY_CTX* prepared = sha1 ? contexts.rsa_sha1.get() : contexts.rsa_sha256.get();
    if (prepared == nullptr) return false;
    std::unique_ptr<EVP_PKEY_CTX, KeyContextFree> context(EVP_PKEY_CTX_dup(prepared));
    return context != nullptr && EVP_PKEY_verify(context.get(), signature_bytes, signature.size(),
                                                 hash, hash_length) == 1;
  }
  std::unique_ptr<EVP_MD_CTX, DigestContextFree> context(EVP_MD_CTX_new());
  return context != nullptr && contexts.ed25519 != nullptr &&
         EVP_MD_CTX_copy_ex(context.get(), contexts.ed25519.get()) == 1 &&
         EVP_DigestVerify(context.get(), signature_bytes, signature.size(), hash, hash_length) ==
             1;
}

}  // namespace

Result<DkimPublicKey> parseDkimKeyRecord(std::string_view record) {
  if (auto cached = parsedKeyCache().find(record)) return *cached;
  auto parsed = parseUncached(record);
  if (parsed) parsedKeyCache().insert(record, std::make_shared<const DkimPublicKey>(*parsed));
  return parsed;
}

DkimKeyLookup lookupDkimKey(dns::Resolver& resolver, std::string_view selector,
                            std::string_view domain) {
  DkimKeyLookup lookup;
  std::string name = std::string(selector) + "._domainkey." + std::string(domain);
  dns::Answer<std::string> answer = resolver.txt(name);
  if (answer.status == dns::Status::temporary || answer.status == dns::Status::bogus) {
    lookup.result = DkimResult::temperror;
    lookup.reason = "key lookup failed for " + name + ": " + answer.reason;
    return lookup;
  }
  if (answer.status != dns::Status::ok || answer.records.empty()) {
    lookup.result = DkimResult::permerror;
    lookup.reason = "no key at " + name;
    return lookup;
  }
  std::string first_error;
  for (const std::string& record : answer.records) {
    auto parsed = parseDkimKeyRecord(record);
    if (parsed) {
      lookup.result = DkimResult::pass;
      lookup.key = std::move(*parsed);
      return lookup;
    }
    if (first_error.empty()) first_error = parsed.error().message;
  }
  lookup.result = DkimResult::permerror;
  lookup.reason = first_error + " (" + name + ")";
  return lookup;
}

bool verifyDkimSignatureData(const DkimPublicKey& key, bool sha1, std::string_view data,
                             std::string_view signature) {
  if (key.key == nullptr) return false;
  std::shared_ptr<const DkimVerifyContexts> contexts = key.contexts;
  if (contexts == nullptr) contexts = prepareContexts(key.type, key.key.get());
  const bool verified =
      contexts != nullptr && verifyWith(*contexts, key.type, sha1, data, signature);
  ERR_clear_error();
  return verified;
}

}  // namespace bulwark::auth
