// What `bulwark trace` prints and how it reads its --since/--until times (docs/trace.md), kept out
// of the CLI so it is unit-testable. Times are ISO 8601 (RFC 3339 profile) or relative.
// Untrusted: event strings came from the network (escaped before they reach a terminal or JSON);
// time texts are command-line arguments.
#pragma once

#include "common/result.h"
#include "store/trace_store.h"

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace bulwark::store {

// Accepts "2026-11-24T10:00:00Z" (also with an offset "+01:00"/"+0100", fractional seconds, or
// a space instead of "T"), "2026-11-24 10:00" (seconds optional; without a zone: local time),
// "2026-11-24" (local midnight), and relative "-30s", "-30m", "-1h", "-2d", "-1w" before `now`.
Result<std::chrono::system_clock::time_point> parseTraceTime(
    std::string_view text, std::chrono::system_clock::time_point now);

// "2026-11-24T11:00:00+01:00" in the local time zone, to the second.
std::string formatLocalTime(std::chrono::system_clock::time_point time);
// "2026-11-24T10:00:00.123456Z": exact, for machines.
std::string formatUtcTime(std::chrono::system_clock::time_point time);

// Makes a network-supplied string safe to print: control characters (C0, DEL, C1), bidirectional
// overrides and bytes that are not UTF-8 become visible escapes such as "\x1b" or "\u202e".
std::string escapeForTerminal(std::string_view text);
// Replaces every byte sequence that is not UTF-8 with U+FFFD, since JSON text must be UTF-8.
std::string toValidUtf8(std::string_view text);

// Aligned columns with a header line, one row per event in the order given; time in local time.
// The last column (detail) is not padded.
std::string formatTraceTable(const std::vector<TraceEvent>& events);
// One JSON array of objects with every field; see docs/trace.md for the shape.
std::string formatTraceJson(const std::vector<TraceEvent>& events);

}  // namespace bulwark::store
