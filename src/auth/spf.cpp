// SPF check_host() (RFC 7208 4-6) over dns::Resolver: mechanisms evaluated in order with the DNS
// lookup limits of 4.6.4, include/redirect recursion, explanations (6.2) and the HELO and
// MAIL FROM identities (2.3, 2.4). Untrusted: the client's HELO, MAIL FROM and address text, and
// every DNS answer. Results are values: DNS trouble is temperror, policy trouble permerror.
#include "auth/spf.h"

#include <arpa/inet.h>

#include <algorithm>
#include <ctime>
#include <optional>

#include "auth/spf_record.h"
#include "common/strings.h"
#include "net/cidr.h"

namespace bulwark::auth {
namespace {

using spf::MacroContext;
using spf::Mechanism;
using spf::MechanismKind;

using Address = std::array<std::uint8_t, 16>;

bool isIpv4Mapped(const Address& address) {
  return std::all_of(address.begin(), address.begin() + 10, [](auto byte) { return byte == 0; }) &&
         address[10] == 0xff && address[11] == 0xff;
}

SpfResult resultOf(spf::Qualifier qualifier) {
  switch (qualifier) {
    case spf::Qualifier::pass: return SpfResult::pass;
    case spf::Qualifier::fail: return SpfResult::fail;
    case spf::Qualifier::softfail: return SpfResult::softfail;
    case spf::Qualifier::neutral: return SpfResult::neutral;
  }
  return SpfResult::neutral;
}

bool isTemporary(dns::Status status) {
  return status == dns::Status::temporary || status == dns::Status::bogus;
}

// What one record (or a term inside it) decided.
struct Verdict {
  SpfResult result = SpfResult::neutral;
  std::string mechanism;
  std::string explanation;
  std::string problem;
};

Verdict errorVerdict(SpfResult result, std::string problem) {
  Verdict verdict;
  verdict.result = result;
  verdict.problem = std::move(problem);
  return verdict;
}

// Whether a mechanism matched, or an error that ends the evaluation.
struct Match {
  bool matched = false;
  std::optional<Verdict> error;
};

class Evaluation {
 public:
  Evaluation(dns::Resolver& resolver, const SpfRequest& request, const SpfLimits& limits,
             const Address& client, std::string_view sender, std::string_view localPart,
             std::string_view senderDomain)
      : resolver_(resolver), limits_(limits), client_(client) {
    ipv4_ = isIpv4Mapped(client);
    values_.sender = sender;
    values_.local_part = localPart;
    values_.sender_domain = senderDomain;
    values_.helo = request.helo;
    values_.receiver = request.receiver;
    values_.ipv6 = !ipv4_;
    values_.timestamp = request.timestamp != 0 ? request.timestamp : std::time(nullptr);
    char text[INET6_ADDRSTRLEN] = {};
    if (ipv4_) {
      for (int index = 12; index < 16; ++index) {
        if (index != 12) values_.dotted_address += '.';
        values_.dotted_address += std::to_string(client[index]);
      }
      values_.readable_address = values_.dotted_address;
    } else {
      static constexpr char hexDigits[] = "0123456789ABCDEF";
      for (int index = 0; index < 16; ++index) {
        if (index != 0) values_.dotted_address += '.';
        values_.dotted_address += hexDigits[client[index] >> 4];
        values_.dotted_address += '.';
        values_.dotted_address += hexDigits[client[index] & 0x0f];
      }
      if (inet_ntop(AF_INET6, client.data(), text, sizeof text) != nullptr) {
        values_.readable_address = text;
      }
    }
    values_.validated_domain = [this] { return validatedDomain(); };
  }

  // check_host() for `domain`: the record's verdict, or `none` when it has no SPF record.
  Verdict checkHost(std::string_view domain) {
    // dns_mechanisms bounds the nesting already; this guards the stack when a caller raises it.
    if (nesting_ > limits_.nesting) {
      return errorVerdict(SpfResult::permerror, "include/redirect nested more than " +
                                                    std::to_string(limits_.nesting) + " deep");
    }
    ++nesting_;
    Verdict verdict = lookUpAndEvaluate(domain);
    --nesting_;
    return verdict;
  }

 private:
  Verdict lookUpAndEvaluate(std::string_view domain) {
    const std::string currentDomain = asciiLower(stripDot(domain));
    auto txt = resolver_.txt(currentDomain);
    if (isTemporary(txt.status)) {
      return errorVerdict(SpfResult::temperror, "DNS error looking up the SPF record of " +
                                                    currentDomain + ": " + txt.reason);
    }
    if (txt.status != dns::Status::ok) {
      return errorVerdict(SpfResult::none, "no SPF record at " + currentDomain);
    }
    auto selected = spf::selectRecords(txt.records);
    if (selected.empty()) return errorVerdict(SpfResult::none, "no SPF record at " + currentDomain);
    if (selected.size() > 1) {
      return errorVerdict(SpfResult::permerror,
                          "more than one SPF record at " + currentDomain + " (RFC 7208 4.5)");
    }
    auto record = spf::parseRecord(selected.front());
    if (!record) {
      return errorVerdict(SpfResult::permerror,
                          "SPF record of " + currentDomain + ": " + record.error().message);
    }
    return evaluate(*record, currentDomain);
  }

  static std::string_view stripDot(std::string_view name) {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    return name;
  }

  Verdict evaluate(const spf::Record& record, const std::string& domain) {
    // The macros of this record see its own domain as %{d}; restored for the caller's record.
    const std::string_view outerDomain = values_.domain;
    values_.domain = domain;
    Verdict verdict = evaluateTerms(record, domain);
    values_.domain = outerDomain;
    return verdict;
  }

  Verdict evaluateTerms(const spf::Record& record, const std::string& domain) {
    for (const Mechanism& mechanism : record.mechanisms) {
      Match match = evaluateMechanism(mechanism, domain);
      if (match.error) {
        if (match.error->mechanism.empty()) match.error->mechanism = std::string(mechanism.term);
        return *match.error;
      }
      if (!match.matched) continue;
      Verdict verdict;
      verdict.result = resultOf(mechanism.qualifier);
      verdict.mechanism = std::string(mechanism.term);
      if (verdict.result == SpfResult::fail && record.explanation) {
        verdict.explanation = explanation(*record.explanation);
      }
      return verdict;
    }
    if (record.redirect && !record.has_all) {
      if (auto limited = countDnsTerm()) return *limited;
      auto target = expandDomain(*record.redirect);
      if (!target) {
        return errorVerdict(SpfResult::permerror, "redirect=: " + target.error().message);
      }
      if (!spf::isQueryableName(*target)) {
        return errorVerdict(SpfResult::permerror, "redirect= to a malformed name: " + *target);
      }
      Verdict verdict = checkHost(*target);
      if (verdict.result == SpfResult::none) {
        return errorVerdict(SpfResult::permerror,
                            "redirect= to " + *target + ", which has no SPF record (6.1)");
      }
      return verdict;
    }
    Verdict verdict;
    verdict.result = SpfResult::neutral;
    verdict.mechanism = "default";
    return verdict;
  }

  // Counts a term that queries DNS (4.6.4); a verdict when past the limit.
  std::optional<Verdict> countDnsTerm() {
    if (++dnsTerms_ > limits_.dns_mechanisms) {
      return errorVerdict(SpfResult::permerror,
                          "more than " + std::to_string(limits_.dns_mechanisms) +
                              " DNS-querying mechanisms and modifiers (RFC 7208 4.6.4)");
    }
    return std::nullopt;
  }

  // Counts a lookup that answered NXDOMAIN or no records (4.6.4).
  std::optional<Verdict> countVoid(dns::Status status) {
    if (status != dns::Status::nxdomain && status != dns::Status::nodata) return std::nullopt;
    if (++voidLookups_ > limits_.void_lookups) {
      return errorVerdict(SpfResult::permerror, "more than " +
                                                    std::to_string(limits_.void_lookups) +
                                                    " void DNS lookups (RFC 7208 4.6.4)");
    }
    return std::nullopt;
  }

  // A domain-spec expanded into the name to query, lower-cased (DNS is case-insensitive, and
  // resolvers and caches need not be).
  Result<std::string> expandDomain(std::string_view domainSpec) {
    auto expanded = spf::expandMacros(domainSpec, values_, MacroContext::domain);
    if (expanded) *expanded = asciiLower(*expanded);
    return expanded;
  }

  // The target of a, mx, ptr: the domain-spec expanded, or the current domain.
  Result<std::string> targetOf(const Mechanism& mechanism, const std::string& domain) {
    if (mechanism.domain_spec.empty()) return domain;
    return expandDomain(mechanism.domain_spec);
  }

  dns::AddressFamily family() const {
    return ipv4_ ? dns::AddressFamily::ipv4 : dns::AddressFamily::ipv6;
  }

  bool inNetwork(const Address& network, unsigned ipv4Prefix, unsigned ipv6Prefix) const {
    const bool networkIpv4 = isIpv4Mapped(network);
    if (networkIpv4 != ipv4_) return false;
    net::Cidr cidr{network, static_cast<int>(ipv4_ ? ipv4Prefix + 96 : ipv6Prefix)};
    return net::contains(cidr, client_);
  }

  // Looks up `host`'s addresses of the client's family and compares them (5.3, 5.4).
  // `termLookup`: the term's own query (a), which the void limit counts; the address lookups of
  // MX exchanges are not the term's, and have their own limit (mx_names).
  Match matchAddresses(const std::string& host, unsigned ipv4Prefix, unsigned ipv6Prefix,
                       bool termLookup) {
    Match match;
    if (!spf::isQueryableName(host)) return match;  // nothing to ask about: no match
    auto answer = resolver_.addresses(host, family());
    if (isTemporary(answer.status)) {
      match.error =
          errorVerdict(SpfResult::temperror, "DNS error looking up " + host + ": " + answer.reason);
      return match;
    }
    if (auto limited = termLookup ? countVoid(answer.status) : std::nullopt) {
      match.error = std::move(limited);
      return match;
    }
    for (const std::string& text : answer.records) {
      auto address = net::parseIpAddress(text);
      if (address && inNetwork(*address, ipv4Prefix, ipv6Prefix)) {
        match.matched = true;
        break;
      }
    }
    return match;
  }

  Match evaluateMechanism(const Mechanism& mechanism, const std::string& domain) {
    Match match;
    const auto fail = [&match](SpfResult result, std::string problem) {
      match.error = errorVerdict(result, std::move(problem));
      return match;
    };
    switch (mechanism.kind) {
      case MechanismKind::all: match.matched = true; return match;
      case MechanismKind::ip4:
      case MechanismKind::ip6:
        match.matched = inNetwork(mechanism.network, mechanism.ipv4_prefix, mechanism.ipv6_prefix);
        return match;
      default: break;
    }
    if (auto limited = countDnsTerm()) {
      match.error = std::move(limited);
      return match;
    }
    auto target = targetOf(mechanism, domain);
    if (!target) return fail(SpfResult::permerror, target.error().message);
    switch (mechanism.kind) {
      case MechanismKind::include: {
        if (!spf::isQueryableName(*target)) {
          return fail(SpfResult::permerror, "include: of a malformed name: " + *target);
        }
        Verdict inner = checkHost(*target);
        switch (inner.result) {
          case SpfResult::pass: match.matched = true; return match;
          case SpfResult::fail:
          case SpfResult::softfail:
          case SpfResult::neutral: return match;
          case SpfResult::temperror: match.error = std::move(inner); return match;
          case SpfResult::permerror: match.error = std::move(inner); return match;
          case SpfResult::none:
            return fail(SpfResult::permerror,
                        "include:" + *target + " has no SPF record (RFC 7208 5.2)");
        }
        return match;
      }
      case MechanismKind::a:
        return matchAddresses(*target, mechanism.ipv4_prefix, mechanism.ipv6_prefix, true);
      case MechanismKind::mx: return matchMx(*target, mechanism);
      case MechanismKind::ptr: {
        const std::string suffix = asciiLower(*target);
        for (const std::string& name : validatedNames(suffix, true)) {
          if (isSameOrSubdomain(name, suffix)) {
            match.matched = true;
            break;
          }
        }
        if (pendingError_) {
          match.error = std::move(pendingError_);
          pendingError_.reset();
        }
        return match;
      }
      case MechanismKind::exists: {
        if (!spf::isQueryableName(*target)) return match;
        // Always an A query, whatever the client's family (5.7).
        auto answer = resolver_.addresses(*target, dns::AddressFamily::ipv4);
        if (isTemporary(answer.status)) {
          return fail(SpfResult::temperror,
                      "DNS error looking up " + *target + ": " + answer.reason);
        }
        if (auto limited = countVoid(answer.status)) {
          match.error = std::move(limited);
          return match;
        }
        match.matched = answer.status == dns::Status::ok && !answer.records.empty();
        return match;
      }
      default: return match;
    }
  }

  Match matchMx(const std::string& target, const Mechanism& mechanism) {
    Match match;
    if (!spf::isQueryableName(target)) return match;
    auto answer = resolver_.mx(target);
    if (isTemporary(answer.status)) {
      match.error = errorVerdict(SpfResult::temperror,
                                 "DNS error looking up the MX of " + target + ": " + answer.reason);
      return match;
    }
    if (auto limited = countVoid(answer.status)) {
      match.error = std::move(limited);
      return match;
    }
    auto exchanges = answer.records;
    std::stable_sort(exchanges.begin(), exchanges.end(), [](const auto& left, const auto& right) {
      return left.preference < right.preference;
    });
    // The limit is on address lookups (4.6.4): a match among the first mx_names exchanges
    // stands; needing one more lookup is the permerror.
    unsigned looked = 0;
    for (const dns::MxRecord& exchange : exchanges) {
      if (exchange.exchange.empty()) continue;  // null MX (RFC 7505): no host to compare
      if (++looked > limits_.mx_names) {
        match.error = errorVerdict(SpfResult::permerror,
                                   target + " has more than " + std::to_string(limits_.mx_names) +
                                       " MX names to look up (RFC 7208 4.6.4)");
        return match;
      }
      match =
          matchAddresses(exchange.exchange, mechanism.ipv4_prefix, mechanism.ipv6_prefix, false);
      if (match.matched || match.error) return match;
    }
    return match;
  }

  static bool isSameOrSubdomain(std::string_view name, std::string_view domain) {
    return name == domain || (name.size() > domain.size() && name.ends_with(domain) &&
                              name[name.size() - domain.size() - 1] == '.');
  }

  // The PTR names of the client whose addresses include it (5.5), from the first ptr_names of
  // them; a name equal to or under `preferred` ends the search. A DNS error on the PTR lookup
  // means no names, on an address lookup skips that name (5.5). For the ptr mechanism
  // (`termLookup`) a void PTR answer counts, and past the limit is kept in pendingError_.
  std::vector<std::string> validatedNames(std::string_view preferred, bool termLookup) {
    std::vector<std::string> validated;
    const std::string address =
        ipv4_ ? values_.dotted_address : std::string(values_.readable_address);
    auto answer = resolver_.ptr(address);
    if (isTemporary(answer.status)) return validated;
    if (auto limited = termLookup ? countVoid(answer.status) : std::nullopt) {
      pendingError_ = std::move(limited);
      return validated;
    }
    auto names = answer.records;
    if (names.size() > limits_.ptr_names) names.resize(limits_.ptr_names);
    for (const std::string& name : names) {
      if (!spf::isQueryableName(name)) continue;
      // Not counted as void: these confirm names, they are not the term's own query.
      auto addresses = resolver_.addresses(name, family());
      if (isTemporary(addresses.status)) continue;
      const bool confirmed = std::any_of(addresses.records.begin(), addresses.records.end(),
                                         [this](const std::string& text) {
                                           auto parsed = net::parseIpAddress(text);
                                           return parsed && *parsed == client_;
                                         });
      if (!confirmed) continue;
      validated.push_back(asciiLower(stripDot(name)));
      if (!preferred.empty() && isSameOrSubdomain(validated.back(), preferred)) break;
    }
    return validated;
  }

  // %{p}: a validated name, preferring the current domain or one under it (7.3); "unknown".
  std::string validatedDomain() {
    const std::string domain = asciiLower(values_.domain);
    auto names = validatedNames(domain, false);
    if (names.empty()) return "unknown";
    for (const std::string& name : names) {
      if (name == domain) return name;
    }
    for (const std::string& name : names) {
      if (isSameOrSubdomain(name, domain)) return name;
    }
    return names.front();
  }

  // The exp= text (6.2); any problem means no explanation, never a different result.
  std::string explanation(std::string_view domainSpec) {
    auto target = expandDomain(domainSpec);
    if (!target || !spf::isQueryableName(*target)) return {};
    auto answer = resolver_.txt(*target);
    if (answer.status != dns::Status::ok || answer.records.size() != 1) return {};
    auto text = spf::expandMacros(answer.records.front(), values_, MacroContext::explanation);
    if (!text) return {};
    const bool printable = std::all_of(text->begin(), text->end(), [](char character) {
      const auto byte = static_cast<unsigned char>(character);
      return byte >= 0x20 && byte <= 0x7e;
    });
    return printable ? std::move(*text) : std::string();
  }

  dns::Resolver& resolver_;
  const SpfLimits& limits_;
  Address client_;
  bool ipv4_ = true;
  spf::MacroValues values_;
  unsigned dnsTerms_ = 0;
  unsigned voidLookups_ = 0;
  unsigned nesting_ = 0;
  std::optional<Verdict> pendingError_;
};

SpfOutcome outcomeOf(Verdict verdict, std::string identity, std::string domain,
                     std::string sender) {
  SpfOutcome outcome;
  outcome.result = verdict.result;
  outcome.identity = std::move(identity);
  outcome.domain = std::move(domain);
  outcome.sender = std::move(sender);
  if (verdict.result == SpfResult::fail) outcome.explanation = std::move(verdict.explanation);
  outcome.mechanism = std::move(verdict.mechanism);
  if (verdict.result == SpfResult::temperror || verdict.result == SpfResult::permerror) {
    outcome.problem = std::move(verdict.problem);
  }
  return outcome;
}

struct SenderParts {
  std::string sender;
  std::string local_part;
  std::string domain;
};

// <sender> split into local-part and domain (4.3); no local-part means "postmaster".
SenderParts splitSender(std::string_view sender, std::string_view fallbackDomain) {
  SenderParts parts;
  const std::size_t at = sender.rfind('@');
  if (sender.empty()) {
    parts.local_part = "postmaster";
    parts.domain = std::string(fallbackDomain);
  } else if (at == std::string_view::npos) {
    parts.local_part = "postmaster";
    parts.domain = std::string(sender);
  } else {
    parts.local_part = at == 0 ? "postmaster" : std::string(sender.substr(0, at));
    parts.domain = std::string(sender.substr(at + 1));
  }
  parts.sender = parts.local_part + "@" + parts.domain;
  return parts;
}

}  // namespace

std::string_view spfResultName(SpfResult result) {
  switch (result) {
    case SpfResult::none: return "none";
    case SpfResult::neutral: return "neutral";
    case SpfResult::pass: return "pass";
    case SpfResult::fail: return "fail";
    case SpfResult::softfail: return "softfail";
    case SpfResult::temperror: return "temperror";
    case SpfResult::permerror: return "permerror";
  }
  return "none";
}

SpfOutcome checkHost(dns::Resolver& resolver, const SpfRequest& request, std::string_view domain,
                     const SpfLimits& limits) {
  const SenderParts parts = splitSender(request.sender, domain);
  const std::string identity = request.sender.empty() ? "helo" : "mailfrom";
  const std::string checkedDomain(domain);
  auto client = net::parseIpAddress(request.client_address);
  if (!client) {
    return outcomeOf(errorVerdict(SpfResult::permerror, "the client address is not an IP address"),
                     identity, checkedDomain, parts.sender);
  }
  // 4.3: a malformed or single-label domain, or an address literal, has no SPF record.
  if (!spf::isQueryableName(domain, true) || domain.front() == '[') {
    return outcomeOf(errorVerdict(SpfResult::none, "not a multi-label domain name"), identity,
                     checkedDomain, parts.sender);
  }
  Evaluation evaluation(resolver, request, limits, *client, parts.sender, parts.local_part,
                        parts.domain);
  return outcomeOf(evaluation.checkHost(domain), identity, checkedDomain, parts.sender);
}

SpfOutcome checkSender(dns::Resolver& resolver, const SpfRequest& request,
                       const SpfLimits& limits) {
  if (request.sender.empty()) {
    SpfOutcome outcome = checkHelo(resolver, request, limits);
    outcome.identity = "mailfrom";  // the null reverse-path's identity is postmaster@HELO (2.4)
    return outcome;
  }
  const SenderParts parts = splitSender(request.sender, request.helo);
  SpfOutcome outcome = checkHost(resolver, request, parts.domain, limits);
  outcome.identity = "mailfrom";
  outcome.sender = request.sender;
  return outcome;
}

SpfOutcome checkHelo(dns::Resolver& resolver, const SpfRequest& request, const SpfLimits& limits) {
  SpfRequest helo = request;
  helo.sender = "postmaster@" + request.helo;
  SpfOutcome outcome = checkHost(resolver, helo, request.helo, limits);
  outcome.identity = "helo";
  return outcome;
}

}  // namespace bulwark::auth
