// MessageIntake; see message_intake.h.
#include "app/message_intake.h"

#include "queue/trace_events.h"
#include "common/log.h"

namespace bulwark::app {
namespace {

queue::Envelope envelopeFrom(const smtp::Transaction& transaction) {
  queue::Envelope envelope;
  envelope.queue_id = transaction.queue_id;
  envelope.sender = transaction.sender;
  for (const auto& recipient : transaction.recipients) {
    queue::Recipient entry;
    entry.address = recipient.address;
    entry.original = recipient.original;
    entry.notify = recipient.notify;
    envelope.recipients.push_back(std::move(entry));
  }
  envelope.received_at = std::chrono::system_clock::now();
  envelope.body_type = transaction.parameters.body.empty() ? "7BIT" : transaction.parameters.body;
  envelope.smtputf8 = transaction.parameters.smtputf8;
  envelope.require_tls = transaction.parameters.require_tls;
  envelope.dsn_return = transaction.parameters.dsn_return;
  envelope.dsn_envelope_id = transaction.parameters.dsn_envelope_id;
  envelope.client_address = transaction.session.client_address;
  envelope.helo = transaction.session.helo;
  envelope.tls_version = transaction.session.tls_version;
  envelope.tls_cipher = transaction.session.tls_cipher;
  envelope.auth_user = transaction.session.auth_user;
  envelope.message_id = transaction.message_id;
  envelope.connector = transaction.session.connector;
  envelope.size = transaction.data.size();
  return envelope;
}

}  // namespace

MessageIntake::MessageIntake(const Config& config, queue::Spool& spool, store::TraceStore& trace,
                             queue::QueueManager& manager)
    : config_(config), spool_(spool), trace_(trace), manager_(manager) {}

MessageIntake::~MessageIntake() { drain(); }

void MessageIntake::drain() { committers_.shutdown(); }

void MessageIntake::accept(smtp::Transaction transaction, std::function<void(smtp::Reply)> done) {
  auto data = std::make_shared<const std::string>(std::move(transaction.data));
  auto envelope = envelopeFrom(transaction);
  envelope.size = data->size();
  // Domain Security: the trace says which partner the message was authenticated as.
  std::string detail =
      transaction.partner_domain.empty() ? "" : "partner=" + transaction.partner_domain;
  committers_.post([this, envelope = std::move(envelope), data = std::move(data),
                    done = std::move(done), detail = std::move(detail)]() mutable {
    auto committed = spool_.commit(envelope, *data);
    if (!committed) {
      log::error("{}: spool commit failed: {}", envelope.queue_id, committed.error().message);
      done(smtp::makeReply(smtp::ReplyKind::local_error));
      return;
    }
    log::info("{}: queued from=<{}> recipients={} size={} client=[{}]{}{}", envelope.queue_id,
              envelope.sender, envelope.recipients.size(), envelope.size, envelope.client_address,
              envelope.tls_version.empty() ? "" : " tls=" + envelope.tls_version,
              detail.empty() ? "" : " " + detail);
    done(smtp::makeReply(smtp::ReplyKind::queued, "Queued as " + envelope.queue_id));
    auto event = queue::traceEvent(envelope, "received");
    event.detail = detail;
    trace_.record(std::move(event));
    manager_.submit(std::move(envelope), std::move(data));
  });
}

void MessageIntake::rejected(const smtp::Transaction& transaction, const smtp::Reply& reply) {
  auto envelope = envelopeFrom(transaction);
  envelope.size = 0;
  auto event = queue::traceEvent(envelope, "rejected");
  event.detail = reply.render();
  while (!event.detail.empty() && (event.detail.back() == '\n' || event.detail.back() == '\r')) {
    event.detail.pop_back();
  }
  trace_.record(std::move(event));
}

bool MessageIntake::hasStorageRoom() { return spool_.freeBytes() >= config_.min_free_disk_bytes; }

}  // namespace bulwark::app
