// The inbound SMTP session (RFC 5321 server side, with RFC 3207 STARTTLS, RFC 4954 AUTH PLAIN
// RFC 4616 and LOGIN, RFC 3030 CHUNKING, RFC 2920 PIPELINING, RFC 8689 REQUIRETLS, RFC 8314
// implicit TLS) and the listeners that start sessions. Everything read from the socket is
// untrusted. This is the one file that compiles Asio's SSL stream (DESIGN.md "Build time").
#include "smtp/server/smtp_server.h"

#include "common/ids.h"
#include "common/log.h"
#include "common/strings.h"
#include "mime/header_scan.h"
#include "net/base64.h"
#include "net/cidr.h"
#include "net/domain_security.h"
#include "net/tls_context.h"
#include "smtp/proto/address.h"
#include "smtp/proto/command.h"
#include "smtp/proto/data_decoder.h"

#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl.hpp>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

namespace bulwark::smtp {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// State shared by every session of the server: limits that span connections.
class SharedState {
 public:
  explicit SharedState(const Config& config) : config_(config) {}

  const Config& config() const { return config_; }

  // Domain Security: set at start when domain_secure.receive lists partners, else null.
  void setPartners(std::unique_ptr<net::PartnerVerifier> partners) {
    partners_ = std::move(partners);
  }
  const net::PartnerVerifier* partners() const { return partners_.get(); }

  // Counts a new connection; false when the total or the per-client limit is reached.
  enum class Admission { admitted, server_full, client_full };
  Admission admit(const std::string& client, std::uint32_t per_client_limit) {
    std::lock_guard lock(mutex_);
    if (total_ >= config_.max_connections) return Admission::server_full;
    auto& count = per_client_[client];
    if (count >= per_client_limit) {
      if (count == 0) per_client_.erase(client);
      return Admission::client_full;
    }
    ++count;
    ++total_;
    return Admission::admitted;
  }
  void release(const std::string& client) {
    std::lock_guard lock(mutex_);
    --total_;
    auto found = per_client_.find(client);
    if (found != per_client_.end() && --found->second == 0) per_client_.erase(found);
  }

  // AUTH failures per client address within a sliding window (RFC 4954 14 asks servers to slow
  // down password guessing).
  static constexpr auto kAuthFailureWindow = std::chrono::minutes(15);
  void noteAuthFailure(const std::string& client) {
    std::lock_guard lock(mutex_);
    auto now = Clock::now();
    auto& failures = auth_failures_[client];
    failures.push_back(now);
    while (!failures.empty() && now - failures.front() > kAuthFailureWindow) failures.pop_front();
    if (auth_failures_.size() > 100000) pruneAuthFailures(now);
  }
  std::size_t recentAuthFailures(const std::string& client) {
    std::lock_guard lock(mutex_);
    auto found = auth_failures_.find(client);
    if (found == auth_failures_.end()) return 0;
    auto now = Clock::now();
    auto& failures = found->second;
    while (!failures.empty() && now - failures.front() > kAuthFailureWindow) failures.pop_front();
    return failures.size();
  }


 private:
  void pruneAuthFailures(Clock::time_point now) {
    for (auto it = auth_failures_.begin(); it != auth_failures_.end();) {
      if (it->second.empty() || now - it->second.back() > kAuthFailureWindow) {
        it = auth_failures_.erase(it);
      } else {
        ++it;
      }
    }
  }

  const Config& config_;
  std::unique_ptr<net::PartnerVerifier> partners_;
  std::mutex mutex_;
  std::uint32_t total_ = 0;
  std::map<std::string, std::uint32_t> per_client_;
  std::map<std::string, std::deque<Clock::time_point>> auth_failures_;
};

struct ConnectorRuntime {
  const ReceiveConnector* settings = nullptr;
  std::vector<net::Cidr> relay_networks;
};

bool isAscii(std::string_view text) {
  for (unsigned char c : text) {
    if (c >= 0x80) return false;
  }
  return true;
}

// A local part we can turn into a Maildir folder name without surprises: no path separators,
// no leading dot (hidden or "." / ".."), no control characters.
bool isDeliverableLocalPart(std::string_view local_part) {
  if (local_part.empty() || local_part.front() == '.') return false;
  for (unsigned char c : local_part) {
    if (c < 0x21 || c == 0x7f || c == '/' || c == '\\') return false;
  }
  return true;
}

// The fields that mark a domain-secured message (docs/operations.md "Domain Security"): who it
// was authenticated as, and a classification a mail client can show.
std::string partnerHeaders(const std::string& domain) {
  return "X-Bulwark-Auth-As: Partner\r\nX-Bulwark-Auth-Domain: " + domain +
         "\r\nX-Bulwark-Classification: Partner Mail\r\n";
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, asio::ssl::context& tls, const ConnectorRuntime& connector,
          SharedState& shared, TransactionHandler& handler, Authenticator& authenticator,
          asio::thread_pool& work_pool)
      : stream_(std::move(socket), tls),
        timer_(stream_.get_executor()),
        connector_(connector),
        limits_(connector.settings->limits),
        shared_(shared),
        handler_(handler),
        authenticator_(authenticator),
        work_pool_(work_pool) {}

  awaitable<void> run(std::string client_address, std::uint16_t client_port) {
    info_.connector = connector_.settings->name;
    info_.client_address = std::move(client_address);
    info_.client_port = client_port;
    client_ip_ = net::parseIpAddress(info_.client_address).value_or(std::array<std::uint8_t, 16>{});
    for (const auto& network : connector_.relay_networks) {
      if (net::contains(network, client_ip_)) info_.relay_client = true;
    }
    auto self = shared_from_this();
    auto watchdog = [self]() -> awaitable<void> { co_await self->watch(); };
    asio::co_spawn(stream_.get_executor(), watchdog, asio::detached);

    co_await serve();

    boost::system::error_code ignored;
    if (tls_active_ && !timed_out_) {
      // close_notify, but a peer that never answers gets 5 seconds, then the watchdog closes.
      setDeadline(std::chrono::seconds(5));
      timed_out_ = true;
      co_await stream_.async_shutdown(asio::redirect_error(asio::use_awaitable, ignored));
    }
    finished_ = true;
    timer_.cancel();
    stream_.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.next_layer().close(ignored);
  }

 private:
  // ---- I/O with deadlines -----------------------------------------------------------------
  void setDeadline(Clock::duration duration) {
    // After a timeout only the short grace period for the 421 applies.
    if (timed_out_) return;
    deadline_ = Clock::now() + duration;
    timer_.expires_at(deadline_);
  }

  // Closes the socket when a read or write outlives its deadline (RFC 5321 4.5.3.2). Runs on the
  // session's strand, so it never races the session itself.
  awaitable<void> watch() {
    while (!finished_) {
      boost::system::error_code error;
      co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, error));
      if (finished_) break;
      if (Clock::now() >= deadline_) {
        if (timed_out_) {
          // Second expiry: the 421 could not be written either.
          stream_.next_layer().close(error);
          break;
        }
        timed_out_ = true;
        stream_.next_layer().cancel(error);
        deadline_ = Clock::now() + std::chrono::seconds(10);
        timer_.expires_at(deadline_);
      }
    }
  }

  awaitable<bool> readSome() {
    if (read_position_ > 0 && read_position_ == input_.size()) {
      input_.clear();
      read_position_ = 0;
    } else if (read_position_ > 256 * 1024) {
      input_.erase(0, read_position_);
      read_position_ = 0;
    }
    auto buffer = asio::buffer(read_buffer_.get(), kReadBufferSize);
    boost::system::error_code error;
    size_t received = 0;
    if (tls_active_) {
      received = co_await stream_.async_read_some(buffer, asio::redirect_error(asio::use_awaitable, error));
    } else {
      received = co_await stream_.next_layer().async_read_some(
          buffer, asio::redirect_error(asio::use_awaitable, error));
    }
    input_.append(read_buffer_.get(), received);
    co_return !error && received > 0;
  }

  void queueReply(const Reply& reply) {
    output_ += reply.render();
    if (reply.code >= 400) ++errors_;
  }
  // The form coroutines use: g++ 12 miscompiles some coroutines that hold a Reply temporary
  // (SIGILL when the frame is first resumed), so they pass the kind and build the Reply here.
  void queueReply(ReplyKind kind, std::string_view detail = {}) { queueReply(makeReply(kind, detail)); }

  awaitable<bool> flush() {
    if (output_.empty()) co_return true;
    setDeadline(std::chrono::seconds(limits_.command_timeout_seconds));
    boost::system::error_code error;
    if (tls_active_) {
      co_await asio::async_write(stream_, asio::buffer(output_),
                                 asio::redirect_error(asio::use_awaitable, error));
    } else {
      co_await asio::async_write(stream_.next_layer(), asio::buffer(output_),
                                 asio::redirect_error(asio::use_awaitable, error));
    }
    output_.clear();
    co_return !error;
  }

  enum class LineStatus { ok, closed, too_long, bare_line_feed };

  // Next command line without CRLF. Replies queued so far are written before waiting for input,
  // which is what makes PIPELINING (RFC 2920) cost one write per batch of commands.
  awaitable<LineStatus> readLine(std::string& line) {
    while (true) {
      size_t newline = input_.find('\n', read_position_);
      if (newline != std::string::npos) {
        size_t length = newline - read_position_;
        bool has_cr = length > 0 && input_[newline - 1] == '\r';
        line.assign(input_, read_position_, has_cr ? length - 1 : length);
        read_position_ = newline + 1;
        if (length + 1 > limits_.max_line_length) co_return LineStatus::too_long;
        co_return has_cr ? LineStatus::ok : LineStatus::bare_line_feed;
      }
      if (input_.size() - read_position_ > limits_.max_line_length) {
        // Drop what we have and skip to the end of this overlong line.
        input_.clear();
        read_position_ = 0;
        skipping_long_line_ = true;
      }
      if (!co_await flush()) co_return LineStatus::closed;
      setDeadline(std::chrono::seconds(limits_.command_timeout_seconds));
      if (!co_await readSome()) co_return LineStatus::closed;
      if (skipping_long_line_) {
        size_t end = input_.find('\n', read_position_);
        if (end == std::string::npos) {
          input_.clear();
          read_position_ = 0;
          continue;
        }
        read_position_ = end + 1;
        skipping_long_line_ = false;
        co_return LineStatus::too_long;
      }
    }
  }

  // ---- the conversation -------------------------------------------------------------------
  awaitable<void> serve() {
    if (connector_.settings->tls == TlsMode::implicit) {
      if (!co_await handshake()) co_return;
    }
    Reply greeting = makeReply(ReplyKind::greeting, shared_.config().hostname + " ESMTP Bulwark");
    queueReply(greeting);

    while (true) {
      std::string line;
      LineStatus status = co_await readLine(line);
      if (status == LineStatus::closed) {
        if (timed_out_) co_await sendFinal(ReplyKind::timeout);
        co_return;
      }
      if (status == LineStatus::too_long) {
        queueReply(ReplyKind::command_line_too_long);
      } else if (status == LineStatus::bare_line_feed) {
        queueReply(ReplyKind::syntax_error, "Command lines must end with CRLF");
      } else if (!co_await dispatch(line)) {
        co_return;
      }
      if (errors_ >= limits_.max_errors) {
        co_await sendFinal(ReplyKind::too_many_errors);
        co_return;
      }
    }
  }

  // Queues the reply and writes everything out. Takes the kind, not a Reply: g++ 12 mishandles
  // non-trivial temporaries that live across a co_await (SIGILL on resumption).
  awaitable<void> sendFinal(ReplyKind kind) {
    output_ += makeReply(kind).render();
    co_await flush();
  }

  // Returns false when the session must end.
  // Returns false when the session must end. The verbs that wait on I/O are handled with plain
  // if statements: g++ 12 corrupts the coroutine frame (SIGILL on resumption) for co_await inside
  // switch cases, so the switch lives in a normal function.
  awaitable<bool> dispatch(const std::string& line) {
    auto parsed = parseCommand(line, true);
    if (!parsed) {
      queueReply(parsed.error());
      co_return true;
    }
    Command& command = *parsed;
    const Verb verb = command.verb;
    if (verb == Verb::data) co_return co_await onData();
    if (verb == Verb::bdat) co_return co_await onChunk(command);
    if (verb == Verb::starttls) {
      if (!startTlsAllowed()) co_return true;
      co_return co_await startTls();
    }
    if (verb == Verb::auth) co_return co_await onAuth(command);
    if (verb == Verb::quit) {
      co_await sendFinal(ReplyKind::closing);
      co_return false;
    }
    dispatchImmediate(command);
    co_return true;
  }

  // The commands answered without waiting for anything.
  void dispatchImmediate(Command& command) {
    switch (command.verb) {
      case Verb::helo:
      case Verb::ehlo: onHello(command); break;
      case Verb::mail: onMail(command); break;
      case Verb::rcpt: onRecipient(command); break;
      case Verb::rset:
        resetTransaction();
        queueReply(ReplyKind::reset);
        break;
      case Verb::noop: queueReply(ReplyKind::noop); break;
      case Verb::vrfy: queueReply(ReplyKind::vrfy_cannot_verify); break;
      case Verb::expn: queueReply(ReplyKind::not_implemented, "EXPN is not available"); break;
      case Verb::help: queueReply(ReplyKind::help); break;
      case Verb::data:
      case Verb::bdat:
      case Verb::starttls:
      case Verb::auth:
      case Verb::quit: break;  // handled by dispatch()
    }
  }

  bool tlsOffered() const {
    return !tls_active_ && (connector_.settings->tls == TlsMode::starttls ||
                            connector_.settings->tls == TlsMode::required);
  }
  bool authOffered() const { return tls_active_ && connector_.settings->auth; }

  void onHello(const Command& command) {
    resetTransaction();
    info_.helo = command.argument;
    info_.extended = command.verb == Verb::ehlo;
    const std::string& hostname = shared_.config().hostname;
    if (!info_.extended) {
      queueReply(Reply{250, "", {hostname}});
      return;
    }
    Reply reply{250, "", {hostname + " greets " + info_.helo}};
    reply.lines.push_back("PIPELINING");
    reply.lines.push_back("SIZE " + std::to_string(limits_.max_message_size));
    reply.lines.push_back("8BITMIME");
    reply.lines.push_back("SMTPUTF8");
    reply.lines.push_back("ENHANCEDSTATUSCODES");
    reply.lines.push_back("CHUNKING");
    reply.lines.push_back("DSN");
    if (tlsOffered()) reply.lines.push_back("STARTTLS");
    if (authOffered()) reply.lines.push_back("AUTH PLAIN LOGIN");
    if (tls_active_) reply.lines.push_back("REQUIRETLS");
    queueReply(reply);
  }

  void onMail(Command& command) {
    if (info_.helo.empty()) return queueReply(ReplyKind::need_helo);
    if (in_transaction_) return queueReply(ReplyKind::nested_mail);
    if (connector_.settings->tls == TlsMode::required && !tls_active_) {
      return queueReply(ReplyKind::must_issue_starttls);
    }
    if (connector_.settings->require_auth && info_.auth_user.empty()) {
      return queueReply(ReplyKind::auth_required);
    }
    if (command.mail.require_tls && !tls_active_) {
      return queueReply(ReplyKind::requiretls_needs_tls);
    }
    if (!command.mail.smtputf8 && !isAscii(command.address)) {
      return queueReply(ReplyKind::smtputf8_not_allowed);
    }
    if (command.mail.body == "BINARYMIME") {
      return queueReply(ReplyKind::parameter_not_recognized, "BODY=BINARYMIME is not supported here");
    }
    if (command.mail.size && *command.mail.size > limits_.max_message_size) {
      return queueReply(ReplyKind::message_too_big);
    }
    std::string partner;
    if (!partnerSenderAllowed(command.address, partner)) {
      return queueReply(ReplyKind::partner_not_authenticated);
    }
    if (!handler_.hasStorageRoom()) return queueReply(ReplyKind::insufficient_storage);
    in_transaction_ = true;
    transaction_ = Transaction{};
    transaction_.partner_domain = std::move(partner);
    transaction_.queue_id = newQueueId();
    transaction_.sender = std::move(command.address);
    transaction_.parameters = std::move(command.mail);
    transaction_.session = info_;
    // SPF and the like start now and run while the client sends the data.
    transaction_.sender_checks = handler_.senderAccepted(transaction_);
    queueReply(ReplyKind::ok_sender);
  }

  // Domain Security on MAIL FROM: a sender in a domain of domain_secure.receive is that partner
  // only over TLS with a verified certificate naming the domain (`partner` is then set); else
  // false when reject_unauthenticated says to refuse, true (unmarked) when it does not.
  bool partnerSenderAllowed(const std::string& sender, std::string& partner) const {
    const std::size_t at = sender.rfind('@');
    if (at == std::string::npos) return true;
    const std::string domain = asciiLower(std::string_view(sender).substr(at + 1));
    const DomainSecureSettings& settings = shared_.config().domain_secure;
    if (!settings.receivesFrom(domain)) return true;
    for (const auto& authenticated : partner_domains_) {
      if (authenticated == domain) {
        partner = domain;
        return true;
      }
    }
    log::info("[{}] MAIL FROM partner domain {} without its certificate ({}): {}",
              info_.client_address, domain,
              partner_reason_.empty() ? "certificate names another partner" : partner_reason_,
              settings.reject_unauthenticated ? "refused" : "accepted unmarked");
    return !settings.reject_unauthenticated;
  }

  // After each handshake: which partner domains the client's certificate authenticates.
  void notePartnerCertificate() {
    partner_domains_.clear();
    partner_reason_.clear();
    const net::PartnerVerifier* partners = shared_.partners();
    if (partners == nullptr) return;
    net::PartnerCheck check = partners->checkConnection(stream_.native_handle());
    if (check.domains.empty()) {
      partner_reason_ = check.reason;
      if (!check.subject.empty()) {
        log::info("[{}] client certificate \"{}\" is not a partner's: {}", info_.client_address,
                  check.subject, check.reason);
      }
      return;
    }
    partner_domains_ = std::move(check.domains);
    std::string domains;
    for (const auto& domain : partner_domains_) domains += (domains.empty() ? "" : " ") + domain;
    log::info("[{}] authenticated as partner {} by certificate \"{}\"", info_.client_address,
              domains, check.subject);
  }

  bool mayRelay() const { return !info_.auth_user.empty() || info_.relay_client; }

  void onRecipient(Command& command) {
    if (!in_transaction_) return queueReply(ReplyKind::need_mail);
    if (command.address.empty()) {
      return queueReply(ReplyKind::bad_recipient_address);
    }
    if (!transaction_.parameters.smtputf8 && !isAscii(command.address)) {
      return queueReply(ReplyKind::smtputf8_not_allowed);
    }
    if (transaction_.recipients.size() >= limits_.max_recipients) {
      return queueReply(ReplyKind::too_many_recipients);
    }
    if (command.address.find('@') == std::string::npos) {
      // RFC 5321 4.1.1.3: the bare "Postmaster" must be accepted; it is ours.
      if (!equalsIgnoreCase(command.address, "postmaster") ||
          shared_.config().local_domains.empty()) {
        return queueReply(ReplyKind::bad_recipient_address);
      }
      command.address = "postmaster@" + shared_.config().local_domains.front().name;
    }
    auto mailbox = parseMailbox(command.address, true);
    if (!mailbox) return queueReply(ReplyKind::bad_recipient_address);
    bool relay_allowed = mayRelay();
    bool local = !mailbox->domain_is_literal && shared_.config().isLocalDomain(mailbox->domain);
    if (!local && !relay_allowed) return queueReply(ReplyKind::relay_denied);
    if (local) {
      // Routing characters in a local part ask the next hop to relay (the %-hack, UUCP bang
      // paths, quoted "user@elsewhere"): refused unless the client may relay anyway.
      if (!relay_allowed &&
          mailbox->local_part.find_first_of("%!@") != std::string::npos) {
        return queueReply(ReplyKind::routing_characters);
      }
      if (!isDeliverableLocalPart(mailbox->local_part)) {
        return queueReply(ReplyKind::no_such_user, "No such user here: local part cannot be a mailbox name");
      }
    }
    transaction_.recipients.push_back(TransactionRecipient{
        std::move(command.address), std::move(command.rcpt.original_recipient),
        command.rcpt.notify});
    queueReply(ReplyKind::ok_recipient);
  }

  ContentLimits contentLimits() const {
    return ContentLimits{limits_.max_message_size, limits_.max_line_length,
                         limits_.max_header_size};
  }

  awaitable<bool> onData() {
    if (!in_transaction_) {
      queueReply(ReplyKind::need_mail);
      co_return true;
    }
    if (chunking_) {
      queueReply(ReplyKind::bad_sequence, "DATA cannot follow BDAT; send RSET");
      co_return true;
    }
    if (transaction_.recipients.empty()) {
      queueReply(ReplyKind::need_recipient);
      co_return true;
    }
    queueReply(ReplyKind::start_data);
    if (!co_await flush()) co_return false;
    DataDecoder decoder(contentLimits());
    while (true) {
      if (read_position_ < input_.size()) {
        size_t used = decoder.feed(std::string_view(input_).substr(read_position_));
        read_position_ += used;
        if (decoder.finished()) break;
      }
      setDeadline(std::chrono::seconds(limits_.data_timeout_seconds));
      if (!co_await readSome()) {
        if (timed_out_) co_await sendFinal(ReplyKind::timeout);
        co_return false;
      }
    }
    co_await finishMessage(decoder.content());
    co_return true;
  }

  awaitable<bool> onChunk(const Command& command) {
    // The chunk's bytes follow the command whatever we answer; they must be consumed, never read
    // as commands.
    bool usable = in_transaction_ && !transaction_.recipients.empty() && !chunk_failed_;
    if (usable && !chunking_) {
      chunking_ = true;
      chunk_content_.emplace(contentLimits());
    }
    std::uint64_t remaining = command.chunk_size;
    while (remaining > 0) {
      if (read_position_ == input_.size()) {
        setDeadline(std::chrono::seconds(limits_.data_timeout_seconds));
        if (!co_await readSome()) {
          if (timed_out_) co_await sendFinal(ReplyKind::timeout);
          co_return false;
        }
      }
      size_t available = input_.size() - read_position_;
      size_t take = static_cast<size_t>(std::min<std::uint64_t>(remaining, available));
      if (usable) chunk_content_->append(std::string_view(input_).substr(read_position_, take));
      read_position_ += take;
      remaining -= take;
    }
    if (!in_transaction_) {
      queueReply(ReplyKind::need_mail);
      co_return true;
    }
    if (transaction_.recipients.empty()) {
      queueReply(ReplyKind::need_recipient);
      co_return true;
    }
    if (chunk_failed_) {
      queueReply(ReplyKind::bdat_after_data_problem);
      if (command.last_chunk) resetTransaction();
      co_return true;
    }
    if (!command.last_chunk) {
      if (chunk_content_->problem() == ContentProblem::too_big) {
        // Say so now rather than after the client has sent every remaining chunk.
        chunk_failed_ = true;
        queueReply(ReplyKind::message_too_big);
        co_return true;
      }
      queueReply(ReplyKind::ok, std::to_string(command.chunk_size) + " octets received");
      co_return true;
    }
    chunk_content_->finish();
    co_await finishMessage(*chunk_content_);
    co_return true;
  }

  std::string protocolName() const {
    // RFC 3848 and RFC 6531 "with" protocol types.
    std::string name = transaction_.parameters.smtputf8 ? "UTF8SMTP" : (info_.extended ? "ESMTP" : "SMTP");
    if (!info_.extended && !transaction_.parameters.smtputf8) return name;
    if (tls_active_) name += "S";
    if (!info_.auth_user.empty()) name += "A";
    return name;
  }

  // RFC 5321 4.4 trace field, folded to stay within 78 columns where it can.
  std::string receivedHeader() const {
    std::string header = "Received: from " + info_.helo + " ([" + info_.client_address + "])\r\n";
    header += "\tby " + shared_.config().hostname + " (Bulwark) with " + protocolName() + " id " +
              transaction_.queue_id;
    if (tls_active_) {
      header += "\r\n\t(version=" + info_.tls_version + " cipher=" + info_.tls_cipher +
                " bits=" + std::to_string(info_.tls_bits) + ")";
    }
    // "for" only names a single recipient: listing several would disclose Bcc recipients.
    if (transaction_.recipients.size() == 1) {
      header += "\r\n\tfor <" + transaction_.recipients.front().address + ">";
    }
    header += ";\r\n\t" + rfc5322DateNow() + "\r\n";
    return header;
  }

  awaitable<void> finishMessage(ContentAccumulator& content) {
    Reply problem_reply;
    bool refused = true;
    switch (content.problem()) {
      case ContentProblem::none: refused = false; break;
      case ContentProblem::too_big: problem_reply = makeReply(ReplyKind::message_too_big); break;
      case ContentProblem::line_too_long: problem_reply = makeReply(ReplyKind::line_too_long); break;
      case ContentProblem::header_too_big: problem_reply = makeReply(ReplyKind::header_too_big); break;
      case ContentProblem::bare_line_ending:
        problem_reply = makeReply(ReplyKind::bare_line_ending);
        break;
    }
    transaction_.session = info_;
    if (refused) {
      handler_.rejected(transaction_, problem_reply);
      log::info("{} rejected from [{}]: {}", transaction_.queue_id, info_.client_address,
                problem_reply.lines.front());
      queueReply(problem_reply);
      resetTransaction();
      co_return;
    }
    std::string body = content.takeContent();
    // Headers we own mean something only when we wrote them (DESIGN.md "Headers we own"): from
    // outside the trust boundary, which is every SMTP client for now, they are removed before
    // anything reads the message, so nobody can forge "authenticated as partner".
    if (auto forged = mime::removeFieldsWithPrefix(body, "X-Bulwark-"); forged > 0) {
      log::info("{}: removed {} X-Bulwark- header field(s) from [{}]", transaction_.queue_id,
                forged, info_.client_address);
    }
    std::string prefix = receivedHeader();
    // Added after the removal above, so these are the only X-Bulwark- fields: ours.
    if (!transaction_.partner_domain.empty()) {
      prefix += partnerHeaders(transaction_.partner_domain);
    }
    auto message_id = mime::findHeaderValue(body, "Message-ID");
    if (!info_.auth_user.empty()) {
      // Submission fix-ups (RFC 6409 8.2, 8.3): only for our own authenticated users.
      if (!message_id) {
        message_id = newMessageId(shared_.config().hostname);
        prefix += "Message-ID: " + *message_id + "\r\n";
      }
      if (!mime::findHeaderValue(body, "Date")) prefix += "Date: " + rfc5322DateNow() + "\r\n";
    }
    transaction_.message_id = message_id.value_or("");
    transaction_.data.reserve(prefix.size() + body.size());
    transaction_.data = std::move(prefix);
    transaction_.data += body;
    body.clear();
    body.shrink_to_fit();

    Reply reply = co_await handOver(std::move(transaction_));
    queueReply(reply);
    resetTransaction();
  }

  awaitable<Reply> handOver(Transaction transaction) {
    auto executor = stream_.get_executor();
    TransactionHandler& handler = handler_;
    auto initiation = [&handler, executor, &transaction](auto completion) mutable {
      auto shared_completion =
          std::make_shared<decltype(completion)>(std::move(completion));
      handler.accept(std::move(transaction), [shared_completion, executor](Reply reply) {
        asio::post(executor, [shared_completion, reply = std::move(reply)]() mutable {
          (*shared_completion)(std::move(reply));
        });
      });
    };
    co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(Reply)>(
        initiation, asio::use_awaitable);
  }

  void resetTransaction() {
    in_transaction_ = false;
    chunking_ = false;
    chunk_failed_ = false;
    chunk_content_.reset();
    transaction_ = Transaction{};
  }

  awaitable<bool> handshake() {
    setDeadline(std::chrono::seconds(limits_.command_timeout_seconds));
    boost::system::error_code error;
    co_await stream_.async_handshake(asio::ssl::stream_base::server,
                                     asio::redirect_error(asio::use_awaitable, error));
    if (error) {
      log::info("TLS handshake with [{}] failed: {}", info_.client_address, error.message());
      co_return false;
    }
    tls_active_ = true;
    notePartnerCertificate();
    auto details = net::describeTls(stream_.native_handle());
    info_.tls_version = details.version;
    info_.tls_cipher = details.cipher;
    info_.tls_bits = details.bits;
    co_return true;
  }

  // False (with the refusal queued) when STARTTLS cannot start now.
  bool startTlsAllowed() {
    if (tls_active_) {
      queueReply(ReplyKind::bad_sequence, "TLS already active");
      return false;
    }
    if (!tlsOffered()) {
      queueReply(ReplyKind::not_implemented, "STARTTLS not offered here");
      return false;
    }
    return true;
  }

  // Straight-line on purpose: g++ 12 (with -O0 -fsanitize) produced a corrupt frame for the
  // earlier version that returned early before its first co_await (SIGILL on first resumption).
  awaitable<bool> startTls() {
    co_await sendFinal(ReplyKind::tls_go_ahead);
    // Anything the client pipelined after STARTTLS arrived in clear and must not be obeyed
    // (CVE-2011-0411, RFC 3207 4.2).
    input_.clear();
    read_position_ = 0;
    const bool established = co_await handshake();
    resetTransaction();
    info_.helo.clear();
    info_.extended = false;
    info_.auth_user.clear();
    co_return established;
  }

  awaitable<bool> readAuthResponse(std::string& decoded, bool& cancelled, bool& ok) {
    cancelled = false;
    std::string line;
    LineStatus status = co_await readLine(line);
    if (status == LineStatus::closed) co_return false;
    if (status != LineStatus::ok) {
      ok = false;
      co_return true;
    }
    if (line == "*") {
      cancelled = true;
      co_return true;
    }
    auto bytes = net::base64Decode(line);
    ok = bytes.has_value();
    if (ok) decoded = std::move(*bytes);
    co_return true;
  }

  awaitable<bool> onAuth(const Command& command) {
    if (!tls_active_) {
      queueReply(ReplyKind::auth_encryption_required);
      co_return true;
    }
    if (!connector_.settings->auth) {
      queueReply(ReplyKind::not_implemented, "AUTH not offered here");
      co_return true;
    }
    if (!info_.auth_user.empty()) {
      queueReply(ReplyKind::auth_already_done);
      co_return true;
    }
    if (in_transaction_) {
      queueReply(ReplyKind::bad_sequence, "AUTH not allowed during a mail transaction");
      co_return true;
    }
    if (shared_.recentAuthFailures(info_.client_address) >= limits_.max_auth_failures) {
      co_await sendFinal(ReplyKind::too_many_auth_failures);
      co_return false;
    }
    auto words = split(command.argument, ' ');
    std::string mechanism = asciiLower(words[0]);
    std::string initial;
    if (words.size() > 1) initial = words[1];
    std::string user, password;
    bool cancelled = false, ok = true;
    if (mechanism == "plain") {
      std::string decoded;
      if (initial.empty()) {
        queueReply(Reply{334, "", {""}});
        if (!co_await readAuthResponse(decoded, cancelled, ok)) co_return false;
      } else if (initial == "=") {
        decoded.clear();
      } else {
        auto bytes = net::base64Decode(initial);
        ok = bytes.has_value();
        if (ok) decoded = std::move(*bytes);
      }
      if (!cancelled && ok) {
        // authzid NUL authcid NUL passwd (RFC 4616 2); a differing authzid is refused.
        auto parts = split(decoded, '\0');
        if (parts.size() != 3 || (!parts[0].empty() && parts[0] != parts[1])) {
          ok = false;
        } else {
          user = parts[1];
          password = parts[2];
        }
      }
    } else if (mechanism == "login") {
      std::string decoded;
      if (!initial.empty()) {
        auto bytes = net::base64Decode(initial);
        ok = bytes.has_value();
        if (ok) user = std::move(*bytes);
      } else {
        queueReply(Reply{334, "", {net::base64Encode("Username:")}});
        if (!co_await readAuthResponse(user, cancelled, ok)) co_return false;
      }
      if (!cancelled && ok) {
        queueReply(Reply{334, "", {net::base64Encode("Password:")}});
        if (!co_await readAuthResponse(password, cancelled, ok)) co_return false;
      }
    } else {
      queueReply(ReplyKind::auth_mechanism_unknown);
      co_return true;
    }
    if (cancelled) {
      queueReply(ReplyKind::auth_cancelled);
      co_return true;
    }
    if (!ok) {
      queueReply(ReplyKind::auth_syntax);
      co_return true;
    }
    // Password hashing and account lookups block: off the I/O threads.
    Authenticator& authenticator = authenticator_;
    auto check = [&authenticator, user = std::move(user),
                  password = std::move(password)]() -> awaitable<Authentication> {
      co_return authenticator.authenticate(user, password);
    };
    Authentication result = co_await asio::co_spawn(work_pool_, check, asio::use_awaitable);
    if (result.outcome == Authentication::Outcome::unavailable) {
      log::warning("AUTH {} for [{}]: account lookup unavailable", mechanism, info_.client_address);
      queueReply(ReplyKind::auth_temporary_failure);
      co_return true;
    }
    if (result.outcome != Authentication::Outcome::accepted) {
      shared_.noteAuthFailure(info_.client_address);
      log::info("AUTH {} failed for [{}]", mechanism, info_.client_address);
      queueReply(ReplyKind::auth_invalid_credentials);
      co_return true;
    }
    info_.auth_user = std::move(result.user);
    log::info("AUTH {} succeeded for [{}] as {}", mechanism, info_.client_address, info_.auth_user);
    queueReply(ReplyKind::auth_success);
    co_return true;
  }

  asio::ssl::stream<tcp::socket> stream_;
  asio::steady_timer timer_;
  const ConnectorRuntime& connector_;
  const ConnectorLimits& limits_;
  SharedState& shared_;
  TransactionHandler& handler_;
  Authenticator& authenticator_;
  asio::thread_pool& work_pool_;

  SessionInfo info_;
  std::array<std::uint8_t, 16> client_ip_{};
  static constexpr size_t kReadBufferSize = 16 * 1024;
  std::unique_ptr<char[]> read_buffer_ = std::make_unique<char[]>(kReadBufferSize);
  std::string input_;
  size_t read_position_ = 0;
  std::string output_;
  bool skipping_long_line_ = false;
  bool tls_active_ = false;
  bool finished_ = false;
  bool timed_out_ = false;
  Clock::time_point deadline_{};
  std::uint32_t errors_ = 0;
  std::vector<std::string> partner_domains_;  // Domain Security: authenticated by certificate
  std::string partner_reason_;                // why not, for the log

  bool in_transaction_ = false;
  bool chunking_ = false;
  bool chunk_failed_ = false;
  std::optional<ContentAccumulator> chunk_content_;
  Transaction transaction_;
};

// "127.0.0.1:2525" / "[::1]:25" / "localhost:25".
Result<tcp::endpoint> parseListen(const std::string& listen) {
  std::string host, port_text;
  if (!listen.empty() && listen.front() == '[') {
    auto close = listen.find(']');
    if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      return makeError("config", "bad listen address " + listen);
    }
    host = listen.substr(1, close - 1);
    port_text = listen.substr(close + 2);
  } else {
    auto colon = listen.rfind(':');
    if (colon == std::string::npos) return makeError("config", "bad listen address " + listen);
    host = listen.substr(0, colon);
    port_text = listen.substr(colon + 1);
  }
  if (host == "localhost") host = "127.0.0.1";
  boost::system::error_code error;
  auto address = asio::ip::make_address(host, error);
  if (error) return makeError("config", "bad listen address " + listen);
  int port = std::atoi(port_text.c_str());
  if (port < 0 || port > 65535) return makeError("config", "bad port in " + listen);
  return tcp::endpoint(address, static_cast<unsigned short>(port));
}

}  // namespace

struct SmtpServer::Implementation {
  Implementation(const Config& config, ServerCertificate certificate, TransactionHandler& handler,
                 Authenticator& authenticator)
      : config(config),
        certificate(std::move(certificate)),
        handler(handler),
        authenticator(authenticator),
        shared(config),
        tls(asio::ssl::context::tls_server),
        work_pool(2) {}

  awaitable<void> acceptLoop(tcp::acceptor& acceptor, const ConnectorRuntime& connector) {
    while (acceptor.is_open()) {
      auto [error, socket] = co_await acceptor.async_accept(asio::make_strand(io), use_tuple);
      if (error) {
        if (error == asio::error::operation_aborted) co_return;
        log::warning("accept on {} failed: {}", connector.settings->listen, error.message());
        continue;
      }
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      auto remote = socket.remote_endpoint(ignored);
      auto address = remote.address();
      if (address.is_v6() && address.to_v6().is_v4_mapped()) {
        address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
      }
      std::string client = address.to_string();
      auto admission = shared.admit(client, connector.settings->limits.max_connections_per_client);
      if (admission != SharedState::Admission::admitted) {
        auto refusal = makeReply(admission == SharedState::Admission::server_full
                                     ? ReplyKind::too_many_connections
                                     : ReplyKind::too_many_connections_from_client);
        log::info("refused connection from [{}]: {}", client, refusal.lines.front());
        auto refuse = [socket = std::move(socket), text = refusal.render()]() mutable
            -> awaitable<void> {
          co_await asio::async_write(socket, asio::buffer(text), use_tuple);
          boost::system::error_code ignored_error;
          socket.close(ignored_error);
        };
        asio::co_spawn(acceptor.get_executor(), std::move(refuse), asio::detached);
        continue;
      }
      auto executor = socket.get_executor();
      auto session = std::make_shared<Session>(std::move(socket), tls, connector, shared, handler,
                                               authenticator, work_pool);
      auto run = [session, client, port = remote.port(), this]() -> awaitable<void> {
        co_await session->run(client, port);
        shared.release(client);
      };
      asio::co_spawn(executor, std::move(run), asio::detached);
    }
  }

  const Config& config;
  ServerCertificate certificate;
  TransactionHandler& handler;
  Authenticator& authenticator;
  SharedState shared;
  asio::io_context io;
  asio::ssl::context tls;
  asio::thread_pool work_pool;
  std::vector<ConnectorRuntime> connectors;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::vector<std::thread> threads;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
};

SmtpServer::SmtpServer(const Config& config, ServerCertificate certificate,
                       TransactionHandler& handler, Authenticator& authenticator)
    : implementation_(std::make_unique<Implementation>(config, std::move(certificate), handler,
                                                       authenticator)) {}

SmtpServer::~SmtpServer() { stop(); }

Result<void> SmtpServer::start(unsigned threads) {
  auto& self = *implementation_;
  auto context = net::makeServerTlsContext(self.certificate.certificate,
                                           self.certificate.private_key);
  if (!context) return context.error();
  const DomainSecureSettings& domain_secure = self.config.domain_secure;
  if (!domain_secure.receive.empty()) {
    auto partners =
        net::PartnerVerifier::load(domain_secure.resolved_trust_files, domain_secure.receive);
    if (!partners) return partners.error();
    if (auto requested = (*partners)->requestClientCertificates(context->get()); !requested) {
      return requested.error();
    }
    self.shared.setPartners(std::move(*partners));
  }
  self.tls = asio::ssl::context(context->release());

  self.connectors.reserve(self.config.receive_connectors.size());
  for (const auto& settings : self.config.receive_connectors) {
    ConnectorRuntime runtime;
    runtime.settings = &settings;
    for (const auto& text : settings.relay_networks) {
      auto network = net::parseCidr(text);
      if (!network) {
        return makeError("config", "receive connector " + settings.name +
                                       ": bad relay network " + text);
      }
      runtime.relay_networks.push_back(*network);
    }
    self.connectors.push_back(std::move(runtime));
  }
  for (auto& connector : self.connectors) {
    auto endpoint = parseListen(connector.settings->listen);
    if (!endpoint) return endpoint.error();
    auto acceptor = std::make_unique<tcp::acceptor>(self.io);
    boost::system::error_code error;
    acceptor->open(endpoint->protocol(), error);
    if (!error) acceptor->set_option(tcp::acceptor::reuse_address(true), error);
    if (!error) acceptor->bind(*endpoint, error);
    if (!error) acceptor->listen(asio::socket_base::max_listen_connections, error);
    if (error) {
      return makeError("listen", "receive connector " + connector.settings->name +
                                     " cannot listen on " + connector.settings->listen + ": " +
                                     error.message());
    }
    log::info("receive connector {} listening on {} (tls {})", connector.settings->name,
              connector.settings->listen,
              connector.settings->tls == TlsMode::implicit   ? "implicit"
              : connector.settings->tls == TlsMode::required ? "required"
              : connector.settings->tls == TlsMode::starttls ? "starttls"
                                                              : "none");
    self.acceptors.push_back(std::move(acceptor));
  }
  for (size_t index = 0; index < self.acceptors.size(); ++index) {
    auto loop = [&self, index]() -> awaitable<void> {
      co_await self.acceptLoop(*self.acceptors[index], self.connectors[index]);
    };
    asio::co_spawn(self.io, std::move(loop), asio::detached);
  }
  self.work.emplace(self.io.get_executor());
  for (unsigned index = 0; index < std::max(1u, threads); ++index) {
    self.threads.emplace_back([&self] { self.io.run(); });
  }
  return {};
}

std::vector<std::uint16_t> SmtpServer::boundPorts() const {
  std::vector<std::uint16_t> ports;
  for (const auto& acceptor : implementation_->acceptors) {
    boost::system::error_code error;
    ports.push_back(acceptor->local_endpoint(error).port());
  }
  return ports;
}

void SmtpServer::stop() {
  auto& self = *implementation_;
  if (self.threads.empty()) return;
  asio::post(self.io, [&self] {
    for (auto& acceptor : self.acceptors) {
      boost::system::error_code ignored;
      acceptor->close(ignored);
    }
  });
  self.work.reset();
  self.io.stop();
  for (auto& thread : self.threads) thread.join();
  self.threads.clear();
  self.work_pool.join();
}

}  // namespace bulwark::smtp
