// DKIM key records, their lookup, and signature checks; see dkim_key_record.h. RFC 6376 3.6,
// RFC 8463 3-4, RFC 8301 3.2. The records are untrusted DNS data.
#include "auth/dkim_key_record.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <map>
#include <mutex>

#include "auth/dkim_canonical.h"
#include "auth/dkim_syntax.h"
#include "auth/tag_list.h"
#include "common/strings.h"
#include "net/base64.h"

namespace bulwark::auth {
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

// Parsed keys by type and key bytes, so a busy domain's key is decoded once.
class ParsedKeyCache {
 public:
  std::shared_ptr<EVP_PKEY> find(const std::string& identity) {
    std::lock_guard lock(mutex_);
    auto found = keys_.find(identity);
    return found == keys_.end() ? nullptr : found->second;
  }
  void insert(const std::string& identity, std::shared_ptr<EVP_PKEY> key) {
    std::lock_guard lock(mutex_);
    if (keys_.size() >= kDkimKeyCacheEntries) keys_.clear();
    keys_.emplace(identity, std::move(key));
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<EVP_PKEY>> keys_;
};

ParsedKeyCache& parsedKeyCache() {
  static ParsedKeyCache cache;
  return cache;
}

}  // namespace

Result<DkimPublicKey> parseDkimKeyRecord(std::string_view record) {
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
  std::string cache_identity = std::string(key_type) + ":" + encoded;
  std::shared_ptr<EVP_PKEY> key = parsedKeyCache().find(cache_identity);
  if (key == nullptr) {
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
    key = std::shared_ptr<EVP_PKEY>(parsed, KeyFree{});
    parsedKeyCache().insert(cache_identity, key);
  }
  result.key = std::move(key);
  result.bits = static_cast<unsigned>(EVP_PKEY_get_bits(result.key.get()));
  return result;
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
  std::unique_ptr<EVP_MD_CTX, DigestContextFree> context(EVP_MD_CTX_new());
  if (context == nullptr || key.key == nullptr) return false;
  const auto* signature_bytes = reinterpret_cast<const unsigned char*>(signature.data());
  int verified = 0;
  if (key.type == DkimKeyType::rsa) {
    const EVP_MD* digest = dkimDigest(sha1);
    if (digest != nullptr &&
        EVP_DigestVerifyInit(context.get(), nullptr, digest, nullptr, key.key.get()) == 1) {
      verified = EVP_DigestVerify(context.get(), signature_bytes, signature.size(),
                                  reinterpret_cast<const unsigned char*>(data.data()), data.size());
    }
  } else {
    // RFC 8463 3: PureEdDSA over the SHA-256 of the data, not over the data.
    unsigned char hash[EVP_MAX_MD_SIZE];
    unsigned int hash_length = 0;
    const EVP_MD* digest = dkimDigest(false);
    if (digest != nullptr &&
        EVP_Digest(data.data(), data.size(), hash, &hash_length, digest, nullptr) == 1 &&
        EVP_DigestVerifyInit(context.get(), nullptr, nullptr, nullptr, key.key.get()) == 1) {
      verified =
          EVP_DigestVerify(context.get(), signature_bytes, signature.size(), hash, hash_length);
    }
  }
  ERR_clear_error();
  return verified == 1;
}

}  // namespace bulwark::auth
