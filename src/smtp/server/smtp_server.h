// The inbound SMTP service: one listener per receive connector, sessions as coroutines on an
// Asio io_context with a thread pool. Asio stays inside smtp_server.cpp (DESIGN.md "Build time").
#pragma once

#include "common/config.h"
#include "common/result.h"
#include "smtp/server/authenticator.h"
#include "smtp/server/transaction.h"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <vector>

namespace bulwark::smtp {

struct ServerCertificate {
  std::filesystem::path certificate;
  std::filesystem::path private_key;
};

class SmtpServer {
 public:
  SmtpServer(const Config& config, ServerCertificate certificate, TransactionHandler& handler,
             Authenticator& authenticator);
  ~SmtpServer();
  SmtpServer(const SmtpServer&) = delete;
  SmtpServer& operator=(const SmtpServer&) = delete;

  // Loads TLS, binds every connector's address and starts `threads` I/O threads. Errors name the
  // connector and address.
  Result<void> start(unsigned threads);
  // The bound ports, in connector order (useful with port 0 in tests).
  std::vector<std::uint16_t> boundPorts() const;
  // Stops accepting, ends sessions, joins the threads.
  void stop();

 private:
  struct Implementation;
  std::unique_ptr<Implementation> implementation_;
};

}  // namespace bulwark::smtp
