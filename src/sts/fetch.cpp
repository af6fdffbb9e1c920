// HttpsPolicyFetcher; see fetch.h. A non-blocking socket and OpenSSL, every wait bounded by poll()
// against one deadline, so a policy host that stalls at any step costs at most `timeout`. The
// response is framed by sts/http_response.h; a body that runs to the end of the connection counts
// only when the TLS session was closed properly (close_notify), so a cut connection cannot pass a
// truncated policy.
#include "sts/fetch.h"

#include "common/strings.h"
#include "net/openssl_errors.h"
#include "sts/http_response.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

namespace bulwark::sts {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr std::string_view kPolicyPath = "/.well-known/mta-sts.txt";

struct SslContextDeleter {
  void operator()(SSL_CTX* context) const { SSL_CTX_free(context); }
};
struct SslDeleter {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
struct CertificateDeleter {
  void operator()(X509* certificate) const { X509_free(certificate); }
};

class Descriptor {
 public:
  explicit Descriptor(int descriptor) : descriptor_(descriptor) {}
  ~Descriptor() {
    if (descriptor_ >= 0) ::close(descriptor_);
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  int get() const { return descriptor_; }

 private:
  int descriptor_;
};

// Waits until `descriptor` is ready for `events` or the deadline passes.
Result<void> waitFor(int descriptor, short events, SteadyClock::time_point deadline,
                     std::string_view during) {
  while (true) {
    const auto remaining =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now())
            .count();
    if (remaining <= 0) return makeError("timeout", "timed out " + std::string(during));
    pollfd entry{descriptor, events, 0};
    const int ready = ::poll(&entry, 1, static_cast<int>(std::min<long long>(remaining, 1 << 30)));
    if (ready < 0 && errno != EINTR) {
      return makeError("connect", std::string("poll failed: ") + std::strerror(errno));
    }
    if (ready > 0) return {};
  }
}

Result<std::unique_ptr<Descriptor>> connectTo(const std::string& address, std::uint16_t port,
                                              SteadyClock::time_point deadline) {
  sockaddr_storage storage{};
  socklen_t length = 0;
  auto* ipv4 = reinterpret_cast<sockaddr_in*>(&storage);
  auto* ipv6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (::inet_pton(AF_INET, address.c_str(), &ipv4->sin_addr) == 1) {
    ipv4->sin_family = AF_INET;
    ipv4->sin_port = htons(port);
    length = sizeof(sockaddr_in);
  } else if (::inet_pton(AF_INET6, address.c_str(), &ipv6->sin6_addr) == 1) {
    ipv6->sin6_family = AF_INET6;
    ipv6->sin6_port = htons(port);
    length = sizeof(sockaddr_in6);
  } else {
    return makeError("connect", "'" + address + "' is not an IP address");
  }
  auto descriptor = std::make_unique<Descriptor>(
      ::socket(storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (descriptor->get() < 0) {
    return makeError("connect", std::string("socket: ") + std::strerror(errno));
  }
  int one = 1;
  ::setsockopt(descriptor->get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const std::string where = address + " port " + std::to_string(port);
  if (::connect(descriptor->get(), reinterpret_cast<sockaddr*>(&storage), length) != 0) {
    if (errno != EINPROGRESS) {
      return makeError("connect", "cannot connect to " + where + ": " + std::strerror(errno));
    }
    if (auto ready = waitFor(descriptor->get(), POLLOUT, deadline, "connecting to " + where);
        !ready) {
      return ready.error();
    }
    int status = 0;
    socklen_t status_length = sizeof status;
    if (::getsockopt(descriptor->get(), SOL_SOCKET, SO_ERROR, &status, &status_length) != 0) {
      status = errno;
    }
    if (status != 0) {
      return makeError("connect", "cannot connect to " + where + ": " + std::strerror(status));
    }
  }
  return descriptor;
}

// Runs one non-blocking OpenSSL call until it completes, waiting as it asks. Returns the call's
// result (> 0 success) and leaves SSL_get_error's reason in `reason` on failure.
template <class Operation>
Result<int> retrySsl(SSL* ssl, int descriptor, SteadyClock::time_point deadline,
                     std::string_view during, Operation operation, int& reason) {
  while (true) {
    ERR_clear_error();
    const int result = operation();
    if (result > 0) return result;
    reason = SSL_get_error(ssl, result);
    if (reason == SSL_ERROR_WANT_READ || reason == SSL_ERROR_WANT_WRITE) {
      if (auto ready = waitFor(descriptor, reason == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
                               deadline, during);
          !ready) {
        return ready.error();
      }
      continue;
    }
    return result;
  }
}

class PolicyExchange {
 public:
  PolicyExchange(const FetchOptions& options, std::string host, int descriptor,
                 SteadyClock::time_point deadline)
      : options_(options), host_(std::move(host)), descriptor_(descriptor), deadline_(deadline) {}
  ~PolicyExchange() {
    if (ssl_ && clean_) {
      // Best effort close_notify; non-blocking, so it never waits.
      ERR_clear_error();
      SSL_shutdown(ssl_.get());
      ERR_clear_error();
    }
  }
  PolicyExchange(const PolicyExchange&) = delete;
  PolicyExchange& operator=(const PolicyExchange&) = delete;

  Result<std::string> run() {
    if (auto secured = handshake(); !secured) return secured.error();
    if (auto sent = sendRequest(); !sent) return sent.error();
    auto response = readResponse();
    if (!response) return response.error();
    return acceptResponse(*response);
  }

 private:
  Result<void> handshake() {
    ERR_clear_error();
    context_.reset(SSL_CTX_new(TLS_client_method()));
    if (!context_)
      return makeError("tls", "cannot create a TLS context: " + net::drainOpenSslErrors());
    // RFC 8461 3.3 and RFC 8996: TLS 1.2 or newer.
    SSL_CTX_set_min_proto_version(context_.get(), TLS1_2_VERSION);
    const int loaded =
        options_.ca_file.empty()
            ? SSL_CTX_set_default_verify_paths(context_.get())
            : SSL_CTX_load_verify_locations(context_.get(), options_.ca_file.c_str(), nullptr);
    if (loaded != 1) {
      return makeError("tls", "cannot load trust anchors " +
                                  (options_.ca_file.empty() ? std::string("(OpenSSL default paths)")
                                                            : options_.ca_file.string()) +
                                  ": " + net::drainOpenSslErrors());
    }
    // The handshake fails on a bad chain, a date out of range or a certificate for another name,
    // so the request never goes to an unverified server.
    SSL_CTX_set_verify(context_.get(), SSL_VERIFY_PEER, nullptr);
    ssl_.reset(SSL_new(context_.get()));
    if (!ssl_ || SSL_set_fd(ssl_.get(), descriptor_) != 1) {
      return makeError("tls", "cannot create a TLS connection: " + net::drainOpenSslErrors());
    }
    SSL_set_tlsext_host_name(ssl_.get(), host_.c_str());
    X509_VERIFY_PARAM* parameters = SSL_get0_param(ssl_.get());
    X509_VERIFY_PARAM_set_hostflags(parameters, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (X509_VERIFY_PARAM_set1_host(parameters, host_.c_str(), 0) != 1) {
      return makeError("tls", "cannot check the certificate name '" + host_ + "'");
    }
    int reason = 0;
    auto connected = retrySsl(
        ssl_.get(), descriptor_, deadline_, "in the TLS handshake",
        [&] { return SSL_connect(ssl_.get()); }, reason);
    if (!connected) return connected.error();
    if (*connected != 1) {
      const long verification = SSL_get_verify_result(ssl_.get());
      std::string detail;
      if (verification != X509_V_OK) {
        detail = std::string("certificate verification failed: ") +
                 X509_verify_cert_error_string(verification);
        net::drainOpenSslErrors();
      } else {
        detail = net::drainOpenSslErrors();
        if (detail.empty()) detail = "the connection closed during the handshake";
      }
      return makeError("tls", "TLS handshake with " + host_ + " failed: " + detail);
    }
    // SSL_VERIFY_PEER already failed the handshake otherwise; checked again so that a session
    // without a certificate can never pass as verified.
    std::unique_ptr<X509, CertificateDeleter> certificate(SSL_get1_peer_certificate(ssl_.get()));
    if (!certificate || SSL_get_verify_result(ssl_.get()) != X509_V_OK) {
      return makeError("tls", "no verified certificate from " + host_);
    }
    clean_ = true;
    return {};
  }

  Result<void> sendRequest() {
    std::string authority = host_;
    if (options_.port != 443) authority += ":" + std::to_string(options_.port);
    const std::string request = "GET " + std::string(kPolicyPath) +
                                " HTTP/1.1\r\nHost: " + authority +
                                "\r\nUser-Agent: Bulwark\r\nAccept: text/plain\r\n"
                                "Connection: close\r\n\r\n";
    std::string_view rest = request;
    while (!rest.empty()) {
      int reason = 0;
      auto written = retrySsl(
          ssl_.get(), descriptor_, deadline_, "sending the request",
          [&] { return SSL_write(ssl_.get(), rest.data(), static_cast<int>(rest.size())); },
          reason);
      if (!written) return written.error();
      if (*written <= 0) {
        clean_ = false;
        return makeError("http",
                         "cannot send the request to " + host_ + ": " + net::drainOpenSslErrors());
      }
      rest.remove_prefix(static_cast<std::size_t>(*written));
    }
    return {};
  }

  Result<HttpResponse> readResponse() {
    HttpResponseParser parser(options_.max_policy_size);
    char buffer[16 * 1024];
    while (!parser.complete()) {
      int reason = 0;
      auto received = retrySsl(
          ssl_.get(), descriptor_, deadline_, "waiting for the policy",
          [&] { return SSL_read(ssl_.get(), buffer, sizeof buffer); }, reason);
      if (!received) return received.error();
      if (*received > 0) {
        auto fed = parser.feed(std::string_view(buffer, static_cast<std::size_t>(*received)));
        if (!fed) return fed.error();
        continue;
      }
      if (reason == SSL_ERROR_ZERO_RETURN) {
        // close_notify: the server says this is all.
        if (auto finished = parser.finish(); !finished) return finished.error();
        break;
      }
      clean_ = false;
      const std::string detail = net::drainOpenSslErrors();
      return makeError("http", "the connection to " + host_ + " ended without a complete response" +
                                   (detail.empty() ? "" : " (" + detail + ")"));
    }
    return parser.response();
  }

  Result<std::string> acceptResponse(const HttpResponse& response) {
    const std::string url = "https://" + host_ + std::string(kPolicyPath);
    if (response.status != 200) {
      std::string message = url + " answered HTTP " + std::to_string(response.status);
      if (response.status >= 300 && response.status < 400) {
        // RFC 8461 3.3: senders must not follow redirects.
        message += " (a redirect, which MTA-STS does not follow)";
      }
      return makeError("status", std::move(message));
    }
    // RFC 8461 3.3: media type text/plain; parameters such as charset are allowed.
    const std::string_view content_type = response.header("content-type");
    const std::string_view media_type = trim(content_type.substr(0, content_type.find(';')));
    if (!equalsIgnoreCase(media_type, "text/plain")) {
      return makeError("http", url + " has media type \"" +
                                   std::string(content_type.substr(0, 80)) + "\", not text/plain");
    }
    return response.body;
  }

  const FetchOptions& options_;
  std::string host_;
  int descriptor_;
  SteadyClock::time_point deadline_;
  std::unique_ptr<SSL_CTX, SslContextDeleter> context_;
  std::unique_ptr<SSL, SslDeleter> ssl_;
  bool clean_ = false;  // no fatal TLS error: a close_notify may be sent
};

// Letters, digits, hyphens and dots: the only names that may go into SNI and the Host header.
bool isHostName(std::string_view name) {
  if (name.empty() || name.size() > 253 || name.front() == '.' || name.back() == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
  });
}

}  // namespace

Result<std::string> HttpsPolicyFetcher::fetch(std::string_view domain) {
  const std::string host = "mta-sts." + asciiLower(domain);
  if (!isHostName(host)) {
    return makeError("dns", "'" + std::string(domain.substr(0, 80)) + "' is not a host name");
  }
  const auto deadline = SteadyClock::now() + options_.timeout;
  auto addresses = resolver_.addresses(host);
  if (addresses.status != dns::Status::ok) {
    return makeError("dns",
                     "cannot find the address of " + host + ": " +
                         (addresses.reason.empty() ? "no address records" : addresses.reason));
  }
  Error last = makeError("connect", "no address of " + host + " answered");
  // The first address that accepts the connection decides; the others are only tried when a
  // connection cannot be made at all.
  for (const auto& address : addresses.records) {
    auto connected = connectTo(address, options_.port, deadline);
    if (!connected) {
      last = connected.error();
      if (last.code == "timeout") break;
      continue;
    }
    PolicyExchange exchange(options_, host, (*connected)->get(), deadline);
    return exchange.run();
  }
  return last;
}

}  // namespace bulwark::sts
