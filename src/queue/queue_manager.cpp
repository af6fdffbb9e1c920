// QueueManager; see queue_manager.h. Per-recipient bookkeeping: every pending recipient ends an
// attempt with an Outcome (delivered, failed, or still pending with the last reason); finish()
// writes those to the queue file, the trace, and the sender's bounce or delay notice.
#include "queue/queue_manager.h"

#include "common/dsn.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/strings.h"
#include "queue/bounce.h"
#include "queue/trace_events.h"
#include "sts/apply.h"

#include <algorithm>
#include <fstream>

namespace bulwark::queue {

struct QueueManager::Outcome {
  enum class State { pending, delivered, failed } state = State::pending;
  smtp::Reply reply;        // the last word on this recipient
  std::string remote_mta;   // who said it (empty for local decisions)
  std::string cause;        // for an expiry: the status of the last problem
  bool tried = false;       // an attempt was made in this run
};

namespace {

std::pair<std::string, std::string> splitAddress(std::string_view address) {
  auto at = address.rfind('@');
  if (at == std::string_view::npos) return {std::string(address), {}};
  return {std::string(address.substr(0, at)), asciiLower(address.substr(at + 1))};
}

std::string replyText(const smtp::Reply& reply) {
  std::string text = std::to_string(reply.code);
  if (!reply.enhanced.empty()) text += " " + reply.enhanced;
  for (const auto& line : reply.lines) {
    if (!line.empty()) text += " " + line;
  }
  return text;
}

// The RFC 3463 status of a reply: its enhanced code, or one derived from the basic code.
std::string statusOf(const smtp::Reply& reply) {
  if (!reply.enhanced.empty()) return reply.enhanced;
  return reply.code >= 500 ? "5.0.0" : reply.code >= 400 ? "4.0.0" : "2.0.0";
}

const char* levelName(TlsLevel level) {
  switch (level) {
    case TlsLevel::none: return "none";
    case TlsLevel::opportunistic: return "opportunistic";
    case TlsLevel::required: return "required";
    case TlsLevel::verify: return "verify";
    case TlsLevel::mta_sts: return "mta-sts";
    case TlsLevel::dane: return "dane";
    case TlsLevel::mutual: return "mutual";
  }
  return "?";
}

std::string evidenceText(const smtp::HopEvidence& evidence) {
  const bool unix_socket = evidence.address.starts_with("unix:");
  std::string text = "host=" + evidence.host + " " +
                     (unix_socket ? evidence.address
                                  : "[" + evidence.address + "]:" + std::to_string(evidence.port)) +
                     " required=" + levelName(evidence.required);
  if (evidence.protocol == smtp::Protocol::lmtp) text += " protocol=lmtp";
  if (evidence.tls_version.empty()) {
    text += " tls=none";
  } else {
    text += " tls=" + evidence.tls_version + " cipher=" + evidence.tls_cipher +
            " verification=" + evidence.verification;
    if (!evidence.tlsa_match.empty()) text += " tlsa=\"" + evidence.tlsa_match + "\"";
    if (!evidence.peer_subject.empty()) text += " certificate=\"" + evidence.peer_subject + "\"";
    if (!evidence.peer_fingerprint.empty()) text += " sha256=" + evidence.peer_fingerprint;
    if (evidence.required == TlsLevel::mutual && !evidence.verified_name.empty()) {
      text += " partner=" + evidence.verified_name;
    }
  }
  // How the content went (DATA or BDAT), and whether it was converted to 7 bit (RFC 6152 3).
  if (!evidence.transfer.empty()) text += " transfer=" + evidence.transfer;
  if (evidence.converted_to_7bit) text += " converted=7bit";
  return text;
}

// RFC 3461 4.1: without NOTIFY the MTA may send failure and delay notices (delay ones only when
// delay_warning_seconds asks for them, checked by the caller).
bool wants(std::uint8_t notify, NotifyFlags flag) {
  if (notify == 0) return true;
  if (notify & notify_never) return false;
  return (notify & flag) != 0;
}

}  // namespace

smtp::AttemptResult SmtpTransport::attempt(const smtp::ClientEndpoint& endpoint,
                                           const smtp::ClientSettings& settings,
                                           const smtp::OutboundMessage& message) {
  return smtp::deliverMessage(endpoint, settings, message);
}

QueueManager::QueueManager(const Config& config, Spool& spool, store::TraceStore& trace,
                           dns::Resolver& resolver, RemoteTransport& transport, const Clock& clock,
                           QueueManagerOptions options)
    : config_(config),
      spool_(spool),
      trace_(trace),
      resolver_(resolver),
      transport_(transport),
      clock_(clock),
      options_(options),
      schedule_(config),
      maildir_(config.mailDirectory(), config.hostname),
      workers_(options.workers) {
  if (options_.scheduler) scheduler_ = std::thread([this] { runScheduler(); });
}

QueueManager::~QueueManager() { stop(); }

void QueueManager::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  changed_.notify_all();
  if (scheduler_.joinable()) scheduler_.join();
  workers_.shutdown();
}

bool QueueManager::claim(const std::string& queue_id) {
  std::lock_guard lock(mutex_);
  return in_flight_.insert(queue_id).second;
}

void QueueManager::unclaim(const std::string& queue_id) {
  {
    std::lock_guard lock(mutex_);
    in_flight_.erase(queue_id);
  }
  changed_.notify_all();
}

void QueueManager::post(QueuedMessage message, std::shared_ptr<const std::string> data) {
  workers_.post([this, message = std::move(message), data = std::move(data)]() mutable {
    std::string queue_id = message.envelope.queue_id;
    deliver(message, *data);
    unclaim(queue_id);
  });
}

void QueueManager::submit(Envelope envelope, std::shared_ptr<const std::string> data) {
  if (!claim(envelope.queue_id)) return;
  QueuedMessage message;
  message.envelope = std::move(envelope);
  post(std::move(message), std::move(data));
}

void QueueManager::resume(const std::string& queue_id) {
  if (!claim(queue_id)) return;
  auto data = std::make_shared<std::string>();
  auto loaded = spool_.load(queue_id, data.get());
  if (!loaded) {
    log::error("{}: cannot load queued message: {}", queue_id, loaded.error().message);
    unclaim(queue_id);
    return;
  }
  if (loaded->state != QueueState::active) {
    unclaim(queue_id);
    if (loaded->state == QueueState::deferred) schedule(queue_id, loaded->next_attempt);
    return;  // held: only `bulwark queue release` brings it back
  }
  post(std::move(*loaded), std::move(data));
}

void QueueManager::schedule(const std::string& queue_id,
                            std::chrono::system_clock::time_point when) {
  {
    std::lock_guard lock(mutex_);
    retries_.emplace(when, queue_id);
  }
  changed_.notify_all();
}

void QueueManager::runDue() {
  std::vector<std::string> due;
  {
    std::lock_guard lock(mutex_);
    auto now = clock_.now();
    while (!retries_.empty() && retries_.begin()->first <= now) {
      due.push_back(retries_.begin()->second);
      retries_.erase(retries_.begin());
    }
  }
  for (const auto& queue_id : due) {
    // One rename; resume() then reads the file once. Not in deferred/ any more (delivered,
    // deleted, held, or already active again): nothing to reactivate here.
    auto activated = spool_.activateDeferred(queue_id);
    if (!activated) {
      if (activated.error().code != "not_found") {
        log::warning("{}: cannot reactivate: {}", queue_id, activated.error().message);
      }
      continue;
    }
    resume(queue_id);
  }
  // Messages released or retried by `bulwark queue` while we run appear in active/.
  auto active = spool_.list(QueueState::active);
  if (active) {
    for (const auto& queue_id : *active) {
      {
        std::lock_guard lock(mutex_);
        if (in_flight_.count(queue_id)) continue;
      }
      resume(queue_id);
    }
  }
}

void QueueManager::waitIdle() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return in_flight_.empty(); });
}

void QueueManager::runScheduler() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    auto wake = std::chrono::steady_clock::now() + options_.scan_interval;
    if (!retries_.empty()) {
      auto until_due = retries_.begin()->first - clock_.now();
      if (until_due < options_.scan_interval) {
        wake = std::chrono::steady_clock::now() +
               std::max<std::chrono::system_clock::duration>(until_due, {});
      }
    }
    changed_.wait_until(lock, wake, [&] {
      return stopping_ || std::chrono::steady_clock::now() >= wake;
    });
    if (stopping_) break;
    lock.unlock();
    runDue();
    lock.lock();
  }
}

void QueueManager::acquire(const std::string& destination) {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] {
    return connections_[destination] < config_.delivery.max_connections_per_destination;
  });
  ++connections_[destination];
}

void QueueManager::release(const std::string& destination) {
  {
    std::lock_guard lock(mutex_);
    if (--connections_[destination] == 0) connections_.erase(destination);
  }
  changed_.notify_all();
}

void QueueManager::deliver(QueuedMessage& message, const std::string& data) {
  auto& envelope = message.envelope;
  std::vector<Outcome> outcomes(envelope.recipients.size());
  // Remote recipients grouped by route destination, then by domain for MX (one connection
  // carries every recipient of one domain).
  std::map<std::pair<std::string, std::string>, std::vector<std::size_t>> groups;
  std::map<std::pair<std::string, std::string>, Route> routes;
  for (std::size_t index = 0; index < envelope.recipients.size(); ++index) {
    auto& recipient = envelope.recipients[index];
    if (recipient.status != RecipientStatus::pending) continue;
    auto [local_part, domain] = splitAddress(recipient.address);
    Route route = routeFor(config_, domain, envelope.route_connector);
    if (!route.missing_connector.empty()) {
      outcomes[index].tried = true;
      outcomes[index].reply = missingConnectorReply(route);
      continue;
    }
    if (!route.local) {
      bool smart_host = route.connector && !route.connector->smart_host.empty();
      // A mutual-TLS domain gets its own connection even through a smart host: the
      // certificate is checked for that one domain.
      const bool shared_connection = smart_host && route.tls != TlsLevel::mutual;
      auto key = std::make_pair(route.destination, shared_connection ? std::string() : domain);
      groups[key].push_back(index);
      routes.emplace(key, route);
      continue;
    }
    auto& outcome = outcomes[index];
    outcome.tried = true;
    auto delivered = maildir_.deliver(domain, local_part, envelope.sender, data);
    if (delivered) {
      outcome.state = Outcome::State::delivered;
      outcome.reply = smtp::Reply{250, "2.0.0", {"delivered to maildir " +
                                                 delivered->filename().string()}};
    } else {
      outcome.reply = smtp::Reply{451, "4.3.0", {"local delivery failed: " +
                                                 delivered.error().message}};
    }
  }
  for (const auto& [key, indexes] : groups) {
    deliverRemote(message, data, routes.at(key), key.second, indexes, outcomes);
  }
  finish(message, data, outcomes);
}

void QueueManager::deliverRemote(QueuedMessage& message, const std::string& data,
                                 const Route& route, const std::string& domain,
                                 const std::vector<std::size_t>& indexes,
                                 std::vector<Outcome>& outcomes) {
  auto& envelope = message.envelope;
  auto endpoints = resolveEndpoints(resolver_, config_, route,
                                    domain.empty() ? splitAddress(envelope.recipients[indexes[0]].address).second
                                                   : domain);
  // The strongest level that applies; REQUIRETLS asks for a verified certificate (RFC 8689 4.2).
  TlsLevel level = route.tls;
  const bool tls_required = envelope.require_tls || envelope.rule_requires_tls;
  if (tls_required && level < TlsLevel::verify) level = TlsLevel::verify;
  // MTA-STS (RFC 8461): MX delivery only (`domain` is empty for smart-host routes);
  // sts::applyPolicy decides which hosts may be tried and raises the level.
  std::string sts_evidence;
  if (options_.mta_sts != nullptr && !domain.empty() && !endpoints.hosts.empty()) {
    auto plan = sts::applyPolicy(options_.mta_sts->policyFor(domain), std::move(endpoints.hosts),
                                 level);
    endpoints.hosts = std::move(plan.hosts);
    if (plan.refusal) endpoints.failure = std::move(*plan.refusal);
    level = plan.tls;
    sts_evidence = std::move(plan.evidence);
    if (!sts_evidence.empty()) log::info("{}: {}: {}", envelope.queue_id, domain, sts_evidence);
  }
  if (endpoints.hosts.empty()) {
    for (auto index : indexes) {
      outcomes[index].tried = true;
      outcomes[index].reply = endpoints.failure;
      if (endpoints.failure.code >= 500) outcomes[index].state = Outcome::State::failed;
    }
    return;
  }

  smtp::OutboundMessage outbound;
  outbound.sender = envelope.sender;
  for (auto index : indexes) {
    const auto& recipient = envelope.recipients[index];
    outbound.recipients.push_back({recipient.address, recipient.original, recipient.notify});
  }
  outbound.body_type = envelope.body_type;
  outbound.smtputf8 = envelope.smtputf8;
  outbound.require_tls = envelope.require_tls;
  outbound.offer_require_tls = envelope.rule_requires_tls;
  outbound.dsn_return = envelope.dsn_return;
  outbound.dsn_envelope_id = envelope.dsn_envelope_id;
  outbound.data = data;

  smtp::ClientSettings settings;
  settings.helo_name = config_.hostname;
  // The strongest level that applies (route, MTA-STS, REQUIRETLS: see above); DANE raises it per
  // host (endpoint.dns_level), and satisfies REQUIRETLS as well as PKIX does.
  settings.tls = level;
  settings.ca_file = config_.delivery.ca_file;
  settings.connect_timeout = std::chrono::seconds(config_.delivery.connect_timeout_seconds);
  settings.command_timeout = std::chrono::seconds(config_.delivery.command_timeout_seconds);
  settings.chunking = config_.delivery.chunking;
  if (settings.tls == TlsLevel::mutual) {
    const DomainSecureSettings& domain_secure = config_.domain_secure;
    settings.client_certificate = domain_secure.resolved_client_certificate;
    settings.client_private_key = domain_secure.resolved_client_private_key;
    settings.partner_ca_files = domain_secure.resolved_trust_files;
    settings.partner_domain =
        domain.empty() ? splitAddress(envelope.recipients[indexes[0]].address).second : domain;
  }
  if (route.connector && !route.connector->auth_user.empty()) {
    settings.auth_user = route.connector->auth_user;
    std::ifstream file(route.connector->auth_password_file);
    std::getline(file, settings.auth_password);
  }
  if (route.mailbox_server) {
    applyMailboxServer(*route.mailbox_server, tls_required, settings, outbound);
  }

  // Try the hosts in order until one takes the transaction or refuses it for good.
  constexpr std::size_t kMaximumHosts = 5;
  smtp::AttemptResult result;
  bool decided = false;
  for (std::size_t host = 0; host < endpoints.hosts.size() && host < kMaximumHosts; ++host) {
    const auto& endpoint = endpoints.hosts[host];
    acquire(route.destination);
    result = transport_.attempt(endpoint, settings, outbound);
    release(route.destination);

    auto event = traceEvent(envelope, "attempt");
    event.time = clock_.now();
    event.recipients.clear();
    for (auto index : indexes) event.recipients.push_back(envelope.recipients[index].address);
    event.tls_version = result.evidence.tls_version;
    event.tls_cipher = result.evidence.tls_cipher;
    event.detail = evidenceText(result.evidence) + " reply=\"" + replyText(result.session) + "\"";
    if (!sts_evidence.empty()) event.detail += " " + sts_evidence;
    trace_.record(std::move(event));

    if (result.session.code < 400 || result.session.code >= 500) {
      decided = true;
      break;
    }
    log::info("{}: {} [{}] deferred the attempt: {}", envelope.queue_id, endpoint.host,
              endpoint.address, replyText(result.session));
  }
  for (std::size_t position = 0; position < indexes.size(); ++position) {
    auto& outcome = outcomes[indexes[position]];
    outcome.tried = true;
    outcome.remote_mta = result.evidence.host;
    const smtp::Reply& reply = decided && position < result.recipients.size()
                                   ? result.recipients[position]
                                   : result.session;
    outcome.reply = reply;
    if (reply.code >= 200 && reply.code < 300) outcome.state = Outcome::State::delivered;
    else if (reply.code >= 500) outcome.state = Outcome::State::failed;
  }
}

void QueueManager::finish(QueuedMessage& message, const std::string& data,
                          std::vector<Outcome>& outcomes) {
  auto& envelope = message.envelope;
  const auto now = clock_.now();
  std::vector<std::size_t> failed;
  std::vector<std::size_t> pending;
  for (std::size_t index = 0; index < envelope.recipients.size(); ++index) {
    auto& recipient = envelope.recipients[index];
    if (recipient.status != RecipientStatus::pending) continue;
    auto& outcome = outcomes[index];
    if (outcome.state == Outcome::State::pending) {
      pending.push_back(index);
    } else if (outcome.state == Outcome::State::failed) {
      failed.push_back(index);
    }
  }
  // Past the lifetime, what is still pending fails with the last reason it had.
  bool expired = !pending.empty() && schedule_.expired(envelope.received_at, now);
  if (expired) {
    for (auto index : pending) {
      auto& outcome = outcomes[index];
      std::string last = outcome.tried ? replyText(outcome.reply) : "no attempt could be made";
      if (outcome.tried) outcome.cause = statusOf(outcome.reply);
      outcome.state = Outcome::State::failed;
      // Our decision, not the remote server's: the bounce must not put it in their mouth.
      outcome.remote_mta.clear();
      outcome.reply = smtp::Reply{
          550, "5.4.7", {"message expired after " + describeDuration(config_.queue_lifetime_seconds) +
                         " in the queue; last problem: " + last}};
      failed.push_back(index);
    }
    pending.clear();
  }

  // The queue file learns each decided recipient; only needs to be durable if the file stays.
  const bool file_stays = !pending.empty();
  for (std::size_t index = 0; index < envelope.recipients.size(); ++index) {
    auto& outcome = outcomes[index];
    if (outcome.state == Outcome::State::pending) continue;
    auto& recipient = envelope.recipients[index];
    if (recipient.status != RecipientStatus::pending) continue;
    auto status = outcome.state == Outcome::State::delivered ? RecipientStatus::delivered
                                                             : RecipientStatus::failed;
    recipient.status = status;
    recipient.last_reply = replyText(outcome.reply);
    auto recorded = spool_.recordRecipient(envelope.queue_id, index, status, recipient.last_reply,
                                           file_stays);
    if (!recorded) {
      log::error("{}: cannot record recipient outcome: {}", envelope.queue_id,
                 recorded.error().message);
    }
    auto event = traceEvent(envelope, status == RecipientStatus::delivered ? "delivered" : "bounced");
    event.time = now;
    event.recipients = {recipient.address};
    event.detail = recipient.last_reply;
    trace_.record(std::move(event));
    log::info("{}: <{}> {}: {}", envelope.queue_id, recipient.address,
              status == RecipientStatus::delivered ? "delivered" : "failed", recipient.last_reply);
  }
  if (!failed.empty()) sendNotice(message, data, true, failed, outcomes);

  if (pending.empty()) {
    auto removed = spool_.remove(envelope.queue_id);
    if (!removed) log::error("{}: cannot remove: {}", envelope.queue_id, removed.error().message);
    return;
  }
  const auto previous_attempt =
      message.attempts == 0 ? envelope.received_at
                            : message.next_attempt - schedule_.backoff(message.attempts);
  const std::uint32_t attempts = message.attempts + 1;
  auto next = now + schedule_.backoff(attempts);
  if (next > schedule_.expiry(envelope.received_at)) next = schedule_.expiry(envelope.received_at);
  std::string reason = replyText(outcomes[pending.front()].reply);
  auto deferred = spool_.defer(envelope.queue_id, reason, next);
  if (!deferred) {
    log::error("{}: cannot defer: {}", envelope.queue_id, deferred.error().message);
  }
  auto event = traceEvent(envelope, "deferred");
  event.time = now;
  event.recipients.clear();
  for (auto index : pending) event.recipients.push_back(envelope.recipients[index].address);
  event.detail = reason;
  trace_.record(std::move(event));
  if (schedule_.delayNoticeDue(envelope.received_at, previous_attempt, now)) {
    sendNotice(message, data, false, pending, outcomes);
  }
  schedule(envelope.queue_id, next);
}

void QueueManager::sendNotice(const QueuedMessage& message, const std::string& data, bool failure,
                              const std::vector<std::size_t>& indexes,
                              const std::vector<Outcome>& outcomes) {
  const auto& envelope = message.envelope;
  // Never answer a bounce with a bounce (RFC 5321 6.1, RFC 3464).
  if (envelope.sender.empty()) return;
  Notice notice;
  notice.kind = failure ? NoticeKind::failure : NoticeKind::delay;
  notice.reporting_mta = config_.hostname;
  notice.envelope = &envelope;
  notice.original = data;
  notice.size_limit = config_.bounce_size_limit;
  notice.now = clock_.now();
  notice.retry_until = schedule_.expiry(envelope.received_at);
  for (auto index : indexes) {
    const auto& recipient = envelope.recipients[index];
    if (!wants(recipient.notify, failure ? notify_failure : notify_delay)) continue;
    const auto& outcome = outcomes[index];
    notice.recipients.push_back(NoticeRecipient{recipient.address, recipient.original,
                                                statusOf(outcome.reply), replyText(outcome.reply),
                                                outcome.remote_mta, outcome.cause});
  }
  if (notice.recipients.empty()) return;

  Envelope bounce;
  bounce.sender = "";
  bounce.recipients.push_back(Recipient{envelope.sender, "", 0, RecipientStatus::pending, ""});
  bounce.received_at = notice.now;
  bounce.body_type = "8BITMIME";
  bounce.smtputf8 = envelope.smtputf8;
  bounce.connector = "bounce";
  const char* kind = failure ? "bounce" : "delay";
  auto queued = queueGenerated(
      std::move(bounce), buildNotice(notice),
      std::string(failure ? "bounce" : "delay notice") + " for " + envelope.queue_id);
  if (!queued) {
    log::error("{}: cannot queue the {} notice: {}", envelope.queue_id, kind,
               queued.error().message);
    return;
  }
  log::info("{}: {} notice {} queued for <{}>", envelope.queue_id, kind, *queued,
            envelope.sender);
}

Result<std::string> QueueManager::queueGenerated(Envelope envelope, std::string text,
                                          std::string detail) {
  envelope.queue_id = newQueueId();
  envelope.client_address = "127.0.0.1";
  envelope.helo = config_.hostname;
  auto data = std::make_shared<const std::string>(std::move(text));
  envelope.size = data->size();
  if (auto committed = spool_.commit(envelope, *data); !committed) return committed.error();
  auto event = traceEvent(envelope, "received");
  event.time = envelope.received_at;
  event.detail = std::move(detail);
  trace_.record(std::move(event));
  std::string queue_id = envelope.queue_id;
  submit(std::move(envelope), std::move(data));
  return queue_id;
}

}  // namespace bulwark::queue
