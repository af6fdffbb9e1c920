// traceEvent; see trace_events.h.
#include "queue/trace_events.h"

namespace bulwark::queue {

store::TraceEvent traceEvent(const Envelope& envelope, std::string status) {
  store::TraceEvent event;
  event.time = std::chrono::system_clock::now();
  event.queue_id = envelope.queue_id;
  event.message_id = envelope.message_id;
  event.status = std::move(status);
  event.sender = envelope.sender;
  for (const auto& recipient : envelope.recipients) event.recipients.push_back(recipient.address);
  event.client_address = envelope.client_address;
  event.helo = envelope.helo;
  event.tls_version = envelope.tls_version;
  event.tls_cipher = envelope.tls_cipher;
  event.auth_user = envelope.auth_user;
  event.size = envelope.size;
  return event;
}

}  // namespace bulwark::queue
