// Routing; see router.h.
#include "queue/router.h"

#include "common/strings.h"
#include "queue/dane.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <fstream>

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
  // "192.0.2.25:25" is an address as much as "[192.0.2.25]:25" (configuration.md allows both):
  // never a name to look up.
  unsigned char address[16];
  if (!literal && ::inet_pton(AF_INET, host.c_str(), address) == 1) literal = true;
  return !host.empty();
}

// `dane`: DANE may apply to this host (enabled, and the MX RRset leading to it is secure); it does
// when the host's addresses are secure too (RFC 7672 2.2.2).
void addHost(dns::Resolver& resolver, const std::string& host, std::uint16_t port, bool dane,
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
  DaneLookup tlsa;
  if (dane && addresses.secure) {
    tlsa = lookupDane(resolver, host, port);
    if (tlsa.outcome == DaneLookup::Outcome::failed) {
      any_temporary = true;
      last_reason = tlsa.reason;
      return;
    }
  }
  for (const auto& address : addresses.records) {
    smtp::ClientEndpoint endpoint{host, address, port};
    applyDane(tlsa, endpoint);
    endpoints.hosts.push_back(std::move(endpoint));
  }
}

constexpr std::string_view kUnixSocketPrefix = "unix:";

bool isIpAddress(const std::string& text) {
  unsigned char address[16];
  return ::inet_pton(AF_INET, text.c_str(), address) == 1 ||
         ::inet_pton(AF_INET6, text.c_str(), address) == 1;
}

// 127.0.0.0/8 or ::1, written as an address (a name could resolve anywhere).
bool isLoopbackAddress(const std::string& text) {
  unsigned char address[16];
  if (::inet_pton(AF_INET, text.c_str(), address) == 1) return address[0] == 127;
  static const unsigned char kLoopback6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return ::inet_pton(AF_INET6, text.c_str(), address) == 1 &&
         std::equal(std::begin(address), std::end(address), std::begin(kLoopback6));
}

// A local domain's mailbox server: its unix socket, its address, or its name's addresses.
Endpoints mailboxEndpoints(dns::Resolver& resolver, const Config& config,
                           const LocalDomain& domain) {
  Endpoints endpoints;
  if (domain.host.starts_with(kUnixSocketPrefix)) {
    smtp::ClientEndpoint endpoint;
    endpoint.host = config.hostname;  // this machine: our name, for the trace and Remote-MTA
    endpoint.port = 0;
    endpoint.unix_socket = domain.host.substr(kUnixSocketPrefix.size());
    endpoints.hosts.push_back(std::move(endpoint));
    return endpoints;
  }
  std::string host;
  bool literal = false;
  std::uint16_t port = 25;
  if (!splitHostPort(domain.host, host, literal, port)) {
    endpoints.failure =
        failure(451, "4.3.5", "local domain " + domain.name + " has a bad mailbox server host");
    return endpoints;
  }
  if (literal || isIpAddress(host)) {
    endpoints.hosts.push_back(smtp::ClientEndpoint{host, host, port});
    return endpoints;
  }
  bool any_temporary = false;
  std::string last_reason;
  // Our own server: its TLS level is the configured one, so no TLSA lookup (dane = false).
  addHost(resolver, host, port, false, endpoints, any_temporary, last_reason);
  // Our own mailbox server without an address is a problem of ours: wait for it to be fixed.
  if (endpoints.hosts.empty()) endpoints.failure = failure(451, "4.4.3", last_reason);
  return endpoints;
}

bool onThisMachine(const LocalDomain& domain) {
  if (domain.host.starts_with(kUnixSocketPrefix)) return true;
  std::string host;
  bool literal = false;
  std::uint16_t port = 25;
  return splitHostPort(domain.host, host, literal, port) && isLoopbackAddress(host);
}

}  // namespace

void applyMailboxServer(const LocalDomain& domain, bool require_tls,
                        smtp::ClientSettings& settings, smtp::OutboundMessage& message) {
  const bool lmtp = domain.delivery == "lmtp";
  settings.protocol = lmtp ? smtp::Protocol::lmtp : smtp::Protocol::smtp;
  settings.tls = domain.tls;
  if (require_tls) {
    if (lmtp) {
      message.require_tls = false;
      if (!onThisMachine(domain) && settings.tls < TlsLevel::verify) settings.tls = TlsLevel::verify;
    } else if (settings.tls < TlsLevel::verify) {
      settings.tls = TlsLevel::verify;
    }
  }
  settings.auth_user.clear();
  settings.auth_password.clear();
  if (!domain.auth_user.empty()) {
    settings.auth_user = domain.auth_user;
    std::ifstream file(domain.auth_password_file);
    std::getline(file, settings.auth_password);
  }
}

Route routeFor(const Config& config, std::string_view domain) {
  Route route;
  const std::string lower = asciiLower(domain);
  if (const LocalDomain* local = config.localDomain(lower)) {
    if (local->delivery == "maildir") {
      route.local = true;
      route.destination = lower;
      return route;
    }
    route.mailbox_server = local;
    route.tls = local->tls;
    route.destination = "[" + local->host + "]";
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

Route routeFor(const Config& config, std::string_view domain, std::string_view route_connector) {
  Route route = routeFor(config, domain);
  if (route_connector.empty() || route.local || route.mailbox_server) return route;
  const std::string lower = asciiLower(domain);
  route.connector = nullptr;
  for (const auto& connector : config.send_connectors) {
    if (connector.name == route_connector) route.connector = &connector;
  }
  if (route.connector == nullptr) {
    route.missing_connector = std::string(route_connector);
    route.destination = "[route " + route.missing_connector + "]";
    return route;
  }
  route.tls = route.connector->tls;
  // Domain Security still applies to a partner's domain on whatever connector it leaves by.
  if (config.domain_secure.sendsTo(lower)) route.tls = TlsLevel::mutual;
  route.destination = route.connector->smart_host.empty()
                          ? lower
                          : "[" + route.connector->smart_host + "]";
  return route;
}

smtp::Reply missingConnectorReply(const Route& route) {
  return failure(451, "4.3.5",
                 "a transport rule routes this message through the send connector \"" +
                     route.missing_connector +
                     "\", which the configuration no longer has; it waits until that connector "
                     "exists again");
}

Endpoints resolveEndpoints(dns::Resolver& resolver, const Config& config, const Route& route,
                           std::string_view domain) {
  if (route.mailbox_server) return mailboxEndpoints(resolver, config, *route.mailbox_server);
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
    // RFC 7672 3.2.3: a smart host named in the configuration (no MX lookup) gets DANE when its
    // address records are secure.
    addHost(resolver, host, port, config.delivery.dane, endpoints, any_temporary, last_reason);
    if (endpoints.hosts.empty()) endpoints.failure = failure(451, "4.4.3", last_reason);
    return endpoints;
  }

  const std::string name = asciiLower(domain);
  auto mx = resolver.mx(name);
  // RFC 7672 2.2.1: DANE only behind a secure MX RRset; for the implicit MX the host's own
  // address lookup decides (checked in addHost).
  bool dane = config.delivery.dane && mx.secure;
  switch (mx.status) {
    case dns::Status::ok: break;
    case dns::Status::nodata:
      // RFC 5321 5.1: no MX records, so the domain is its own mail host (the implicit MX).
      mx.records = {dns::MxRecord{0, name}};
      dane = config.delivery.dane;
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
    addHost(resolver, record.exchange, config.delivery.port, dane, endpoints, any_temporary,
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
