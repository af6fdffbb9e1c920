// What the SMTP session hands on when a message has been received: the envelope as SMTP gave it,
// who sent it over which connection, and the data. The session knows SMTP; what happens to the
// message (pipeline, spool, trace) lives above it, behind TransactionHandler.
#pragma once

#include "smtp/proto/command.h"
#include "smtp/proto/reply.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace bulwark::smtp {

struct SessionInfo {
  std::string connector;        // receive connector name
  std::string client_address;   // textual IP
  std::uint16_t client_port = 0;
  std::string helo;             // EHLO/HELO argument
  bool extended = false;        // EHLO (true) or HELO
  std::string tls_version;      // empty when in clear
  std::string tls_cipher;
  int tls_bits = 0;
  std::string auth_user;        // empty when not authenticated
  bool relay_client = false;    // the client address is in the connector's relay_networks
};

// Work the handler started when MAIL FROM was accepted (an SPF check), carried to accept();
// opaque to the session.
class SenderChecks {
 public:
  virtual ~SenderChecks() = default;
};

struct TransactionRecipient {
  std::string address;
  std::string original;         // ORCPT
  std::uint8_t notify = 0;
};

struct Transaction {
  std::string queue_id;         // chosen at MAIL, used in our Received header
  std::string sender;           // empty for <>
  std::vector<TransactionRecipient> recipients;
  MailParameters parameters;
  SessionInfo session;
  std::string message_id;       // Message-ID field value (possibly one we added)
  // Domain Security: the partner domain this message is authenticated as (its MAIL FROM domain,
  // named by the verified client certificate); empty for every other message.
  std::string partner_domain;
  std::string data;             // whole message as it will be stored, our Received first
  std::shared_ptr<SenderChecks> sender_checks;  // from TransactionHandler::senderAccepted
};

class TransactionHandler {
 public:
  virtual ~TransactionHandler() = default;
  // Takes the message; calls `done` exactly once, from any thread, with the reply for the client
  // (250 only once the message is durable). Must not block the caller.
  virtual void accept(Transaction transaction, std::function<void(Reply)> done) = 0;
  // MAIL FROM was accepted (`transaction` has the sender and session, no recipients yet): may
  // start checks of the sender off the I/O thread, whose results accept() finds in
  // Transaction::sender_checks. Must not block.
  virtual std::shared_ptr<SenderChecks> senderAccepted(const Transaction& transaction) {
    (void)transaction;
    return nullptr;
  }
  // A message refused at the end of DATA/BDAT (size, bare line ending, ...), for the trace;
  // `transaction.data` is empty.
  virtual void rejected(const Transaction& transaction, const Reply& reply) = 0;
  // False when the spool is below its free-space floor: MAIL then gets 452 4.3.1.
  virtual bool hasStorageRoom() = 0;
};

}  // namespace bulwark::smtp
