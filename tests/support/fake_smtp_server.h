// A scripted SMTP (or LMTP) server for client tests: listens on 127.0.0.1 port 0, or on a unix
// socket path, accepts one connection on its own thread and runs the test's script (a function
// over FakeSmtpConnection) against it. The script sends replies, reads command lines, message data
// and BDAT chunks, and may switch to TLS with a certificate file (net::makeServerTlsContext).
// Everything the client sent is kept in a
// transcript (clear and TLS bytes alike, as plain text) for the test to check afterwards.
// Blocking sockets with a receive timeout, so a client that stops talking fails the test instead
// of hanging it. Test-only: no limits, trusts its input.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "net/tls_context.h"

namespace bulwark::test {

class FakeSmtpConnection {
 public:
  explicit FakeSmtpConnection(int descriptor) : descriptor_(descriptor) {}
  ~FakeSmtpConnection() {
    if (ssl_) SSL_free(ssl_);
  }
  FakeSmtpConnection(const FakeSmtpConnection&) = delete;
  FakeSmtpConnection& operator=(const FakeSmtpConnection&) = delete;

  // Writes `text` as is (the script writes whole replies with their CRLF).
  void send(std::string_view text) {
    if (ssl_) {
      SSL_write(ssl_, text.data(), static_cast<int>(text.size()));
      return;
    }
    while (!text.empty()) {
      ssize_t sent = ::send(descriptor_, text.data(), text.size(), MSG_NOSIGNAL);
      if (sent <= 0) return;
      text.remove_prefix(static_cast<std::size_t>(sent));
    }
  }

  // One line without its CRLF; empty with closed() true when the client went away or timed out.
  std::string readLine() {
    while (true) {
      std::size_t end = pending_.find("\r\n");
      if (end != std::string::npos) {
        std::string line = pending_.substr(0, end);
        pending_.erase(0, end + 2);
        return line;
      }
      if (!fill()) return {};
    }
  }

  // Reads a line and returns true when it starts with `prefix` (case as written by the client).
  bool expect(std::string_view prefix) { return readLine().rfind(prefix, 0) == 0; }

  // The message data after a 354, up to and including CRLF "." CRLF, exactly as sent.
  std::string readData() {
    while (true) {
      // The terminator is CRLF.CRLF, or ".\r\n" as the very first line (an empty message).
      std::size_t end = pending_.rfind(".\r\n", 0) == 0 ? 0 : pending_.find("\r\n.\r\n");
      if (end != std::string::npos) {
        std::size_t length = end == 0 ? 3 : end + 5;
        std::string data = pending_.substr(0, length);
        pending_.erase(0, length);
        return data;
      }
      if (!fill()) return {};
    }
  }

  // Exactly `count` octets as sent (a BDAT chunk); fewer when the client went away first.
  std::string readBytes(std::size_t count) {
    while (pending_.size() < count && fill()) {
    }
    std::string bytes = pending_.substr(0, std::min(count, pending_.size()));
    pending_.erase(0, bytes.size());
    return bytes;
  }

  // Server side of STARTTLS (after the script sent its 220). False when the handshake failed.
  bool startTls(ssl_ctx_st* context) {
    ssl_ = SSL_new(context);
    SSL_set_fd(ssl_, descriptor_);
    if (SSL_accept(ssl_) != 1) {
      SSL_free(ssl_);
      ssl_ = nullptr;
      tls_failed_ = true;
      return false;
    }
    return true;
  }

  // Waits until the client closes the connection (or the receive timeout passes).
  void waitForClose() {
    while (fill()) {
    }
  }

  // The end of a script: answers RSET, NOOP and QUIT (anything else gets a 502) until the
  // client closes, so a client's courtesy commands never wait for their timeout.
  void answerUntilClose() {
    while (true) {
      std::string line = readLine();
      if (closed_) return;
      if (line == "RSET" || line == "NOOP") {
        send("250 2.0.0 OK\r\n");
      } else if (line == "QUIT") {
        send("221 2.0.0 Bye\r\n");
      } else {
        send("502 5.5.1 Not in this script\r\n");
      }
    }
  }

  bool closed() const { return closed_; }
  bool tlsFailed() const { return tls_failed_; }
  std::string transcript() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return transcript_;
  }

 private:
  bool fill() {
    if (closed_) return false;
    char buffer[16384];
    int received = ssl_ ? SSL_read(ssl_, buffer, sizeof buffer)
                        : static_cast<int>(::recv(descriptor_, buffer, sizeof buffer, 0));
    if (received <= 0) {
      closed_ = true;
      return false;
    }
    pending_.append(buffer, static_cast<std::size_t>(received));
    std::lock_guard<std::mutex> lock(mutex_);
    transcript_.append(buffer, static_cast<std::size_t>(received));
    return true;
  }

  int descriptor_;
  SSL* ssl_ = nullptr;
  std::string pending_;
  bool closed_ = false;
  bool tls_failed_ = false;
  mutable std::mutex mutex_;
  std::string transcript_;
};

class FakeSmtpServer {
 public:
  using Script = std::function<void(FakeSmtpConnection&)>;

  // Starts listening at once; the script runs when the client connects.
  explicit FakeSmtpServer(Script script,
                          std::chrono::seconds receive_timeout = std::chrono::seconds(10))
      : script_(std::move(script)), receive_timeout_(receive_timeout) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    ::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address);
    ::listen(listener_, 4);
    socklen_t length = sizeof address;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }

  // The same on a unix socket at `socket_path` (removed again by join()).
  FakeSmtpServer(Script script, std::filesystem::path socket_path,
                 std::chrono::seconds receive_timeout = std::chrono::seconds(10))
      : script_(std::move(script)),
        receive_timeout_(receive_timeout),
        socket_path_(std::move(socket_path)) {
    listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    const std::string path = socket_path_.string();
    std::memcpy(address.sun_path, path.c_str(),
                std::min(path.size(), sizeof address.sun_path - 1));
    ::unlink(path.c_str());
    ::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address);
    ::listen(listener_, 4);
    thread_ = std::thread([this] { serve(); });
  }

  ~FakeSmtpServer() { join(); }
  FakeSmtpServer(const FakeSmtpServer&) = delete;
  FakeSmtpServer& operator=(const FakeSmtpServer&) = delete;

  std::uint16_t port() const { return port_; }

  // Waits for the script to finish; then transcript() is complete.
  void join() {
    if (thread_.joinable()) thread_.join();
    if (listener_ >= 0) {
      ::close(listener_);
      listener_ = -1;
    }
    if (!socket_path_.empty()) ::unlink(socket_path_.c_str());
  }
  std::string transcript() const { return transcript_; }
  bool connected() const { return connected_; }

 private:
  void serve() {
    // OpenSSL's socket BIO writes with write(): a client that hangs up must not kill the test
    // binary with SIGPIPE. SIGPIPE goes to the writing thread, so blocking it here is enough.
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    pollfd entry{listener_, POLLIN, 0};
    if (::poll(&entry, 1, static_cast<int>(receive_timeout_.count() * 1000)) <= 0) return;
    int descriptor = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (descriptor < 0) return;
    connected_ = true;
    timeval timeout{static_cast<time_t>(receive_timeout_.count()), 0};
    ::setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    {
      FakeSmtpConnection connection(descriptor);
      script_(connection);
      transcript_ = connection.transcript();
    }
    ::close(descriptor);
  }

  Script script_;
  std::chrono::seconds receive_timeout_;
  std::filesystem::path socket_path_;  // empty: TCP
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> connected_{false};
  std::string transcript_;
};

}  // namespace bulwark::test
