// Where a recipient's mail goes (RFC 5321 5.1): a local domain (Maildir, or its mailbox server by
// LMTP, RFC 2033, or SMTP), a send connector (smart host or MX with its own TLS level), or MX with
// the default level; and the hosts to try, in order, with the implicit MX (a domain without MX
// records is its own host) and the null MX (RFC 7505).
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
  bool local = false;                          // Maildir delivery here
  // A local domain handed to its mailbox server (delivery "lmtp"/"smtp"): no MX lookup.
  const LocalDomain* mailbox_server = nullptr;
  const SendConnector* connector = nullptr;  // null: default MX delivery
  TlsLevel tls = TlsLevel::opportunistic;
  // Grouping and concurrency key: the smart host or mailbox server, or the recipient domain for
  // MX delivery.
  std::string destination;
  // A rule's route_via named a connector the configuration no longer has (removed by a reload):
  // its name. Such a recipient waits (4.3.5), it is never delivered another way.
  std::string missing_connector;
};

// Pure: the most specific matching connector wins (exact domain, then the longest "*.suffix",
// then "*").
Route routeFor(const Config& config, std::string_view domain);
// The same with a message's route_via (empty: none): a domain that is not ours goes through
// that connector whatever its domain patterns say; our local domains keep their delivery.
Route routeFor(const Config& config, std::string_view domain, std::string_view route_connector);
// The reply for a recipient whose route names a connector that does not exist.
smtp::Reply missingConnectorReply(const Route& route);

struct Endpoints {
  std::vector<smtp::ClientEndpoint> hosts;  // in the order to try
  // When `hosts` is empty: why, as a reply (4xx: try later; 5xx: bounce now).
  smtp::Reply failure;
};

Endpoints resolveEndpoints(dns::Resolver& resolver, const Config& config, const Route& route,
                           std::string_view domain);

// How to talk to a local domain's mailbox server: LMTP or SMTP, its TLS level and login. A
// REQUIRETLS message (RFC 8689) keeps its requirement: over SMTP, a relay hop, exactly as for any
// next hop (verify, and REQUIRETLS passed on); over LMTP, final delivery (RFC 8689 4.3), it needs
// verify unless the server is on this machine (a unix socket or a loopback address), and the
// REQUIRETLS parameter is not passed on.
void applyMailboxServer(const LocalDomain& domain, bool require_tls,
                        smtp::ClientSettings& settings, smtp::OutboundMessage& message);

}  // namespace bulwark::queue
