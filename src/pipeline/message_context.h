// What the inbound pipeline's stages share about one message (DESIGN.md "Seams"): the envelope
// and session as SMTP gave them, the message bytes (stages change them only through this), and
// what earlier stages found. Everything in it came from the SMTP client: untrusted.
#pragma once

#include "auth/arc.h"
#include "auth/dkim.h"
#include "auth/dmarc.h"
#include "auth/spf.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bulwark::pipeline {

struct MessageContext {
  std::string queue_id;
  std::string sender;                   // MAIL FROM, empty for <>
  std::vector<std::string> recipients;  // RCPT TO addresses
  std::string client_address;
  std::string helo;
  std::string auth_user;     // empty when not authenticated
  bool relay_client = false;  // the client is in the connector's relay_networks
  bool tls = false;
  // The whole message: our Received first. Stages that add header fields call prependHeader.
  std::string data;
  // Some recipient's copy goes on to another MTA (a remote domain, or a local domain's mailbox
  // server): the message is forwarded, and ARC-sealed when sealing is configured.
  bool forwarded = false;

  // The envelope's TLS requirement for outbound delivery: REQUIRETLS from the client (RFC 8689),
  // or a rule's require_tls. Never lowered by a stage.
  bool require_tls = false;
  // A rule's require_tls: verified TLS on every hop we make (queue::Envelope::rule_requires_tls).
  bool rule_requires_tls = false;
  std::string partner_domain;   // Domain Security: the verified partner, else empty
  std::string route_connector;  // a rule's route_via: the [[send_connector]] to use
  std::string classification;   // a rule's classification (X-Bulwark-Classification)

  // Results of sender authentication (the authentication stage); SPF may be computed at MAIL
  // FROM, before the pipeline runs.
  std::optional<auth::SpfOutcome> spf;
  std::vector<auth::DkimSignatureResult> dkim;
  std::optional<auth::ArcValidation> arc;
  std::optional<auth::DmarcOutcome> dmarc;
  auth::AuthorDomain author;
  // Our Authentication-Results payload (after "authserv-id;"), for the ARC seal's AAR.
  std::string authentication_results;
  bool spam = false;
  std::string spam_reason;

  // "name=value" notes for the trace's received event, in the order stages add them.
  std::vector<std::string> trace_notes;

  // Our own users' mail (authenticated, or a relay network): signed, not verified.
  bool fromOurUsers() const { return !auth_user.empty() || relay_client; }
  void prependHeader(std::string_view field) { data.insert(0, field); }
  void note(std::string text) { trace_notes.push_back(std::move(text)); }
};

}  // namespace bulwark::pipeline
