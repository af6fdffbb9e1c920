// Delivery Status Notification request flags (RFC 3461 4.1, the NOTIFY parameter of RCPT), shared
// by the SMTP parser that reads them and the queue that keeps them with each recipient.
#pragma once

#include <cstdint>

namespace bulwark {

// Bits of a recipient's NOTIFY; 0 means the parameter was not given (default behaviour).
enum NotifyFlags : std::uint8_t {
  notify_never = 1,
  notify_success = 2,
  notify_failure = 4,
  notify_delay = 8,
};

}  // namespace bulwark
