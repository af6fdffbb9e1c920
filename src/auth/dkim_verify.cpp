// DKIM verification (RFC 6376 6, with RFC 8301 and RFC 8463): every DKIM-Signature field of a
// message in header order, each to a DkimSignatureResult value. The message and the key records
// are untrusted; nothing here throws or copies the body (it is hashed in place, once per
// canonicalisation, l= and hash combination).
#include <optional>
#include <tuple>

#include "auth/dkim.h"
#include "auth/dkim_canonical.h"
#include "auth/dkim_key_record.h"
#include "auth/dkim_syntax.h"
#include "auth/tag_list.h"
#include "common/strings.h"
#include "mime/header_fields.h"
#include "net/base64.h"

namespace bulwark::auth {
namespace {

// What the tags of one DKIM-Signature say, checked (RFC 6376 3.5, 6.1.1).
struct SignatureTags {
  std::vector<Tag> tags;  // owns the text the views below point into
  DkimAlgorithm algorithm = DkimAlgorithm::rsa_sha256;
  Canonicalization header_canonicalization = Canonicalization::simple;
  Canonicalization body_canonicalization = Canonicalization::simple;
  std::vector<std::string_view> signed_fields;
  std::string body_hash;  // decoded bh=
  std::string signature;  // decoded b=
  std::optional<std::size_t> length;
};

struct BodyHashEntry {
  Canonicalization canonicalization;
  std::optional<std::size_t> length;
  bool sha1;
  BodyHash hash;
};

struct KeyEntry {
  std::string selector;
  std::string domain;
  DkimKeyLookup lookup;
};

// The state of one verifyDkim call: what several signatures can share.
struct Verification {
  dns::Resolver& resolver;
  std::string_view body;
  const std::vector<mime::HeaderField>& fields;
  const DkimVerifyOptions& options;
  std::vector<BodyHashEntry> body_hashes;
  std::vector<KeyEntry> keys;

  const BodyHash* bodyHash(Canonicalization canonicalization, std::optional<std::size_t> length,
                           bool sha1) {
    for (const auto& entry : body_hashes) {
      if (entry.canonicalization == canonicalization && entry.length == length &&
          entry.sha1 == sha1) {
        return &entry.hash;
      }
    }
    auto hashed = hashBody(canonicalization, body, sha1, length);
    if (!hashed) return nullptr;
    body_hashes.push_back({canonicalization, length, sha1, std::move(*hashed)});
    return &body_hashes.back().hash;
  }

  const DkimKeyLookup& key(const std::string& selector, const std::string& domain) {
    for (const auto& entry : keys) {
      if (entry.selector == selector && entry.domain == domain) return entry.lookup;
    }
    keys.push_back({selector, domain, lookupDkimKey(resolver, selector, domain)});
    return keys.back().lookup;
  }
};

// Parses and checks the tags; fills what the result reports (d=, s=, i=, a=, b= prefix) as it
// goes, so even a permerror names the signer where it can.
// The tags of RFC 6376 3.5 that verification reads, found in one pass over the list.
struct KnownTags {
  std::optional<std::string_view> v, a, b, bh, c, d, h, i, l, q, s, t, x;

  explicit KnownTags(const std::vector<Tag>& tags) {
    for (const Tag& tag : tags) {
      if (auto* found = slot(tag.name)) *found = tag.value;
    }
  }

  // Where the value of tag `name` goes; null for tags verification ignores.
  std::optional<std::string_view>* slot(std::string_view name) {
    if (name == "bh") return &bh;
    if (name.size() != 1) return nullptr;
    switch (name[0]) {
      case 'v': return &v;
      case 'a': return &a;
      case 'b': return &b;
      case 'c': return &c;
      case 'd': return &d;
      case 'h': return &h;
      case 'i': return &i;
      case 'l': return &l;
      case 'q': return &q;
      case 's': return &s;
      case 't': return &t;
      case 'x': return &x;
      default: return nullptr;
    }
  }
};

Result<SignatureTags> checkTags(std::string_view value, const DkimVerifyOptions& options,
                                DkimSignatureResult& result) {
  auto parsed = parseTagList(value);
  if (!parsed) return parsed.error();
  SignatureTags signature;
  signature.tags = std::move(*parsed);
  KnownTags tags(signature.tags);
  if (auto domain = tags.d) result.domain = asciiLower(*domain);
  if (auto selector = tags.s) result.selector = std::string(*selector);
  if (auto algorithm = tags.a) result.algorithm = std::string(*algorithm);
  if (auto b = tags.b) {
    for (char character : *b) {
      if (result.signature_prefix.size() == 8) break;
      if (character != ' ' && character != '\t' && character != '\r' && character != '\n')
        result.signature_prefix += character;
    }
  }

  auto version = tags.v;
  if (!version) return makeError("syntax", "no v= tag");
  if (*version != "1") return makeError("syntax", "v=" + std::string(*version) + " is not 1");
  for (const char* required : {"a", "b", "bh", "d", "h", "s"}) {
    if (!tags.slot(required)->has_value()) {
      return makeError("syntax", std::string("required tag ") + required + "= is missing");
    }
  }
  auto algorithm = dkimAlgorithmNamed(result.algorithm);
  if (!algorithm) return makeError("unsupported", "unknown algorithm " + result.algorithm);
  signature.algorithm = *algorithm;
  if (!isDkimDomainName(result.domain, true)) {
    return makeError("syntax", "d=" + result.domain + " is not a domain name");
  }
  if (!isDkimDomainName(result.selector, true)) {
    return makeError("syntax", "s=" + result.selector + " is not a selector");
  }
  if (auto canonicalization = tags.c) {
    auto parsed = parseCanonicalizationTag(*canonicalization);
    if (!parsed) return parsed.error();
    std::tie(signature.header_canonicalization, signature.body_canonicalization) = *parsed;
  }
  if (auto query = tags.q) {
    bool dns_txt = false;
    for (std::string_view method : split(*query, ':'))
      dns_txt = dns_txt || trim(method) == "dns/txt";
    if (!dns_txt) return makeError("unsupported", "q= does not offer dns/txt");
  }
  if (auto identity = tags.i) {
    auto decoded = decodeDkimQuotedPrintable(*identity);
    if (!decoded) return makeError("syntax", "i= is not dkim-quoted-printable");
    result.identity = std::move(*decoded);
  } else {
    result.identity = "@" + result.domain;
  }
  std::size_t at = result.identity.rfind('@');
  if (at == std::string::npos) return makeError("syntax", "i= has no @");
  std::string identity_domain = asciiLower(std::string_view(result.identity).substr(at + 1));
  if (identity_domain != result.domain && !identity_domain.ends_with("." + result.domain)) {
    return makeError("syntax", "i= domain is not d= or a subdomain of it");
  }
  for (std::string_view name : split(*tags.h, ':')) {
    name = trimFoldingWhitespace(name);
    if (name.empty()) return makeError("syntax", "h= has an empty field name");
    signature.signed_fields.push_back(name);
  }
  bool from_signed = false;
  for (std::string_view name : signature.signed_fields) {
    from_signed = from_signed || equalsIgnoreCase(name, "from");
  }
  if (!from_signed) return makeError("syntax", "h= does not include From");
  std::optional<std::uint64_t> timestamp;
  if (auto value = tags.t) {
    timestamp = parseDkimNumber(*value, 12);
    if (!timestamp) return makeError("syntax", "t= is not a number");
  }
  if (auto value = tags.x) {
    auto expiry = parseDkimNumber(*value, 12);
    if (!expiry) return makeError("syntax", "x= is not a number");
    if (timestamp && *expiry < *timestamp) return makeError("syntax", "x= is before t=");
    auto now =
        std::chrono::duration_cast<std::chrono::seconds>(options.now.time_since_epoch()).count();
    if (now > 0 && *expiry < static_cast<std::uint64_t>(now)) {
      return makeError("expired", "signature expired (x=" + std::string(*value) + ")");
    }
  }
  if (auto value = tags.l) {
    // More digits than size_t holds still means "longer than any body": saturate.
    auto length = parseDkimNumber(*value, 76);
    if (!length) return makeError("syntax", "l= is not a number");
    signature.length = static_cast<std::size_t>(
        std::min<std::uint64_t>(*length, std::numeric_limits<std::size_t>::max()));
  }
  std::string unfolded;
  auto body_hash = net::base64Decode(withoutWhitespace(*tags.bh, unfolded));
  auto signature_bytes = net::base64Decode(withoutWhitespace(*tags.b, unfolded));
  if (!body_hash) return makeError("syntax", "bh= is not base64");
  if (!signature_bytes) return makeError("syntax", "b= is not base64");
  signature.body_hash = std::move(*body_hash);
  signature.signature = std::move(*signature_bytes);
  return signature;
}

DkimSignatureResult verifyOne(Verification& verification, const mime::HeaderField& field) {
  DkimSignatureResult result;
  auto checked = checkTags(field.value, verification.options, result);
  if (!checked) {
    result.result = DkimResult::permerror;
    result.reason = checked.error().message;
    return result;
  }
  SignatureTags& signature = *checked;
  const bool sha1 = signature.algorithm == DkimAlgorithm::rsa_sha1;
  if (sha1 && !verification.options.accept_rsa_sha1) {
    result.result = DkimResult::policy;
    result.reason = "rsa-sha1 is not accepted (RFC 8301)";
    return result;
  }
  const DkimKeyLookup& lookup = verification.key(result.selector, result.domain);
  if (lookup.result != DkimResult::pass) {
    result.result = lookup.result;
    result.reason = lookup.reason;
    return result;
  }
  const DkimPublicKey& key = lookup.key;
  result.testing = key.testing;
  const bool ed25519 = signature.algorithm == DkimAlgorithm::ed25519_sha256;
  if ((key.type == DkimKeyType::ed25519) != ed25519) {
    result.result = DkimResult::permerror;
    result.reason = "key type does not match a=" + result.algorithm;
    return result;
  }
  if (!key.hashes.empty()) {
    const std::string_view hash = sha1 ? "sha1" : "sha256";
    bool allowed = false;
    for (const auto& listed : key.hashes) allowed = allowed || listed == hash;
    if (!allowed) {
      result.result = DkimResult::permerror;
      result.reason = "key record h= does not allow " + std::string(hash);
      return result;
    }
  }
  if (key.type == DkimKeyType::rsa && key.bits < verification.options.minimum_rsa_bits) {
    result.result = DkimResult::permerror;
    result.reason = "RSA key of " + std::to_string(key.bits) + " bits is too short (RFC 8301)";
    return result;
  }
  if (key.strict) {
    std::string_view identity_domain = result.identity;
    identity_domain.remove_prefix(identity_domain.rfind('@') + 1);
    if (!equalsIgnoreCase(identity_domain, result.domain)) {
      result.result = DkimResult::permerror;
      result.reason = "key record t=s requires i= in exactly d=";
      return result;
    }
  }
  const BodyHash* body_hash =
      verification.bodyHash(signature.body_canonicalization, signature.length, sha1);
  if (body_hash == nullptr) {
    result.result = DkimResult::temperror;
    result.reason = "body hash could not be computed";
    return result;
  }
  if (signature.length) {
    result.body_length_limited = true;
    if (*signature.length > body_hash->canonical_length) {
      result.result = DkimResult::fail;
      result.reason = "l= is longer than the body";
      return result;
    }
    result.unsigned_body_bytes = body_hash->canonical_length - *signature.length;
  }
  if (body_hash->digest != signature.body_hash) {
    result.result = DkimResult::fail;
    result.reason = "body hash did not verify";
    return result;
  }
  const std::vector<const mime::HeaderField*> selected =
      selectSignedFields(verification.fields, signature.signed_fields);
  std::string data;
  data.reserve(signedDataSize(selected, field.raw));
  for (const mime::HeaderField* signed_field : selected) {
    appendCanonicalHeader(signature.header_canonicalization, *signed_field, data);
  }
  appendCanonicalSignatureField(signature.header_canonicalization, field.raw, data);
  if (!verifyDkimSignatureData(key, sha1, data, signature.signature)) {
    result.result = DkimResult::fail;
    result.reason = "signature did not verify";
    return result;
  }
  result.result = DkimResult::pass;
  return result;
}

}  // namespace

std::string_view dkimResultName(DkimResult result) {
  switch (result) {
    case DkimResult::none: return "none";
    case DkimResult::pass: return "pass";
    case DkimResult::fail: return "fail";
    case DkimResult::policy: return "policy";
    case DkimResult::neutral: return "neutral";
    case DkimResult::temperror: return "temperror";
    case DkimResult::permerror: return "permerror";
  }
  return "none";
}

std::vector<DkimSignatureResult> verifyDkim(dns::Resolver& resolver, std::string_view message,
                                            const DkimVerifyOptions& options) {
  std::vector<mime::HeaderField> fields = mime::headerFields(message);
  Verification verification{
      resolver, message.substr(mime::bodyOffset(message)), fields, options, {}, {}};
  std::vector<DkimSignatureResult> results;
  for (const mime::HeaderField& field : fields) {
    if (!equalsIgnoreCase(field.name, "DKIM-Signature")) continue;
    if (results.size() >= options.max_signatures) {
      DkimSignatureResult beyond;
      beyond.result = DkimResult::permerror;
      beyond.reason = "more than " + std::to_string(options.max_signatures) +
                      " signatures; this one was not verified";
      results.push_back(std::move(beyond));
      continue;
    }
    results.push_back(verifyOne(verification, field));
  }
  return results;
}

}  // namespace bulwark::auth
