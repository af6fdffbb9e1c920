// OpenSSL's per-thread error queue as text for logs and replies. Draining it matters: an error
// left queued would be reported by the next, unrelated operation on this thread.
#pragma once

#include <string>

namespace bulwark::net {

// Everything queued, "; "-separated, and the queue emptied; "" when it was empty.
std::string drainOpenSslErrors();

}  // namespace bulwark::net
