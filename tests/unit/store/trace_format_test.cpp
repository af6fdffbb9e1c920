// Tests of `bulwark trace` formatting and time parsing (src/store/trace_format.h): every accepted
// time form and the rejects, table alignment, terminal escaping, JSON shape and escaping.
#include "store/trace_format.h"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <stdlib.h>
#include <time.h>

#include <chrono>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace bulwark::store {
namespace {

using namespace std::chrono_literals;
using std::chrono::system_clock;

system_clock::time_point utc(int year, unsigned month, unsigned day,
                             std::chrono::system_clock::duration since_midnight = {}) {
  return system_clock::time_point(std::chrono::sys_days(std::chrono::year(year) / month / day)) +
         since_midnight;
}

// Local-time forms depend on TZ: each test sets a POSIX zone (no tzdata needed) and restores.
class TraceFormatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* zone = getenv("TZ")) saved_zone_ = zone;
    useZone("XST-3");  // UTC+3, no daylight saving time
  }
  void TearDown() override {
    if (saved_zone_) {
      setenv("TZ", saved_zone_->c_str(), 1);
    } else {
      unsetenv("TZ");
    }
    tzset();
  }
  static void useZone(const char* zone) {
    setenv("TZ", zone, 1);
    tzset();
  }
  static system_clock::time_point parse(std::string_view text) {
    auto parsed = parseTraceTime(text, kNow);
    EXPECT_TRUE(parsed.has_value()) << text << ": " << (parsed ? "" : parsed.error().message);
    return parsed ? *parsed : system_clock::time_point{};
  }
  static bool rejects(std::string_view text) {
    auto parsed = parseTraceTime(text, kNow);
    if (parsed) return false;
    EXPECT_EQ(parsed.error().code, "syntax");
    // The message says what is accepted.
    EXPECT_NE(parsed.error().message.find("2026-11-24T10:00:00Z"), std::string::npos);
    return true;
  }

  static inline const system_clock::time_point kNow = utc(2026, 11, 24, 12h);
  std::optional<std::string> saved_zone_;
};

TEST_F(TraceFormatTest, ParsesUtcAndOffsets) {
  EXPECT_EQ(parse("2026-11-24T10:00:00Z"), utc(2026, 11, 24, 10h));
  EXPECT_EQ(parse("2026-11-24t10:00:00z"), utc(2026, 11, 24, 10h));
  EXPECT_EQ(parse("2026-11-24 10:00:00Z"), utc(2026, 11, 24, 10h));
  EXPECT_EQ(parse("2026-11-24T10:00Z"), utc(2026, 11, 24, 10h));
  EXPECT_EQ(parse("2026-11-24T10:00:00+01:00"), utc(2026, 11, 24, 9h));
  EXPECT_EQ(parse("2026-11-24T10:00:00+0100"), utc(2026, 11, 24, 9h));
  EXPECT_EQ(parse("2026-11-24T10:00:00+01"), utc(2026, 11, 24, 9h));
  EXPECT_EQ(parse("2026-11-24T10:00:00-05:30"), utc(2026, 11, 24, 15h + 30min));
  EXPECT_EQ(parse("2026-11-24T10:00:00.25Z"), utc(2026, 11, 24, 10h + 250ms));
  EXPECT_EQ(parse("2026-11-24T10:00:00.123456Z"), utc(2026, 11, 24, 10h + 123456us));
  EXPECT_EQ(parse("2026-11-24T23:59:59Z"), utc(2026, 11, 24, 23h + 59min + 59s));
  EXPECT_EQ(parse("  2026-11-24T10:00:00Z  "), utc(2026, 11, 24, 10h));
  EXPECT_EQ(parse("2028-02-29T00:00:00Z"), utc(2028, 2, 29));
}

TEST_F(TraceFormatTest, ParsesLocalTimes) {
  // In UTC+3, 10:00 local is 07:00Z; a bare date is local midnight.
  EXPECT_EQ(parse("2026-11-24 10:00"), utc(2026, 11, 24, 7h));
  EXPECT_EQ(parse("2026-11-24T10:00"), utc(2026, 11, 24, 7h));
  EXPECT_EQ(parse("2026-11-24 10:00:30"), utc(2026, 11, 24, 7h + 30s));
  EXPECT_EQ(parse("2026-11-24 10:00:30.5"), utc(2026, 11, 24, 7h + 30s + 500ms));
  EXPECT_EQ(parse("2026-11-24"), utc(2026, 11, 23, 21h));
  useZone("UTC0");
  EXPECT_EQ(parse("2026-11-24"), utc(2026, 11, 24));
}

TEST_F(TraceFormatTest, ParsesRelativeTimes) {
  EXPECT_EQ(parse("-1h"), kNow - 1h);
  EXPECT_EQ(parse("-30m"), kNow - 30min);
  EXPECT_EQ(parse("-2d"), kNow - 48h);
  EXPECT_EQ(parse("-45s"), kNow - 45s);
  EXPECT_EQ(parse("-1w"), kNow - 7 * 24h);
  EXPECT_EQ(parse("-1H"), kNow - 1h);
  EXPECT_EQ(parse("1h"), kNow - 1h);  // the minus is optional: "--since 1h" means an hour ago
  EXPECT_EQ(parse("-0m"), kNow);
}

TEST_F(TraceFormatTest, RejectsEverythingElse) {
  // clang-format off
  const std::vector<std::string_view> rejected = {
      "", "   ", "yesterday", "now", "-h", "-1", "-1y", "-1.5h", "-1 h", "--1h", "-h1",
      "-9999999999d", "-99999999d", "2026-13-01", "2026-00-10", "2026-02-30", "2027-02-29",
      "2026-11-31", "2026-1-24", "26-11-24", "2026/11/24", "2026-11-24X10:00", "2026-11-24T",
      "2026-11-24T10", "2026-11-24T10:0", "2026-11-24T25:00", "2026-11-24T10:60",
      "2026-11-24T10:00:60", "2026-11-24T10:00:00.", "2026-11-24T10:00:00Q",
      "2026-11-24T10:00:00+25:00", "2026-11-24T10:00:00+01:", "2026-11-24T10:00:00+1",
      "2026-11-24T10:00:00Z trailing", "2026-11-24T10:00:00ZZ", "1969-12-31", "9999-01-01",
      "2026-11-24\n10:00", "\x1b[2J"};
  // clang-format on
  for (std::string_view text : rejected) {
    EXPECT_TRUE(rejects(text)) << "accepted: " << text;
  }
}

TEST_F(TraceFormatTest, RejectMessagesDoNotEchoTerminalEscapes) {
  auto parsed = parseTraceTime("\x1b[2Jboom", kNow);
  ASSERT_FALSE(parsed.has_value());
  EXPECT_EQ(parsed.error().message.find('\x1b'), std::string::npos);
  EXPECT_NE(parsed.error().message.find("\\x1b[2Jboom"), std::string::npos);
}

TEST_F(TraceFormatTest, FormatsTimes) {
  EXPECT_EQ(formatLocalTime(utc(2026, 11, 24, 10h + 500ms)), "2026-11-24T13:00:00+03:00");
  useZone("YST+4:30");  // UTC-4:30
  EXPECT_EQ(formatLocalTime(utc(2026, 11, 24, 10h)), "2026-11-24T05:30:00-04:30");
  useZone("UTC0");
  EXPECT_EQ(formatLocalTime(utc(2026, 11, 24, 10h)), "2026-11-24T10:00:00+00:00");
  EXPECT_EQ(formatUtcTime(utc(2026, 11, 24, 10h + 123456789ns)), "2026-11-24T10:00:00.123456Z");
  EXPECT_EQ(formatUtcTime(utc(2026, 11, 24)), "2026-11-24T00:00:00.000000Z");
  // What --json prints is what --since reads back.
  auto exact = utc(2026, 11, 24, 10h + 1us);
  EXPECT_EQ(parse(formatUtcTime(exact)), exact);
}

TEST_F(TraceFormatTest, EscapesForTerminal) {
  EXPECT_EQ(escapeForTerminal("plain@example.test"), "plain@example.test");
  EXPECT_EQ(escapeForTerminal("j\xc3\xbcrgen@example.test"), "j\xc3\xbcrgen@example.test");
  EXPECT_EQ(escapeForTerminal("\x1b[31mred"), "\\x1b[31mred");
  EXPECT_EQ(escapeForTerminal("a\nb\rc\td"), "a\\nb\\rc\\td");
  EXPECT_EQ(escapeForTerminal(std::string("nul\0byte", 8)), "nul\\x00byte");
  EXPECT_EQ(escapeForTerminal("del\x7f"), "del\\x7f");
  EXPECT_EQ(escapeForTerminal("bad\xff\xfe"), "bad\\xff\\xfe");
  EXPECT_EQ(escapeForTerminal("\xc0\xaf"), "\\xc0\\xaf");           // overlong '/'
  EXPECT_EQ(escapeForTerminal("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // surrogate
  EXPECT_EQ(escapeForTerminal("cut\xe2\x82"), "cut\\xe2\\x82");     // truncated
  EXPECT_EQ(escapeForTerminal("csi\xc2\x9b"), "csi\\u009b");        // C1 control
  EXPECT_EQ(escapeForTerminal("evil\xe2\x80\xaegpj.exe"), "evil\\u202egpj.exe");
  EXPECT_EQ(escapeForTerminal("\xf0\x9f\x93\xa7"), "\xf0\x9f\x93\xa7");  // emoji stays
}

TEST_F(TraceFormatTest, MakesValidUtf8) {
  EXPECT_EQ(toValidUtf8("ok \xc3\xbc"), "ok \xc3\xbc");
  EXPECT_EQ(toValidUtf8("a\xff"
                        "b"),
            "a\xef\xbf\xbd"
            "b");
  EXPECT_EQ(toValidUtf8("\xe2\x82"), "\xef\xbf\xbd\xef\xbf\xbd");
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) out.push_back(line);
  return out;
}

// Columns a line takes up to `byte_offset`, counting each UTF-8 sequence once (the test data has
// no wide characters).
std::size_t columnAt(const std::string& line, std::size_t byte_offset) {
  std::size_t columns = 0;
  for (std::size_t index = 0; index < byte_offset; ++index) {
    if ((static_cast<unsigned char>(line[index]) & 0xc0) != 0x80) ++columns;
  }
  return columns;
}

TraceEvent sample(std::string queue_id, std::string sender, std::vector<std::string> recipients,
                  std::uint64_t size, std::string detail) {
  TraceEvent event;
  event.time = utc(2026, 11, 24, 10h);
  event.queue_id = std::move(queue_id);
  event.message_id = "<id@example.test>";
  event.status = "delivered";
  event.sender = std::move(sender);
  event.recipients = std::move(recipients);
  event.client_address = "192.0.2.1";
  event.tls_version = "TLSv1.3";
  event.size = size;
  event.detail = std::move(detail);
  return event;
}

TEST_F(TraceFormatTest, TableColumnsAreAligned) {
  std::vector<TraceEvent> events = {
      sample("Q1", "a@example.test", {"b@example.test", "c@example.test"}, 5, "250 ok"),
      sample("QUEUE-LONGER-2", "j\xc3\xbcrgen.long.sender@example.test", {"d@e.test"}, 123456,
             "maildir: cur/1"),
  };
  events[1].status = "received";
  events[1].client_address = "";
  events[1].tls_version = "";
  auto table = lines(formatTraceTable(events));
  ASSERT_EQ(table.size(), 3u);
  const std::string& header = table[0];
  EXPECT_EQ(header.rfind("TIME", 0), 0u);
  // Every column starts where its title starts.
  for (std::string_view title :
       {"QUEUE ID", "STATUS", "SENDER", "RECIPIENTS", "CLIENT", "TLS", "DETAIL"}) {
    std::size_t column = columnAt(header, header.find(title));
    for (std::size_t row = 1; row < table.size(); ++row) {
      std::size_t before = column == 0 ? 0 : column - 1;
      // The character before the column is a space and the column itself is not.
      std::size_t bytes = 0, columns = 0;
      while (columns < before) {
        if ((static_cast<unsigned char>(table[row][++bytes]) & 0xc0) != 0x80) ++columns;
      }
      EXPECT_EQ(table[row][bytes], ' ') << title << " row " << row << ": " << table[row];
      EXPECT_NE(table[row][bytes + 1], ' ') << title << " row " << row << ": " << table[row];
    }
  }
  EXPECT_NE(table[1].find("2026-11-24T13:00:00+03:00  Q1 "), std::string::npos) << table[1];
  EXPECT_NE(table[1].find("b@example.test,c@example.test"), std::string::npos);
  // SIZE is right-aligned: both numbers end in the same column.
  std::size_t end1 = columnAt(table[1], table[1].find(" 5 ") + 2);
  std::size_t end2 = columnAt(table[2], table[2].find("123456") + 6);
  EXPECT_EQ(end1, end2);
  // Empty values show as '-', and nothing trails the last column.
  EXPECT_NE(table[2].find(" 123456  -"), std::string::npos) << table[2];
  EXPECT_TRUE(table[2].ends_with("-        maildir: cur/1")) << table[2];  // TLS is "-"
  for (const auto& line : table) EXPECT_NE(line.back(), ' ');
}

TEST_F(TraceFormatTest, TableShowsNullSenderAndEscapesNetworkText) {
  auto event = sample("Q1", "", {"x\x1b]0;pwned\x07@example.test"}, 1, "line1\nline2");
  auto table = formatTraceTable({event});
  EXPECT_EQ(table.find('\x1b'), std::string::npos);
  EXPECT_EQ(table.find('\x07'), std::string::npos);
  EXPECT_NE(table.find(" <> "), std::string::npos);
  EXPECT_NE(table.find("x\\x1b]0;pwned\\x07@example.test"), std::string::npos);
  EXPECT_NE(table.find("line1\\nline2"), std::string::npos);
  EXPECT_EQ(lines(table).size(), 2u);  // a newline in a value never makes a row
}

TEST_F(TraceFormatTest, EmptyTableIsOnlyTheHeader) {
  auto table = lines(formatTraceTable({}));
  ASSERT_EQ(table.size(), 1u);
  EXPECT_EQ(table[0].rfind("TIME", 0), 0u);
}

TEST_F(TraceFormatTest, JsonHasEveryField) {
  auto event = sample("Q1", "a@example.test", {"b@example.test", "c@example.test"}, 42, "ok");
  event.time = utc(2026, 11, 24, 10h + 7us);
  event.helo = "client.example.test";
  event.tls_cipher = "TLS_AES_128_GCM_SHA256";
  event.auth_user = "alice";
  auto text = formatTraceJson({event, event});
  auto parsed = boost::json::parse(text);
  ASSERT_TRUE(parsed.is_array());
  ASSERT_EQ(parsed.as_array().size(), 2u);
  const auto& object = parsed.as_array()[0].as_object();
  EXPECT_EQ(object.size(), 13u);
  EXPECT_EQ(object.at("time").as_string(), "2026-11-24T10:00:00.000007Z");
  EXPECT_EQ(object.at("queue_id").as_string(), "Q1");
  EXPECT_EQ(object.at("message_id").as_string(), "<id@example.test>");
  EXPECT_EQ(object.at("status").as_string(), "delivered");
  EXPECT_EQ(object.at("sender").as_string(), "a@example.test");
  ASSERT_EQ(object.at("recipients").as_array().size(), 2u);
  EXPECT_EQ(object.at("recipients").as_array()[1].as_string(), "c@example.test");
  EXPECT_EQ(object.at("client_address").as_string(), "192.0.2.1");
  EXPECT_EQ(object.at("helo").as_string(), "client.example.test");
  EXPECT_EQ(object.at("tls_version").as_string(), "TLSv1.3");
  EXPECT_EQ(object.at("tls_cipher").as_string(), "TLS_AES_128_GCM_SHA256");
  EXPECT_EQ(object.at("auth_user").as_string(), "alice");
  EXPECT_EQ(object.at("size").to_number<std::uint64_t>(), 42u);
  EXPECT_EQ(object.at("detail").as_string(), "ok");
}

TEST_F(TraceFormatTest, JsonEscapesOddCharacters) {
  const char raw[] =
      "q\"b\\s/n\nt\tc\x01"
      "e\x1b"
      "z\0end";
  std::string odd(raw, sizeof raw - 1);
  auto event = sample("Q1", odd, {"bad\xff@example.test"}, 1, "\xc3\xbc\xe2\x80\xae");
  auto text = formatTraceJson({event});
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
  EXPECT_EQ(text.find('\x01'), std::string::npos);
  EXPECT_EQ(text.find('\0'), std::string::npos);
  auto parsed = boost::json::parse(text);  // throws, failing the test, if not valid JSON
  const auto& object = parsed.as_array()[0].as_object();
  EXPECT_EQ(std::string(object.at("sender").as_string()), odd);
  EXPECT_EQ(object.at("recipients").as_array()[0].as_string(), "bad\xef\xbf\xbd@example.test");
  EXPECT_EQ(object.at("detail").as_string(), "\xc3\xbc\xe2\x80\xae");
}

TEST_F(TraceFormatTest, EmptyJsonIsAnEmptyArray) {
  EXPECT_EQ(formatTraceJson({}), "[]\n");
  EXPECT_TRUE(boost::json::parse(formatTraceJson({})).as_array().empty());
}

}  // namespace
}  // namespace bulwark::store
