// Delivery Status Notifications (RFC 3464 multipart/report, RFC 6522): the bounce a sender gets
// when recipients failed or the message expired, and the delay notice while it is still retried.
// The human part says in plain words which recipient failed and why; the machine part carries
// RFC 3463 status codes. The returned original is untrusted content: it is only ever attached,
// and only in full when it is smaller than the configured limit (otherwise its header section).
#pragma once

#include "queue/envelope.h"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bulwark::queue {

enum class NoticeKind { failure, delay };

struct NoticeRecipient {
  std::string address;
  std::string original;      // ORCPT as "type;address", may be empty
  std::string status;        // RFC 3463 "5.1.1"
  std::string diagnostic;    // the remote reply, "550 5.1.1 No such user", or our own reason
  std::string remote_mta;    // the host that answered; empty when we decided (expiry, DNS)
  std::string cause;         // for an expiry: the RFC 3463 status of the last problem, may be empty
};

struct Notice {
  NoticeKind kind = NoticeKind::failure;
  std::string reporting_mta;                 // our hostname
  const Envelope* envelope = nullptr;        // of the original message
  std::vector<NoticeRecipient> recipients;
  std::string_view original;                 // the original message bytes (CRLF)
  std::uint64_t size_limit = 50000;          // return it whole only below this
  std::chrono::system_clock::time_point now{};
  std::chrono::system_clock::time_point retry_until{};  // for delay notices
};

// The whole notice message, CRLF lines, From: MAILER-DAEMON, ready for the spool (envelope
// sender <>, recipient the original sender).
std::string buildNotice(const Notice& notice);

// A sentence for people about what `status` (RFC 3463) means.
std::string explainStatus(std::string_view status);

// "5 days", "2 hours", "1 minute", "45 seconds": the largest whole unit, for people.
std::string describeDuration(std::uint64_t seconds);

}  // namespace bulwark::queue
