// Routing; see router.h.
#include "queue/router.h"

#include "common/strings.h"

#include <algorithm>
#include <charconv>

namespace bulwark::queue {
namespace {

// 0: no match; otherwise larger is more specific.
std::size_t matchStrength(std::string_view pattern, std::string_view domain) {
  if (pattern == "*") return 1;
  if (pattern.starts_with("*.")) {
    std::string_view suffix = pattern.substr(1);  // ".example.com"
    if (domain.size() > suffix.size() && domain.ends_with(suffix)) return 2 + suffix.size();
    return 0;
  }
  return pattern == domain ? 100000 : 0;
}

smtp::Reply failure(int code, std::string enhanced, std::string text) {
  return smtp::Reply{code, std::move(enhanced), {std::move(text)}};
}

// "host:port" or "[address]:port" (port optional, default 25).
bool splitHostPort(std::string_view text, std::string& host, bool& literal, std::uint16_t& port) {
  port = 25;
  literal = false;
  std::string_view rest;
  if (text.starts_with("[")) {
    auto close = text.find(']');
    if (close == std::string_view::npos) return false;
    host = std::string(text.substr(1, close - 1));
    literal = true;
    rest = text.substr(close + 1);
  } else {
    auto colon = text.rfind(':');
    host = std::string(text.substr(0, colon));
    if (colon != std::string_view::npos) rest = text.substr(colon);
  }
  if (!rest.empty()) {
    if (rest.front() != ':') return false;
    unsigned value = 0;
    auto digits = rest.substr(1);
    auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (error != std::errc() || end != digits.data() + digits.size() || value == 0 || value > 65535) {
      return false;
    }
    port = static_cast<std::uint16_t>(value);
  }
  return !host.empty();
}

void addHost(dns::Resolver& resolver, const std::string& host, std::uint16_t port,
             Endpoints& endpoints, bool& any_temporary, std::string& last_reason) {
  auto addresses = resolver.addresses(host);
  if (addresses.status != dns::Status::ok) {
    if (addresses.status == dns::Status::temporary || addresses.status == dns::Status::bogus) {
      any_temporary = true;
    }
    last_reason = "cannot find the address of " + host + ": " +
                  (addresses.reason.empty() ? "no address records" : addresses.reason);
    return;
  }
  for (const auto& address : addresses.records) {
    endpoints.hosts.push_back(smtp::ClientEndpoint{host, address, port});
  }
}

}  // namespace

Route routeFor(const Config& config, std::string_view domain) {
  Route route;
  const std::string lower = asciiLower(domain);
  if (config.isLocalDomain(lower)) {
    route.local = true;
    route.destination = lower;
    return route;
  }
  std::size_t best = 0;
  for (const auto& connector : config.send_connectors) {
    for (const auto& pattern : connector.domains) {
      std::size_t strength = matchStrength(pattern, lower);
      if (strength > best) {
        best = strength;
        route.connector = &connector;
      }
    }
  }
  route.tls = route.connector ? route.connector->tls : config.delivery.tls;
  // Domain Security: the strongest level, whatever the connector says (DESIGN.md "TLS policy").
  if (config.domain_secure.sendsTo(lower)) route.tls = TlsLevel::mutual;
  route.destination = route.connector && !route.connector->smart_host.empty()
                          ? "[" + route.connector->smart_host + "]"
                          : lower;
  return route;
}

Endpoints resolveEndpoints(dns::Resolver& resolver, const Config& config, const Route& route,
                           std::string_view domain) {
  Endpoints endpoints;
  bool any_temporary = false;
  std::string last_reason;
  if (route.connector && !route.connector->smart_host.empty()) {
    std::string host;
    bool literal = false;
    std::uint16_t port = 25;
    if (!splitHostPort(route.connector->smart_host, host, literal, port)) {
      endpoints.failure = failure(451, "4.3.5", "send connector " + route.connector->name +
                                                    " has a bad smart_host");
      return endpoints;
    }
    if (literal) {
      endpoints.hosts.push_back(smtp::ClientEndpoint{host, host, port});
      return endpoints;
    }
    addHost(resolver, host, port, endpoints, any_temporary, last_reason);
    if (endpoints.hosts.empty()) endpoints.failure = failure(451, "4.4.3", last_reason);
    return endpoints;
  }

  const std::string name = asciiLower(domain);
  auto mx = resolver.mx(name);
  switch (mx.status) {
    case dns::Status::ok: break;
    case dns::Status::nodata:
      // RFC 5321 5.1: no MX records, so the domain is its own mail host (the implicit MX).
      mx.records = {dns::MxRecord{0, name}};
      break;
    case dns::Status::nxdomain:
      endpoints.failure = failure(550, "5.1.2", "the domain " + name + " does not exist");
      return endpoints;
    case dns::Status::temporary:
    case dns::Status::bogus:
      endpoints.failure = failure(451, "4.4.3", "cannot look up the mail servers of " + name +
                                                    (mx.reason.empty() ? "" : ": " + mx.reason));
      return endpoints;
  }
  if (mx.records.size() == 1 && mx.records.front().exchange.empty()) {
    endpoints.failure = failure(556, "5.1.10", "the domain " + name +
                                                   " accepts no mail (null MX, RFC 7505)");
    return endpoints;
  }
  std::stable_sort(mx.records.begin(), mx.records.end(),
                   [](const dns::MxRecord& left, const dns::MxRecord& right) {
                     return left.preference < right.preference;
                   });
  for (const auto& record : mx.records) {
    if (record.exchange.empty()) continue;  // a null MX mixed with others is ignored
    addHost(resolver, record.exchange, config.delivery.port, endpoints, any_temporary,
            last_reason);
  }
  if (endpoints.hosts.empty()) {
    endpoints.failure = any_temporary ? failure(451, "4.4.3", last_reason)
                                      : failure(550, "5.4.4", "no mail server of " + name +
                                                                  " has an address: " + last_reason);
  }
  return endpoints;
}

}  // namespace bulwark::queue
