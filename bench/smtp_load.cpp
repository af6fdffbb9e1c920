// smtp_load: an SMTP load generator for the acceptance benchmark (bench/accept.sh). It measures how
// many messages per second a server acknowledges (250 to the end of DATA) over concurrent sessions,
// in plaintext or after STARTTLS (RFC 3207). Plain POSIX sockets, OpenSSL and threads, no Asio, so
// the measuring tool shares no code with the server it measures. Limits: one recipient per message,
// no AUTH, certificates are not verified (loopback benchmark only).
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Options {
  std::string host = "127.0.0.1";
  int port = 25;
  unsigned sessions = 20;
  unsigned long messages = 1000;
  std::size_t size = 4096;
  bool starttls = false;
  unsigned per_connection = 10;
  bool pipelining = true;
  std::string sender = "load@client.test";
  std::string recipient = "bench@bench.test";
  std::string helo = "client.test";
  int timeout_seconds = 60;
};

struct Totals {
  std::atomic<unsigned long> next_message{0};
  std::atomic<unsigned long> acknowledged{0};
  std::atomic<unsigned long> refused{0};      // 4xx/5xx to the end of DATA or to MAIL/RCPT
  std::atomic<unsigned long> connection_errors{0};
  std::mutex error_mutex;
  std::string first_error;

  void noteError(const std::string& text) {
    std::lock_guard lock(error_mutex);
    if (first_error.empty()) first_error = text;
  }
};

// One SMTP connection: a socket, optionally wrapped in TLS, with a line buffer for replies.
class Connection {
 public:
  Connection(const Options& options, SSL_CTX* tls_context)
      : options_(options), tls_context_(tls_context) {}
  ~Connection() { close(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool open(std::string& error) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    std::string port = std::to_string(options_.port);
    int status = getaddrinfo(options_.host.c_str(), port.c_str(), &hints, &found);
    if (status != 0) {
      error = std::string("getaddrinfo: ") + gai_strerror(status);
      return false;
    }
    for (addrinfo* entry = found; entry != nullptr; entry = entry->ai_next) {
      socket_ = ::socket(entry->ai_family, entry->ai_socktype, entry->ai_protocol);
      if (socket_ < 0) continue;
      if (::connect(socket_, entry->ai_addr, entry->ai_addrlen) == 0) break;
      ::close(socket_);
      socket_ = -1;
    }
    freeaddrinfo(found);
    if (socket_ < 0) {
      error = std::string("connect: ") + std::strerror(errno);
      return false;
    }
    int one = 1;
    setsockopt(socket_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval timeout{options_.timeout_seconds, 0};
    setsockopt(socket_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setsockopt(socket_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    return true;
  }

  bool startTls(std::string& error) {
    tls_ = SSL_new(tls_context_);
    SSL_set_fd(tls_, socket_);
    SSL_set_tlsext_host_name(tls_, options_.host.c_str());
    if (SSL_connect(tls_) != 1) {
      error = "TLS handshake failed: " + opensslError();
      return false;
    }
    return true;
  }

  bool send(const std::string& data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
      long written;
      if (tls_ != nullptr) {
        written = SSL_write(tls_, data.data() + sent, static_cast<int>(data.size() - sent));
      } else {
        written = ::send(socket_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      }
      if (written <= 0) return false;
      sent += static_cast<std::size_t>(written);
    }
    return true;
  }

  // Reads one whole reply (all continuation lines); returns its code, or nullopt on EOF/error.
  std::optional<int> reply(std::string* text = nullptr) {
    while (true) {
      auto end = buffer_.find("\r\n", position_);
      if (end == std::string::npos) {
        if (position_ > 0) {
          buffer_.erase(0, position_);
          position_ = 0;
        }
        char chunk[16384];
        long received;
        if (tls_ != nullptr) {
          received = SSL_read(tls_, chunk, sizeof chunk);
        } else {
          received = ::recv(socket_, chunk, sizeof chunk, 0);
        }
        if (received <= 0) return std::nullopt;
        buffer_.append(chunk, static_cast<std::size_t>(received));
        continue;
      }
      std::string line = buffer_.substr(position_, end - position_);
      position_ = end + 2;
      if (text != nullptr) *text += line + "\n";
      if (line.size() < 3) return std::nullopt;
      if (line.size() == 3 || line[3] != '-') return std::atoi(line.substr(0, 3).c_str());
    }
  }

  void close() {
    if (tls_ != nullptr) {
      SSL_shutdown(tls_);
      SSL_free(tls_);
      tls_ = nullptr;
    }
    if (socket_ >= 0) {
      ::close(socket_);
      socket_ = -1;
    }
    buffer_.clear();
    position_ = 0;
  }

  static std::string opensslError() {
    char text[256];
    unsigned long code = ERR_get_error();
    if (code == 0) return "unknown error";
    ERR_error_string_n(code, text, sizeof text);
    return text;
  }

 private:
  const Options& options_;
  SSL_CTX* tls_context_;
  int socket_ = -1;
  SSL* tls_ = nullptr;
  std::string buffer_;
  std::size_t position_ = 0;
};

// A message of about `size` bytes, dot-stuffed and terminated, with a unique Message-ID.
std::string makeMessage(const Options& options, unsigned long number) {
  std::string message = "From: <" + options.sender + ">\r\nTo: <" + options.recipient +
                        ">\r\nSubject: load test message " + std::to_string(number) +
                        "\r\nMessage-ID: <load." + std::to_string(number) + "." +
                        std::to_string(::getpid()) + "@client.test>\r\n" +
                        "Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n\r\n";
  static const std::string line =
      "The quick brown fox jumps over the lazy dog; load test body line of 76 bytes\r\n";
  while (message.size() + line.size() <= options.size) message += line;
  if (message.size() + 2 < options.size) message += std::string(options.size - message.size() - 2, 'x') + "\r\n";
  return message + ".\r\n";
}

std::string extensionsOf(const std::string& ehlo_reply) {
  std::string upper = ehlo_reply;
  for (auto& character : upper) character = static_cast<char>(std::toupper(static_cast<unsigned char>(character)));
  return upper;
}

// Runs one session: connections one after another until no messages are left.
void runSession(const Options& options, SSL_CTX* tls_context, Totals& totals) {
  Connection connection(options, tls_context);
  bool have_message = false;
  unsigned long number = 0;
  unsigned consecutive_failures = 0;
  while (true) {
    if (consecutive_failures >= 100) {
      totals.noteError("a session gave up after 100 failed connections in a row");
      return;
    }
    if (!have_message) {
      number = totals.next_message.fetch_add(1);
      if (number >= options.messages) return;
      have_message = true;
    }
    std::string error;
    auto fail = [&](const std::string& what) {
      totals.connection_errors.fetch_add(1);
      ++consecutive_failures;
      totals.noteError(what);
      connection.close();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    };
    if (!connection.open(error)) {
      fail(error);
      continue;
    }
    std::string ehlo_text;
    if (connection.reply() != 220 || !connection.send("EHLO " + options.helo + "\r\n") ||
        connection.reply(&ehlo_text) != 250) {
      fail("greeting or EHLO failed");
      continue;
    }
    if (options.starttls) {
      if (extensionsOf(ehlo_text).find("STARTTLS") == std::string::npos) {
        fail("server does not offer STARTTLS");
        continue;
      }
      ehlo_text.clear();
      if (!connection.send("STARTTLS\r\n") || connection.reply() != 220 ||
          !connection.startTls(error) || !connection.send("EHLO " + options.helo + "\r\n") ||
          connection.reply(&ehlo_text) != 250) {
        fail("STARTTLS failed: " + error);
        continue;
      }
    }
    bool pipelining =
        options.pipelining && extensionsOf(ehlo_text).find("PIPELINING") != std::string::npos;
    bool broken = false;
    for (unsigned index = 0; index < options.per_connection && !broken; ++index) {
      if (!have_message) {
        number = totals.next_message.fetch_add(1);
        if (number >= options.messages) break;
        have_message = true;
      }
      std::string mail = "MAIL FROM:<" + options.sender + ">\r\n";
      std::string rcpt = "RCPT TO:<" + options.recipient + ">\r\n";
      std::optional<int> mail_code, rcpt_code, data_code;
      if (pipelining) {
        if (!connection.send(mail + rcpt + "DATA\r\n")) {
          broken = true;
          break;
        }
        mail_code = connection.reply();
        rcpt_code = connection.reply();
        data_code = connection.reply();
      } else {
        if (connection.send(mail)) mail_code = connection.reply();
        if (mail_code == 250 && connection.send(rcpt)) rcpt_code = connection.reply();
        if (rcpt_code == 250 && connection.send("DATA\r\n")) data_code = connection.reply();
      }
      if (!mail_code || (mail_code == 250 && !rcpt_code) || (rcpt_code == 250 && !data_code)) {
        broken = true;
        break;
      }
      if (data_code != 354) {
        totals.refused.fetch_add(1);
        totals.noteError("refused before DATA: MAIL " + std::to_string(mail_code.value_or(0)) +
                         " RCPT " + std::to_string(rcpt_code.value_or(0)) + " DATA " +
                         std::to_string(data_code.value_or(0)));
        have_message = false;   // counted as refused, not retried
        connection.send("RSET\r\n");
        if (connection.reply() != 250) broken = true;
        continue;
      }
      std::string reply_text;
      if (!connection.send(makeMessage(options, number))) {
        broken = true;
        break;
      }
      auto end_code = connection.reply(&reply_text);
      if (!end_code) {
        broken = true;   // unknown outcome: not counted, sent again
        break;
      }
      if (*end_code == 250) {
        totals.acknowledged.fetch_add(1);
      } else {
        totals.refused.fetch_add(1);
        totals.noteError("end of DATA: " + reply_text);
      }
      have_message = false;
    }
    if (broken) {
      fail("connection lost in a transaction");
      continue;
    }
    consecutive_failures = 0;
    connection.send("QUIT\r\n");
    connection.reply();
    connection.close();
  }
}

[[noreturn]] void usage(const char* program) {
  std::fprintf(stderr,
               "usage: %s --host HOST --port PORT [--sessions 20] [--messages N] [--size 4096]\n"
               "          [--starttls] [--per-connection M] [--no-pipelining] [--from ADDRESS]\n"
               "          [--to ADDRESS] [--helo NAME]\n",
               program);
  std::exit(2);
}

Options parseOptions(int argc, char** argv) {
  Options options;
  for (int index = 1; index < argc; ++index) {
    std::string name = argv[index];
    auto value = [&]() -> std::string {
      if (index + 1 >= argc) usage(argv[0]);
      return argv[++index];
    };
    if (name == "--host") options.host = value();
    else if (name == "--port") options.port = std::atoi(value().c_str());
    else if (name == "--sessions") options.sessions = static_cast<unsigned>(std::atoi(value().c_str()));
    else if (name == "--messages") options.messages = std::strtoul(value().c_str(), nullptr, 10);
    else if (name == "--size") options.size = std::strtoul(value().c_str(), nullptr, 10);
    else if (name == "--starttls") options.starttls = true;
    else if (name == "--per-connection") options.per_connection = static_cast<unsigned>(std::atoi(value().c_str()));
    else if (name == "--no-pipelining") options.pipelining = false;
    else if (name == "--from") options.sender = value();
    else if (name == "--to") options.recipient = value();
    else if (name == "--helo") options.helo = value();
    else usage(argv[0]);
  }
  if (options.port <= 0 || options.sessions == 0 || options.per_connection == 0) usage(argv[0]);
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  Options options = parseOptions(argc, argv);
  SSL_CTX* tls_context = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(tls_context, SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_min_proto_version(tls_context, TLS1_2_VERSION);

  Totals totals;
  auto started = std::chrono::steady_clock::now();
  std::vector<std::thread> sessions;
  for (unsigned index = 0; index < options.sessions; ++index) {
    sessions.emplace_back([&] { runSession(options, tls_context, totals); });
  }
  for (auto& session : sessions) session.join();
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  SSL_CTX_free(tls_context);

  unsigned long acknowledged = totals.acknowledged.load();
  std::printf("smtp_load: %lu acknowledged, %lu refused, %lu connection errors, %.2f s, "
              "%.1f msgs/s (%u sessions, %zu bytes, %u per connection, %s)\n",
              acknowledged, totals.refused.load(), totals.connection_errors.load(), seconds,
              seconds > 0 ? acknowledged / seconds : 0.0, options.sessions, options.size,
              options.per_connection, options.starttls ? "starttls" : "plain");
  if (!totals.first_error.empty()) {
    std::printf("smtp_load: first error: %s\n", totals.first_error.c_str());
  }
  return acknowledged == options.messages ? 0 : 1;
}
