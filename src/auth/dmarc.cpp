// DMARC records, policy discovery, alignment and the result (RFC 7489 3.1, 6.3, 6.6.2-6.6.4,
// np= from DMARCbis). Untrusted: every DNS answer and the identifiers in `DmarcInput`.
#include "auth/dmarc.h"

#include "auth/dkim_syntax.h"
#include "auth/idna.h"
#include "auth/tag_list.h"
#include "common/strings.h"

#include <random>

namespace bulwark::auth {
namespace {

std::optional<DmarcPolicy> policyFromText(std::string_view text) {
  std::string value = asciiLower(text);
  if (value == "none") return DmarcPolicy::none;
  if (value == "quarantine") return DmarcPolicy::quarantine;
  if (value == "reject") return DmarcPolicy::reject;
  return std::nullopt;
}

std::optional<unsigned> unsignedFromText(std::string_view text, unsigned maximum) {
  if (text.empty() || text.size() > 10) return std::nullopt;
  unsigned long long value = 0;
  for (char character : text) {
    if (character < '0' || character > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned>(character - '0');
  }
  if (value > maximum) return std::nullopt;
  return static_cast<unsigned>(value);
}

// dmarc-uri list (RFC 7489 6.4): URIs separated by commas, whitespace around them dropped.
std::vector<std::string> uriList(std::string_view text) {
  std::vector<std::string> uris;
  std::size_t position = 0;
  while (position <= text.size()) {
    std::size_t comma = text.find(',', position);
    if (comma == std::string_view::npos) comma = text.size();
    std::string uri;
    for (char character : text.substr(position, comma - position)) {
      if (!isSpaceOrTab(character)) uri += character;
    }
    if (!uri.empty()) uris.push_back(std::move(uri));
    position = comma + 1;
  }
  return uris;
}

// A URI with a scheme (RFC 3986 3.1) and something after it: what 6.6.3 calls "syntactically
// valid" enough to keep a record without p= for its reports.
bool isReportUri(std::string_view uri) {
  std::size_t colon = uri.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 >= uri.size()) return false;
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (!alpha(uri.front())) return false;
  for (char character : uri.substr(0, colon)) {
    if (!alpha(character) && !(character >= '0' && character <= '9') && character != '+' &&
        character != '-' && character != '.') {
      return false;
    }
  }
  return true;
}

// fo= (RFC 7489 6.3): options "0", "1", "d", "s" separated by colons.
bool isFailureOptions(std::string_view text) {
  if (text.empty()) return false;
  std::size_t position = 0;
  while (position <= text.size()) {
    std::size_t colon = text.find(':', position);
    if (colon == std::string_view::npos) colon = text.size();
    std::string option = asciiLower(trimFoldingWhitespace(text.substr(position, colon - position)));
    if (option != "0" && option != "1" && option != "d" && option != "s") return false;
    position = colon + 1;
  }
  return true;
}

// rf= (RFC 7489 6.3): report format keywords separated by colons.
bool isReportFormats(std::string_view text) {
  if (text.empty()) return false;
  std::size_t position = 0;
  while (position <= text.size()) {
    std::size_t colon = text.find(':', position);
    if (colon == std::string_view::npos) colon = text.size();
    std::string_view format = trimFoldingWhitespace(text.substr(position, colon - position));
    if (format.empty() || format.size() > 32) return false;
    for (char character : format) {
      if (!((character >= 'a' && character <= 'z') || (character >= 'A' && character <= 'Z') ||
            (character >= '0' && character <= '9') || character == '-')) {
        return false;
      }
    }
    position = colon + 1;
  }
  return true;
}

unsigned randomSample() {
  thread_local std::mt19937 generator{std::random_device{}()};
  return std::uniform_int_distribution<unsigned>(0, 99)(generator);
}

// RFC 7489 6.6.4: a message not sampled gets the next milder treatment.
DmarcPolicy milder(DmarcPolicy policy) {
  return policy == DmarcPolicy::reject ? DmarcPolicy::quarantine : DmarcPolicy::none;
}

struct Discovery {
  enum class State { found, absent, failed } state = State::absent;
  std::vector<std::string> records;  // the v=DMARC1 ones
  std::string reason;
};

Discovery discover(dns::Resolver& resolver, const std::string& domain) {
  Discovery discovery;
  dns::Answer<std::string> answer = resolver.txt("_dmarc." + domain);
  if (answer.status == dns::Status::temporary || answer.status == dns::Status::bogus) {
    discovery.state = Discovery::State::failed;
    discovery.reason = "DNS lookup of _dmarc." + domain + " failed: " + answer.reason;
    return discovery;
  }
  for (std::string& text : answer.records) {
    if (isDmarcRecord(text)) discovery.records.push_back(std::move(text));
  }
  discovery.state = discovery.records.empty() ? Discovery::State::absent : Discovery::State::found;
  return discovery;
}

// DMARCbis "non-existent": NXDOMAIN for A, AAAA and MX. A failed lookup proves nothing.
bool domainDoesNotExist(dns::Resolver& resolver, const std::string& domain) {
  if (resolver.addresses(domain).status != dns::Status::nxdomain) return false;
  return resolver.mx(domain).status == dns::Status::nxdomain;
}

std::optional<std::string> comparableDomain(std::string_view domain) {
  if (domain.ends_with('.')) domain.remove_suffix(1);
  return asciiDomain(domain);
}

}  // namespace

std::string_view dmarcPolicyName(DmarcPolicy policy) {
  switch (policy) {
    case DmarcPolicy::none: return "none";
    case DmarcPolicy::quarantine: return "quarantine";
    case DmarcPolicy::reject: return "reject";
  }
  return "none";
}

std::string_view dmarcResultName(DmarcResult result) {
  switch (result) {
    case DmarcResult::none: return "none";
    case DmarcResult::pass: return "pass";
    case DmarcResult::fail: return "fail";
    case DmarcResult::temperror: return "temperror";
    case DmarcResult::permerror: return "permerror";
  }
  return "none";
}

bool isDmarcRecord(std::string_view text) {
  std::size_t position = 0;
  auto skipWhitespace = [&] {
    while (position < text.size() && isSpaceOrTab(text[position])) ++position;
  };
  skipWhitespace();
  if (position >= text.size() || (text[position] != 'v' && text[position] != 'V')) return false;
  ++position;
  skipWhitespace();
  if (position >= text.size() || text[position] != '=') return false;
  ++position;
  skipWhitespace();
  if (text.substr(position, 6) != "DMARC1") return false;  // %x44 %x4d ...: case-sensitive
  position += 6;
  skipWhitespace();
  return position == text.size() || text[position] == ';';
}

Result<DmarcRecord> parseDmarcRecord(std::string_view text) {
  if (trimFoldingWhitespace(text).empty()) return makeError("syntax", "the DMARC record is empty");
  if (!isDmarcRecord(text)) return makeError("syntax", "the record does not start with v=DMARC1");
  DmarcRecord record;
  std::optional<DmarcPolicy> policy;
  std::string policy_problem = "p= is missing";
  bool subdomain_policy_invalid = false;
  std::vector<std::string> seen;
  std::size_t position = text.find(';');
  while (position != std::string_view::npos && position < text.size()) {
    std::size_t end = text.find(';', position + 1);
    std::string_view spec = trimFoldingWhitespace(text.substr(
        position + 1, end == std::string_view::npos ? std::string_view::npos : end - position - 1));
    position = end;
    if (spec.empty()) continue;  // ";;" and a trailing ';' carry nothing
    Result<std::vector<Tag>> tags = parseTagList(spec);
    if (!tags || tags->size() != 1) {
      record.ignored.push_back("\"" + std::string(spec) + "\" is not a tag");
      continue;
    }
    std::string name = asciiLower(tags->front().name);
    const std::string& value = tags->front().value;
    for (const std::string& earlier : seen) {
      if (earlier == name) return makeError("syntax", "tag " + name + "= appears twice");
    }
    seen.push_back(name);
    auto ignore = [&] { record.ignored.push_back(name + "=" + value + " is not valid"); };
    if (name == "v") {
      return makeError("syntax", "tag v= appears twice");
    } else if (name == "p") {
      policy = policyFromText(value);
      if (!policy) policy_problem = "p=" + value + " is not none, quarantine or reject";
    } else if (name == "sp") {
      record.subdomain_policy = policyFromText(value);
      subdomain_policy_invalid = !record.subdomain_policy;
    } else if (name == "np") {
      record.nonexistent_subdomain_policy = policyFromText(value);
      if (!record.nonexistent_subdomain_policy) ignore();
    } else if (name == "adkim" || name == "aspf") {
      std::string mode = asciiLower(value);
      if (mode == "s" || mode == "r") {
        (name == "adkim" ? record.strict_dkim : record.strict_spf) = mode == "s";
      } else {
        ignore();
      }
    } else if (name == "pct") {
      if (std::optional<unsigned> percent = unsignedFromText(value, 100)) {
        record.percent = *percent;
      } else {
        ignore();
      }
    } else if (name == "ri") {
      if (std::optional<unsigned> interval = unsignedFromText(value, 0xffffffffu)) {
        record.report_interval = *interval;
      } else {
        ignore();
      }
    } else if (name == "rua") {
      record.aggregate_addresses = uriList(value);
    } else if (name == "ruf") {
      record.failure_addresses = uriList(value);
    } else if (name == "fo") {
      if (isFailureOptions(value)) {
        record.failure_options = withoutWhitespace(value);
      } else {
        ignore();
      }
    } else if (name == "rf") {
      if (!isReportFormats(value)) ignore();
    }
  }
  if (policy && !subdomain_policy_invalid) {
    record.policy = *policy;
    return record;
  }
  if (subdomain_policy_invalid) policy_problem = "sp= is not none, quarantine or reject";
  // RFC 7489 6.6.3: without a valid p= (or with an invalid sp=), a valid rua= keeps the record
  // as "v=DMARC1; p=none" so that reports still flow; otherwise the record is discarded.
  for (const std::string& uri : record.aggregate_addresses) {
    if (isReportUri(uri)) {
      DmarcRecord fallback;
      fallback.aggregate_addresses = std::move(record.aggregate_addresses);
      fallback.ignored = std::move(record.ignored);
      fallback.ignored.push_back(policy_problem + "; read as p=none because rua= is valid");
      return fallback;
    }
  }
  return makeError("syntax", policy_problem);
}

bool domainsAligned(const PublicSuffixList& suffixes, std::string_view author_domain,
                    std::string_view other_domain, bool strict) {
  std::optional<std::string> author = comparableDomain(author_domain);
  std::optional<std::string> other = comparableDomain(other_domain);
  if (!author || !other) return false;
  if (*author == *other) return true;
  if (strict) return false;
  std::string author_organization = suffixes.organizationalDomain(*author);
  return !author_organization.empty() &&
         author_organization == suffixes.organizationalDomain(*other);
}

DmarcOutcome evaluateDmarc(dns::Resolver& resolver, const PublicSuffixList& suffixes,
                           const DmarcInput& input, const DmarcOptions& options) {
  DmarcOutcome outcome;
  if (input.author.status != AuthorDomain::Status::single) {
    outcome.result = DmarcResult::permerror;
    outcome.policy = DmarcPolicy::reject;
    outcome.disposition = DmarcPolicy::reject;
    outcome.reason = input.author.reason.empty() ? "no single author domain" : input.author.reason;
    return outcome;
  }
  std::optional<std::string> domain = comparableDomain(input.author.domain);
  if (!domain) {
    outcome.result = DmarcResult::permerror;
    outcome.policy = outcome.disposition = DmarcPolicy::reject;
    outcome.reason = "\"" + input.author.domain + "\" is not a domain name";
    return outcome;
  }
  outcome.domain = *domain;
  outcome.organizational_domain = suffixes.organizationalDomain(*domain);

  // Policy discovery, RFC 7489 6.6.3.
  Discovery discovery = discover(resolver, *domain);
  outcome.record_domain = *domain;
  if (discovery.state == Discovery::State::absent && outcome.organizational_domain != *domain &&
      !outcome.organizational_domain.empty()) {
    discovery = discover(resolver, outcome.organizational_domain);
    outcome.record_domain = outcome.organizational_domain;
  }
  if (discovery.state == Discovery::State::failed) {
    outcome.result = DmarcResult::temperror;
    outcome.reason = std::move(discovery.reason);
    return outcome;
  }
  if (discovery.records.size() != 1) {
    outcome.reason = discovery.records.empty()
                         ? "no DMARC record"
                         : std::to_string(discovery.records.size()) + " DMARC records at _dmarc." +
                               outcome.record_domain;
    outcome.record_domain.clear();
    return outcome;
  }
  Result<DmarcRecord> record = parseDmarcRecord(discovery.records.front());
  if (!record) {
    outcome.reason = "the DMARC record at _dmarc." + outcome.record_domain +
                     " is discarded: " + record.error().message;
    outcome.record_domain.clear();
    return outcome;
  }
  outcome.record = std::move(*record);
  const DmarcRecord& policy_record = *outcome.record;

  outcome.policy = policy_record.policy;
  if (outcome.record_domain != *domain) {
    outcome.policy = policy_record.subdomain_policy.value_or(policy_record.policy);
    if (policy_record.nonexistent_subdomain_policy && domainDoesNotExist(resolver, *domain)) {
      outcome.policy = *policy_record.nonexistent_subdomain_policy;
    }
  }

  // Identifier alignment, RFC 7489 3.1 and 4.2: SPF only when it passed, DKIM any passing
  // signature.
  outcome.spf_aligned =
      input.spf == SpfResult::pass &&
      domainsAligned(suffixes, *domain, input.spf_domain, policy_record.strict_spf);
  for (const DkimSignatureResult& signature : input.dkim) {
    if (signature.result != DkimResult::pass) continue;
    if (domainsAligned(suffixes, *domain, signature.domain, policy_record.strict_dkim)) {
      outcome.dkim_aligned = true;
      outcome.dkim_domain = signature.domain;
      break;
    }
    if (outcome.dkim_domain.empty()) outcome.dkim_domain = signature.domain;
  }

  if (outcome.spf_aligned || outcome.dkim_aligned) {
    outcome.result = DmarcResult::pass;
    return outcome;
  }
  outcome.result = DmarcResult::fail;
  outcome.reason = "no aligned identifier passed";
  // Message sampling, RFC 7489 6.6.4.
  bool sampled = policy_record.percent >= 100 ||
                 (policy_record.percent > 0 &&
                  (options.sample ? options.sample() : randomSample()) < policy_record.percent);
  outcome.disposition = sampled ? outcome.policy : milder(outcome.policy);
  return outcome;
}

}  // namespace bulwark::auth
