// Identifiers: queue ids (unique per node, sortable by time, safe as file names) and RFC 5322
// Message-IDs for submissions that lack one.
#pragma once

#include <string>
#include <string_view>

namespace bulwark {

// 16 characters of [0-9A-Z]: 10 of microsecond time, 6 of randomness and a per-process counter.
std::string newQueueId();

// "<queueid.random@hostname>" (RFC 5322 3.6.4).
std::string newMessageId(std::string_view hostname);

// RFC 5322 3.3 date-time for now, e.g. "Tue, 24 Nov 2026 10:00:00 +0000".
std::string rfc5322DateNow();

}  // namespace bulwark
