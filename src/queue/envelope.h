// The envelope of a queued message: everything SMTP said about it besides the data (RFC 5321
// MAIL/RCPT with their ESMTP parameters: DSN RFC 3461, REQUIRETLS RFC 8689, SMTPUTF8 RFC 6531),
// plus where it came from. It travels with the message through every state of the queue.
#pragma once

#include "common/dsn.h"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace bulwark::queue {

using bulwark::NotifyFlags;

enum class RecipientStatus : std::uint8_t { pending = 0, delivered = 1, failed = 2 };

struct Recipient {
  std::string address;          // as given in RCPT TO, without angle brackets
  std::string original;         // ORCPT value (addr-type;xtext-decoded address), may be empty
  std::uint8_t notify = 0;      // NotifyFlags
  RecipientStatus status = RecipientStatus::pending;
  std::string last_reply;       // last delivery outcome for this recipient, for trace and DSN
};

struct Envelope {
  std::string queue_id;
  std::string sender;           // MAIL FROM address; empty for the null reverse-path <>
  std::vector<Recipient> recipients;
  std::chrono::system_clock::time_point received_at{};
  std::string body_type;        // "7BIT", "8BITMIME" or "BINARYMIME" (as declared by BODY=)
  bool smtputf8 = false;
  bool require_tls = false;     // REQUIRETLS (RFC 8689): must never travel in clear
  // A transport rule's require_tls (Exchange's RouteMessageOutboundRequireTLS): every hop we make
  // needs verified TLS; REQUIRETLS is passed on when the next hop offers it, so our own nodes
  // keep the requirement. Unlike require_tls, a next hop without the extension is fine.
  bool rule_requires_tls = false;
  std::string dsn_return;       // RET=: "FULL", "HDRS" or empty
  std::string dsn_envelope_id;  // ENVID= (xtext-decoded), may be empty
  // Where it came from: for Received, trace and policy.
  std::string client_address;
  std::string helo;
  std::string tls_version;      // empty when received in clear
  std::string tls_cipher;
  std::string auth_user;        // empty when not authenticated
  std::string message_id;       // Message-ID header value, if any
  std::string connector;        // receive connector name
  // A transport rule's route_via: every recipient outside our local domains goes through this
  // [[send_connector]], whatever its domain (queue file record route_connector, version 2).
  std::string route_connector;
  std::uint64_t size = 0;       // bytes of message data as spooled
};

}  // namespace bulwark::queue
