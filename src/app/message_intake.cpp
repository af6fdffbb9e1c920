// MessageIntake; see message_intake.h.
#include "app/message_intake.h"

#include "queue/trace_events.h"
#include "common/log.h"
#include "common/strings.h"
#include "pipeline/authentication_stage.h"

#include <algorithm>
#include <future>

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

// What the pipeline changed in the envelope (a rule's recipients, TLS requirement and route):
// the queue envelope is the transaction's, updated from the context after the pipeline ran.
// Recipients SMTP gave keep their ORCPT and NOTIFY; those a rule added have neither (RFC 3461
// defaults apply to them).
void applyPipelineChanges(queue::Envelope& envelope, const pipeline::MessageContext& context) {
  std::vector<queue::Recipient> recipients;
  recipients.reserve(context.recipients.size());
  for (const auto& address : context.recipients) {
    auto original = std::find_if(envelope.recipients.begin(), envelope.recipients.end(),
                                 [&](const queue::Recipient& recipient) {
                                   return recipient.address == address;
                                 });
    if (original != envelope.recipients.end()) {
      recipients.push_back(*original);
    } else {
      queue::Recipient added;
      added.address = address;
      recipients.push_back(std::move(added));
    }
  }
  envelope.recipients = std::move(recipients);
  // Raised, never lowered: REQUIRETLS from the client stays (RFC 8689), a rule adds it.
  envelope.require_tls = envelope.require_tls || context.require_tls;
  envelope.rule_requires_tls = context.rule_requires_tls;
  envelope.route_connector = context.route_connector;
}

// The SPF check started at MAIL FROM.
struct SpfCheck final : smtp::SenderChecks {
  std::shared_future<auth::SpfOutcome> outcome;
};

pipeline::MessageContext contextFrom(const Config& config, smtp::Transaction& transaction) {
  pipeline::MessageContext context;
  context.queue_id = transaction.queue_id;
  context.sender = transaction.sender;
  for (const auto& recipient : transaction.recipients) {
    context.recipients.push_back(recipient.address);
    if (!config.storedHere(recipient.address)) context.forwarded = true;
  }
  context.client_address = transaction.session.client_address;
  context.helo = transaction.session.helo;
  context.auth_user = transaction.session.auth_user;
  context.relay_client = transaction.session.relay_client;
  context.tls = !transaction.session.tls_version.empty();
  context.require_tls = transaction.parameters.require_tls;
  context.partner_domain = transaction.partner_domain;
  context.data = std::move(transaction.data);
  return context;
}

std::string joined(const std::vector<std::string>& notes, const std::string& first) {
  std::string text = first;
  for (const auto& note : notes) text += (text.empty() ? "" : " ") + note;
  return text;
}

}  // namespace

MessageIntake::MessageIntake(const Config& config, queue::Spool& spool, store::TraceStore& trace,
                             queue::QueueManager& manager, const pipeline::Pipeline& pipeline,
                             dns::Resolver& resolver)
    : config_(config),
      spool_(spool),
      trace_(trace),
      manager_(manager),
      pipeline_(pipeline),
      resolver_(resolver) {}

MessageIntake::~MessageIntake() { drain(); }

void MessageIntake::drain() {
  committers_.shutdown();  // first: a committer may be waiting for a check
  checkers_.shutdown();
}

std::shared_ptr<smtp::SenderChecks> MessageIntake::senderAccepted(
    const smtp::Transaction& transaction) {
  const smtp::SessionInfo& session = transaction.session;
  if (!config_.authentication.verify || !session.auth_user.empty() || session.relay_client) {
    return nullptr;  // our own users' mail is signed, not verified
  }
  pipeline::MessageContext context;
  context.client_address = session.client_address;
  context.helo = session.helo;
  context.sender = transaction.sender;
  auto promise = std::make_shared<std::promise<auth::SpfOutcome>>();
  auto check = std::make_shared<SpfCheck>();
  check->outcome = promise->get_future().share();
  checkers_.post([this, promise, context = std::move(context)] {
    promise->set_value(pipeline::AuthenticationStage::checkSpf(resolver_, config_, context));
  });
  return check;
}

void MessageIntake::accept(smtp::Transaction transaction, std::function<void(smtp::Reply)> done) {
  auto envelope = envelopeFrom(transaction);
  // Domain Security: the trace says which partner the message was authenticated as.
  std::string detail =
      transaction.partner_domain.empty() ? "" : "partner=" + transaction.partner_domain;
  auto spf = std::dynamic_pointer_cast<SpfCheck>(transaction.sender_checks);
  auto context = std::make_shared<pipeline::MessageContext>(contextFrom(config_, transaction));
  committers_.post([this, envelope = std::move(envelope), context, spf, done = std::move(done),
                    detail = std::move(detail)]() mutable {
    if (spf) context->spf = spf->outcome.get();
    const pipeline::Verdict verdict = pipeline_.run(*context);
    applyPipelineChanges(envelope, *context);
    detail = joined(context->trace_notes, detail);
    if (verdict.kind == pipeline::Verdict::Kind::reject ||
        verdict.kind == pipeline::Verdict::Kind::defer) {
      log::info("{}: refused from=<{}> client=[{}] by {}: {}", envelope.queue_id, envelope.sender,
                envelope.client_address, verdict.stage, verdict.reason);
      done(verdict.reply);
      envelope.size = 0;
      auto event = queue::traceEvent(envelope, "rejected");
      event.detail = joined({verdict.reply.lines.empty() ? "" : verdict.reply.lines.front()},
                            detail);
      trace_.record(std::move(event));
      return;
    }
    if (verdict.kind == pipeline::Verdict::Kind::discard) {
      log::info("{}: discarded from=<{}> client=[{}] by {}: {}", envelope.queue_id,
                envelope.sender, envelope.client_address, verdict.stage, verdict.reason);
      done(smtp::makeReply(smtp::ReplyKind::queued, "Queued as " + envelope.queue_id));
      auto event = queue::traceEvent(envelope, "discarded");
      event.detail = joined({verdict.stage + ": " + verdict.reason}, detail);
      trace_.record(std::move(event));
      return;
    }
    auto data = std::make_shared<const std::string>(std::move(context->data));
    envelope.size = data->size();
    const bool quarantined = verdict.kind == pipeline::Verdict::Kind::quarantine;
    auto committed = quarantined ? spool_.commitHeld(envelope, *data) : spool_.commit(envelope, *data);
    if (!committed) {
      log::error("{}: spool commit failed: {}", envelope.queue_id, committed.error().message);
      done(smtp::makeReply(smtp::ReplyKind::local_error));
      return;
    }
    log::info("{}: {} from=<{}> recipients={} size={} client=[{}]{}{}", envelope.queue_id,
              quarantined ? "quarantined" : "queued", envelope.sender, envelope.recipients.size(),
              envelope.size, envelope.client_address,
              envelope.tls_version.empty() ? "" : " tls=" + envelope.tls_version,
              detail.empty() ? "" : " " + detail);
    done(smtp::makeReply(smtp::ReplyKind::queued, "Queued as " + envelope.queue_id));
    auto event = queue::traceEvent(envelope, "received");
    event.detail = detail;
    trace_.record(std::move(event));
    if (quarantined) {
      // Held until an operator releases it (bulwark queue release) or deletes it.
      auto held = queue::traceEvent(envelope, "quarantined");
      held.detail = verdict.stage + ": " + verdict.reason;
      trace_.record(std::move(held));
      return;
    }
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
