// Where a recipient's mail goes (RFC 5321 5.1): a local domain, a send connector (smart host or
// MX with its own TLS level), or MX with the default level; and the hosts to try, in order, with
// the implicit MX (a domain without MX records is its own host) and the null MX (RFC 7505).
// Domains come from the envelope (untrusted); DNS answers are untrusted.
#pragma once

#include "common/config.h"
#include "dns/resolver.h"
#include "smtp/client/smtp_client.h"
#include "smtp/proto/reply.h"

#include <string>
#include <string_view>
#include <vector>

namespace bulwark::queue {

struct Route {
  bool local = false;
  const SendConnector* connector = nullptr;  // null: default MX delivery
  TlsLevel tls = TlsLevel::opportunistic;
  // Grouping and concurrency key: the smart host, or the recipient domain for MX delivery.
  std::string destination;
};

// Pure: the most specific matching connector wins (exact domain, then the longest "*.suffix",
// then "*").
Route routeFor(const Config& config, std::string_view domain);

struct Endpoints {
  std::vector<smtp::ClientEndpoint> hosts;  // in the order to try
  // When `hosts` is empty: why, as a reply (4xx: try later; 5xx: bounce now).
  smtp::Reply failure;
};

Endpoints resolveEndpoints(dns::Resolver& resolver, const Config& config, const Route& route,
                           std::string_view domain);

}  // namespace bulwark::queue
