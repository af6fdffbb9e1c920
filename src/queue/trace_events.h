// The trace event for a queued message: one builder for the intake ("received", "rejected") and
// the queue manager ("delivered", "deferred"), so every event carries the same envelope fields.
#pragma once

#include "queue/envelope.h"
#include "store/trace_store.h"

namespace bulwark::queue {

// Every field from the envelope, all its recipients, time now.
store::TraceEvent traceEvent(const Envelope& envelope, std::string status);

}  // namespace bulwark::queue
