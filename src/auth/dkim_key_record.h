// DKIM public key records (RFC 6376 3.6.1, 3.6.2; RFC 8463 4; RFC 8301 3.2), their lookup at
// <selector>._domainkey.<domain> through dns::Resolver, and the signature check itself, shared by
// DKIM and ARC (RFC 8617 5.2). Records come from DNS: untrusted.
#pragma once

#include <openssl/types.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "auth/dkim.h"
#include "dns/resolver.h"

namespace bulwark::auth {

enum class DkimKeyType { rsa, ed25519 };

// OpenSSL contexts made ready once per key (setting one up costs about a fifth of an RSA-2048
// verification in OpenSSL 3). Each verification works on a copy, so one key serves every thread.
struct DkimVerifyContexts;

struct DkimPublicKey {
  DkimKeyType type = DkimKeyType::rsa;
  std::shared_ptr<EVP_PKEY> key;    // shared with the process-wide cache of parsed keys
  std::shared_ptr<const DkimVerifyContexts> contexts;  // for `key`; made on use when null
  unsigned bits = 0;                // RSA modulus size; 256 for Ed25519
  std::vector<std::string> hashes;  // h= of the record; empty: every hash
  bool testing = false;             // t=y
  bool strict = false;              // t=s: i= must be exactly d= (no subdomain)
};

// Parses one key record. Errors (each means permerror for the signature): v= other than DKIM1
// or not the first tag, unknown k=, p= missing, not base64 or not a key of type k=, the key
// revoked (empty p=, code "revoked"), a service type list without "email" or "*".
Result<DkimPublicKey> parseDkimKeyRecord(std::string_view record);

struct DkimKeyLookup {
  DkimResult result = DkimResult::none;  // pass: `key` is usable; else temperror or permerror
  std::string reason;
  DkimPublicKey key;
};

// Fetches and parses the key of `selector` at `domain`. Several records: the first that parses
// (RFC 6376 3.6.2.2 lets the verifier choose). DNS temporary or bogus: temperror; no such name
// or no TXT record: permerror "no key".
DkimKeyLookup lookupDkimKey(dns::Resolver& resolver, std::string_view selector,
                            std::string_view domain);

// Whether `signature` is `key`'s signature over `data`: RSASSA-PKCS1-v1_5 with SHA-256 (or SHA-1
// when `sha1`) of data, or Ed25519 over SHA-256 of data (RFC 8463 3). An OpenSSL failure counts
// as "does not verify"; its error queue is emptied.
bool verifyDkimSignatureData(const DkimPublicKey& key, bool sha1, std::string_view data,
                             std::string_view signature);

// Limit of the process-wide cache of parsed key records, looked up by the record's text (parsing
// a DER key costs about as much as one RSA verification in OpenSSL 3). Past it the cache starts
// again empty.
inline constexpr std::size_t kDkimKeyCacheEntries = 1024;

}  // namespace bulwark::auth
