// Applying an MTA-STS policy to one MX delivery (RFC 8461 4 and 5): the one place where a policy
// changes which hosts are tried and at which TLS level. enforce: only MX hosts the policy lists
// (4.1), each with a PKIX-verified certificate naming it (level mta_sts, 4.2); if none is left the
// delivery defers. testing: delivery as without a policy, and the evidence says what enforce would
// have refused. none, or no policy: nothing changes. Smart-host routes never come here.
// Hosts come from DNS (untrusted).
#pragma once

#include "common/config.h"
#include "smtp/client/smtp_client.h"
#include "smtp/proto/reply.h"
#include "sts/discovery.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bulwark::sts {

struct DeliveryPlan {
  std::vector<smtp::ClientEndpoint> hosts;  // to try, in order
  TlsLevel tls = TlsLevel::opportunistic;   // for every one of them; never weaker than asked
  // Set when no host may be tried: a 4xx reply that says why (the message stays queued).
  std::optional<smtp::Reply> refusal;
  // For the attempt trace and the log: "mta-sts=enforce id=..." and, in testing mode, what
  // enforce would have refused. Empty without a policy.
  std::string evidence;
};

// `tls` is the level the route and the message (REQUIRETLS) already ask for; enforce raises it to
// at least mta_sts, which also satisfies REQUIRETLS (a verified certificate). A host with DANE
// TLSA records uses DANE instead (RFC 8461 2): that per-host choice belongs here once the DANE
// lookup exists.
DeliveryPlan applyPolicy(const std::optional<ActivePolicy>& policy,
                         std::vector<smtp::ClientEndpoint> hosts, TlsLevel tls);

}  // namespace bulwark::sts
