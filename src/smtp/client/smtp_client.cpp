// One outbound delivery attempt (RFC 5321 3 and 4, client side), blocking, on POSIX sockets and
// OpenSSL: STARTTLS (RFC 3207) at the caller's TLS level (DESIGN.md "TLS policy": a requirement
// that cannot be met defers, never downgrades), AUTH PLAIN over TLS only (RFC 4954, RFC 4616),
// PIPELINING (RFC 2920), SIZE (RFC 1870), 8BITMIME (RFC 6152; 8-bit content converted to 7 bit
// for a server without it, 3), CHUNKING (RFC 3030), SMTPUTF8 (RFC 6531 3.4), DSN parameters
// (RFC 3461 4), REQUIRETLS (RFC 8689 4.1). Every byte from the server is untrusted:
// replies go through ReplyReader's limits, and bytes received ahead of the TLS handshake fail the
// attempt (response injection).
// Failure codes we make up ourselves follow RFC 3463: 4.4.1 no answer from host, 4.4.2 bad
// connection, 4.7.5 cryptographic failure (TLS missing, handshake or certificate), 4.7.10
// REQUIRETLS not supported (RFC 8689 5), 4.7.11 encryption needed for authentication, 5.6.3
// conversion to 7 bit required but not possible.
// LMTP (RFC 2033) to a mailbox server, over TCP or a unix socket: LHLO (4.1) instead of EHLO, and
// after the end of data one reply per accepted recipient, in RCPT order (4.2).
// Limits: BDAT chunks go one at a time (each waits for its reply); no BINARYMIME; one SSL_CTX per
// attempt (no session resumption).
#include "smtp/client/smtp_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <variant>

#include "common/dsn.h"
#include "net/base64.h"
#include "net/certificate_info.h"
#include "net/domain_security.h"
#include "net/openssl_errors.h"
#include "net/tls_context.h"
#include "smtp/client/dane_tls.h"
#include "smtp/client/reply_reader.h"
#include "smtp/client/wire_body.h"

namespace bulwark::smtp {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kReadChunk = 16384;
constexpr std::size_t kDataChunk = 65536;  // DATA goes out in writes of about this size
// QUIT is a courtesy: do not hold a worker for the full command timeout waiting for its reply.
constexpr std::chrono::seconds kQuitTimeout{10};

Reply localReply(int code, const char* enhanced, std::string text) {
  Reply reply;
  reply.code = code;
  reply.enhanced = enhanced;
  reply.lines.push_back(std::move(text));
  return reply;
}

// A socket BIO that sends with MSG_NOSIGNAL: OpenSSL's own socket BIO uses write(), which raises
// SIGPIPE when the peer has gone, and a delivery worker must never die of that.
int socketBioWrite(BIO* bio, const char* data, int length) {
  const int descriptor = static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(bio)));
  BIO_clear_retry_flags(bio);
  ssize_t sent = ::send(descriptor, data, static_cast<std::size_t>(length), MSG_NOSIGNAL);
  if (sent < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) BIO_set_retry_write(bio);
    return -1;
  }
  return static_cast<int>(sent);
}

int socketBioRead(BIO* bio, char* data, int length) {
  const int descriptor = static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(bio)));
  BIO_clear_retry_flags(bio);
  ssize_t received = ::recv(descriptor, data, static_cast<std::size_t>(length), 0);
  if (received < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) BIO_set_retry_read(bio);
    return -1;
  }
  return static_cast<int>(received);
}

long socketBioControl(BIO*, int command, long, void*) {
  return command == BIO_CTRL_FLUSH ? 1 : 0;
}

int socketBioCreate(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

const BIO_METHOD* socketBioMethod() {
  // Created once, shared by all threads, never freed (it is read-only after creation).
  static BIO_METHOD* method = [] {
    BIO_METHOD* created =
        BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "bulwark nosignal socket");
    if (created) {
      BIO_meth_set_write(created, socketBioWrite);
      BIO_meth_set_read(created, socketBioRead);
      BIO_meth_set_ctrl(created, socketBioControl);
      BIO_meth_set_create(created, socketBioCreate);
    }
    return created;
  }();
  return method;
}

struct SslContextDeleter {
  void operator()(SSL_CTX* context) const { SSL_CTX_free(context); }
};
struct SslDeleter {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
struct CertificateDeleter {
  void operator()(X509* certificate) const { X509_free(certificate); }
};

// I/O outcomes below the SMTP layer: the text says what happened, for the reply we build.
struct IoError {
  bool timeout = false;
  std::string text;
};

// The connection: a non-blocking socket, optionally TLS, every wait bounded by poll().
class Connection {
 public:
  Connection(const ClientEndpoint& endpoint, const ClientSettings& settings)
      : endpoint_(endpoint), settings_(settings) {}
  ~Connection() {
    if (ssl_ && !tls_broken_) {
      // Best effort close_notify (RFC 8446 6.1); non-blocking, so it never waits.
      ERR_clear_error();
      SSL_shutdown(ssl_.get());
      ERR_clear_error();
    }
    ssl_.reset();
    ssl_context_.reset();
    if (descriptor_ >= 0) ::close(descriptor_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  std::optional<IoError> connect();
  std::optional<IoError> connectUnix();
  std::optional<IoError> write(std::string_view bytes);
  // Reads one whole reply within `timeout`.
  std::variant<Reply, IoError> readReply(std::chrono::seconds timeout);
  bool tlsActive() const { return ssl_ != nullptr; }
  // Bytes the server sent that no reply has consumed yet, in our buffer or still in the kernel's.
  bool hasUnreadBytes();
  // verify: PKIX (chain, dates, name). With endpoint TLSA records the handshake checks those
  // (DANE) instead, and verify adds the PKIX check on top.
  std::optional<IoError> startTls(bool verify, HopEvidence& evidence);

 private:
  // Waits for `events` until `deadline`; false on timeout or error (text in `error`).
  bool waitFor(short events, Clock::time_point deadline, IoError& error);
  // At TlsLevel::mutual: our client certificate and the partner CAs into `context`.
  std::optional<IoError> prepareMutualTls(SSL_CTX* context);

  const ClientEndpoint& endpoint_;
  const ClientSettings& settings_;
  int descriptor_ = -1;
  std::unique_ptr<SSL_CTX, SslContextDeleter> ssl_context_;
  std::unique_ptr<SSL, SslDeleter> ssl_;
  ReplyReader reader_;
  bool tls_broken_ = false;  // a fatal TLS error happened: no close_notify may follow
};

bool Connection::waitFor(short events, Clock::time_point deadline, IoError& error) {
  while (true) {
    auto remaining =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (remaining <= 0) {
      error = IoError{true, "timed out"};
      return false;
    }
    pollfd entry{descriptor_, events, 0};
    int ready = ::poll(&entry, 1, static_cast<int>(std::min<long long>(remaining, 1 << 30)));
    if (ready < 0) {
      if (errno == EINTR) continue;
      error = IoError{false, std::string("poll failed: ") + std::strerror(errno)};
      return false;
    }
    if (ready == 0) continue;  // the loop re-checks the deadline
    // POLLERR/POLLHUP: let the following read or write report the actual error.
    return true;
  }
}

// A local socket (LMTP to a mailbox server on this machine). Linux connects a unix stream socket
// at once or not at all (EAGAIN when the listener's backlog is full): every failure is final here,
// and the queue tries again later.
std::optional<IoError> Connection::connectUnix() {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (endpoint_.unix_socket.size() >= sizeof address.sun_path) {
    return IoError{false, "socket path '" + endpoint_.unix_socket + "' is too long"};
  }
  std::memcpy(address.sun_path, endpoint_.unix_socket.data(), endpoint_.unix_socket.size());
  descriptor_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (descriptor_ < 0) return IoError{false, std::string("socket: ") + std::strerror(errno)};
  if (::connect(descriptor_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    return IoError{false, std::strerror(errno)};
  }
  return std::nullopt;
}

std::optional<IoError> Connection::connect() {
  if (!endpoint_.unix_socket.empty()) return connectUnix();
  sockaddr_storage storage{};
  socklen_t length = 0;
  std::string address = endpoint_.address;
  if (address.size() > 2 && address.front() == '[' && address.back() == ']') {
    address = address.substr(1, address.size() - 2);
  }
  auto* ipv4 = reinterpret_cast<sockaddr_in*>(&storage);
  auto* ipv6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (::inet_pton(AF_INET, address.c_str(), &ipv4->sin_addr) == 1) {
    ipv4->sin_family = AF_INET;
    ipv4->sin_port = htons(endpoint_.port);
    length = sizeof(sockaddr_in);
  } else if (::inet_pton(AF_INET6, address.c_str(), &ipv6->sin6_addr) == 1) {
    ipv6->sin6_family = AF_INET6;
    ipv6->sin6_port = htons(endpoint_.port);
    length = sizeof(sockaddr_in6);
  } else {
    return IoError{false, "'" + endpoint_.address + "' is not an IP address"};
  }
  descriptor_ = ::socket(storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (descriptor_ < 0) return IoError{false, std::string("socket: ") + std::strerror(errno)};
  // Commands and replies are small writes: without TCP_NODELAY, delayed ACKs stall each
  // exchange by ~40 ms (DESIGN.md "Traps").
  int one = 1;
  ::setsockopt(descriptor_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(descriptor_, reinterpret_cast<sockaddr*>(&storage), length) != 0) {
    if (errno != EINPROGRESS) return IoError{false, std::strerror(errno)};
    IoError error;
    if (!waitFor(POLLOUT, Clock::now() + settings_.connect_timeout, error)) return error;
    int status = 0;
    socklen_t status_length = sizeof status;
    if (::getsockopt(descriptor_, SOL_SOCKET, SO_ERROR, &status, &status_length) != 0) {
      status = errno;
    }
    if (status != 0) return IoError{false, std::strerror(status)};
  }
  return std::nullopt;
}

std::optional<IoError> Connection::write(std::string_view bytes) {
  const Clock::time_point deadline = Clock::now() + settings_.command_timeout;
  while (!bytes.empty()) {
    IoError error;
    if (ssl_) {
      ERR_clear_error();
      int written = SSL_write(ssl_.get(), bytes.data(),
                              static_cast<int>(std::min<std::size_t>(bytes.size(), 1 << 30)));
      if (written > 0) {
        bytes.remove_prefix(static_cast<std::size_t>(written));
        continue;
      }
      int reason = SSL_get_error(ssl_.get(), written);
      if (reason == SSL_ERROR_WANT_WRITE || reason == SSL_ERROR_WANT_READ) {
        if (!waitFor(reason == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN, deadline, error)) {
          return error;
        }
        continue;
      }
      tls_broken_ = true;
      std::string detail = net::drainOpenSslErrors();
      return IoError{false, "TLS write failed" + (detail.empty() ? "" : ": " + detail)};
    }
    ssize_t sent = ::send(descriptor_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (sent > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(sent));
      continue;
    }
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      if (!waitFor(POLLOUT, deadline, error)) return error;
      continue;
    }
    return IoError{false, std::string("send failed: ") + std::strerror(errno)};
  }
  return std::nullopt;
}

std::variant<Reply, IoError> Connection::readReply(std::chrono::seconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  char buffer[kReadChunk];
  while (true) {
    auto next = reader_.next();
    if (!next) return IoError{false, "malformed reply: " + next.error().message};
    if (next->has_value()) return std::move(**next);
    IoError error;
    if (ssl_) {
      ERR_clear_error();
      int received = SSL_read(ssl_.get(), buffer, sizeof buffer);
      if (received > 0) {
        reader_.feed(std::string_view(buffer, static_cast<std::size_t>(received)));
        continue;
      }
      int reason = SSL_get_error(ssl_.get(), received);
      if (reason == SSL_ERROR_WANT_READ || reason == SSL_ERROR_WANT_WRITE) {
        if (!waitFor(reason == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline, error)) {
          return error;
        }
        continue;
      }
      if (reason == SSL_ERROR_ZERO_RETURN) return IoError{false, "connection closed by host"};
      tls_broken_ = true;
      std::string detail = net::drainOpenSslErrors();
      return IoError{false, "TLS read failed" + (detail.empty() ? "" : ": " + detail)};
    }
    ssize_t received = ::recv(descriptor_, buffer, sizeof buffer, 0);
    if (received > 0) {
      reader_.feed(std::string_view(buffer, static_cast<std::size_t>(received)));
      continue;
    }
    if (received == 0) return IoError{false, "connection closed by host"};
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      if (!waitFor(POLLIN, deadline, error)) return error;
      continue;
    }
    return IoError{false, std::string("receive failed: ") + std::strerror(errno)};
  }
}

bool Connection::hasUnreadBytes() {
  if (reader_.buffered() > 0) return true;
  char byte;
  ssize_t peeked = ::recv(descriptor_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return peeked > 0;
}

bool isIpLiteral(const std::string& host) {
  unsigned char address[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, host.c_str(), address) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), address) == 1;
}

std::optional<IoError> Connection::prepareMutualTls(SSL_CTX* context) {
  if (settings_.tls != TlsLevel::mutual) return std::nullopt;
  if (auto trusted = net::addTrustAnchors(context, settings_.partner_ca_files); !trusted) {
    return IoError{false, trusted.error().message};
  }
  auto presented = net::useClientCertificate(context, settings_.client_certificate,
                                             settings_.client_private_key);
  if (!presented) return IoError{false, presented.error().message};
  return std::nullopt;
}

std::optional<IoError> Connection::startTls(bool verify, HopEvidence& evidence) {
  ERR_clear_error();
  ssl_context_.reset(SSL_CTX_new(TLS_client_method()));
  if (!ssl_context_)
    return IoError{false, "cannot create a TLS context: " + net::drainOpenSslErrors()};
  SSL_CTX* context = ssl_context_.get();
  // RFC 8996: nothing below TLS 1.2.
  SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
  if (verify) {
    int loaded = settings_.ca_file.empty()
                     ? SSL_CTX_set_default_verify_paths(context)
                     : SSL_CTX_load_verify_locations(context, settings_.ca_file.c_str(), nullptr);
    if (loaded != 1) {
      return IoError{false, "cannot load trust anchors " +
                                (settings_.ca_file.empty() ? std::string("(OpenSSL default paths)")
                                                           : settings_.ca_file.string()) +
                                ": " + net::drainOpenSslErrors()};
    }
    if (auto prepared = prepareMutualTls(context); prepared) return prepared;
    // The handshake itself fails on a bad chain, a date out of range or a wrong name, so not a
    // byte of the session goes to an unverified peer.
    SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nullptr);
  } else {
    // required/opportunistic: encryption with any certificate (the evidence says "none").
    SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nullptr);
  }
  ssl_.reset(SSL_new(context));
  const bool dane = !endpoint_.tlsa.empty();
  if (ssl_ && dane) {
    if (auto problem = enableDane(context, ssl_.get(), endpoint_)) {
      ssl_.reset();
      return IoError{false, *problem};
    }
  }
  const BIO_METHOD* method = socketBioMethod();
  BIO* bio = method ? BIO_new(method) : nullptr;
  if (!ssl_ || !bio) {
    if (bio) BIO_free(bio);
    ssl_.reset();
    return IoError{false, "cannot create a TLS connection: " + net::drainOpenSslErrors()};
  }
  BIO_set_data(bio, reinterpret_cast<void*>(static_cast<std::intptr_t>(descriptor_)));
  SSL_set_bio(ssl_.get(), bio, bio);  // the SSL owns the BIO now
  if (!endpoint_.host.empty() && !isIpLiteral(endpoint_.host)) {
    SSL_set_tlsext_host_name(ssl_.get(), endpoint_.host.c_str());
  }
  // Domain Security checks the partner's domain; every other verified level the host's name.
  const std::string& expected_name =
      settings_.tls == TlsLevel::mutual ? settings_.partner_domain : endpoint_.host;
  if (verify && !dane) {
    X509_VERIFY_PARAM* parameters = SSL_get0_param(ssl_.get());
    X509_VERIFY_PARAM_set_hostflags(parameters, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    int named = isIpLiteral(expected_name)
                    ? X509_VERIFY_PARAM_set1_ip_asc(parameters, expected_name.c_str())
                    : X509_VERIFY_PARAM_set1_host(parameters, expected_name.c_str(), 0);
    if (expected_name.empty() || named != 1) {
      ssl_.reset();
      return IoError{false, "cannot check the certificate name '" + expected_name + "'"};
    }
  }
  const Clock::time_point deadline = Clock::now() + settings_.command_timeout;
  while (true) {
    ERR_clear_error();
    int result = SSL_connect(ssl_.get());
    if (result == 1) break;
    int reason = SSL_get_error(ssl_.get(), result);
    IoError error;
    if (reason == SSL_ERROR_WANT_READ || reason == SSL_ERROR_WANT_WRITE) {
      if (!waitFor(reason == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline, error)) {
        ssl_.reset();
        return IoError{error.timeout, "TLS handshake " + error.text};
      }
      continue;
    }
    std::string detail;
    long verification = SSL_get_verify_result(ssl_.get());
    if (dane && verification != X509_V_OK) {
      detail = daneFailure(verification);
      net::drainOpenSslErrors();
    } else if (verify && verification != X509_V_OK) {
      detail = std::string("certificate verification failed: ") +
               X509_verify_cert_error_string(verification);
      net::drainOpenSslErrors();
    } else {
      detail = net::drainOpenSslErrors();
      if (detail.empty()) detail = "connection closed during the handshake";
    }
    ssl_.reset();
    return IoError{false, "TLS handshake failed: " + detail};
  }
  net::TlsDetails details = net::describeTls(ssl_.get());
  evidence.tls_version = details.version;
  evidence.tls_cipher = details.cipher;
  std::unique_ptr<X509, CertificateDeleter> certificate(SSL_get1_peer_certificate(ssl_.get()));
  if (certificate) {
    evidence.peer_subject = net::certificateSubject(certificate.get());
    evidence.peer_fingerprint = net::certificateFingerprint(certificate.get());
  }
  if (verify || dane) {
    // SSL_VERIFY_PEER already failed the handshake otherwise; check again so a missing
    // certificate (anonymous cipher) can never pass as verified.
    if (!certificate || SSL_get_verify_result(ssl_.get()) != X509_V_OK) {
      return IoError{false, "certificate verification failed: no verified certificate"};
    }
    evidence.verification = "pkix";
    if (verify) evidence.verified_name = expected_name;
  }
  if (dane) {
    evidence.tlsa_match = daneMatch(ssl_.get());
    if (evidence.tlsa_match.empty()) {
      return IoError{false, "certificate verification failed: no TLSA record matched"};
    }
    evidence.verification = "dane";
    if (verify) {
      if (auto problem = checkPkixAfterDane(ssl_.get(), expected_name)) {
        return IoError{false, *problem + " (PKIX, required above DANE)"};
      }
      evidence.verification = "pkix+dane";
    }
  }
  reader_.clear();
  return std::nullopt;
}

// RFC 3461 4: xtext, every octet outside "!" to "~", and "+" and "=", as "+HH".
std::string encodeXtext(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto octet = static_cast<unsigned char>(c);
    if (octet < 33 || octet > 126 || octet == '+' || octet == '=') {
      out += '+';
      out += kHex[octet >> 4];
      out += kHex[octet & 0x0f];
    } else {
      out += c;
    }
  }
  return out;
}

std::string notifyParameter(std::uint8_t notify) {
  if (notify & notify_never) return "NEVER";
  std::string out;
  auto add = [&](const char* word) {
    if (!out.empty()) out += ',';
    out += word;
  };
  if (notify & notify_success) add("SUCCESS");
  if (notify & notify_failure) add("FAILURE");
  if (notify & notify_delay) add("DELAY");
  return out;
}

// The message body on the wire (RFC 5321 4.1.1.4, 4.5.2): every line ends in CRLF, whatever the
// stored bytes hold (a bare CR or LF becomes CRLF, so we never emit the line endings that SMTP
// smuggling relies on), lines starting with "." get another ".", and the end is CRLF "." CRLF.
// Produces the output in pieces of about kDataChunk bytes, handed to `emit`.
template <class Emit>
bool writeDataBody(std::string_view data, Emit&& emit) {
  std::string chunk;
  chunk.reserve(kDataChunk + 1024);
  bool line_start = true;
  for (std::size_t index = 0; index < data.size(); ++index) {
    const char c = data[index];
    if (c == '\r' || c == '\n') {
      chunk += "\r\n";
      // CRLF is one line ending; a CR or LF alone is also one.
      if (c == '\r' && index + 1 < data.size() && data[index + 1] == '\n') ++index;
      line_start = true;
    } else {
      if (line_start && c == '.') chunk += '.';
      chunk += c;
      line_start = false;
    }
    if (chunk.size() >= kDataChunk) {
      if (!emit(std::string_view(chunk))) return false;
      chunk.clear();
    }
  }
  if (!line_start) chunk += "\r\n";
  chunk += ".\r\n";
  return emit(std::string_view(chunk));
}

// One attempt; member functions return false when the session must end.
class Attempt {
 public:
  Attempt(const ClientEndpoint& endpoint, const ClientSettings& settings,
          const OutboundMessage& message)
      : endpoint_(endpoint),
        settings_(settings),
        message_(message),
        connection_(endpoint, settings) {}

  AttemptResult run();

 private:
  TlsLevel effectiveLevel() const {
    // The route's level (raised by MTA-STS enforce), raised by DANE for this host (RFC 7672 2.2),
    // and by REQUIRETLS to a verified certificate (RFC 8689 4.2: PKIX, MTA-STS or DANE, all at or
    // above verify).
    TlsLevel level = std::max(settings_.tls, endpoint_.dns_level);
    if ((message_.require_tls || message_.offer_require_tls) && level < TlsLevel::verify) {
      level = TlsLevel::verify;
    }
    return level;
  }
  std::string hostText() const {
    if (!endpoint_.unix_socket.empty()) return "unix:" + endpoint_.unix_socket;
    return (endpoint_.host.empty() ? endpoint_.address : endpoint_.host) + " [" +
           endpoint_.address + "]:" + std::to_string(endpoint_.port);
  }
  bool lmtp() const { return settings_.protocol == Protocol::lmtp; }
  // Sends `bytes`; on failure records a transient session reply.
  bool send(std::string_view bytes, const char* stage);
  // Reads a reply; on failure records a transient session reply and returns nullopt.
  std::optional<Reply> receive(const char* stage,
                               std::chrono::seconds timeout = std::chrono::seconds(0));
  void fail(Reply reply) { result_.session = std::move(reply); }
  bool greetAndHello();
  bool hello(bool allow_helo);
  bool negotiateTls();
  bool authenticate();
  // Decides the bytes of the message on the wire (BDAT or DATA, 7-bit conversion); false when
  // the message cannot go to this server (5.6.3).
  bool prepareBody();
  bool useChunking() const { return settings_.chunking && capabilities_.has("CHUNKING"); }
  // Every BDAT chunk, and the replies to all but the last (RFC 3030 2, 4.2).
  bool sendChunks();
  bool checkMessageAgainstCapabilities();
  void transaction();
  void readLmtpReplies();
  void courtesy(const char* command);
  std::string mailCommand() const;
  std::string recipientCommand(const OutboundRecipient& recipient) const;
  // Every recipient without its own final reply gets the session reply.
  void finishRecipients();

  const ClientEndpoint& endpoint_;
  const ClientSettings& settings_;
  const OutboundMessage& message_;
  Connection connection_;
  ServerCapabilities capabilities_;
  AttemptResult result_;
  std::vector<std::optional<Reply>> recipient_replies_;
  std::optional<WireBody> body_;  // set by prepareBody
  bool connected_ = false;
  bool usable_ = false;  // the SMTP dialogue is in a state where QUIT makes sense
};

bool Attempt::send(std::string_view bytes, const char* stage) {
  if (auto error = connection_.write(bytes)) {
    usable_ = false;
    fail(localReply(451, "4.4.2",
                    std::string(error->timeout ? "timeout" : "connection lost") + " sending " +
                        stage + " to " + hostText() + (error->timeout ? "" : ": " + error->text)));
    return false;
  }
  return true;
}

std::optional<Reply> Attempt::receive(const char* stage, std::chrono::seconds timeout) {
  auto outcome = connection_.readReply(timeout.count() > 0 ? timeout : settings_.command_timeout);
  if (auto* reply = std::get_if<Reply>(&outcome)) return std::move(*reply);
  const IoError& error = std::get<IoError>(outcome);
  usable_ = false;
  fail(
      localReply(451, "4.4.2",
                 std::string(error.timeout ? "timeout waiting for the reply to " : "no reply to ") +
                     stage + " from " + hostText() + (error.timeout ? "" : ": " + error.text)));
  return std::nullopt;
}

bool Attempt::hello(bool allow_helo) {
  // RFC 2033 4.1: LHLO is EHLO's LMTP name, and LMTP has no HELO.
  const char* const verb = lmtp() ? "LHLO" : "EHLO";
  if (!send(std::string(verb) + " " + settings_.helo_name + "\r\n", verb)) return false;
  auto reply = receive(verb);
  if (!reply) return false;
  if (reply->code / 100 == 2) {
    capabilities_ = parseEhloCapabilities(*reply);
    return true;
  }
  // RFC 5321 3.2: an old server answers EHLO with 5xx; HELO then gives a session without any
  // extension, which is only acceptable when nothing needs STARTTLS.
  if (reply->code / 100 == 5 && allow_helo && !lmtp()) {
    if (!send("HELO " + settings_.helo_name + "\r\n", "HELO")) return false;
    auto helo = receive("HELO");
    if (!helo) return false;
    if (helo->code / 100 == 2) {
      capabilities_ = ServerCapabilities{};
      return true;
    }
    fail(std::move(*helo));
    return false;
  }
  if (reply->code / 100 == 5 && effectiveLevel() >= TlsLevel::required) {
    fail(localReply(451, "4.7.5",
                    "TLS required but not offered by host " + hostText() +
                        " (EHLO refused: " + std::to_string(reply->code) + ")"));
    return false;
  }
  fail(std::move(*reply));
  return false;
}

bool Attempt::greetAndHello() {
  if (auto error = connection_.connect()) {
    fail(localReply(451, "4.4.1",
                    std::string(error->timeout ? "connection timed out" : "cannot connect") +
                        " to " + hostText() + (error->timeout ? "" : ": " + error->text)));
    return false;
  }
  connected_ = true;
  auto outcome = connection_.readReply(settings_.command_timeout);
  if (auto* error = std::get_if<IoError>(&outcome)) {
    fail(localReply(451, "4.4.1",
                    std::string(error->timeout ? "no greeting" : "bad greeting") + " from " +
                        hostText() + (error->timeout ? "" : ": " + error->text)));
    return false;
  }
  Reply greeting = std::get<Reply>(std::move(outcome));
  usable_ = true;
  if (greeting.code != 220) {
    fail(std::move(greeting));
    return false;
  }
  return hello(effectiveLevel() <= TlsLevel::opportunistic);
}

bool Attempt::negotiateTls() {
  const TlsLevel level = effectiveLevel();
  if (level == TlsLevel::none) return true;
  const bool offered = capabilities_.has("STARTTLS");
  auto notAvailable = [&](const std::string& why) {
    fail(localReply(451, "4.7.5", "TLS required but " + why + " by host " + hostText()));
    return false;
  };
  if (!offered) {
    if (level == TlsLevel::opportunistic) return true;
    return notAvailable("not offered");
  }
  if (!send("STARTTLS\r\n", "STARTTLS")) return false;
  auto reply = receive("STARTTLS");
  if (!reply) return false;
  if (reply->code != 220) {
    // The server declined before any TLS byte: at opportunistic the dialogue in clear text is
    // intact and may go on; anything stronger defers.
    if (level == TlsLevel::opportunistic) return true;
    return notAvailable("refused (" + std::to_string(reply->code) + ")");
  }
  // RFC 3207 5 and the STARTTLS command injection family: a reply that arrived together with the
  // 220 was written before the handshake and could be an attacker's; nothing of it may be read as
  // protected. The attempt fails (a new connection can do better).
  if (connection_.hasUnreadBytes()) {
    usable_ = false;
    fail(localReply(451, "4.7.5",
                    "host " + hostText() +
                        " sent data after its STARTTLS reply, before the TLS handshake "
                        "(response injection); giving up this connection"));
    return false;
  }
  // With TLSA records DANE replaces PKIX (RFC 7672 3); a level above dane (mutual) wants both.
  const bool pkix = level >= TlsLevel::verify && (endpoint_.tlsa.empty() || level > TlsLevel::dane);
  if (auto error = connection_.startTls(pkix, result_.evidence)) {
    // Never continue in clear on this connection: the server expects a handshake, and at
    // opportunistic the caller may retry in clear text on a new connection.
    usable_ = false;
    fail(localReply(451, "4.7.5", error->text + " with host " + hostText()));
    return false;
  }
  // The certificate was verified for the MX name, which the domain's MTA-STS policy lists (the
  // caller tried only such hosts): RFC 8461 4.2.
  if (level == TlsLevel::mta_sts) result_.evidence.verification = "mta-sts";
  // RFC 3207 4.2: forget what the server said before TLS, ask again.
  capabilities_ = ServerCapabilities{};
  if (!hello(false)) return false;
  if (message_.require_tls && !capabilities_.has("REQUIRETLS")) {
    // RFC 8689 4.1: do not send the message; a temporary failure lets the queue retry or expire.
    fail(localReply(451, "4.7.10", "REQUIRETLS not supported by host " + hostText()));
    return false;
  }
  return true;
}

bool Attempt::authenticate() {
  if (settings_.auth_user.empty()) return true;
  if (!connection_.tlsActive()) {
    fail(localReply(451, "4.7.11",
                    "not sending the password for " + settings_.auth_user + " to host " +
                        hostText() + " in clear text: TLS is not up"));
    return false;
  }
  if (!capabilities_.hasAuthMechanism("PLAIN")) {
    fail(localReply(451, "4.7.0", "host " + hostText() + " does not offer AUTH PLAIN"));
    return false;
  }
  // RFC 4616: authzid NUL authcid NUL password; empty authzid (act as ourselves).
  std::string credentials;
  credentials += '\0';
  credentials += settings_.auth_user;
  credentials += '\0';
  credentials += settings_.auth_password;
  std::string command = "AUTH PLAIN " + net::base64Encode(credentials) + "\r\n";
  std::fill(credentials.begin(), credentials.end(), '\0');
  const bool sent = send(command, "AUTH");
  std::fill(command.begin(), command.end(), '\0');
  if (!sent) return false;
  auto reply = receive("AUTH");
  if (!reply) return false;
  if (reply->code == 235) return true;
  // A refused login is a configuration problem on one side: defer rather than bounce the
  // message, so fixing the password delivers it.
  std::string text = "authentication as " + settings_.auth_user + " failed at host " + hostText() +
                     ": " + std::to_string(reply->code);
  for (const auto& line : reply->lines) text += " " + line;
  fail(localReply(reply->code / 100 == 4 ? reply->code : 454, "4.7.0", std::move(text)));
  return false;
}

bool Attempt::prepareBody() {
  auto body = prepareWireBody(message_.data, message_.body_type == "8BITMIME",
                              capabilities_.has("8BITMIME"), useChunking());
  if (!body) {
    // RFC 6152 3: the client may return the message rather than send 8-bit octets; conversion
    // failed, so it must. Another host of the same domain would get the same answer.
    fail(makeReply(ReplyKind::conversion_not_possible,
                   "message has 8-bit content, host " + hostText() +
                       " does not offer 8BITMIME, and conversion to 7 bit is not possible: " +
                       body.error().message));
    return false;
  }
  body_ = std::move(*body);
  result_.evidence.converted_to_7bit = body_->converted();
  return true;
}

bool Attempt::checkMessageAgainstCapabilities() {
  if (message_.smtputf8 && !capabilities_.has("SMTPUTF8")) {
    // RFC 6531 3.4: an internationalised message cannot go to a server without SMTPUTF8.
    fail(localReply(553, "5.6.7",
                    "message needs SMTPUTF8, which host " + hostText() + " does not offer"));
    return false;
  }
  if (!prepareBody()) return false;
  // RFC 1870 5: no point sending what the server said it would refuse (the size on the wire,
  // after any conversion).
  const std::size_t size = body_->bytes().size();
  if (capabilities_.has("SIZE") && capabilities_.size_limit > 0 &&
      size > capabilities_.size_limit) {
    fail(localReply(552, "5.3.4",
                    "message size " + std::to_string(size) + " exceeds the limit of host " +
                        hostText() + " (" + std::to_string(capabilities_.size_limit) + " bytes)"));
    return false;
  }
  return true;
}

std::string Attempt::mailCommand() const {
  std::string command = "MAIL FROM:<" + message_.sender + ">";
  if (capabilities_.has("SIZE")) command += " SIZE=" + std::to_string(body_->bytes().size());
  if (body_->eightBit() && capabilities_.has("8BITMIME")) {
    command += " BODY=8BITMIME";
  }
  if (message_.smtputf8) command += " SMTPUTF8";
  if (message_.require_tls ||
      (message_.offer_require_tls && capabilities_.has("REQUIRETLS") && !lmtp())) {
    command += " REQUIRETLS";
  }
  if (capabilities_.has("DSN")) {
    if (!message_.dsn_return.empty()) command += " RET=" + message_.dsn_return;
    if (!message_.dsn_envelope_id.empty()) {
      command += " ENVID=" + encodeXtext(message_.dsn_envelope_id);
    }
  }
  return command + "\r\n";
}

std::string Attempt::recipientCommand(const OutboundRecipient& recipient) const {
  std::string command = "RCPT TO:<" + recipient.address + ">";
  if (capabilities_.has("DSN")) {
    if (recipient.notify != 0) command += " NOTIFY=" + notifyParameter(recipient.notify);
    if (!recipient.original.empty()) {
      // Stored as "addr-type;address" decoded; only the address part is xtext.
      std::string_view original = recipient.original;
      std::size_t separator = original.find(';');
      std::string type = separator == std::string_view::npos
                             ? std::string("rfc822")
                             : std::string(original.substr(0, separator));
      std::string_view address =
          separator == std::string_view::npos ? original : original.substr(separator + 1);
      command += " ORCPT=" + type + ";" + encodeXtext(address);
    }
  }
  return command + "\r\n";
}

void Attempt::transaction() {
  const std::size_t count = message_.recipients.size();
  const bool pipelining = capabilities_.has("PIPELINING");
  // With CHUNKING the content goes only after the RCPT replies: no byte of it is sent when every
  // recipient is refused, each BDAT reply is about the content alone, and the round trips are
  // those of pipelined DATA (whose 354 also needs one).
  const bool chunking = useChunking();
  const std::string mail = mailCommand();
  std::vector<std::string> recipients;
  for (const auto& recipient : message_.recipients) {
    recipients.push_back(recipientCommand(recipient));
  }
  recipient_replies_.assign(count, std::nullopt);

  std::optional<Reply> mail_reply;
  std::size_t accepted = 0;
  std::optional<Reply> data_reply;
  if (pipelining) {
    // RFC 2920 3.1: MAIL, the RCPTs and DATA (not BDAT, see above) form one group; the replies
    // come back in order.
    std::string group = mail;
    for (const auto& command : recipients) group += command;
    if (!chunking) group += "DATA\r\n";
    if (!send(group, "MAIL FROM")) return;
    mail_reply = receive("MAIL FROM");
    if (!mail_reply) return;
    for (std::size_t index = 0; index < count; ++index) {
      auto reply = receive("RCPT TO");
      if (!reply) return;
      if (reply->code / 100 == 2) {
        ++accepted;
      } else {
        recipient_replies_[index] = std::move(*reply);
      }
    }
    if (!chunking) {
      data_reply = receive("DATA");
      if (!data_reply) return;
      if ((mail_reply->code / 100 != 2 || accepted == 0) && data_reply->code == 354) {
        // A server that accepted DATA without recipients wants a message: end it empty
        // (RFC 2920 3.1), and ignore what it says about it.
        if (!send(".\r\n", "end of data")) return;
        if (!receive("end of data")) return;
      }
    }
  } else {
    if (!send(mail, "MAIL FROM")) return;
    mail_reply = receive("MAIL FROM");
    if (!mail_reply) return;
    if (mail_reply->code / 100 == 2) {
      for (std::size_t index = 0; index < count; ++index) {
        if (!send(recipients[index], "RCPT TO")) return;
        auto reply = receive("RCPT TO");
        if (!reply) return;
        if (reply->code / 100 == 2) {
          ++accepted;
        } else {
          recipient_replies_[index] = std::move(*reply);
        }
      }
    }
  }

  if (mail_reply->code / 100 != 2) {
    // Every recipient gets the refusal of the sender, whatever its RCPT reply said (with
    // pipelining those were answers to a transaction that never started).
    for (auto& reply : recipient_replies_) reply = *mail_reply;
    fail(std::move(*mail_reply));
    courtesy("RSET\r\n");
    return;
  }
  if (accepted == 0) {
    // Each recipient keeps its own refusal; the session reports the first.
    fail(*recipient_replies_.front());
    courtesy("RSET\r\n");
    return;
  }
  if (chunking) {
    result_.evidence.transfer = "BDAT";
    if (!sendChunks()) return;
  } else {
    if (!pipelining) {
      if (!send("DATA\r\n", "DATA")) return;
      data_reply = receive("DATA");
      if (!data_reply) return;
    }
    if (data_reply->code != 354) {
      fail(std::move(*data_reply));
      return;
    }
    result_.evidence.transfer = "DATA";
    if (!writeDataBody(body_->bytes(),
                       [&](std::string_view chunk) { return send(chunk, "message data"); })) {
      return;
    }
  }
  if (lmtp()) {
    // After the end of data or BDAT LAST alike (RFC 2033 4.2, RFC 3030 2).
    readLmtpReplies();
    return;
  }
  // The reply to the end of data or to BDAT LAST.
  auto final_reply = receive(chunking ? "BDAT LAST" : "end of data");
  if (!final_reply) return;
  for (auto& reply : recipient_replies_) {
    if (!reply) reply = *final_reply;
  }
  result_.session = std::move(*final_reply);
}

// RFC 2033 4.2: one reply per recipient whose RCPT succeeded, in RCPT order; each is that
// recipient's final answer. When the server stops answering, the recipients still waiting get
// the transient session failure (they may have been delivered: a retry risks a duplicate, never a
// loss), while those already answered keep their replies.
void Attempt::readLmtpReplies() {
  bool lost = false;
  for (auto& reply : recipient_replies_) {
    if (reply) continue;  // refused at RCPT: the server says nothing more about it
    if (!lost) {
      if (auto answer = receive("end of data")) {
        reply = std::move(*answer);
        continue;
      }
      lost = true;  // receive() made the failure the session reply
    }
    reply = result_.session;
  }
  // The session reply decides whether the queue reads the recipients' replies (2xx/5xx) or
  // retries them all (4xx): a server's 2xx or 5xx for any recipient settles that recipient.
  const std::optional<Reply>* settled = nullptr;
  for (const auto& reply : recipient_replies_) {
    if (reply->code / 100 == 2) {
      settled = &reply;
      break;
    }
    if (reply->code / 100 == 5 && settled == nullptr) settled = &reply;
  }
  if (settled != nullptr) {
    result_.session = **settled;
  } else if (!lost) {
    // Every reply after the data was a 4xx: the first stands for the attempt.
    for (const auto& reply : recipient_replies_) {
      if (reply->code / 100 == 4) {
        result_.session = *reply;
        break;
      }
    }
  }
}

bool Attempt::sendChunks() {
  std::string_view rest = body_->bytes();
  const std::size_t chunk_size = std::max<std::size_t>(settings_.chunk_size, 1);
  while (true) {
    const std::string_view chunk = rest.substr(0, chunk_size);
    rest.remove_prefix(chunk.size());
    const bool last = rest.empty();
    // RFC 3030 2: the octets exactly as counted, no dot-stuffing, no terminating sequence.
    const std::string command =
        "BDAT " + std::to_string(chunk.size()) + (last ? " LAST\r\n" : "\r\n");
    if (!send(command, "BDAT") || !send(chunk, "message data")) return false;
    if (last) return true;
    auto reply = receive("BDAT");
    if (!reply) return false;
    if (reply->code / 100 != 2) {
      // RFC 3030 2: after a 4xx or 5xx to a chunk the transaction has failed and no more chunks
      // may follow; RSET ends it (RFC 3030 4.1).
      fail(std::move(*reply));
      courtesy("RSET\r\n");
      return false;
    }
  }
}

void Attempt::courtesy(const char* command) {
  // Best effort (RSET, QUIT): the outcome is decided already, so errors here change nothing.
  if (!usable_) return;
  if (connection_.write(command)) {
    usable_ = false;
    return;
  }
  auto outcome = connection_.readReply(std::min(settings_.command_timeout, kQuitTimeout));
  if (std::holds_alternative<IoError>(outcome)) usable_ = false;
}

void Attempt::finishRecipients() {
  if (recipient_replies_.empty()) return;
  result_.recipients.clear();
  for (auto& reply : recipient_replies_) {
    result_.recipients.push_back(reply ? std::move(*reply) : result_.session);
  }
}

AttemptResult Attempt::run() {
  HopEvidence& evidence = result_.evidence;
  evidence.host = endpoint_.host;
  evidence.address =
      endpoint_.unix_socket.empty() ? endpoint_.address : "unix:" + endpoint_.unix_socket;
  evidence.port = endpoint_.unix_socket.empty() ? endpoint_.port : 0;
  evidence.protocol = settings_.protocol;
  evidence.required = effectiveLevel();
  evidence.verification = "none";
  if (message_.recipients.empty()) {
    fail(localReply(451, "4.3.0", "no recipients to deliver to"));
    return std::move(result_);
  }
  if (greetAndHello() && negotiateTls() && authenticate()) {
    if (prepareBody() && checkMessageAgainstCapabilities()) {
      transaction();
    } else {
      // Permanent refusals that apply to the message as a whole: every recipient gets them.
      recipient_replies_.assign(message_.recipients.size(), std::nullopt);
    }
  }
  finishRecipients();
  courtesy("QUIT\r\n");
  return std::move(result_);
}

}  // namespace

AttemptResult deliverMessage(const ClientEndpoint& endpoint, const ClientSettings& settings,
                             const OutboundMessage& message) {
  Attempt attempt(endpoint, settings, message);
  return attempt.run();
}

}  // namespace bulwark::smtp
