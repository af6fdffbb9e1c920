// ARC, RFC 8617: chain validation (5.2) and sealing (5.1); see arc.h. The message and the key
// records are untrusted; every check is a value (none / pass / fail with a reason), never a throw.
// Limits: ArcVerifyOptions::max_instances sets (RFC 8617 5.2 step 1), header fields as DKIM.
#include "auth/arc.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <map>
#include <optional>
#include <tuple>

#include "auth/dkim_canonical.h"
#include "auth/dkim_key_record.h"
#include "auth/dkim_syntax.h"
#include "auth/tag_list.h"
#include "common/strings.h"
#include "mime/header_fields.h"
#include "net/base64.h"

namespace bulwark::auth {
namespace {

constexpr std::string_view kSealName = "ARC-Seal";
constexpr std::string_view kSignatureName = "ARC-Message-Signature";
constexpr std::string_view kResultsName = "ARC-Authentication-Results";

// An instance value (RFC 8617 4.2.1): decimal digits, not zero; nullopt when malformed. The
// caller compares it with the limit.
std::optional<unsigned> parseInstance(std::string_view text) {
  text = trimFoldingWhitespace(text);
  if (text.empty() || text.size() > 9) return std::nullopt;
  unsigned value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value == 0) return std::nullopt;
  return value;
}

// The i= that starts an ARC-Authentication-Results value: "i=" instance ";" with optional
// whitespace around each part (RFC 8617 4.1.1 arc-info). Anything else is no instance.
std::optional<unsigned> resultsInstance(std::string_view value) {
  value = trimFoldingWhitespace(value);
  if (value.empty() || value.front() != 'i') return std::nullopt;
  value = trimFoldingWhitespace(value.substr(1));
  if (value.empty() || value.front() != '=') return std::nullopt;
  std::size_t semicolon = value.find(';');
  if (semicolon == std::string_view::npos) return std::nullopt;
  return parseInstance(value.substr(1, semicolon - 1));
}

// d= and s= as DKIM has them (RFC 6376 3.5); underscores are common in selectors.
bool isDomainName(std::string_view name) {
  return isDkimDomainName(name, true);
}

bool isDigits(std::string_view text) {
  return parseDkimNumber(text, 20).has_value();
}

// One ARC set as found in the header: its three fields and the parsed tags of the two
// signatures.
struct ArcSet {
  const mime::HeaderField* results = nullptr;
  const mime::HeaderField* signature = nullptr;
  const mime::HeaderField* seal = nullptr;
  std::vector<Tag> signature_tags;
  std::vector<Tag> seal_tags;
};

// The chain as collected (RFC 8617 5.2 steps 1-3), or the reason it is structurally broken.
struct CollectedChain {
  std::vector<ArcSet> sets;  // index = instance; [0] unused
  std::string broken;        // non-empty: the chain fails for this reason
};

// Steps 1 to 3 of RFC 8617 5.2: collect the ARC sets, stop at a newest cv=fail, then check the
// structure (1..N each exactly once, all three fields, cv= none for 1 and pass after).
CollectedChain collectChain(const std::vector<mime::HeaderField>& fields, unsigned max_instances) {
  CollectedChain chain;
  std::map<unsigned, ArcSet> found;
  auto fail = [&chain](std::string reason) {
    chain.broken = std::move(reason);
    return chain;
  };
  for (const mime::HeaderField& field : fields) {
    const bool seal = equalsIgnoreCase(field.name, kSealName);
    const bool signature = equalsIgnoreCase(field.name, kSignatureName);
    const bool results = equalsIgnoreCase(field.name, kResultsName);
    if (!seal && !signature && !results) continue;
    std::optional<unsigned> instance;
    std::vector<Tag> tags;
    if (results) {
      instance = resultsInstance(field.value);
      if (!instance) return fail(std::string(kResultsName) + " does not start with i=N;");
    } else {
      auto parsed = parseTagList(field.value);
      if (!parsed) return fail(std::string(field.name) + ": " + parsed.error().message);
      tags = std::move(*parsed);
      auto value = findTag(tags, "i");
      if (!value) return fail(std::string(field.name) + " has no i= tag");
      instance = parseInstance(*value);
      if (!instance) return fail(std::string(field.name) + " has an invalid i= value");
    }
    if (*instance > max_instances) {
      return fail("instance " + std::to_string(*instance) + " is beyond the limit of " +
                  std::to_string(max_instances) + " ARC sets");
    }
    ArcSet& set = found[*instance];
    const mime::HeaderField*& slot = seal ? set.seal : signature ? set.signature : set.results;
    if (slot != nullptr) {
      return fail("two " + std::string(field.name) + " fields with i=" + std::to_string(*instance));
    }
    slot = &field;
    if (seal) set.seal_tags = std::move(tags);
    if (signature) set.signature_tags = std::move(tags);
  }
  if (found.empty()) return chain;
  const unsigned newest = found.rbegin()->first;
  // Step 2: a chain its newest sealer already declared failed stays failed.
  if (const ArcSet& last = found.rbegin()->second; last.seal != nullptr) {
    auto cv = findTag(last.seal_tags, "cv");
    if (cv && *cv == "fail") return fail("the newest ARC-Seal says cv=fail");
  }
  if (found.size() != newest)
    return fail("the ARC set instances are not 1.." + std::to_string(newest) + " without gaps");
  chain.sets.resize(newest + 1);
  for (auto& [instance, set] : found) {
    const std::string where = " for i=" + std::to_string(instance);
    if (set.results == nullptr) return fail("no " + std::string(kResultsName) + where);
    if (set.signature == nullptr) return fail("no " + std::string(kSignatureName) + where);
    if (set.seal == nullptr) return fail("no " + std::string(kSealName) + where);
    auto cv = findTag(set.seal_tags, "cv");
    const std::string_view expected = instance == 1 ? "none" : "pass";
    if (!cv || *cv != expected) {
      return fail("ARC-Seal" + where + " must say cv=" + std::string(expected));
    }
    chain.sets[instance] = std::move(set);
  }
  return chain;
}

// a= of an ARC signature: the DKIM algorithms of RFC 8463 / RFC 8301 that are not deprecated
// (RFC 8617 4.1.2 and 4.1.3 use DKIM's a=; rsa-sha1 has been unacceptable since RFC 8301).
std::optional<DkimAlgorithm> signatureAlgorithm(std::string_view name) {
  auto algorithm = dkimAlgorithmNamed(name);
  if (algorithm == DkimAlgorithm::rsa_sha1) return std::nullopt;
  return algorithm;
}

std::optional<std::string> decodeBase64(std::string_view text) {
  return net::base64Decode(withoutWhitespace(text));
}

// Everything one validation needs more than once: the header, the body hashes per
// canonicalisation, the keys per selector and domain.
class Validator {
 public:
  Validator(dns::Resolver& resolver, std::string_view message, const ArcVerifyOptions& options)
      : resolver_(resolver),
        options_(options),
        fields_(mime::headerFields(message)),
        body_(message.substr(mime::bodyOffset(message))) {}

  const std::vector<mime::HeaderField>& fields() const { return fields_; }

  // RFC 8617 4.1.2 / 5.2 step 4: the ARC-Message-Signature of `set` verifies. An empty string
  // means it does; otherwise why not.
  std::string verifySignature(const ArcSet& set) {
    const std::vector<Tag>& tags = set.signature_tags;
    for (std::string_view required : {"a", "b", "bh", "d", "h", "s"}) {
      if (!findTag(tags, required)) {
        return "ARC-Message-Signature has no " + std::string(required) + "= tag";
      }
    }
    auto algorithm = signatureAlgorithm(*findTag(tags, "a"));
    if (!algorithm) return "ARC-Message-Signature a= is not an accepted algorithm";
    Canonicalization header_canonicalization = Canonicalization::simple;
    Canonicalization body_canonicalization = Canonicalization::simple;
    if (auto c = findTag(tags, "c")) {
      auto parsed = parseCanonicalizationTag(*c);
      if (!parsed) return "ARC-Message-Signature c= is not valid";
      std::tie(header_canonicalization, body_canonicalization) = *parsed;
    }
    if (auto t = findTag(tags, "t"); t && !isDigits(*t)) {
      return "ARC-Message-Signature t= is not a number";
    }
    // DKIM's x= (RFC 6376 3.5), which the AMS inherits (RFC 8617 4.1.2).
    if (auto x = findTag(tags, "x")) {
      auto expiry = parseDkimNumber(*x, 20);
      if (!expiry) return "ARC-Message-Signature x= is not a number";
      const auto now =
          std::chrono::duration_cast<std::chrono::seconds>(options_.now.time_since_epoch()).count();
      if (now > 0 && *expiry < static_cast<std::uint64_t>(now)) {
        return "ARC-Message-Signature has expired (x=)";
      }
    }
    const std::string_view domain = *findTag(tags, "d");
    const std::string_view selector = *findTag(tags, "s");
    if (!isDomainName(domain)) return "ARC-Message-Signature d= is not a domain name";
    if (!isDomainName(selector)) return "ARC-Message-Signature s= is not a selector";
    std::vector<std::string_view> names;
    std::string_view list = *findTag(tags, "h");
    while (!trimFoldingWhitespace(list).empty()) {
      std::size_t colon = list.find(':');
      std::string_view name = trimFoldingWhitespace(list.substr(0, colon));
      if (name.empty()) return "ARC-Message-Signature h= has an empty field name";
      // RFC 8617 4.1.2: the seals are not signed by the AMS; a signature over one is invalid.
      if (equalsIgnoreCase(name, kSealName)) return "ARC-Message-Signature h= names ARC-Seal";
      names.push_back(name);
      if (colon == std::string_view::npos) break;
      list.remove_prefix(colon + 1);
    }
    std::optional<std::size_t> length;
    if (auto l = findTag(tags, "l")) {
      auto parsed = parseDkimNumber(*l, 20);  // saturates: a huge l= is longer than any body
      if (!parsed) return "ARC-Message-Signature l= is not a number";
      length = static_cast<std::size_t>(
          std::min<std::uint64_t>(*parsed, std::numeric_limits<std::size_t>::max() - 1));
    }
    auto expected_body_hash = decodeBase64(*findTag(tags, "bh"));
    if (!expected_body_hash || expected_body_hash->empty()) {
      return "ARC-Message-Signature bh= is not base64";
    }
    auto signature = decodeBase64(*findTag(tags, "b"));
    if (!signature || signature->empty()) return "ARC-Message-Signature b= is not base64";

    auto body_hash = bodyHash(body_canonicalization, length);
    if (!body_hash) return body_hash.error().message;
    if (*body_hash != *expected_body_hash) return "ARC-Message-Signature body hash did not verify";

    std::string data;
    for (const mime::HeaderField* field : selectSignedFields(fields_, names)) {
      appendCanonicalHeader(header_canonicalization, *field, data);
    }
    appendCanonicalSignatureField(header_canonicalization, set.signature->raw, data);
    return verifyWithKey(*algorithm, domain, selector, data, *signature, "ARC-Message-Signature");
  }

  // RFC 8617 4.1.3 / 5.2 step 7: the ARC-Seal of instance `instance` verifies over the ARC sets
  // 1..instance, relaxed, in the order AAR, AMS, AS, its own b= empty.
  std::string verifySeal(const std::vector<ArcSet>& sets, unsigned instance) {
    const ArcSet& set = sets[instance];
    const std::vector<Tag>& tags = set.seal_tags;
    for (std::string_view required : {"a", "b", "d", "s"}) {
      if (!findTag(tags, required)) return "ARC-Seal has no " + std::string(required) + "= tag";
    }
    // RFC 8617 4.1.3: the seal covers ARC fields only, so an h= tag means it is malformed.
    if (findTag(tags, "h")) return "ARC-Seal has an h= tag";
    auto algorithm = signatureAlgorithm(*findTag(tags, "a"));
    if (!algorithm) return "ARC-Seal a= is not an accepted algorithm";
    if (auto t = findTag(tags, "t"); t && !isDigits(*t)) return "ARC-Seal t= is not a number";
    const std::string_view domain = *findTag(tags, "d");
    const std::string_view selector = *findTag(tags, "s");
    if (!isDomainName(domain)) return "ARC-Seal d= is not a domain name";
    if (!isDomainName(selector)) return "ARC-Seal s= is not a selector";
    auto signature = decodeBase64(*findTag(tags, "b"));
    if (!signature || signature->empty()) return "ARC-Seal b= is not base64";
    std::string data;
    for (unsigned index = 1; index <= instance; ++index) {
      appendCanonicalHeader(Canonicalization::relaxed, *sets[index].results, data);
      appendCanonicalHeader(Canonicalization::relaxed, *sets[index].signature, data);
      if (index < instance)
        appendCanonicalHeader(Canonicalization::relaxed, *sets[index].seal, data);
    }
    appendCanonicalSignatureField(Canonicalization::relaxed, set.seal->raw, data);
    return verifyWithKey(*algorithm, domain, selector, data, *signature, "ARC-Seal");
  }

 private:
  Result<std::string> bodyHash(Canonicalization canonicalization,
                               std::optional<std::size_t> length) {
    const auto key = std::make_pair(canonicalization, length.value_or(SIZE_MAX));
    if (auto cached = body_hashes_.find(key); cached != body_hashes_.end()) return cached->second;
    auto hashed = hashBody(canonicalization, body_, false, length);
    if (!hashed) return hashed.error();
    if (length && *length > hashed->canonical_length) {
      return makeError("syntax", "ARC-Message-Signature l= is longer than the body");
    }
    body_hashes_.emplace(key, hashed->digest);
    return hashed->digest;
  }

  std::string verifyWithKey(DkimAlgorithm algorithm, std::string_view domain,
                            std::string_view selector, std::string_view data,
                            std::string_view signature, std::string_view what) {
    const std::string name = asciiLower(selector) + "._domainkey." + asciiLower(domain);
    auto cached = keys_.find(name);
    if (cached == keys_.end()) {
      cached = keys_.emplace(name, lookupDkimKey(resolver_, selector, domain)).first;
    }
    const DkimKeyLookup& lookup = cached->second;
    // ARC has no temperror (RFC 8617 4.4): a key that cannot be fetched now fails the chain.
    if (lookup.result != DkimResult::pass) {
      return std::string(what) + ": key " + name + ": " + lookup.reason;
    }
    const DkimPublicKey& key = lookup.key;
    const DkimKeyType wanted =
        algorithm == DkimAlgorithm::ed25519_sha256 ? DkimKeyType::ed25519 : DkimKeyType::rsa;
    if (key.type != wanted) {
      return std::string(what) + ": the key at " + name + " does not match a=";
    }
    if (key.type == DkimKeyType::rsa && key.bits < options_.minimum_rsa_bits) {
      return std::string(what) + ": the key at " + name + " has " + std::to_string(key.bits) +
             " bits, under the minimum of " + std::to_string(options_.minimum_rsa_bits);
    }
    if (!key.hashes.empty() &&
        std::find(key.hashes.begin(), key.hashes.end(), "sha256") == key.hashes.end()) {
      return std::string(what) + ": the key at " + name + " does not allow sha256 (h=)";
    }
    if (!verifyDkimSignatureData(key, false, data, signature)) {
      return std::string(what) + " signature did not verify";
    }
    return {};
  }

  dns::Resolver& resolver_;
  const ArcVerifyOptions& options_;
  std::vector<mime::HeaderField> fields_;
  std::string_view body_;
  std::map<std::pair<Canonicalization, std::size_t>, std::string> body_hashes_;
  std::map<std::string, DkimKeyLookup> keys_;
};

// A tag list as the ValiMail suite's standard form has it (and RFC 8617 allows): "; " between
// tags, folded with CRLF TAB only between tags, never inside a value, so relaxed
// canonicalisation sees exactly "name=value; name=value" whatever the folding.
std::string renderField(std::string_view name, const std::vector<Tag>& tags) {
  std::string field(name);
  field += ':';
  std::size_t line_length = field.size();
  for (std::size_t index = 0; index < tags.size(); ++index) {
    std::string item = tags[index].name + "=" + tags[index].value;
    if (index + 1 < tags.size()) item += ';';
    if (index > 0 && line_length + 1 + item.size() > 78) {
      field += "\r\n\t";
      line_length = 1;
    } else {
      field += ' ';
      line_length += 1;
    }
    field += item;
    line_length += item.size();
  }
  field += "\r\n";
  return field;
}

// RFC 8617 5.1 steps 2-3 look at what is in the message, whatever a validation concluded: the
// highest instance of any ARC field (even of a broken chain) and whether the newest seal says
// cv=fail.
struct ExistingChain {
  unsigned highest_instance = 0;
  bool newest_seal_failed = false;
};

ExistingChain scanExistingChain(const std::vector<mime::HeaderField>& fields) {
  ExistingChain existing;
  unsigned newest_seal = 0;
  for (const mime::HeaderField& field : fields) {
    std::optional<unsigned> instance;
    std::optional<std::string> cv;
    if (equalsIgnoreCase(field.name, kResultsName)) {
      instance = resultsInstance(field.value);
    } else if (equalsIgnoreCase(field.name, kSealName) ||
               equalsIgnoreCase(field.name, kSignatureName)) {
      auto tags = parseTagList(field.value);
      if (!tags) continue;
      if (auto value = findTag(*tags, "i")) instance = parseInstance(*value);
      if (auto value = findTag(*tags, "cv")) cv = std::string(*value);
      if (instance && equalsIgnoreCase(field.name, kSealName) && *instance >= newest_seal) {
        existing.newest_seal_failed =
            (*instance == newest_seal && existing.newest_seal_failed) || cv == "fail";
        newest_seal = *instance;
      }
    }
    if (instance) existing.highest_instance = std::max(existing.highest_instance, *instance);
  }
  return existing;
}

// The text after "authserv-id;" must stay inside the field: every line break continues it.
bool staysInField(std::string_view text) {
  for (std::size_t index = 0; index < text.size(); ++index) {
    if (text[index] == '\r' && (index + 1 >= text.size() || text[index + 1] != '\n')) return false;
    if (text[index] == '\n') {
      if (index == 0 || text[index - 1] != '\r') return false;
      if (index + 1 >= text.size() || (text[index + 1] != ' ' && text[index + 1] != '\t')) {
        return false;
      }
    }
  }
  return true;
}

}  // namespace

std::string_view arcResultName(ArcResult result) {
  switch (result) {
    case ArcResult::none: return "none";
    case ArcResult::pass: return "pass";
    case ArcResult::fail: return "fail";
  }
  return "none";
}

ArcValidation validateArc(dns::Resolver& resolver, std::string_view message,
                          const ArcVerifyOptions& options) {
  ArcValidation validation;
  Validator validator(resolver, message, options);
  CollectedChain chain = collectChain(validator.fields(), options.max_instances);
  auto fail = [&validation](std::string reason) {
    validation.result = ArcResult::fail;
    validation.reason = std::move(reason);
    return validation;
  };
  if (!chain.broken.empty()) return fail(chain.broken);
  if (chain.sets.empty()) return validation;  // no ARC fields: none

  const unsigned newest = static_cast<unsigned>(chain.sets.size() - 1);
  validation.instances = newest;
  for (unsigned instance = newest; instance >= 1; --instance) {
    validation.sealers.push_back(
        asciiLower(findTag(chain.sets[instance].seal_tags, "d").value_or(std::string_view())));
  }
  // Step 4: the newest message signature must verify.
  if (std::string problem = validator.verifySignature(chain.sets[newest]); !problem.empty()) {
    return fail("i=" + std::to_string(newest) + ": " + problem);
  }
  // Steps 5-6: the oldest instance from which every message signature still verifies.
  for (unsigned instance = newest - 1; instance >= 1; --instance) {
    if (!validator.verifySignature(chain.sets[instance]).empty()) {
      validation.oldest_pass = static_cast<int>(instance + 1);
      break;
    }
  }
  // Step 7: every seal, newest first.
  for (unsigned instance = newest; instance >= 1; --instance) {
    if (std::string problem = validator.verifySeal(chain.sets, instance); !problem.empty()) {
      return fail("i=" + std::to_string(instance) + ": " + problem);
    }
  }
  validation.result = ArcResult::pass;
  return validation;
}

}  // namespace bulwark::auth

namespace bulwark::auth {

Result<std::string> sealArc(std::string_view message, const ArcValidation& validation,
                            const DkimKey& key, const ArcSealOptions& options) {
  const std::vector<mime::HeaderField> fields = mime::headerFields(message);
  const ExistingChain existing = scanExistingChain(fields);
  // RFC 8617 5.1 step 2: once a sealer said cv=fail, nobody adds to the chain.
  if (existing.newest_seal_failed) return std::string();
  if (existing.highest_instance >= options.max_instances) {
    return makeError("limit",
                     "the message already has " + std::to_string(existing.highest_instance) +
                         " ARC sets, the limit is " + std::to_string(options.max_instances));
  }
  if (options.authserv_id.empty() || !isDomainName(options.authserv_id)) {
    return makeError("config",
                     "the ARC authserv-id \"" + options.authserv_id + "\" is not a host name");
  }
  if (!staysInField(options.authentication_results)) {
    return makeError("syntax",
                     "the results for ARC-Authentication-Results contain a line break "
                     "that would end the field");
  }
  const unsigned instance = existing.highest_instance + 1;
  // A chain this validation did not see pass (or saw with another length) is sealed as failed.
  std::string cv = "none";
  if (instance > 1) {
    cv = validation.result == ArcResult::pass && validation.instances == instance - 1 ? "pass"
                                                                                      : "fail";
  }
  const std::string instance_text = std::to_string(instance);
  const std::string timestamp = std::to_string(
      std::chrono::duration_cast<std::chrono::seconds>(options.now.time_since_epoch()).count());
  const std::string algorithm(dkimAlgorithmName(key.algorithm()));

  std::string_view payload = trimFoldingWhitespace(options.authentication_results);
  std::string results = std::string(kResultsName) + ": i=" + instance_text + "; " +
                        options.authserv_id + "; " +
                        (payload.empty() ? std::string("none") : std::string(payload)) + "\r\n";

  // The AMS: a DKIM signature over `headers` (each present instance, bottom-up) and the body,
  // relaxed/relaxed, no l= (RFC 8617 4.1.2).
  std::vector<std::string> names;
  for (const std::string& wanted : options.headers) {
    if (equalsIgnoreCase(wanted, kSealName)) continue;  // never signed by an AMS (4.1.2)
    const auto occurrences = std::count_if(fields.begin(), fields.end(), [&](const auto& field) {
      return equalsIgnoreCase(field.name, wanted);
    });
    for (long count = 0; count < occurrences; ++count) names.push_back(asciiLower(wanted));
  }
  std::string header_list;
  for (const std::string& name : names) header_list += (header_list.empty() ? "" : ":") + name;
  auto body_hash = hashBody(Canonicalization::relaxed, message.substr(mime::bodyOffset(message)),
                            false, std::nullopt);
  if (!body_hash) return body_hash.error();
  std::vector<Tag> signature_tags = {{"a", algorithm},
                                     {"b", ""},
                                     {"bh", net::base64Encode(body_hash->digest)},
                                     {"c", "relaxed/relaxed"},
                                     {"d", key.domain()},
                                     {"h", header_list},
                                     {"i", instance_text},
                                     {"s", key.selector()},
                                     {"t", timestamp}};
  std::string signed_data;
  const std::vector<std::string_view> name_views(names.begin(), names.end());
  for (const mime::HeaderField* field : selectSignedFields(fields, name_views)) {
    appendCanonicalHeader(Canonicalization::relaxed, *field, signed_data);
  }
  appendCanonicalSignatureField(Canonicalization::relaxed,
                                renderField(kSignatureName, signature_tags), signed_data);
  auto signature = key.signData(signed_data);
  if (!signature) return signature.error();
  signature_tags[1].value = net::base64Encode(*signature);
  const std::string message_signature = renderField(kSignatureName, signature_tags);

  // The AS: over every ARC set in instance order, or only the new one when the chain failed
  // (RFC 8617 5.1.1, 5.1.2).
  std::vector<Tag> seal_tags = {
      {"a", algorithm},      {"b", ""},       {"cv", cv}, {"d", key.domain()}, {"i", instance_text},
      {"s", key.selector()}, {"t", timestamp}};
  std::string sealed_data;
  if (cv == "pass") {
    CollectedChain chain = collectChain(fields, options.max_instances);
    if (!chain.broken.empty() || chain.sets.size() != instance) {
      return makeError("syntax",
                       "the ARC chain to seal with cv=pass is not intact: " + chain.broken);
    }
    for (unsigned index = 1; index < instance; ++index) {
      appendCanonicalHeader(Canonicalization::relaxed, *chain.sets[index].results, sealed_data);
      appendCanonicalHeader(Canonicalization::relaxed, *chain.sets[index].signature, sealed_data);
      appendCanonicalHeader(Canonicalization::relaxed, *chain.sets[index].seal, sealed_data);
    }
  }
  const std::string new_set = results + message_signature;
  for (const mime::HeaderField& field : mime::headerFields(new_set)) {
    appendCanonicalHeader(Canonicalization::relaxed, field, sealed_data);
  }
  appendCanonicalSignatureField(Canonicalization::relaxed, renderField(kSealName, seal_tags),
                                sealed_data);
  auto seal = key.signData(sealed_data);
  if (!seal) return seal.error();
  seal_tags[1].value = net::base64Encode(*seal);
  return renderField(kSealName, seal_tags) + message_signature + results;
}

}  // namespace bulwark::auth
