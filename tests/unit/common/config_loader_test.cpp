// Tests of the TOML configuration loader (docs/configuration.md): the embedded default, a file that
// sets everything, every kind of problem with its line and column, and each limit at its bound and
// one past it. Inputs are literal TOML texts; the shipped example is read from the source tree.
#include "config_test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <string>

namespace bulwark {
namespace {

using testing::AllOf;
using testing::HasSubstr;

std::string systemHostname() {
  char buffer[256] = {};
  EXPECT_EQ(gethostname(buffer, sizeof buffer - 1), 0);
  return buffer;
}

void expectLimitsEqual(const ConnectorLimits& actual, const ConnectorLimits& expected) {
  EXPECT_EQ(actual.max_message_size, expected.max_message_size);
  EXPECT_EQ(actual.max_line_length, expected.max_line_length);
  EXPECT_EQ(actual.max_header_size, expected.max_header_size);
  EXPECT_EQ(actual.max_recipients, expected.max_recipients);
  EXPECT_EQ(actual.max_connections_per_client, expected.max_connections_per_client);
  EXPECT_EQ(actual.command_timeout_seconds, expected.command_timeout_seconds);
  EXPECT_EQ(actual.data_timeout_seconds, expected.data_timeout_seconds);
  EXPECT_EQ(actual.max_errors, expected.max_errors);
  EXPECT_EQ(actual.max_auth_failures, expected.max_auth_failures);
}

void expectConnectorEqual(const ReceiveConnector& actual, const ReceiveConnector& expected) {
  EXPECT_EQ(actual.name, expected.name);
  EXPECT_EQ(actual.listen, expected.listen);
  EXPECT_EQ(actual.tls, expected.tls);
  EXPECT_EQ(actual.auth, expected.auth);
  EXPECT_EQ(actual.relay_networks, expected.relay_networks);
  EXPECT_EQ(actual.require_auth, expected.require_auth);
  expectLimitsEqual(actual.limits, expected.limits);
}

TEST(ConfigLoader, EmbeddedDefaultLoadsCleanAndEqualsTheModelDefaults) {
  const ConfigLoad result = loadConfigText(kEmbeddedDefaultConfig, "(embedded default)");
  ASSERT_TRUE(result.ok()) << formatProblems("(embedded default)", result.problems);
  const Config& config = result.config;
  const Config model;
  EXPECT_EQ(config.source, model.source);
  EXPECT_EQ(config.hostname, systemHostname());
  EXPECT_EQ(config.data_dir, model.data_dir);
  EXPECT_EQ(config.log_level, model.log_level);
  EXPECT_EQ(config.tls_certificate, model.tls_certificate);
  EXPECT_EQ(config.tls_private_key, model.tls_private_key);
  EXPECT_EQ(config.max_connections, model.max_connections);
  EXPECT_EQ(config.min_free_disk_bytes, model.min_free_disk_bytes);
  EXPECT_EQ(config.queue_retry_seconds, model.queue_retry_seconds);
  ASSERT_EQ(config.receive_connectors.size(), 1u);
  expectConnectorEqual(config.receive_connectors[0], model.receive_connectors[0]);
  ASSERT_EQ(config.local_domains.size(), 1u);
  EXPECT_EQ(config.local_domains[0].name, model.local_domains[0].name);
  EXPECT_EQ(config.local_domains[0].delivery, model.local_domains[0].delivery);
  EXPECT_TRUE(config.users.empty());
}

TEST(ConfigLoader, EmptyFileGivesTheDefaultConnectorAndDomain) {
  const ConfigLoad result = load("");
  ASSERT_TRUE(result.ok());
  ASSERT_EQ(result.config.receive_connectors.size(), 1u);
  expectConnectorEqual(result.config.receive_connectors[0], ReceiveConnector{});
  ASSERT_EQ(result.config.local_domains.size(), 1u);
  EXPECT_EQ(result.config.local_domains[0].name, "example.test");
  EXPECT_FALSE(result.config.hostname.empty());
}

constexpr std::string_view kFullFile = R"(hostname = "mx1.example.com"
data_dir = "/var/lib/bulwark"
log_level = "debug"
max_connections = 500
min_free_disk_mb = 2048
queue_retry_seconds = 60

[tls]
certificate = "/etc/bulwark/cert.pem"
private_key = "/etc/bulwark/key.pem"

[[receive_connector]]
name = "inbound"
listen = "0.0.0.0:25"
tls = "starttls"
auth = false
require_auth = false
relay_networks = ["10.0.0.0/8", "::1/128", "192.0.2.7"]

[receive_connector.limits]
max_message_size = 52428800
max_line_length = 2048
max_header_size = 131072
max_recipients = 500
max_connections_per_client = 5
command_timeout_seconds = 600
data_timeout_seconds = 240
max_errors = 7
max_auth_failures = 2

[[receive_connector]]
name = "submission"
listen = "[::]:587"
tls = "required"
auth = true
require_auth = true

[[receive_connector]]
name = "submissions"
listen = "localhost:465"
tls = "implicit"

[[receive_connector]]
name = "plain"
listen = "127.0.0.1:2526"
tls = "none"
auth = false

[[local_domain]]
name = "Example.COM"
delivery = "maildir"

[[local_domain]]
name = "example.org"

[[user]]
name = "alice@example.com"
password_hash = "$pbkdf2-sha256$600000$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNo"
)";

TEST(ConfigLoader, FullFileSetsEveryField) {
  const ConfigLoad result = load(kFullFile);
  ASSERT_TRUE(result.ok()) << formatProblems("test.toml", result.problems);
  const Config& config = result.config;
  EXPECT_EQ(config.hostname, "mx1.example.com");
  EXPECT_EQ(config.data_dir, "/var/lib/bulwark");
  EXPECT_EQ(config.log_level, "debug");
  EXPECT_EQ(config.max_connections, 500u);
  EXPECT_EQ(config.min_free_disk_bytes, 2048ULL * 1024 * 1024);
  EXPECT_EQ(config.queue_retry_seconds, 60u);
  EXPECT_EQ(config.tls_certificate, "/etc/bulwark/cert.pem");
  EXPECT_EQ(config.tls_private_key, "/etc/bulwark/key.pem");

  ASSERT_EQ(config.receive_connectors.size(), 4u);
  ReceiveConnector inbound;
  inbound.name = "inbound";
  inbound.listen = "0.0.0.0:25";
  inbound.tls = TlsMode::starttls;
  inbound.auth = false;
  inbound.require_auth = false;
  inbound.relay_networks = {"10.0.0.0/8", "::1/128", "192.0.2.7"};
  inbound.limits.max_message_size = 52428800;
  inbound.limits.max_line_length = 2048;
  inbound.limits.max_header_size = 131072;
  inbound.limits.max_recipients = 500;
  inbound.limits.max_connections_per_client = 5;
  inbound.limits.command_timeout_seconds = 600;
  inbound.limits.data_timeout_seconds = 240;
  inbound.limits.max_errors = 7;
  inbound.limits.max_auth_failures = 2;
  expectConnectorEqual(config.receive_connectors[0], inbound);
  EXPECT_EQ(config.receive_connectors[0].config_line, 12);

  ReceiveConnector submission;
  submission.name = "submission";
  submission.listen = "[::]:587";
  submission.tls = TlsMode::required;
  submission.auth = true;
  submission.require_auth = true;
  expectConnectorEqual(config.receive_connectors[1], submission);
  EXPECT_EQ(config.receive_connectors[2].tls, TlsMode::implicit);
  EXPECT_EQ(config.receive_connectors[2].listen, "localhost:465");
  EXPECT_EQ(config.receive_connectors[3].tls, TlsMode::none);

  ASSERT_EQ(config.local_domains.size(), 2u);
  EXPECT_EQ(config.local_domains[0].name, "example.com");  // lower-cased
  EXPECT_EQ(config.local_domains[0].delivery, "maildir");
  EXPECT_EQ(config.local_domains[1].name, "example.org");
  EXPECT_TRUE(config.isLocalDomain("EXAMPLE.org"));
  EXPECT_FALSE(config.isLocalDomain("example.test"));  // the file's domains replace the default

  ASSERT_EQ(config.users.size(), 1u);
  EXPECT_EQ(config.users[0].name, "alice@example.com");
  EXPECT_EQ(config.users[0].password_hash, "$pbkdf2-sha256$600000$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNo");
}

TEST(ConfigLoader, SyntaxErrorReportsItsLineAndColumn) {
  const ConfigProblem problem = onlyProblem(load("data_dir = \"./var\"\nlog_level = \n"));
  EXPECT_EQ(problem.line, 2);
  EXPECT_EQ(problem.column, 13);
  EXPECT_THAT(problem.message, HasSubstr("TOML syntax error"));
}

TEST(ConfigLoader, RedefinedKeyIsASyntaxError) {
  const ConfigProblem problem = onlyProblem(load("log_level = \"info\"\nlog_level = \"debug\"\n"));
  EXPECT_EQ(problem.line, 2);
  EXPECT_THAT(problem.message, HasSubstr("cannot redefine existing string 'log_level'"));
}

TEST(ConfigLoader, WrongTypesAreReportedAtTheValue) {
  expectProblem("max_connections = \"10\"\n", 1, 19, "must be an integer, not a string");
  expectProblem("max_connections = \"10\"\n", 1, 19, "write 10 without quotes");
  expectProblem("max_connections = 1.5\n", 1, 19, "must be an integer");
  expectProblem("data_dir = 5\n", 1, 12, "data_dir: must be a string, not an integer");
  expectProblem("[[receive_connector]]\nname = \"a\"\nlisten = \"127.0.0.1:25\"\nauth = \"yes\"\n",
                4, 8, "receive_connector[1].auth: must be a boolean");
  expectProblem("[[receive_connector]]\nname = \"a\"\nlisten = \"127.0.0.1:25\"\nauth = \"true\"\n",
                4, 8, "write true or false without quotes");
  expectProblem("tls = \"yes\"\n", 1, 7, "tls: must be a table, not a string");
  expectProblem("[receive_connector]\nname = \"a\"\n", 1, 1,
                "receive_connector: must be an array of tables");
  expectProblem(
      "[[receive_connector]]\nname = \"a\"\nlisten = \"127.0.0.1:25\"\nrelay_networks = "
      "\"10.0.0.0/8\"\n",
      4, 18, "relay_networks: must be an array of strings");
  expectProblem(
      "[[receive_connector]]\nname = \"a\"\nlisten = \"127.0.0.1:25\"\nrelay_networks = "
      "[\"10.0.0.0/8\", 7]\n",
      4, 33, "relay_networks[2]: must be a string, not an integer");
}

TEST(ConfigLoader, EnumeratedValuesSayWhatIsAllowedAndSuggest) {
  const ConfigProblem problem = onlyProblem(
      load("[[receive_connector]]\nname = \"a\"\nlisten = \"127.0.0.1:25\"\ntls = \"startls\"\n"));
  EXPECT_EQ(problem.line, 4);
  EXPECT_EQ(problem.column, 7);
  EXPECT_EQ(problem.message,
            "receive_connector[1].tls: \"startls\" is not one of none, starttls, required, "
            "implicit; did you mean \"starttls\"?");
  expectProblem("log_level = \"verbose\"\n", 1, 13,
                "log_level: \"verbose\" is not one of debug, info, warning, error");
  expectProblem("[[local_domain]]\nname = \"example.com\"\ndelivery = \"mbox\"\n", 3, 12,
                "delivery: \"mbox\" is not one of maildir");
}

TEST(ConfigLoader, UnknownKeyWithSuggestionAtTheKey) {
  const ConfigProblem problem = onlyProblem(load(
      "[[receive_connector]]\nname = \"a\"\nlisten = \"127.0.0.1:25\"\nrelay_netwroks = []\n"));
  EXPECT_EQ(problem.line, 4);
  EXPECT_EQ(problem.column, 1);
  EXPECT_EQ(problem.message,
            "receive_connector[1].relay_netwroks: unknown key; did you mean \"relay_networks\"?");
  expectProblem("log_levl = \"info\"\n", 1, 1,
                "log_levl: unknown key; did you mean \"log_level\"?");
  expectProblem("[[receive_connectors]]\nname = \"a\"\n", 1, 3,
                "did you mean \"receive_connector\"?");
  expectProblem(
      "[[receive_connector]]\nname = \"a\"\nlisten = \"127.0.0.1:25\"\n[receive_connector.limits]\n"
      "max_line_lenght = 1000\n",
      5, 1, "limits.max_line_lenght: unknown key; did you mean \"max_line_length\"?");
}

TEST(ConfigLoader, UnknownKeyWithoutSuggestionListsTheAllowedKeys) {
  expectProblem("[tls]\nchain = \"x\"\n", 2, 1,
                "tls.chain: unknown key; the keys allowed here are certificate, private_key");
}

TEST(ConfigLoader, MisplacedKeysSayWhereTheyBelong) {
  // A top-level key after a [[table]] header lands in that table: the classic TOML slip.
  expectProblem("[[local_domain]]\nname = \"example.com\"\nmax_connections = 10\n", 3, 1,
                "move it above the first [table]");
  expectProblem(
      "[[receive_connector]]\nname = \"a\"\nlisten = \"127.0.0.1:25\"\nmax_message_size = 10\n", 4,
      1, "put it in [receive_connector.limits]");
  expectProblem("certificate = \"x.pem\"\n", 1, 1, "it belongs in the [tls] table");
}

TEST(ConfigLoader, EveryProblemIsReportedInFileOrder) {
  const ConfigLoad result = load(R"(log_level = "loud"
max_connections = 0
bogus = 1

[[receive_connector]]
name = "a"
listen = "127.0.0.1:99999"
tls = "sometimes"
relay_networks = ["10.0.0.1/8"]

[[local_domain]]
name = "bad_domain"

[[user]]
name = "bob"
password_hash = "plain"
)");
  ASSERT_EQ(result.problems.size(), 8u) << formatProblems("test.toml", result.problems);
  const std::vector<std::pair<int, std::string>> expected = {
      {1, "log_level"},
      {2, "max_connections"},
      {3, "bogus: unknown key"},
      {7, "receive_connector[1].listen"},
      {8, "receive_connector[1].tls"},
      {9, "receive_connector[1].relay_networks[1]"},
      {12, "local_domain[1].name"},
      {16, "user[1].password_hash"},
  };
  for (std::size_t index = 0; index < expected.size(); ++index) {
    EXPECT_EQ(result.problems[index].line, expected[index].first);
    EXPECT_THAT(result.problems[index].message, HasSubstr(expected[index].second));
  }
}

TEST(ConfigLoader, ConnectorNeedsNameAndListen) {
  const ConfigLoad result = load("data_dir = \"x\"\n[[receive_connector]]\ntls = \"none\"\n");
  ASSERT_EQ(result.problems.size(), 2u);
  EXPECT_EQ(result.problems[0].line, 2);
  EXPECT_THAT(result.problems[0].message, HasSubstr("has no name"));
  EXPECT_THAT(result.problems[1].message, HasSubstr("has no listen address"));
}

TEST(ConfigLoader, EmptyConnectorArrayIsAnError) {
  expectProblem("receive_connector = []\n", 1, 21, "nothing would listen");
}

TEST(ConfigLoader, DuplicateConnectorNames) {
  expectProblem(R"([[receive_connector]]
name = "smtp"
listen = "127.0.0.1:25"
[[receive_connector]]
name = "smtp"
listen = "127.0.0.1:26"
)",
                5, 8, "\"smtp\" is already used by receive_connector[1] (line 1)");
}

TEST(ConfigLoader, DuplicateListenAddresses) {
  expectProblem(R"([[receive_connector]]
name = "one"
listen = "127.0.0.1:25"
[[receive_connector]]
name = "two"
listen = "127.0.0.1:25"
)",
                6, 10, "is also the address of receive_connector[1] \"one\" (line 1)");
}

TEST(ConfigLoader, WildcardListenOverlapsAnAddressOfItsFamily) {
  expectProblem(R"([[receive_connector]]
name = "one"
listen = "127.0.0.1:25"
[[receive_connector]]
name = "two"
listen = "0.0.0.0:25"
)",
                6, 10, "overlaps \"127.0.0.1:25\"");
  expectProblem(R"([[receive_connector]]
name = "one"
listen = "localhost:25"
[[receive_connector]]
name = "two"
listen = "[::1]:25"
)",
                6, 10, "overlaps \"localhost:25\"");
  // The listener is dual-stack, so [::] takes the port for IPv4 as well.
  expectProblem(R"([[receive_connector]]
name = "v4"
listen = "127.0.0.1:25"
[[receive_connector]]
name = "v6"
listen = "[::]:25"
)",
                6, 10, "and [::] on IPv4 addresses too");
  // Different ports, different addresses, or a specific IPv6 address next to the IPv4 wildcard.
  EXPECT_TRUE(load(R"([[receive_connector]]
name = "v4"
listen = "0.0.0.0:25"
[[receive_connector]]
name = "v6"
listen = "[::1]:25"
[[receive_connector]]
name = "other"
listen = "0.0.0.0:26"
[[receive_connector]]
name = "loopback"
listen = "127.0.0.2:587"
[[receive_connector]]
name = "loopback2"
listen = "127.0.0.3:587"
)")
                  .ok());
}

TEST(ConfigLoader, PortZeroMeansAnyFreePortAndNeverClashes) {
  // The integration harness starts every connector on 127.0.0.1:0 and reads the real ports.
  const ConfigLoad result = load(R"([[receive_connector]]
name = "one"
listen = "127.0.0.1:0"
[[receive_connector]]
name = "two"
listen = "127.0.0.1:0"
)");
  ASSERT_TRUE(result.ok()) << formatProblems("test.toml", result.problems);
  EXPECT_EQ(result.config.receive_connectors[1].listen, "127.0.0.1:0");
}

std::string connectorWith(std::string_view line) {
  return "[[receive_connector]]\nname = \"a\"\nlisten = \"127.0.0.1:25\"\n" + std::string(line) +
         "\n";
}

TEST(ConfigLoader, RelayNetworks) {
  for (std::string_view good : {"10.0.0.0/8", "192.0.2.7", "192.0.2.7/32", "::1/128", "::1",
                                "2001:db8::/32", "fe80::/10", "0.0.0.0/1"}) {
    const ConfigLoad result =
        load(connectorWith("relay_networks = [\"" + std::string(good) + "\"]"));
    EXPECT_TRUE(result.ok()) << good << ": " << formatProblems("test.toml", result.problems);
  }
  const std::vector<std::pair<std::string_view, std::string_view>> bad = {
      {"10.0.0.0/33", "invalid prefix length; use 0 to 32"},
      {"::/129", "invalid prefix length; use 0 to 128"},
      {"10.0.0.0/", "invalid prefix length"},
      {"10.0.0.0/x", "invalid prefix length"},
      {"300.1.1.1", "is not an IP address or CIDR network"},
      {"example.com", "is not an IP address or CIDR network"},
      {"", "is not an IP address or CIDR network"},
      {"10.1.2.3/8", "host bits set after the prefix; write \"10.0.0.0/8\""},
      {"2001:db8::1/32", "write \"2001:db8::/32\""},
      {"0.0.0.0/0", "open relay"},
      {"::/0", "open relay"},
  };
  for (const auto& [network, fragment] : bad) {
    SCOPED_TRACE(std::string(network));
    expectProblem(connectorWith("relay_networks = [\"" + std::string(network) + "\"]"), 4, 19,
                  fragment);
  }
}

TEST(ConfigLoader, ListenAddresses) {
  for (std::string_view good : {"127.0.0.1:25", "0.0.0.0:65535", "[::1]:1", "[::]:587",
                                "localhost:2525", "LOCALHOST:2525", "127.0.0.1:0"}) {
    const ConfigLoad result =
        load("[[receive_connector]]\nname = \"a\"\nlisten = \"" + std::string(good) + "\"\n");
    EXPECT_TRUE(result.ok()) << good << ": " << formatProblems("test.toml", result.problems);
  }
  const std::vector<std::pair<std::string_view, std::string_view>> bad = {
      {"127.0.0.1", "has no port"},
      {"127.0.0.1:-1", "invalid port; use a port from 1 to 65535"},
      {"127.0.0.1:65536", "invalid port"},
      {"127.0.0.1:", "invalid port"},
      {"127.0.0.1:smtp", "invalid port"},
      {"mail.example.com:25", "does not name an IP address or localhost"},
      {":25", "does not name an IP address"},
      {"::1:25", "IPv6 address without brackets"},
      {"[127.0.0.1]:25", "does not name an IP address"},
      {"[::1]25", "is not host:port"},
      {"[::1", "is not host:port"},
  };
  for (const auto& [listen, fragment] : bad) {
    SCOPED_TRACE(std::string(listen));
    expectProblem("[[receive_connector]]\nname = \"a\"\nlisten = \"" + std::string(listen) + "\"\n",
                  3, 10, fragment);
  }
}

TEST(ConfigLoader, ConnectorNames) {
  expectProblem("[[receive_connector]]\nname = \"my connector\"\nlisten = \"127.0.0.1:25\"\n", 2, 8,
                "is not a valid name");
  expectProblem("[[receive_connector]]\nname = \"\"\nlisten = \"127.0.0.1:25\"\n", 2, 8,
                "is not a valid name");
}

TEST(ConfigLoader, AuthContradictions) {
  expectProblem(connectorWith("tls = \"none\"\nauth = true"), 5, 8,
                "AUTH is only offered under TLS");
  expectProblem(connectorWith("auth = false\nrequire_auth = true"), 5, 16,
                "require_auth: is true but auth is false");
  // auth defaults to true, so it is only an error when the file says so.
  EXPECT_TRUE(load(connectorWith("tls = \"none\"")).ok());
  const ConfigLoad result = load(connectorWith("tls = \"none\"\nrequire_auth = true"));
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(onlyProblem(result).message, HasSubstr("tls is \"none\""));
}

// Each limit at its bound, and one past it.
struct LimitBound {
  std::string_view key;
  std::int64_t minimum;
  std::int64_t maximum;
};

class ConnectorLimitBounds : public testing::TestWithParam<LimitBound> {};

std::uint64_t limitValue(const ConnectorLimits& limits, std::string_view key) {
  if (key == "max_message_size") return limits.max_message_size;
  if (key == "max_line_length") return limits.max_line_length;
  if (key == "max_header_size") return limits.max_header_size;
  if (key == "max_recipients") return limits.max_recipients;
  if (key == "max_connections_per_client") return limits.max_connections_per_client;
  if (key == "command_timeout_seconds") return limits.command_timeout_seconds;
  if (key == "data_timeout_seconds") return limits.data_timeout_seconds;
  if (key == "max_errors") return limits.max_errors;
  if (key == "max_auth_failures") return limits.max_auth_failures;
  ADD_FAILURE() << "unknown limit " << key;
  return 0;
}

std::string limitsFile(std::string_view key, std::int64_t value) {
  return "[[receive_connector]]\nname = \"a\"\nlisten = \"127.0.0.1:25\"\n"
         "[receive_connector.limits]\n" +
         std::string(key) + " = " + std::to_string(value) + "\n";
}

TEST_P(ConnectorLimitBounds, AcceptsTheBoundsAndRejectsOnePast) {
  const LimitBound bound = GetParam();
  for (std::int64_t value : {bound.minimum, bound.maximum}) {
    const ConfigLoad result = load(limitsFile(bound.key, value));
    ASSERT_TRUE(result.ok()) << value << ": " << formatProblems("test.toml", result.problems);
    EXPECT_EQ(limitValue(result.config.receive_connectors[0].limits, bound.key),
              static_cast<std::uint64_t>(value));
  }
  const int column = static_cast<int>(bound.key.size()) + 4;
  expectProblem(limitsFile(bound.key, bound.minimum - 1), 5, column,
                "is below the minimum of " + std::to_string(bound.minimum));
  expectProblem(limitsFile(bound.key, bound.maximum + 1), 5, column,
                "is above the maximum of " + std::to_string(bound.maximum));
  expectProblem(limitsFile(bound.key, bound.maximum + 1), 5, column,
                "receive_connector[1].limits." + std::string(bound.key) + ": ");
}

INSTANTIATE_TEST_SUITE_P(ConfigLoader, ConnectorLimitBounds,
                         testing::Values(LimitBound{"max_message_size", 1, 1073741824},
                                         LimitBound{"max_line_length", 512, 1048576},
                                         LimitBound{"max_header_size", 1, 67108864},
                                         LimitBound{"max_recipients", 1, 100000},
                                         LimitBound{"max_connections_per_client", 1, 100000},
                                         LimitBound{"command_timeout_seconds", 1, 3600},
                                         LimitBound{"data_timeout_seconds", 1, 3600},
                                         LimitBound{"max_errors", 1, 1000},
                                         LimitBound{"max_auth_failures", 1, 1000}),
                         [](const testing::TestParamInfo<LimitBound>& info) {
                           return std::string(info.param.key);
                         });

TEST(ConfigLoader, LineLengthMinimumExplainsWhy) {
  expectProblem(limitsFile("max_line_length", 511), 5, 19, "RFC 5321 command line");
}

TEST(ConfigLoader, LimitsAsInlineTable) {
  const ConfigLoad result = load(connectorWith("limits = { max_recipients = 7, max_errors = 2 }"));
  ASSERT_TRUE(result.ok()) << formatProblems("test.toml", result.problems);
  EXPECT_EQ(result.config.receive_connectors[0].limits.max_recipients, 7u);
  EXPECT_EQ(result.config.receive_connectors[0].limits.max_errors, 2u);
  EXPECT_EQ(result.config.receive_connectors[0].limits.max_line_length, 4096u);  // default kept
}

TEST(ConfigLoader, TopLevelBounds) {
  struct Bound {
    std::string_view key;
    std::int64_t minimum;
    std::int64_t maximum;
  };
  for (const Bound& bound :
       {Bound{"max_connections", 1, 1000000}, Bound{"min_free_disk_mb", 0, 1000000000},
        Bound{"queue_retry_seconds", 1, 86400}}) {
    SCOPED_TRACE(std::string(bound.key));
    const auto text = [&](std::int64_t value) {
      return std::string(bound.key) + " = " + std::to_string(value) + "\n";
    };
    EXPECT_TRUE(load(text(bound.minimum)).ok());
    EXPECT_TRUE(load(text(bound.maximum)).ok());
    const int column = static_cast<int>(bound.key.size()) + 4;
    expectProblem(text(bound.minimum - 1), 1, column, "is below the minimum");
    expectProblem(text(bound.maximum + 1), 1, column, "is above the maximum");
  }
  EXPECT_EQ(load("min_free_disk_mb = 0\n").config.min_free_disk_bytes, 0u);
  EXPECT_EQ(load("min_free_disk_mb = 1048576\n").config.min_free_disk_bytes, 1ULL << 40);
  EXPECT_EQ(load("min_free_disk_mb = 1000000000\n").config.min_free_disk_bytes,
            1000000000ULL * 1024 * 1024);
  EXPECT_EQ(load("max_connections = 1\n").config.max_connections, 1u);
  EXPECT_EQ(load("queue_retry_seconds = 86400\n").config.queue_retry_seconds, 86400u);
}

TEST(ConfigLoader, TlsNeedsBothFilesOrNeither) {
  expectProblem("[tls]\ncertificate = \"c.pem\"\n", 1, 1,
                "certificate is set but private_key is not");
  expectProblem("[tls]\nprivate_key = \"k.pem\"\n", 1, 1,
                "private_key is set but certificate is not");
  expectProblem("[tls]\ncertificate = \"\"\nprivate_key = \"k.pem\"\n", 2, 15, "must not be empty");
  EXPECT_TRUE(load("[tls]\n").ok());
}

TEST(ConfigLoader, LocalDomains) {
  for (std::string_view bad : {"bad_domain", "-bad.example", "bad-.example", "a..example",
                               "example.com.", "192.0.2.1", "", "bücher.example"}) {
    SCOPED_TRACE(std::string(bad));
    expectProblem("[[local_domain]]\nname = \"" + std::string(bad) + "\"\n", 2, 8,
                  "local_domain[1].name: ");
  }
  expectProblem(
      "[[local_domain]]\nname = \"example.com\"\n[[local_domain]]\nname = \"EXAMPLE.com\"\n", 4, 8,
      "\"example.com\" is already listed at line 2");
  expectProblem("[[local_domain]]\ndelivery = \"maildir\"\n", 1, 1, "has no name");
  const ConfigLoad result = load("[[local_domain]]\nname = \"xn--bcher-kva.Example\"\n");
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.config.local_domains[0].name, "xn--bcher-kva.example");
  // Naming the array with no entries means: no local domains.
  EXPECT_TRUE(load("local_domain = []\n").config.local_domains.empty());
}

TEST(ConfigLoader, Hostname) {
  EXPECT_EQ(load("hostname = \"mx.example.com\"\n").config.hostname, "mx.example.com");
  expectProblem("hostname = \"mx example\"\n", 1, 12, "hostname: ");
  expectProblem("hostname = \"\"\n", 1, 12, "hostname: must not be empty");
}

TEST(ConfigLoader, Users) {
  const std::string good = "$pbkdf2-sha256$100000$c2FsdA==$aGFzaA==";
  const ConfigLoad result =
      load("[[user]]\nname = \"bob@example.com\"\npassword_hash = \"" + good + "\"\n");
  ASSERT_TRUE(result.ok()) << formatProblems("test.toml", result.problems);
  EXPECT_EQ(result.config.users[0].password_hash, good);

  for (std::string_view bad :
       {"secret", "$pbkdf2-sha1$1000$c2FsdA==$aGFzaA==", "$pbkdf2-sha256$600000$c2FsdA==",
        "$pbkdf2-sha256$600000$c2FsdA==$aGFzaA==$extra", "$pbkdf2-sha256$many$c2FsdA==$aGFzaA==",
        "$pbkdf2-sha256$0$c2FsdA==$aGFzaA==", "$pbkdf2-sha256$10000001$c2FsdA==$aGFzaA==",
        "$pbkdf2-sha256$1000$$aGFzaA==", "$pbkdf2-sha256$1000$c2FsdA$aGFzaA==",
        "$pbkdf2-sha256$1000$c2F=sdA=$aGFzaA==", "$pbkdf2-sha256$1000$c2FsdA==$aGFz-A=="}) {
    SCOPED_TRACE(std::string(bad));
    const std::string text =
        "[[user]]\nname = \"bob\"\npassword_hash = \"" + std::string(bad) + "\"\n";
    const ConfigProblem problem = onlyProblem(load(text));
    EXPECT_EQ(problem.line, 3);
    EXPECT_EQ(problem.column, 17);
    EXPECT_THAT(problem.message, AllOf(HasSubstr("user[1].password_hash: "),
                                       HasSubstr("generate one with: bulwark user hash")));
    // The hash is a secret: it is never echoed into a message that may end up in a log.
    EXPECT_THAT(problem.message, testing::Not(HasSubstr(std::string(bad))));
  }
  expectProblem("[[user]]\nname = \"bob\"\n", 1, 1, "has no password_hash");
  expectProblem("[[user]]\nname = \"bob\"\npassword_hash = \"" + good +
                    "\"\n[[user]]\nname = \"BOB\"\npassword_hash = \"" + good + "\"\n",
                5, 8, "already defined at line 2");
}

TEST(ConfigLoader, FileThatCannotBeRead) {
  const ConfigLoad result = loadConfigFile("/nonexistent/bulwark.toml");
  EXPECT_EQ(result.config.source, "/nonexistent/bulwark.toml");
  const ConfigProblem problem = onlyProblem(result);
  EXPECT_EQ(problem.line, 0);
  EXPECT_THAT(problem.message, AllOf(HasSubstr("\"/nonexistent/bulwark.toml\""),
                                     HasSubstr("No such file or directory")));
  EXPECT_EQ(formatProblems("/nonexistent/bulwark.toml", result.problems),
            "/nonexistent/bulwark.toml: " + problem.message + "\n");
  EXPECT_THAT(onlyProblem(loadConfigFile("/")).message, HasSubstr("Is a directory"));
}

TEST(ConfigLoader, FileIsReadAndNamed) {
  const std::string path = testing::TempDir() + "config_loader_test.toml";
  {
    std::ofstream out(path);
    out << "log_level = \"warning\"\nmax_connections = -1\n";
  }
  const ConfigLoad result = loadConfigFile(path);
  std::remove(path.c_str());
  EXPECT_EQ(result.config.source, path);
  EXPECT_EQ(result.config.log_level, "warning");
  ASSERT_EQ(result.problems.size(), 1u);
  EXPECT_EQ(formatProblems(path, result.problems),
            path + ":2:19: " + result.problems[0].message + "\n");
}

TEST(ConfigLoader, FormatProblemsOneALine) {
  const std::vector<ConfigProblem> problems = {{3, 7, "first"}, {10, 1, "second"}};
  EXPECT_EQ(formatProblems("b.toml", problems), "b.toml:3:7: first\nb.toml:10:1: second\n");
  EXPECT_EQ(formatProblems("b.toml", {}), "");
}

// ---- outbound delivery: the retry schedule, [delivery] and [[send_connector]] ----

TEST(ConfigLoader, QueueTimeDefaults) {
  const Config& config = load("").config;
  const Config model;
  EXPECT_EQ(config.queue_max_backoff_seconds, model.queue_max_backoff_seconds);
  EXPECT_EQ(config.queue_lifetime_seconds, model.queue_lifetime_seconds);
  EXPECT_EQ(config.delay_warning_seconds, model.delay_warning_seconds);
  EXPECT_TRUE(config.send_connectors.empty());
  EXPECT_EQ(config.delivery.tls, TlsLevel::opportunistic);
  EXPECT_EQ(config.delivery.port, 25);
}

TEST(ConfigLoader, QueueTimeBounds) {
  struct Bound {
    std::string_view key;
    std::int64_t minimum;
    std::int64_t maximum;
  };
  for (const Bound& bound : {Bound{"queue_max_backoff_seconds", 300, 86400},
                             Bound{"queue_lifetime_seconds", 60, 100 * 86400}}) {
    SCOPED_TRACE(std::string(bound.key));
    const auto text = [&](std::int64_t value) {
      // Retries start at 300 s by default: the backoff's own minimum of 60 needs a shorter start.
      return std::string(bound.key) + " = " + std::to_string(value) +
             "\ndelay_warning_seconds = 0\n";
    };
    EXPECT_TRUE(load(text(bound.minimum)).ok())
        << formatProblems("t", load(text(bound.minimum)).problems);
    EXPECT_TRUE(load(text(bound.maximum)).ok());
    const int column = static_cast<int>(bound.key.size()) + 4;
    if (bound.key == "queue_lifetime_seconds") {
      expectProblem(text(bound.minimum - 1), 1, column, "is below the minimum of 60");
    }
    expectProblem(text(bound.maximum + 1), 1, column, "is above the maximum");
  }
  const ConfigLoad shortest = load("queue_retry_seconds = 60\nqueue_max_backoff_seconds = 60\n");
  ASSERT_TRUE(shortest.ok()) << formatProblems("test.toml", shortest.problems);
  EXPECT_EQ(shortest.config.queue_max_backoff_seconds, 60u);
  expectProblem("queue_retry_seconds = 59\nqueue_max_backoff_seconds = 59\n", 2, 29,
                "is below the minimum of 60");
  EXPECT_EQ(load("queue_lifetime_seconds = 8640000\n").config.queue_lifetime_seconds, 8640000u);
}

TEST(ConfigLoader, BackoffMustNotBeShorterThanTheFirstRetry) {
  expectProblem("queue_retry_seconds = 600\nqueue_max_backoff_seconds = 599\n", 2, 29,
                "599 is below queue_retry_seconds (600)");
  const ConfigLoad equal = load("queue_retry_seconds = 600\nqueue_max_backoff_seconds = 600\n");
  ASSERT_TRUE(equal.ok());
  EXPECT_EQ(equal.config.queue_max_backoff_seconds, 600u);
  // The default backoff gives way to a longer first retry set in the file.
  const ConfigLoad retry_only = load("queue_retry_seconds = 86400\n");
  ASSERT_TRUE(retry_only.ok());
  EXPECT_EQ(retry_only.config.queue_max_backoff_seconds, 86400u);
  EXPECT_EQ(load("queue_retry_seconds = 60\n").config.queue_max_backoff_seconds, 4000u);
}

TEST(ConfigLoader, DelayWarning) {
  EXPECT_EQ(load("delay_warning_seconds = 0\n").config.delay_warning_seconds, 0u);
  EXPECT_EQ(load("delay_warning_seconds = 60\n").config.delay_warning_seconds, 60u);
  expectProblem("delay_warning_seconds = 59\n", 1, 25,
                "59 is below the minimum of 60; use 0 for no delay notice");
  expectProblem("delay_warning_seconds = 1\n", 1, 25, "below the minimum of 60");
  expectProblem("delay_warning_seconds = -1\n", 1, 25, "is below the minimum of 0");
  // Up to queue_lifetime_seconds and not one second past it.
  const ConfigLoad at_lifetime =
      load("queue_lifetime_seconds = 3600\ndelay_warning_seconds = 3600\n");
  ASSERT_TRUE(at_lifetime.ok()) << formatProblems("test.toml", at_lifetime.problems);
  EXPECT_EQ(at_lifetime.config.delay_warning_seconds, 3600u);
  expectProblem("queue_lifetime_seconds = 3600\ndelay_warning_seconds = 3601\n", 2, 25,
                "is after queue_lifetime_seconds (3600)");
  expectProblem("delay_warning_seconds = 432001\n", 1, 25,
                "is after queue_lifetime_seconds (432000)");
  EXPECT_TRUE(load("delay_warning_seconds = 432000\n").ok());
  // A default notice that would come after the bounce is dropped, not an error.
  const ConfigLoad short_life = load("queue_lifetime_seconds = 600\n");
  ASSERT_TRUE(short_life.ok());
  EXPECT_EQ(short_life.config.delay_warning_seconds, 0u);
  EXPECT_EQ(load("queue_lifetime_seconds = 14400\n").config.delay_warning_seconds, 14400u);
}

constexpr std::string_view kDeliveryFile = R"([delivery]
tls = "verify"
port = 2525
ca_file = "/etc/ssl/certs/ca-certificates.crt"
connect_timeout_seconds = 10
command_timeout_seconds = 120
max_connections_per_destination = 3
dns_forwarders = ["127.0.0.1@5353", "192.0.2.53", "2001:db8::53@53"]
dns_trust_anchor = "/var/lib/unbound/root.key"
dns_records = ["remote.test. 300 IN MX 10 mx.remote.test.", "mx.remote.test. A 127.0.0.1"]

[[send_connector]]
name = "partner"
domains = ["Partner.example", "*.partner.example"]
smart_host = "relay.partner.example:587"
tls = "verify"
auth_user = "bulwark@example.com"
auth_password_file = "/etc/bulwark/partner.password"

[[send_connector]]
name = "everything-else"
domains = ["*"]
smart_host = "[2001:db8::25]:25"

[[send_connector]]
name = "by-mx"
domains = ["direct.example"]
tls = "none"
)";

TEST(ConfigLoader, DeliveryAndSendConnectorsSetEveryField) {
  const ConfigLoad result = load(kDeliveryFile);
  ASSERT_TRUE(result.ok()) << formatProblems("test.toml", result.problems);
  const DeliverySettings& delivery = result.config.delivery;
  EXPECT_EQ(delivery.tls, TlsLevel::verify);
  EXPECT_EQ(delivery.port, 2525);
  EXPECT_EQ(delivery.ca_file, "/etc/ssl/certs/ca-certificates.crt");
  EXPECT_EQ(delivery.connect_timeout_seconds, 10u);
  EXPECT_EQ(delivery.command_timeout_seconds, 120u);
  EXPECT_EQ(delivery.max_connections_per_destination, 3u);
  EXPECT_EQ(delivery.dns_forwarders,
            (std::vector<std::string>{"127.0.0.1@5353", "192.0.2.53", "2001:db8::53@53"}));
  EXPECT_EQ(delivery.dns_trust_anchor, "/var/lib/unbound/root.key");
  EXPECT_EQ(delivery.dns_records.size(), 2u);

  const std::vector<SendConnector>& connectors = result.config.send_connectors;
  ASSERT_EQ(connectors.size(), 3u);
  EXPECT_EQ(connectors[0].name, "partner");
  EXPECT_EQ(connectors[0].domains,
            (std::vector<std::string>{"partner.example", "*.partner.example"}));  // lower-cased
  EXPECT_EQ(connectors[0].smart_host, "relay.partner.example:587");
  EXPECT_EQ(connectors[0].tls, TlsLevel::verify);
  EXPECT_EQ(connectors[0].auth_user, "bulwark@example.com");
  EXPECT_EQ(connectors[0].auth_password_file, "/etc/bulwark/partner.password");
  EXPECT_EQ(connectors[0].config_line, 12);
  EXPECT_EQ(connectors[1].domains, std::vector<std::string>{"*"});
  EXPECT_EQ(connectors[1].smart_host, "[2001:db8::25]:25");
  EXPECT_EQ(connectors[1].tls, TlsLevel::opportunistic);  // the default
  EXPECT_TRUE(connectors[1].auth_user.empty());
  EXPECT_TRUE(connectors[2].smart_host.empty());
  EXPECT_EQ(connectors[2].tls, TlsLevel::none);
}

TEST(ConfigLoader, DeliveryChunking) {
  EXPECT_TRUE(load("").config.delivery.chunking);  // BDAT when offered, by default
  EXPECT_TRUE(load("[delivery]\nchunking = true\n").config.delivery.chunking);
  const ConfigLoad off = load("[delivery]\nchunking = false\n");
  ASSERT_TRUE(off.ok()) << formatProblems("test.toml", off.problems);
  EXPECT_FALSE(off.config.delivery.chunking);
  expectProblem("[delivery]\nchunking = \"no\"\n", 2, 12, "delivery.chunking: must be a boolean");
  expectProblem("[delivery]\nchunking = \"false\"\n", 2, 12, "write true or false without quotes");
  expectProblem("[delivery]\nchunking = 0\n", 2, 12, "write true or false");
  expectProblem("chunking = false\n", 1, 1, "it belongs in the [delivery] table");
}

TEST(ConfigLoader, DeliveryBounds) {
  struct Bound {
    std::string_view key;
    std::int64_t minimum;
    std::int64_t maximum;
  };
  for (const Bound& bound : {Bound{"port", 1, 65535}, Bound{"connect_timeout_seconds", 1, 600},
                             Bound{"command_timeout_seconds", 1, 3600},
                             Bound{"max_connections_per_destination", 1, 1000}}) {
    SCOPED_TRACE(std::string(bound.key));
    const auto text = [&](std::int64_t value) {
      return "[delivery]\n" + std::string(bound.key) + " = " + std::to_string(value) + "\n";
    };
    EXPECT_TRUE(load(text(bound.minimum)).ok());
    EXPECT_TRUE(load(text(bound.maximum)).ok());
    const int column = static_cast<int>(bound.key.size()) + 4;
    expectProblem(text(bound.minimum - 1), 2, column, "delivery." + std::string(bound.key));
    expectProblem(text(bound.minimum - 1), 2, column, "is below the minimum");
    expectProblem(text(bound.maximum + 1), 2, column, "is above the maximum");
  }
  EXPECT_EQ(load("[delivery]\nport = 65535\n").config.delivery.port, 65535);
  EXPECT_EQ(load("[delivery]\nmax_connections_per_destination = 1000\n")
                .config.delivery.max_connections_per_destination,
            1000u);
}

TEST(ConfigLoader, DeliveryTlsLevels) {
  EXPECT_EQ(load("[delivery]\ntls = \"none\"\n").config.delivery.tls, TlsLevel::none);
  EXPECT_EQ(load("[delivery]\ntls = \"opportunistic\"\n").config.delivery.tls,
            TlsLevel::opportunistic);
  EXPECT_EQ(load("[delivery]\ntls = \"required\"\n").config.delivery.tls, TlsLevel::required);
  EXPECT_EQ(load("[delivery]\ntls = \"verify\"\n").config.delivery.tls, TlsLevel::verify);
  const ConfigProblem problem = onlyProblem(load("[delivery]\ntls = \"verfiy\"\n"));
  EXPECT_EQ(problem.line, 2);
  EXPECT_EQ(problem.column, 7);
  EXPECT_EQ(problem.message,
            "delivery.tls: \"verfiy\" is not one of none, opportunistic, required, verify; did "
            "you mean \"verify\"?");
  // The receive connector's words are not outbound levels.
  expectProblem("[delivery]\ntls = \"starttls\"\n", 2, 7, "is not one of none, opportunistic");
}

TEST(ConfigLoader, DeliveryPathsAndLists) {
  expectProblem("[delivery]\nca_file = \"\"\n", 2, 11, "delivery.ca_file: must not be empty");
  expectProblem("[delivery]\ndns_trust_anchor = \"\"\n", 2, 20,
                "delivery.dns_trust_anchor: must not be empty");
  expectProblem("[delivery]\nca_file = 7\n", 2, 11, "must be a string");
  EXPECT_TRUE(load("[delivery]\ndns_forwarders = []\ndns_records = []\n").ok());
  for (std::string_view good : {"127.0.0.1", "127.0.0.1@1", "127.0.0.1@65535", "::1", "::1@53"}) {
    SCOPED_TRACE(std::string(good));
    EXPECT_TRUE(load("[delivery]\ndns_forwarders = [\"" + std::string(good) + "\"]\n").ok());
  }
  for (std::string_view bad : {"resolver.example", "127.0.0.1@0", "127.0.0.1@65536", "127.0.0.1@",
                               "127.0.0.1:53", "[::1]@53", ""}) {
    SCOPED_TRACE(std::string(bad));
    expectProblem("[delivery]\ndns_forwarders = [\"" + std::string(bad) + "\"]\n", 2, 19,
                  "delivery.dns_forwarders[1]: ");
  }
  expectProblem("[delivery]\ndns_forwarders = \"127.0.0.1\"\n", 2, 18,
                "must be an array of strings");
  expectProblem("[delivery]\ndns_forwarders = [\"127.0.0.1\", 53]\n", 2, 32,
                "dns_forwarders[2]: must be a string");
  expectProblem("[delivery]\ndns_records = [\"remote.test. MX\"]\n", 2, 16,
                "delivery.dns_records[1]: \"remote.test. MX\" is not a record");
  expectProblem("[delivery]\ndns_records = [\"\"]\n", 2, 16, "is not a record");
  expectProblem("[delivery]\ndns_records = [\"a. A 1.2.3.4\\nb. A 1.2.3.5\"]\n", 2, 16,
                "one record per string");
  EXPECT_TRUE(load("[delivery]\ndns_records = [\"remote.test.\tA\t127.0.0.1\"]\n").ok());
}

TEST(ConfigLoader, DeliveryKeysInTheWrongPlace) {
  expectProblem("[delivery]\nprot = 25\n", 2, 1,
                "delivery.prot: unknown key; did you mean \"port\"?");
  expectProblem("dns_forwarders = []\n", 1, 1, "it belongs in the [delivery] table");
  expectProblem("[[local_domain]]\nname = \"example.com\"\nsmart_host = \"a.example:25\"\n", 3, 1,
                "it belongs in a [[send_connector]] table");
  expectProblem("[delivery]\nqueue_lifetime_seconds = 60\n", 2, 1,
                "move it above the first [table]");
  expectProblem("delivery = \"smtp\"\n", 1, 12, "delivery: must be a table");
  expectProblem(
      "[[receive_connector]]\nname = \"a\"\nlisten = \"127.0.0.1:25\"\n"
      "delivery = \"maildir\"\n",
      4, 1, "the top-level [delivery] table");
}

// A [[send_connector]] table with `body` after a valid name.
std::string sendConnector(std::string_view name, std::string_view body) {
  return "[[send_connector]]\nname = \"" + std::string(name) + "\"\n" + std::string(body) + "\n";
}

TEST(ConfigLoader, SendConnectorNeedsNameAndDomains) {
  expectProblem("[[send_connector]]\ndomains = [\"*\"]\n", 1, 1, "send_connector[1]: has no name");
  expectProblem(sendConnector("a", ""), 1, 1, "send_connector[1]: has no domains");
  expectProblem(sendConnector("a", "domains = []"), 3, 11, "send_connector[1].domains: is empty");
  expectProblem(sendConnector("a", "domains = \"*\""), 3, 11, "must be an array of strings");
  expectProblem(sendConnector("bad name", "domains = [\"*\"]"), 2, 8, "is not a valid name");
  expectProblem(sendConnector("a", "domains = [\"x.example\"]") +
                    sendConnector("a", "domains = [\"y.example\"]"),
                5, 8,
                "send_connector[2].name: \"a\" is already used by send_connector[1] \"a\" "
                "(line 1)");
  expectProblem("send_connector = 1\n", 1, 18, "must be an array of tables");
}

TEST(ConfigLoader, SendConnectorDomainPatterns) {
  const ConfigLoad result =
      load(sendConnector("a", "domains = [\"*\", \"*.Example.COM\", \"example.com\", \"x.test\"]"));
  ASSERT_TRUE(result.ok()) << formatProblems("test.toml", result.problems);
  EXPECT_EQ(result.config.send_connectors[0].domains,
            (std::vector<std::string>{"*", "*.example.com", "example.com", "x.test"}));
  for (std::string_view bad : {"*example.com", "a.*.example", "**", "*.", "example..com",
                               "example.com.", "192.0.2.1", "", "ex ample.com", "*.*.example"}) {
    SCOPED_TRACE(std::string(bad));
    expectProblem(sendConnector("a", "domains = [\"" + std::string(bad) + "\"]"), 3, 12,
                  "send_connector[1].domains[1]: ");
  }
}

TEST(ConfigLoader, SameDomainPatternInTwoSendConnectorsNamesBoth) {
  const ConfigProblem problem =
      onlyProblem(load(sendConnector("first", "domains = [\"example.net\", \"*\"]") +
                       sendConnector("second", "domains = [\"*.example.net\", \"EXAMPLE.net\"]")));
  EXPECT_EQ(problem.line, 6);
  EXPECT_EQ(problem.column, 29);
  EXPECT_EQ(problem.message,
            "send_connector[2].domains[2]: \"example.net\" is also routed by send_connector[1] "
            "\"first\" (line 1); each domain pattern may be in one send connector only: remove "
            "one of them");
  expectProblem(sendConnector("a", "domains = [\"*\", \"*\"]"), 3, 17, "is also routed by");
  // Different patterns that overlap are fine: the most specific one wins.
  EXPECT_TRUE(load(sendConnector("a", "domains = [\"*\"]") +
                   sendConnector("b", "domains = [\"*.example.net\"]") +
                   sendConnector("c", "domains = [\"mail.example.net\"]"))
                  .ok());
}

TEST(ConfigLoader, SendConnectorSmartHost) {
  for (std::string_view good :
       {"relay.example.net:587", "relay:25", "192.0.2.25:25", "[192.0.2.25]:25",
        "[2001:db8::25]:25", "relay.example.net:1", "relay.example.net:65535"}) {
    SCOPED_TRACE(std::string(good));
    const ConfigLoad result =
        load(sendConnector("a", "domains = [\"*\"]\nsmart_host = \"" + std::string(good) + "\""));
    ASSERT_TRUE(result.ok()) << formatProblems("test.toml", result.problems);
    EXPECT_EQ(result.config.send_connectors[0].smart_host, good);
  }
  for (std::string_view bad :
       {"relay.example.net", "relay.example.net:0", "relay.example.net:65536", "relay:smtp",
        "2001:db8::25:25", "[relay.example.net]:25", "[2001:db8::25]", "bad_host:25", ":25", ""}) {
    SCOPED_TRACE(std::string(bad));
    expectProblem(
        sendConnector("a", "domains = [\"*\"]\nsmart_host = \"" + std::string(bad) + "\""), 4, 14,
        "send_connector[1].smart_host: ");
  }
  expectProblem(sendConnector("a", "domains = [\"*\"]\nsmart_host = \"relay.example.net\""), 4, 14,
                "has no port");
}

TEST(ConfigLoader, SendConnectorTls) {
  expectProblem(sendConnector("a", "domains = [\"*\"]\ntls = \"starttls\""), 4, 7,
                "send_connector[1].tls: \"starttls\" is not one of none, opportunistic, "
                "required, verify");
  EXPECT_EQ(load(sendConnector("a", "domains = [\"*\"]\ntls = \"required\""))
                .config.send_connectors[0]
                .tls,
            TlsLevel::required);
}

TEST(ConfigLoader, SendConnectorAuthentication) {
  const std::string base = "domains = [\"*\"]\nsmart_host = \"relay.example.net:587\"\n";
  const std::string credentials = "auth_user = \"me\"\nauth_password_file = \"/etc/pw\"\n";
  for (std::string_view level : {"required", "verify"}) {
    SCOPED_TRACE(std::string(level));
    const ConfigLoad result =
        load(sendConnector("a", base + "tls = \"" + std::string(level) + "\"\n" + credentials));
    ASSERT_TRUE(result.ok()) << formatProblems("test.toml", result.problems);
    EXPECT_EQ(result.config.send_connectors[0].auth_user, "me");
    EXPECT_EQ(result.config.send_connectors[0].auth_password_file, "/etc/pw");
  }
  // Both or neither.
  expectProblem(sendConnector("a", base + "tls = \"verify\"\nauth_user = \"me\""), 6, 13,
                "auth_user: is set but auth_password_file is not");
  expectProblem(sendConnector("a", base + "tls = \"verify\"\nauth_password_file = \"/etc/pw\""), 6,
                22, "auth_password_file: is set but auth_user is not");
  // Never in clear: the default (opportunistic) and none are refused, at the tls setting.
  const ConfigProblem opportunistic = onlyProblem(load(sendConnector("a", base + credentials)));
  EXPECT_EQ(opportunistic.line, 5);
  EXPECT_THAT(opportunistic.message,
              AllOf(HasSubstr("AUTH is never sent in clear"), HasSubstr("\"opportunistic\""),
                    HasSubstr("set tls = \"verify\" (or \"required\")")));
  expectProblem(sendConnector("a", base + "tls = \"none\"\n" + credentials), 5, 7,
                "AUTH is never sent in clear, and tls = \"none\"");
  // Only a smart host knows our account.
  expectProblem(sendConnector("a", "domains = [\"*\"]\ntls = \"verify\"\n" + credentials), 5, 13,
                "authentication needs a smart_host");
  expectProblem(sendConnector("a", base + "tls = \"verify\"\nauth_user = \"\"\n"
                                          "auth_password_file = \"/etc/pw\""),
                6, 13, "auth_user: must be 1 to 256 characters");
  expectProblem(sendConnector("a", base + "tls = \"verify\"\nauth_user = \"me\"\n"
                                          "auth_password_file = \"\""),
                7, 22, "auth_password_file: must not be empty");
  expectProblem(sendConnector("a", base + "auth_pasword_file = \"x\""), 5, 1,
                "did you mean \"auth_password_file\"?");
}

TEST(ConfigLoader, ShippedExampleLoadsClean) {
  const std::string path = std::string(BULWARK_SOURCE_DIR) + "/examples/bulwark.toml";
  const ConfigLoad result = loadConfigFile(path);
  ASSERT_TRUE(result.ok()) << formatProblems(path, result.problems);
  EXPECT_GE(result.config.receive_connectors.size(), 2u);
  EXPECT_FALSE(result.config.users.empty());
  // The outbound examples are commented out: the shipped file delivers by MX with the defaults.
  EXPECT_TRUE(result.config.send_connectors.empty());
}

// The commented outbound examples of the shipped file, uncommented, load clean too: an example
// that would not load is worse than none.
TEST(ConfigLoader, ShippedExampleOutboundSectionsLoadCleanUncommented) {
  const std::string path = std::string(BULWARK_SOURCE_DIR) + "/examples/bulwark.toml";
  std::ifstream in(path);
  std::string text;
  std::string line;
  bool in_outbound = false;
  while (std::getline(in, line)) {
    if (line.starts_with("# --- outbound")) in_outbound = true;
    if (in_outbound && line.starts_with("#[")) line.erase(0, 1);
    if (in_outbound && line.starts_with("#") && line.find(" = ") != std::string::npos &&
        !line.starts_with("# ")) {
      line.erase(0, 1);
    }
    text += line + "\n";
  }
  ASSERT_TRUE(in_outbound) << "examples/bulwark.toml has no \"# --- outbound\" section";
  const ConfigLoad result = loadConfigText(text, path);
  ASSERT_TRUE(result.ok()) << formatProblems(path, result.problems);
  EXPECT_EQ(result.config.delivery.tls, TlsLevel::opportunistic);
  ASSERT_GE(result.config.send_connectors.size(), 1u);
}

}  // namespace
}  // namespace bulwark

namespace bulwark {
namespace {

TEST(ConfigLoaderBounceLimit, DefaultBoundsAndOnePast) {
  auto defaults = loadConfigText("", "bounce.toml");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults.config.bounce_size_limit, 50000u);
  auto zero = loadConfigText("bounce_size_limit = 0\n", "bounce.toml");
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ(zero.config.bounce_size_limit, 0u);
  auto top = loadConfigText("bounce_size_limit = 104857600\n", "bounce.toml");
  ASSERT_TRUE(top.ok());
  EXPECT_EQ(top.config.bounce_size_limit, 104857600u);
  auto past = loadConfigText("bounce_size_limit = 104857601\n", "bounce.toml");
  ASSERT_EQ(past.problems.size(), 1u);
  EXPECT_EQ(past.problems[0].line, 1);
  EXPECT_NE(past.problems[0].message.find("bounce_size_limit"), std::string::npos);
  auto negative = loadConfigText("bounce_size_limit = -1\n", "bounce.toml");
  EXPECT_FALSE(negative.ok());
}

TEST(ConfigLoaderMtaSts, DefaultsSettingsBoundsAndOnePast) {
  const DeliverySettings defaults = load("").config.delivery;
  EXPECT_TRUE(defaults.mta_sts);
  EXPECT_EQ(defaults.mta_sts_port, 443);
  EXPECT_EQ(defaults.mta_sts_max_policy_size, 65536u);
  EXPECT_EQ(defaults.mta_sts_timeout_seconds, 30u);

  const ConfigLoad set = load(
      "[delivery]\nmta_sts = false\nmta_sts_port = 8443\nmta_sts_max_policy_size = 4096\n"
      "mta_sts_timeout_seconds = 5\n");
  ASSERT_TRUE(set.ok()) << formatProblems("test.toml", set.problems);
  EXPECT_FALSE(set.config.delivery.mta_sts);
  EXPECT_EQ(set.config.delivery.mta_sts_port, 8443);
  EXPECT_EQ(set.config.delivery.mta_sts_max_policy_size, 4096u);
  EXPECT_EQ(set.config.delivery.mta_sts_timeout_seconds, 5u);

  struct Bound {
    std::string_view key;
    std::int64_t minimum;
    std::int64_t maximum;
  };
  for (const Bound& bound : {Bound{"mta_sts_port", 1, 65535},
                             Bound{"mta_sts_max_policy_size", 256, 1024 * 1024},
                             Bound{"mta_sts_timeout_seconds", 1, 300}}) {
    SCOPED_TRACE(std::string(bound.key));
    const auto text = [&](std::int64_t value) {
      return "[delivery]\n" + std::string(bound.key) + " = " + std::to_string(value) + "\n";
    };
    EXPECT_TRUE(load(text(bound.minimum)).ok());
    EXPECT_TRUE(load(text(bound.maximum)).ok());
    const int column = static_cast<int>(bound.key.size()) + 4;
    expectProblem(text(bound.minimum - 1), 2, column, "delivery." + std::string(bound.key));
    expectProblem(text(bound.minimum - 1), 2, column, "is below the minimum");
    expectProblem(text(bound.maximum + 1), 2, column, "is above the maximum");
  }
  expectProblem("[delivery]\nmta_sts = \"yes\"\n", 2, 11, "delivery.mta_sts: must be a boolean");
  expectProblem("mta_sts = true\n", 1, 1, "it belongs in the [delivery] table");
}

}  // namespace
}  // namespace bulwark

// [domain_secure]: Domain Security lists and files (docs/configuration.md).
namespace bulwark {
namespace {

ConfigLoad loadDomainSecure(std::string_view text) {
  return loadConfigText(text, "domain_secure.toml");
}

TEST(ConfigLoaderDomainSecure, DefaultsWhenAbsent) {
  const ConfigLoad result = loadDomainSecure("");
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result.config.domain_secure.send.empty());
  EXPECT_TRUE(result.config.domain_secure.receive.empty());
  EXPECT_TRUE(result.config.domain_secure.client_certificate.empty());
  EXPECT_TRUE(result.config.domain_secure.trusted_ca_file.empty());
  EXPECT_TRUE(result.config.domain_secure.reject_unauthenticated);
}

TEST(ConfigLoaderDomainSecure, EveryKeyLoads) {
  const ConfigLoad result = loadDomainSecure(
      "[domain_secure]\n"
      "send = [\"Partner.Example\", \"other.example\"]\n"
      "receive = [\"partner.example\"]\n"
      "client_certificate = \"/etc/bulwark/client.pem\"\n"
      "client_private_key = \"/etc/bulwark/client.key\"\n"
      "trusted_ca_file = \"/etc/bulwark/partners.pem\"\n"
      "reject_unauthenticated = false\n");
  ASSERT_TRUE(result.ok()) << formatProblems("domain_secure.toml", result.problems);
  const DomainSecureSettings& settings = result.config.domain_secure;
  EXPECT_EQ(settings.send, (std::vector<std::string>{"partner.example", "other.example"}));
  EXPECT_EQ(settings.receive, (std::vector<std::string>{"partner.example"}));
  EXPECT_EQ(settings.client_certificate, "/etc/bulwark/client.pem");
  EXPECT_EQ(settings.client_private_key, "/etc/bulwark/client.key");
  EXPECT_EQ(settings.trusted_ca_file, "/etc/bulwark/partners.pem");
  EXPECT_FALSE(settings.reject_unauthenticated);
  EXPECT_TRUE(settings.sendsTo("PARTNER.example"));
  EXPECT_FALSE(settings.sendsTo("sub.partner.example"));
  EXPECT_TRUE(settings.receivesFrom("Partner.Example"));
  EXPECT_FALSE(settings.receivesFrom("other.example"));
}

TEST(ConfigLoaderDomainSecure, ProblemsNameLineColumnAndFix) {
  expectProblem("[domain_secure]\nsend = [\"bad..example\"]\n", 2, 9,
                "domain_secure.send[1]: \"bad..example\" has an empty label");
  expectProblem("[domain_secure]\nreceive = [\"*.partner.example\"]\n", 2, 12,
                "no wildcards");
  expectProblem("[domain_secure]\nreceive = [\"a.example\", \"A.example\"]\n", 2, 25,
                "is already listed at line 2");
  expectProblem("[domain_secure]\nsend = [\"example.test\"]\n", 2, 9,
                "is one of our [[local_domain]]s");
  expectProblem("[domain_secure]\nsend = \"partner.example\"\n", 2, 8,
                "must be an array of strings");
  expectProblem("[domain_secure]\nclient_certificate = \"/c.pem\"\n", 2, 22,
                "client_certificate and client_private_key go together");
  expectProblem("[domain_secure]\nclient_certificate = \"/c.pem\"\nclient_private_key = \"\"\n", 3,
                22, "client_private_key: must not be empty");
  expectProblem("[domain_secure]\nreject_unauthenticated = \"false\"\n", 2, 26,
                "write true or false without quotes");
  expectProblem("[domain_secure]\nrecieve = [\"partner.example\"]\n", 2, 1,
                "did you mean \"receive\"?");
  expectProblem("receive = [\"partner.example\"]\n", 1, 1,
                "it belongs in the [domain_secure] table");
  expectProblem("domain_secure = 5\n", 1, 17, "must be a table");
}

}  // namespace
}  // namespace bulwark
