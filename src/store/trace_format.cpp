// Formatting and time parsing for `bulwark trace`; see trace_format.h.
// Untrusted: event strings (from the network) and time texts (command line). Nothing here trusts
// either to be UTF-8, short, or free of terminal escape sequences.
#include "store/trace_format.h"

#include "common/strings.h"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <cstdint>
#include <ctime>
#include <optional>

namespace bulwark::store {
namespace {

using std::chrono::system_clock;

constexpr std::string_view kTimeForms =
    "use 2026-11-24T10:00:00Z, '2026-11-24 10:00' (local time), 2026-11-24, or a time before "
    "now such as -30m, -1h, -2d";

constexpr auto kMaximumRelative = std::chrono::years(100);
constexpr int kFirstYear = 1970;
constexpr int kLastYear = 2200;

// One decoded UTF-8 sequence; length 0 means the byte at the position does not start a valid
// sequence (stray continuation, overlong form, surrogate, beyond U+10FFFF, truncated).
struct CodePoint {
  char32_t value = 0;
  std::size_t length = 0;
};

CodePoint decodeUtf8(std::string_view text, std::size_t position) {
  auto byte = [&](std::size_t index) { return static_cast<unsigned char>(text[index]); };
  unsigned char first = byte(position);
  if (first < 0x80) return {first, 1};
  std::size_t length;
  char32_t value;
  char32_t minimum;
  if ((first & 0xe0) == 0xc0) {
    length = 2, value = first & 0x1f, minimum = 0x80;
  } else if ((first & 0xf0) == 0xe0) {
    length = 3, value = first & 0x0f, minimum = 0x800;
  } else if ((first & 0xf8) == 0xf0) {
    length = 4, value = first & 0x07, minimum = 0x10000;
  } else {
    return {};
  }
  if (position + length > text.size()) return {};
  for (std::size_t index = 1; index < length; ++index) {
    unsigned char next = byte(position + index);
    if ((next & 0xc0) != 0x80) return {};
    value = (value << 6) | (next & 0x3f);
  }
  if (value < minimum || value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff)) return {};
  return {value, length};
}

// Characters that change how a terminal shows what follows (or hide themselves): a sender could
// otherwise rewrite an operator's screen or make one address look like another.
bool needsEscape(char32_t value) {
  return value < 0x20 || (value >= 0x7f && value <= 0x9f) || value == 0x200e || value == 0x200f ||
         (value >= 0x2028 && value <= 0x202e) || (value >= 0x2066 && value <= 0x2069) ||
         value == 0xfeff;
}

// Columns a code point takes in a terminal: 0 for combining marks, 2 for East Asian wide and
// emoji ranges, else 1. Approximate (no full wcwidth table) but keeps common scripts aligned.
std::size_t columnsOf(char32_t value) {
  if ((value >= 0x300 && value <= 0x36f) || (value >= 0x200b && value <= 0x200d)) return 0;
  if ((value >= 0x1100 && value <= 0x115f) || (value >= 0x2e80 && value <= 0xa4cf) ||
      (value >= 0xac00 && value <= 0xd7a3) || (value >= 0xf900 && value <= 0xfaff) ||
      (value >= 0xfe30 && value <= 0xfe4f) || (value >= 0xff00 && value <= 0xff60) ||
      (value >= 0xffe0 && value <= 0xffe6) || (value >= 0x1f300 && value <= 0x1f64f) ||
      (value >= 0x1f900 && value <= 0x1f9ff) || (value >= 0x20000 && value <= 0x3fffd)) {
    return 2;
  }
  return 1;
}

// Width of text already passed through escapeForTerminal (so valid UTF-8).
std::size_t displayWidth(std::string_view text) {
  std::size_t width = 0;
  for (std::size_t position = 0; position < text.size();) {
    CodePoint point = decodeUtf8(text, position);
    if (point.length == 0) {
      ++width, ++position;
      continue;
    }
    width += columnsOf(point.value);
    position += point.length;
  }
  return width;
}

std::optional<int> digits(std::string_view text, std::size_t& position, std::size_t count) {
  if (position + count > text.size()) return std::nullopt;
  int value = 0;
  for (std::size_t index = 0; index < count; ++index) {
    char c = text[position + index];
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  position += count;
  return value;
}

Error timeError(std::string_view text, std::string_view why) {
  return makeError("syntax", "'" + escapeForTerminal(text) + "' is not a time (" +
                                 std::string(why) + "): " + std::string(kTimeForms));
}

Result<system_clock::time_point> parseRelative(std::string_view text, system_clock::time_point now,
                                               std::string_view original) {
  if (text.size() < 2) return timeError(original, "a number and a unit are needed");
  char unit = asciiLower(text.back());
  std::string_view number = text.substr(0, text.size() - 1);
  if (number.size() > 9) return timeError(original, "too far back");
  std::size_t position = 0;
  auto amount = digits(number, position, number.size());
  if (!amount) return timeError(original, "neither a date nor a number with a unit");
  std::chrono::seconds seconds;
  switch (unit) {
    case 's': seconds = std::chrono::seconds(*amount); break;
    case 'm': seconds = std::chrono::minutes(*amount); break;
    case 'h': seconds = std::chrono::hours(*amount); break;
    case 'd': seconds = std::chrono::days(*amount); break;
    case 'w': seconds = std::chrono::weeks(*amount); break;
    default: return timeError(original, "the unit must be s, m, h, d or w");
  }
  // system_clock counts nanoseconds in 64 bits (about 292 years each way): stay well inside.
  if (seconds > kMaximumRelative) return timeError(original, "too far back");
  return now - seconds;
}

}  // namespace

Result<system_clock::time_point> parseTraceTime(std::string_view text,
                                                system_clock::time_point now) {
  std::string_view original = text;
  text = trim(text);
  if (text.empty()) return timeError(original, "it is empty");
  if (text.front() == '-') return parseRelative(text.substr(1), now, original);
  bool has_date_shape = text.size() >= 5 && text[4] == '-';
  if (!has_date_shape) return parseRelative(text, now, original);

  std::size_t position = 0;
  auto year = digits(text, position, 4);
  bool dashes = year && position < text.size() && text[position++] == '-';
  auto month = dashes ? digits(text, position, 2) : std::nullopt;
  dashes = month && position < text.size() && text[position++] == '-';
  auto day = dashes ? digits(text, position, 2) : std::nullopt;
  if (!day) return timeError(original, "the date must be YYYY-MM-DD");
  if (*year < kFirstYear || *year > kLastYear) {
    return timeError(original, "the year must be between 1970 and 2200");
  }
  std::chrono::year_month_day date{std::chrono::year(*year),
                                   std::chrono::month(static_cast<unsigned>(*month)),
                                   std::chrono::day(static_cast<unsigned>(*day))};
  if (!date.ok()) return timeError(original, "no such date");

  int hour = 0, minute = 0, second = 0;
  std::chrono::nanoseconds fraction{0};
  std::optional<std::chrono::minutes> offset;  // set when the text names its zone
  if (position < text.size()) {
    char separator = text[position++];
    if (separator != 'T' && separator != 't' && separator != ' ') {
      return timeError(original, "date and time are separated by 'T' or a space");
    }
    auto parsed_hour = digits(text, position, 2);
    bool colon = parsed_hour && position < text.size() && text[position++] == ':';
    auto parsed_minute = colon ? digits(text, position, 2) : std::nullopt;
    if (!parsed_minute) return timeError(original, "the time must be HH:MM or HH:MM:SS");
    hour = *parsed_hour, minute = *parsed_minute;
    if (position < text.size() && text[position] == ':') {
      ++position;
      auto parsed_second = digits(text, position, 2);
      if (!parsed_second) return timeError(original, "the seconds must be two digits");
      second = *parsed_second;
      if (position < text.size() && (text[position] == '.' || text[position] == ',')) {
        ++position;
        std::size_t start = position;
        std::int64_t nanoseconds = 0;
        while (position < text.size() && text[position] >= '0' && text[position] <= '9') {
          if (position - start < 9) nanoseconds = nanoseconds * 10 + (text[position] - '0');
          ++position;
        }
        if (position == start) return timeError(original, "digits must follow the '.'");
        for (std::size_t count = position - start; count < 9; ++count) nanoseconds *= 10;
        fraction = std::chrono::nanoseconds(nanoseconds);
      }
    }
    if (hour > 23 || minute > 59 || second > 59) return timeError(original, "no such time");
    if (position < text.size()) {
      char zone = text[position++];
      if (zone == 'Z' || zone == 'z') {
        offset = std::chrono::minutes(0);
      } else if (zone == '+' || zone == '-') {
        auto offset_hours = digits(text, position, 2);
        bool colon = position < text.size() && text[position] == ':';
        if (colon) ++position;
        auto offset_minutes =
            (colon || position < text.size()) ? digits(text, position, 2) : std::optional<int>(0);
        if (!offset_hours || !offset_minutes || *offset_hours > 23 || *offset_minutes > 59) {
          return timeError(original, "the zone must be Z, +HH:MM or -HH:MM");
        }
        offset = std::chrono::hours(*offset_hours) + std::chrono::minutes(*offset_minutes);
        if (zone == '-') offset = -*offset;
      } else {
        return timeError(original, "the zone must be Z, +HH:MM or -HH:MM");
      }
      if (position != text.size()) return timeError(original, "unexpected text after the zone");
    }
  }

  auto since_midnight =
      std::chrono::hours(hour) + std::chrono::minutes(minute) + std::chrono::seconds(second);
  if (offset) {
    auto utc = std::chrono::sys_days(date) + since_midnight - *offset;
    return std::chrono::time_point_cast<system_clock::duration>(utc + fraction);
  }
  // No zone: the operator's local time, as the table shows it; mktime applies the zone's rules
  // (daylight saving time included) for that date.
  std::tm local{};
  local.tm_year = *year - 1900;
  local.tm_mon = *month - 1;
  local.tm_mday = *day;
  local.tm_hour = hour;
  local.tm_min = minute;
  local.tm_sec = second;
  local.tm_isdst = -1;
  std::time_t seconds = std::mktime(&local);
  if (seconds == static_cast<std::time_t>(-1) && *year != kFirstYear) {
    return timeError(original, "outside the range of this system's clock");
  }
  return system_clock::from_time_t(seconds) +
         std::chrono::duration_cast<system_clock::duration>(fraction);
}

std::string formatLocalTime(system_clock::time_point time) {
  std::time_t seconds = system_clock::to_time_t(std::chrono::floor<std::chrono::seconds>(time));
  std::tm local{};
  if (localtime_r(&seconds, &local) == nullptr) return formatUtcTime(time);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &local);
  long offset = local.tm_gmtoff / 60;
  char sign = offset < 0 ? '-' : '+';
  if (offset < 0) offset = -offset;
  return fmt::format("{}{}{:02}:{:02}", buffer, sign, offset / 60, offset % 60);
}

std::string formatUtcTime(system_clock::time_point time) {
  auto microseconds = std::chrono::floor<std::chrono::microseconds>(time);
  auto seconds = std::chrono::floor<std::chrono::seconds>(microseconds);
  std::time_t whole = system_clock::to_time_t(seconds);
  std::tm utc{};
  gmtime_r(&whole, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &utc);
  return fmt::format("{}.{:06}Z", buffer, (microseconds - seconds).count());
}

std::string escapeForTerminal(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t position = 0; position < text.size();) {
    CodePoint point = decodeUtf8(text, position);
    if (point.length == 0) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(text[position]));
      ++position;
      continue;
    }
    if (!needsEscape(point.value)) {
      out.append(text.substr(position, point.length));
    } else if (point.value == '\n') {
      out += "\\n";
    } else if (point.value == '\r') {
      out += "\\r";
    } else if (point.value == '\t') {
      out += "\\t";
    } else if (point.value < 0x80) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned>(point.value));
    } else {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(point.value));
    }
    position += point.length;
  }
  return out;
}

std::string toValidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t position = 0; position < text.size();) {
    CodePoint point = decodeUtf8(text, position);
    if (point.length == 0) {
      out += "\xef\xbf\xbd";
      ++position;
    } else {
      out.append(text.substr(position, point.length));
      position += point.length;
    }
  }
  return out;
}

std::string formatTraceTable(const std::vector<TraceEvent>& events) {
  struct Column {
    std::string_view title;
    bool right_aligned = false;
  };
  const std::vector<Column> columns = {
      {"TIME"},       {"QUEUE ID"}, {"STATUS"}, {"SENDER"}, {"RECIPIENTS"},
      {"SIZE", true}, {"CLIENT"},   {"TLS"},    {"DETAIL"},
  };
  auto orDash = [](std::string_view value) {
    return value.empty() ? std::string("-") : escapeForTerminal(value);
  };
  std::vector<std::vector<std::string>> rows;
  rows.reserve(events.size() + 1);
  std::vector<std::string> header;
  for (const auto& column : columns) header.emplace_back(column.title);
  rows.push_back(std::move(header));
  for (const auto& event : events) {
    std::string recipients;
    for (const auto& recipient : event.recipients) {
      if (!recipients.empty()) recipients += ',';
      recipients += escapeForTerminal(recipient);
    }
    rows.push_back({
        formatLocalTime(event.time),
        orDash(event.queue_id),
        orDash(event.status),
        event.sender.empty() ? std::string("<>") : escapeForTerminal(event.sender),
        recipients.empty() ? std::string("-") : recipients,
        std::to_string(event.size),
        orDash(event.client_address),
        orDash(event.tls_version),
        escapeForTerminal(event.detail),
    });
  }
  std::vector<std::size_t> widths(columns.size(), 0);
  for (const auto& row : rows) {
    for (std::size_t index = 0; index < row.size(); ++index) {
      widths[index] = std::max(widths[index], displayWidth(row[index]));
    }
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t index = 0; index < row.size(); ++index) {
      bool last = index + 1 == row.size();
      std::size_t padding = widths[index] - displayWidth(row[index]);
      if (columns[index].right_aligned) line.append(padding, ' ');
      line += row[index];
      if (last) break;
      if (!columns[index].right_aligned) line.append(padding, ' ');
      line += "  ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line;
    out += '\n';
  }
  return out;
}

std::string formatTraceJson(const std::vector<TraceEvent>& events) {
  // One object a line inside the array: still one JSON document, and readable with grep.
  std::string out = "[";
  bool first = true;
  for (const auto& event : events) {
    boost::json::object object;
    object["time"] = formatUtcTime(event.time);
    object["queue_id"] = toValidUtf8(event.queue_id);
    object["message_id"] = toValidUtf8(event.message_id);
    object["status"] = toValidUtf8(event.status);
    object["sender"] = toValidUtf8(event.sender);
    boost::json::array recipients;
    for (const auto& recipient : event.recipients) recipients.emplace_back(toValidUtf8(recipient));
    object["recipients"] = std::move(recipients);
    object["client_address"] = toValidUtf8(event.client_address);
    object["helo"] = toValidUtf8(event.helo);
    object["tls_version"] = toValidUtf8(event.tls_version);
    object["tls_cipher"] = toValidUtf8(event.tls_cipher);
    object["auth_user"] = toValidUtf8(event.auth_user);
    object["size"] = event.size;
    object["detail"] = toValidUtf8(event.detail);
    out += first ? "\n" : ",\n";
    first = false;
    out += boost::json::serialize(object);
  }
  out += events.empty() ? "]\n" : "\n]\n";
  return out;
}

}  // namespace bulwark::store
