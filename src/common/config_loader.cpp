// Loads the TOML configuration into Config (docs/configuration.md), collecting every problem with
// its line, column and fix instead of stopping at the first. The file is the administrator's (so
// trusted) but may be wrong in any way; nothing here opens the files it names or resolves names.
#include "common/config_loader.h"

#include "common/strings.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

// Debian's libtomlplusplus.so is built with exceptions and exports only that ABI (toml::v3::ex),
// and its CMake target forces TOML_HEADER_ONLY=0: so parse errors arrive as toml::parse_error.
#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <utility>

namespace bulwark {
namespace {

constexpr std::string_view kPasswordHashPrefix = "$pbkdf2-sha256$";

// Keys the loader knows, per table; an unknown key is an error so that a typo is never ignored.
constexpr auto kTopLevelKeys = std::to_array<std::string_view>({"hostname",
                                                            "data_dir",
                                                            "log_level",
                                                            "max_connections",
                                                            "min_free_disk_mb",
                                                            "queue_retry_seconds",
                                                            "queue_max_backoff_seconds",
                                                            "queue_lifetime_seconds",
                                                            "delay_warning_seconds",
                                                            "bounce_size_limit",
                                                            "tls",
                                                            "delivery",
                                                            "receive_connector",
                                                            "send_connector",
                                                            "local_domain",
                                                            "user",
                                                            "domain_secure",
                                                            "authentication",
                                                            "dmarc_override",
                                                            "rule",
                                                            "rules",
                                                            "dmarc_reports"});
constexpr auto kTlsKeys = std::to_array<std::string_view>({"certificate", "private_key"});
constexpr auto kConnectorKeys = std::to_array<std::string_view>({
    "name", "listen", "tls", "auth", "require_auth", "relay_networks", "limits"});
constexpr auto kLocalDomainKeys = std::to_array<std::string_view>({
    "name", "delivery", "host", "tls", "auth_user", "auth_password_file"});
constexpr auto kUserKeys = std::to_array<std::string_view>({"name", "password_hash"});
constexpr auto kDeliveryKeys = std::to_array<std::string_view>({
    "tls", "port", "ca_file", "connect_timeout_seconds", "command_timeout_seconds",
    "max_connections_per_destination", "dns_forwarders", "dns_trust_anchor", "dns_records",
    "chunking", "mta_sts", "mta_sts_port", "mta_sts_max_policy_size", "mta_sts_timeout_seconds",
    "dns_zone_files", "dane"});
constexpr auto kDomainSecureKeys = std::to_array<std::string_view>({
    "send", "receive", "client_certificate", "client_private_key", "trusted_ca_file",
    "reject_unauthenticated"});
constexpr auto kAuthenticationKeys = std::to_array<std::string_view>({
    "verify", "authserv_id", "public_suffix_list", "dmarc_reject_action",
    "dmarc_quarantine_action", "dmarc_none_action", "ambiguous_from_action", "spf_fail_action",
    "trusted_arc_sealers", "dkim_sign", "arc_seal_domain", "arc_seal_selector"});
constexpr auto kRulesKeys = std::to_array<std::string_view>({
    "files", "internal_domains", "unparseable_action", "mime_max_depth", "mime_max_parts"});
constexpr auto kUnparseableActions =
    std::to_array<std::string_view>({"quarantine", "reject", "deliver"});
constexpr auto kDmarcOverrideKeys = std::to_array<std::string_view>({"domain", "action"});
constexpr auto kAuthenticationActions =
    std::to_array<std::string_view>({"none", "spam", "quarantine", "reject"});
constexpr auto kDmarcReportKeys = std::to_array<std::string_view>({
    "enabled", "interval_seconds", "organization_name", "sender", "contact",
    "max_rows_per_report"});
constexpr auto kSendConnectorKeys = std::to_array<std::string_view>({
    "name", "domains", "smart_host", "tls", "auth_user", "auth_password_file"});

constexpr auto kLogLevels = std::to_array<std::string_view>({"debug", "info", "warning", "error"});
constexpr auto kTlsModes = std::to_array<std::string_view>({"none", "starttls", "required", "implicit"});
constexpr auto kDeliveries = std::to_array<std::string_view>({"maildir", "lmtp", "smtp"});
constexpr auto kTlsLevels = std::to_array<std::string_view>({"none", "opportunistic", "required",
                                                        "verify"});

constexpr std::int64_t kDaySeconds = 24 * 3600;
constexpr std::int64_t kMaximumQueueLifetimeSeconds = 100 * kDaySeconds;
constexpr std::int64_t kMinimumDelayWarningSeconds = 60;

// One connector limit: its key, its range and how to store it (the fields differ in width).
struct LimitSpec {
  std::string_view key;
  std::int64_t minimum;
  std::int64_t maximum;
  std::string_view unit;
  std::string_view minimum_reason;  // why the minimum is what it is, when it is not just "1"
  void (*store)(ConnectorLimits&, std::int64_t);
};

constexpr std::int64_t kMebibyte = 1024 * 1024;
// About a petabyte: more than any disk, so that a test can make every MAIL see a full disk.
constexpr std::int64_t kMaximumFreeDiskMebibytes = 1000000000;

const auto kLimitSpecs = std::to_array<LimitSpec>({
    {"max_message_size", 1, 1024 * kMebibyte, "bytes", "",
     [](ConnectorLimits& limits, std::int64_t value) {
       limits.max_message_size = static_cast<std::uint64_t>(value);
     }},
    {"max_line_length", 512, kMebibyte, "bytes",
     "an RFC 5321 command line may be 512 bytes long, section 4.5.3.1.4",
     [](ConnectorLimits& limits, std::int64_t value) {
       limits.max_line_length = static_cast<std::uint32_t>(value);
     }},
    {"max_header_size", 1, 64 * kMebibyte, "bytes", "",
     [](ConnectorLimits& limits, std::int64_t value) {
       limits.max_header_size = static_cast<std::uint32_t>(value);
     }},
    {"max_recipients", 1, 100000, "recipients", "",
     [](ConnectorLimits& limits, std::int64_t value) {
       limits.max_recipients = static_cast<std::uint32_t>(value);
     }},
    {"max_connections_per_client", 1, 100000, "connections", "",
     [](ConnectorLimits& limits, std::int64_t value) {
       limits.max_connections_per_client = static_cast<std::uint32_t>(value);
     }},
    {"command_timeout_seconds", 1, 3600, "seconds", "",
     [](ConnectorLimits& limits, std::int64_t value) {
       limits.command_timeout_seconds = static_cast<std::uint32_t>(value);
     }},
    {"data_timeout_seconds", 1, 3600, "seconds", "",
     [](ConnectorLimits& limits, std::int64_t value) {
       limits.data_timeout_seconds = static_cast<std::uint32_t>(value);
     }},
    {"max_errors", 1, 1000, "errors", "",
     [](ConnectorLimits& limits, std::int64_t value) {
       limits.max_errors = static_cast<std::uint32_t>(value);
     }},
    {"max_auth_failures", 1, 1000, "failures", "",
     [](ConnectorLimits& limits, std::int64_t value) {
       limits.max_auth_failures = static_cast<std::uint32_t>(value);
     }},
});

// A key that is valid somewhere else: the usual TOML slip is a key written after a [table] header
// (so it lands in that table) or outside the table it belongs to.
struct MisplacedKey {
  std::string_view key;
  std::string_view hint;
};

constexpr std::string_view kTopLevelHint =
    "it is a top-level key: move it above the first [table] or [[array]] header";
constexpr std::string_view kDeliveryHint = "it belongs in the [delivery] table";
constexpr std::string_view kSendConnectorHint = "it belongs in a [[send_connector]] table";
constexpr std::string_view kDomainSecureHint = "it belongs in the [domain_secure] table";
constexpr std::string_view kAuthenticationHint = "it belongs in the [authentication] table";
const auto kMisplacedKeys = std::to_array<MisplacedKey>({
    {"authserv_id", kAuthenticationHint},
    {"public_suffix_list", kAuthenticationHint},
    {"dmarc_reject_action", kAuthenticationHint},
    {"dmarc_quarantine_action", kAuthenticationHint},
    {"dmarc_none_action", kAuthenticationHint},
    {"ambiguous_from_action", kAuthenticationHint},
    {"spf_fail_action", kAuthenticationHint},
    {"trusted_arc_sealers", kAuthenticationHint},
    {"dkim_sign", kAuthenticationHint},
    {"arc_seal_domain", kAuthenticationHint},
    {"arc_seal_selector", kAuthenticationHint},
    {"hostname", kTopLevelHint},
    {"data_dir", kTopLevelHint},
    {"log_level", kTopLevelHint},
    {"max_connections", kTopLevelHint},
    {"min_free_disk_mb", kTopLevelHint},
    {"queue_retry_seconds", kTopLevelHint},
    {"queue_max_backoff_seconds", kTopLevelHint},
    {"queue_lifetime_seconds", kTopLevelHint},
    {"delay_warning_seconds", kTopLevelHint},
    {"bounce_size_limit", kTopLevelHint},
    {"port", kDeliveryHint},
    {"ca_file", kDeliveryHint},
    {"connect_timeout_seconds", kDeliveryHint},
    {"max_connections_per_destination", kDeliveryHint},
    {"dns_forwarders", kDeliveryHint},
    {"dns_trust_anchor", kDeliveryHint},
    {"dns_records", kDeliveryHint},
    {"chunking", kDeliveryHint},
    {"dns_zone_files", kDeliveryHint},
    {"dane", kDeliveryHint},
    {"mta_sts", kDeliveryHint},
    {"mta_sts_port", kDeliveryHint},
    {"mta_sts_max_policy_size", kDeliveryHint},
    {"mta_sts_timeout_seconds", kDeliveryHint},
    {"domains", kSendConnectorHint},
    {"smart_host", kSendConnectorHint},
    {"auth_user", kSendConnectorHint},
    {"auth_password_file", kSendConnectorHint},
    {"certificate", "it belongs in the [tls] table"},
    {"private_key", "it belongs in the [tls] table"},
    {"listen", "it belongs in a [[receive_connector]] table"},
    {"auth", "it belongs in a [[receive_connector]] table"},
    {"require_auth", "it belongs in a [[receive_connector]] table"},
    {"relay_networks", "it belongs in a [[receive_connector]] table"},
    {"limits", "it belongs in a [[receive_connector]] table"},
    {"delivery",
     "it belongs in a [[local_domain]] table (delivery = \"maildir\"); outbound settings are "
     "the top-level [delivery] table"},
    {"password_hash", "it belongs in a [[user]] table"},
    {"send", kDomainSecureHint},
    {"receive", kDomainSecureHint},
    {"client_certificate", kDomainSecureHint},
    {"client_private_key", kDomainSecureHint},
    {"trusted_ca_file", kDomainSecureHint},
    {"reject_unauthenticated", kDomainSecureHint},
    {"interval_seconds", "it belongs in the [dmarc_reports] table"},
    {"organization_name", "it belongs in the [dmarc_reports] table"},
    {"max_rows_per_report", "it belongs in the [dmarc_reports] table"},
});

std::string inQuotes(std::string_view text) {
  return "\"" + std::string(text) + "\"";
}

std::string joinPath(std::string_view path, std::string_view key) {
  if (path.empty()) return std::string(key);
  return std::string(path) + "." + std::string(key);
}

template <std::size_t N>
std::string listOf(const std::array<std::string_view, N>& words) {
  std::string out;
  for (std::string_view word : words) {
    if (!out.empty()) out += ", ";
    out += word;
  }
  return out;
}

// Optimal string alignment distance: a swapped pair of letters ("lsiten") counts as one edit,
// which is the most common typo in a key.
std::size_t editDistance(std::string_view left, std::string_view right) {
  const std::size_t rows = left.size() + 1;
  const std::size_t columns = right.size() + 1;
  std::vector<std::size_t> cost(rows * columns);
  auto at = [&](std::size_t row, std::size_t column) -> std::size_t& {
    return cost[row * columns + column];
  };
  for (std::size_t row = 0; row < rows; ++row) at(row, 0) = row;
  for (std::size_t column = 0; column < columns; ++column) at(0, column) = column;
  for (std::size_t row = 1; row < rows; ++row) {
    for (std::size_t column = 1; column < columns; ++column) {
      const std::size_t substitution = left[row - 1] == right[column - 1] ? 0 : 1;
      std::size_t best = std::min({at(row - 1, column) + 1, at(row, column - 1) + 1,
                                   at(row - 1, column - 1) + substitution});
      if (row > 1 && column > 1 && left[row - 1] == right[column - 2] &&
          left[row - 2] == right[column - 1]) {
        best = std::min(best, at(row - 2, column - 2) + 1);
      }
      at(row, column) = best;
    }
  }
  return at(rows - 1, columns - 1);
}

// The closest candidate within two edits (case-insensitive), or nothing.
std::optional<std::string_view> closest(std::string_view word,
                                        std::span<const std::string_view> candidates) {
  const std::string lowered = asciiLower(word);
  std::optional<std::string_view> best;
  std::size_t best_distance = 3;
  for (std::string_view candidate : candidates) {
    const std::size_t distance = editDistance(lowered, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

std::string_view typeName(toml::node_type type) {
  switch (type) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a floating-point number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::none: break;
  }
  return "nothing";
}

bool isAllDigits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// RFC 1035 2.3.1 host names (letters, digits, hyphens; labels of 1..63; 253 in all), as they
// appear in EHLO and Received. An all-digit last label would be an IP address, not a name.
// Returns the problem, or an empty string when `name` is valid.
std::string domainNameProblem(std::string_view name) {
  if (name.empty()) return "must not be empty";
  if (name.back() == '.') return inQuotes(name) + " ends with a dot; remove the trailing dot";
  if (name.size() > 253) return inQuotes(name) + " is longer than 253 characters";
  for (unsigned char c : name) {
    if (c >= 0x80) {
      return inQuotes(name) +
             " is not ASCII; write an internationalized name in its A-label form (xn--...)";
    }
  }
  const std::vector<std::string_view> labels = split(name, '.');
  for (std::string_view label : labels) {
    if (label.empty()) return inQuotes(name) + " has an empty label (two dots in a row)";
    if (label.size() > 63) return inQuotes(name) + " has a label longer than 63 characters";
    if (label.front() == '-' || label.back() == '-') {
      return inQuotes(name) + " has a label that starts or ends with a hyphen";
    }
    for (char c : label) {
      const bool valid =
          (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
      if (!valid) {
        return inQuotes(name) + " contains " + inQuotes(std::string(1, c)) +
               "; a domain name has only letters, digits, hyphens and dots";
      }
    }
  }
  if (isAllDigits(labels.back())) {
    return inQuotes(name) + " looks like an IP address; a domain name is needed here";
  }
  return {};
}

// A parsed IP address: family and 4 or 16 bytes in network order.
struct IpAddress {
  int family = AF_INET;
  std::array<unsigned char, 16> bytes{};
  int bits() const { return family == AF_INET ? 32 : 128; }
};

std::optional<IpAddress> parseIpAddress(std::string_view text) {
  const std::string copy(text);
  IpAddress address;
  address.family = copy.find(':') == std::string::npos ? AF_INET : AF_INET6;
  if (inet_pton(address.family, copy.c_str(), address.bytes.data()) != 1) return std::nullopt;
  return address;
}

std::string formatIpAddress(const IpAddress& address) {
  char buffer[INET6_ADDRSTRLEN] = {};
  inet_ntop(address.family, address.bytes.data(), buffer, sizeof buffer);
  return buffer;
}

// "10.0.0.0/8", "2001:db8::/32" or a bare address. Returns the problem, or empty when valid.
std::string networkProblem(std::string_view text) {
  const std::string example = "write it like \"192.0.2.0/24\", \"2001:db8::/32\" or \"192.0.2.7\"";
  const std::size_t slash = text.find('/');
  const std::string_view address_text = text.substr(0, slash);
  std::optional<IpAddress> address = parseIpAddress(address_text);
  if (!address) {
    return inQuotes(text) + " is not an IP address or CIDR network; " + example;
  }
  if (slash == std::string_view::npos) return {};
  const std::string_view prefix_text = text.substr(slash + 1);
  if (!isAllDigits(prefix_text) || prefix_text.size() > 3 ||
      std::stoi(std::string(prefix_text)) > address->bits()) {
    return inQuotes(text) + " has an invalid prefix length; use 0 to " +
           std::to_string(address->bits()) + " after the slash";
  }
  const int prefix = std::stoi(std::string(prefix_text));
  if (prefix == 0) {
    return inQuotes(text) +
           " matches every address and would make this an open relay; list only your own "
           "networks, and let everyone else authenticate";
  }
  IpAddress network = *address;
  const int byte_count = address->bits() / 8;
  for (int index = 0; index < byte_count; ++index) {
    const int keep = std::clamp(prefix - index * 8, 0, 8);
    const unsigned mask = keep == 0 ? 0u : (0xFFu << (8 - keep)) & 0xFFu;
    network.bytes[index] = static_cast<unsigned char>(network.bytes[index] & mask);
  }
  if (network.bytes != address->bytes) {
    return inQuotes(text) + " has host bits set after the prefix; write " +
           inQuotes(formatIpAddress(network) + "/" + std::string(prefix_text)) +
           " for the network or " + inQuotes(std::string(address_text)) + " for the single address";
  }
  return {};
}

// A parsed listen address. "localhost" stands for both loopback addresses when checking overlap.
struct ListenEndpoint {
  std::vector<IpAddress> addresses;
  int port = 0;
};

bool isWildcard(const IpAddress& address) {
  return std::all_of(address.bytes.begin(), address.bytes.end(),
                     [](unsigned char byte) { return byte == 0; });
}

// Whether two listeners cannot both bind: same port and the same address, or a wildcard and any
// address of its family. "[::]" also takes the port for IPv4: the listener leaves IPV6_V6ONLY off
// (the Linux default), so it is dual-stack. Port 0 asks the system for a free port: never a clash.
bool overlaps(const ListenEndpoint& left, const ListenEndpoint& right) {
  if (left.port != right.port || left.port == 0) return false;
  for (const IpAddress& one : left.addresses) {
    for (const IpAddress& other : right.addresses) {
      if (one.family != other.family) {
        const IpAddress& six = one.family == AF_INET6 ? one : other;
        if (isWildcard(six)) return true;
        continue;
      }
      if (one.bytes == other.bytes || isWildcard(one) || isWildcard(other)) return true;
    }
  }
  return false;
}

// "host:port" with host an IPv4 literal or "localhost", or "[IPv6]:port". Sets `problem` on error.
std::optional<ListenEndpoint> parseListen(std::string_view text, std::string& problem) {
  const std::string form = "write it as \"127.0.0.1:2525\", \"[::1]:2525\" or \"localhost:2525\"";
  std::string_view host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      problem = inQuotes(text) + " is not host:port; " + form;
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      problem = inQuotes(text) + " has no port; " + form;
      return std::nullopt;
    }
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      problem = inQuotes(text) + " has an IPv6 address without brackets; write \"[" +
                std::string(host) + "]:" + std::string(port_text) + "\"";
      return std::nullopt;
    }
  }
  ListenEndpoint endpoint;
  if (!isAllDigits(port_text) || port_text.size() > 5 ||
      std::stoi(std::string(port_text)) > 65535) {
    problem = inQuotes(text) + " has an invalid port; use a port from 1 to 65535 (or 0 for any " +
              "free port, which is printed at start)";
    return std::nullopt;
  }
  endpoint.port = std::stoi(std::string(port_text));
  if (equalsIgnoreCase(host, "localhost")) {
    endpoint.addresses.push_back(*parseIpAddress("127.0.0.1"));
    endpoint.addresses.push_back(*parseIpAddress("::1"));
    return endpoint;
  }
  std::optional<IpAddress> address = parseIpAddress(host);
  const bool bracketed = !text.empty() && text.front() == '[';
  if (!address || (bracketed && address->family != AF_INET6)) {
    problem = inQuotes(text) + " does not name an IP address or localhost (host names are not " +
              "resolved for listening); " + form + ", or \"0.0.0.0:25\" for every address";
    return std::nullopt;
  }
  endpoint.addresses.push_back(*address);
  return endpoint;
}

// A port written as text: 1..65535. Returns nothing when it is not one.
std::optional<int> parsePort(std::string_view text) {
  if (!isAllDigits(text) || text.size() > 5) return std::nullopt;
  const int port = std::stoi(std::string(text));
  if (port < 1 || port > 65535) return std::nullopt;
  return port;
}

// A DNS forwarder: "IP" or "IP@port" (the unbound forward-addr notation; IPv6 needs no brackets
// because '@' cannot occur in an address). Returns the problem, or empty when valid.
std::string forwarderProblem(std::string_view text) {
  const std::string form = "write it as \"192.0.2.53\", \"127.0.0.1@5353\" or \"2001:db8::53\"";
  const std::size_t at = text.rfind('@');
  const std::string_view address = text.substr(0, at);
  if (!parseIpAddress(address)) {
    return inQuotes(text) + " is not an IP address (a forwarder is not resolved by name); " + form;
  }
  if (at != std::string_view::npos && !parsePort(text.substr(at + 1))) {
    return inQuotes(text) + " has an invalid port after '@'; use a port from 1 to 65535";
  }
  return {};
}

// "host:port" with a domain name or IPv4 address, or "[address]:port" (an IPv6 or IPv4 literal),
// port required. `form` shows examples; `port_hint` says which port is usual. Returns the
// problem, or empty when valid.
std::string hostAndPortProblem(std::string_view text, const std::string& form,
                               std::string_view port_hint) {
  std::string_view host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return inQuotes(text) + " is not [address]:port; " + form;
    }
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
    if (!parseIpAddress(host)) {
      return inQuotes(text) + " has no IP address inside the brackets; " + form;
    }
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return inQuotes(text) + " has no port (" + std::string(port_hint) + "); " + form;
    }
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return inQuotes(text) + " has an IPv6 address without brackets; write \"[" +
             std::string(host) + "]:" + std::string(port_text) + "\"";
    }
    if (!parseIpAddress(host)) {
      std::string problem = domainNameProblem(host);
      if (!problem.empty()) return "the host of " + inQuotes(text) + ": " + problem;
    }
  }
  if (!parsePort(port_text)) {
    return inQuotes(text) + " has an invalid port; use a port from 1 to 65535";
  }
  return {};
}

// A smart host: the port is required, since 25 and 587 both make sense for a smart host, and a
// silent default would pick the wrong one half of the time.
std::string smartHostProblem(std::string_view text) {
  return hostAndPortProblem(
      text, "write it as \"relay.example.net:587\", \"192.0.2.25:25\" or \"[2001:db8::25]:25\"",
      "25 for relay, 587 for submission");
}

constexpr std::string_view kUnixSocketPrefix = "unix:";
// sockaddr_un's sun_path holds 108 bytes on Linux, the terminating NUL included.
constexpr std::size_t kMaximumSocketPath = 107;

// The downstream mailbox server of a local domain: a TCP host as for a smart host, or, for LMTP,
// "unix:/absolute/path" (Dovecot's usual). Returns the problem, or empty when valid.
std::string mailboxHostProblem(std::string_view text, bool lmtp) {
  if (text.starts_with(kUnixSocketPrefix)) {
    if (!lmtp) {
      return inQuotes(text) +
             " is a unix socket, which only delivery = \"lmtp\" uses; give the SMTP server as "
             "\"host:port\", or set delivery = \"lmtp\"";
    }
    const std::string_view path = text.substr(kUnixSocketPrefix.size());
    if (!path.starts_with("/")) {
      return inQuotes(text) +
             " needs an absolute path after \"unix:\"; write it like "
             "\"unix:/var/run/dovecot/lmtp\"";
    }
    if (path.size() > kMaximumSocketPath) {
      return inQuotes(text) + " has a socket path longer than " +
             std::to_string(kMaximumSocketPath) +
             " bytes, which a unix socket address cannot hold; use a shorter path";
    }
    for (unsigned char c : path) {
      if (c < 0x20 || c == 0x7F) return inQuotes(text) + " has a control character in its path";
    }
    return {};
  }
  return hostAndPortProblem(
      text,
      lmtp ? "write it as \"127.0.0.1:24\", \"[::1]:24\", \"mailbox.example.net:24\" or "
             "\"unix:/var/run/dovecot/lmtp\""
           : "write it as \"127.0.0.1:25\", \"[::1]:25\" or \"mailbox.example.net:25\"",
      lmtp ? "LMTP has no standard port; 24 is usual" : "25 is usual");
}

// A send connector's domain pattern: "*", "*.example.com" or "example.com". Returns the problem,
// or empty when valid.
std::string domainPatternProblem(std::string_view pattern) {
  if (pattern == "*") return {};
  std::string_view domain = pattern;
  if (pattern.starts_with("*.")) {
    domain = pattern.substr(2);
  } else if (pattern.find('*') != std::string_view::npos) {
    return inQuotes(pattern) +
           " has a '*' that is not a whole first label; write \"*.example.com\" for the "
           "subdomains of example.com, or \"*\" for every domain";
  }
  return domainNameProblem(domain);
}

// A local zone-file record, lightly checked (the resolver parses it for real): one line of at
// least "name TYPE data". Returns the problem, or empty when it may be a record.
std::string dnsRecordProblem(std::string_view record) {
  for (unsigned char c : record) {
    if (c < 0x20 && c != '\t') {
      return "contains a control character or line break; give one record per string";
    }
  }
  std::size_t words = 0;
  bool in_word = false;
  for (char c : record) {
    const bool space = c == ' ' || c == '\t';
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  if (words < 3) {
    return inQuotes(record) +
           " is not a record; write it as in a zone file: \"name TYPE data\", such as "
           "\"remote.test. 300 IN MX 10 mx.remote.test.\"";
  }
  return {};
}

// A zone file path goes into libunbound's configuration syntax as a quoted string, which has no
// escapes. Returns the problem, or empty.
std::string zoneFilePathProblem(std::string_view path) {
  if (path.empty()) return "must not be empty; give the path of a zone file";
  for (unsigned char c : path) {
    if (c < 0x20 || c == '"') {
      return "contains a quote or control character, which the resolver cannot take; rename "
             "the file";
    }
  }
  return {};
}

bool isBase64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return false;
  const std::size_t padding = text.size() - text.find_last_not_of('=') - 1;
  if (padding > 2) return false;
  return std::all_of(text.begin(), text.end() - static_cast<std::ptrdiff_t>(padding), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
  });
}

// "$pbkdf2-sha256$<iterations>$<salt>$<hash>" with padded standard base64, exactly what
// net::verifyPassword accepts (common cannot call net, so the rules are repeated here): a hash
// that passes this check can be verified. Returns the problem, or empty; never echoes the hash.
std::string passwordHashProblem(std::string_view hash) {
  const std::string fix = "; generate one with: bulwark user hash";
  if (!hash.starts_with(kPasswordHashPrefix)) {
    return "must start with \"" + std::string(kPasswordHashPrefix) + "\"" + fix;
  }
  const std::vector<std::string_view> fields = split(hash.substr(kPasswordHashPrefix.size()), '$');
  if (fields.size() != 3) {
    return "is not in the form $pbkdf2-sha256$<iterations>$<salt>$<hash>" + fix;
  }
  if (!isAllDigits(fields[0]) || fields[0].size() > 8 || std::stol(std::string(fields[0])) < 1 ||
      std::stol(std::string(fields[0])) > 10000000) {
    return "has an invalid iteration count (1 to 10000000)" + fix;
  }
  if (!isBase64(fields[1]) || !isBase64(fields[2])) {
    return "has a salt or hash that is not padded base64" + fix;
  }
  return {};
}

// Connector names appear in logs and the trace: 1 to 64 letters, digits, '-', '_' or '.'.
bool isValidConnectorName(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

std::string systemHostname() {
  char buffer[256] = {};
  if (gethostname(buffer, sizeof buffer - 1) != 0 || buffer[0] == '\0') return "localhost";
  return buffer;
}

class Loader {
 public:
  Config config;
  std::vector<ConfigProblem> problems;

  void load(const toml::table& root) {
    checkKeys(root, "", kTopLevelKeys);
    if (auto hostname = readString(root, "hostname", "")) {
      std::string problem = domainNameProblem(*hostname);
      if (problem.empty()) {
        config.hostname = *hostname;
      } else {
        report(*root.get("hostname"), "hostname: " + problem);
      }
    }
    if (config.hostname.empty()) config.hostname = systemHostname();
    if (auto data_dir = readString(root, "data_dir", "")) {
      if (data_dir->empty()) {
        report(*root.get("data_dir"),
               "data_dir: must not be empty; use \".\" for the working "
               "directory or an absolute path");
      } else {
        config.data_dir = *data_dir;
      }
    }
    if (auto level = readChoice(root, "log_level", "", kLogLevels)) config.log_level = *level;
    if (auto value = readInteger(root, "max_connections", "", 1, 1000000, "connections", "")) {
      config.max_connections = static_cast<std::uint32_t>(*value);
    }
    if (auto value =
            readInteger(root, "min_free_disk_mb", "", 0, kMaximumFreeDiskMebibytes, "MiB", "")) {
      config.min_free_disk_bytes = static_cast<std::uint64_t>(*value) * kMebibyte;
    }
    if (auto value = readInteger(root, "queue_retry_seconds", "", 1, 86400, "seconds", "")) {
      config.queue_retry_seconds = static_cast<std::uint32_t>(*value);
    }
    loadQueueTimes(root);
    if (const toml::table* tls = tableAt(root, "tls", "")) loadTls(*tls);
    if (const toml::table* delivery = tableAt(root, "delivery", "")) loadDelivery(*delivery);
    if (auto tables = arrayOfTables(root, "receive_connector")) {
      config.receive_connectors.clear();
      if (tables->empty()) {
        report(*root.get("receive_connector"),
               "receive_connector: is empty, so nothing would listen; add a [[receive_connector]] "
               "or remove the line to use the default connector");
      }
      for (std::size_t index = 0; index < tables->size(); ++index) {
        loadConnector(*(*tables)[index], "receive_connector[" + std::to_string(index + 1) + "]");
      }
    }
    if (auto tables = arrayOfTables(root, "send_connector")) {
      for (std::size_t index = 0; index < tables->size(); ++index) {
        loadSendConnector(*(*tables)[index], "send_connector[" + std::to_string(index + 1) + "]");
      }
    }
    if (auto tables = arrayOfTables(root, "local_domain")) {
      config.local_domains.clear();
      for (std::size_t index = 0; index < tables->size(); ++index) {
        loadLocalDomain(*(*tables)[index], "local_domain[" + std::to_string(index + 1) + "]");
      }
    }
    if (auto tables = arrayOfTables(root, "user")) {
      for (std::size_t index = 0; index < tables->size(); ++index) {
        loadUser(*(*tables)[index], "user[" + std::to_string(index + 1) + "]");
      }
    }
    // After [[local_domain]]: a partner domain cannot be one of ours.
    if (const toml::table* table = tableAt(root, "domain_secure", "")) loadDomainSecure(*table);
    if (const toml::table* table = tableAt(root, "authentication", "")) loadAuthentication(*table);
    // [[rule]] tables are read by src/policy (bulwark config check and serve load them there);
    // here only their shape is checked.
    (void)arrayOfTables(root, "rule");
    if (const toml::table* table = tableAt(root, "rules", "")) loadRules(*table);
    if (auto tables = arrayOfTables(root, "dmarc_override")) {
      for (std::size_t index = 0; index < tables->size(); ++index) {
        loadDmarcOverride(*(*tables)[index], "dmarc_override[" + std::to_string(index + 1) + "]");
      }
    }
    // After hostname: the report defaults name this host.
    if (const toml::table* table = tableAt(root, "dmarc_reports", "")) loadDmarcReports(*table);
    DmarcReportSettings& reports = config.dmarc_reports;
    if (reports.organization_name.empty()) reports.organization_name = config.hostname;
    if (reports.sender.empty()) reports.sender = "noreply-dmarc@" + config.hostname;
  }

  void report(const toml::source_region& where, std::string message) {
    problems.push_back({static_cast<int>(where.begin.line), static_cast<int>(where.begin.column),
                        std::move(message)});
  }
  void report(const toml::node& node, std::string message) {
    report(node.source(), std::move(message));
  }

 private:
  // Names and listen addresses seen so far, for the uniqueness checks.
  struct SeenConnector {
    std::string path;
    std::string name;
    std::string listen;
    std::optional<ListenEndpoint> endpoint;
    int line = 0;
  };
  std::vector<SeenConnector> seen_connectors_;
  std::vector<std::pair<std::string, int>> seen_domains_;  // lower-cased name, line
  std::vector<std::pair<std::string, int>> seen_users_;    // lower-cased name, line
  // Send connectors by name, and every domain pattern with the connector that routes it.
  struct SeenSendConnector {
    std::string name;
    std::string where;  // "send_connector[1] \"name\" (line 3)"
  };
  std::vector<SeenSendConnector> seen_send_connectors_;
  std::vector<std::pair<std::string, std::string>> seen_patterns_;  // pattern, where

  template <std::size_t N>
  void checkKeys(const toml::table& table, std::string_view path,
                 const std::array<std::string_view, N>& known) {
    for (auto&& [key, node] : table) {
      const std::string_view name = key.str();
      if (std::find(known.begin(), known.end(), name) != known.end()) continue;
      std::string message = joinPath(path, name) + ": unknown key";
      if (auto misplaced = misplacedHint(name, path)) {
        message += "; " + std::string(*misplaced);
      } else if (auto suggestion = closest(name, known)) {
        message += "; did you mean " + inQuotes(*suggestion) + "?";
      } else {
        message += "; the keys allowed here are " + listOf(known);
      }
      report(key.source(), std::move(message));
    }
  }

  static std::optional<std::string_view> misplacedHint(std::string_view name,
                                                       std::string_view path) {
    for (const auto& [key, hint] : kMisplacedKeys) {
      if (key == name && !(hint == kTopLevelHint && path.empty())) return hint;
    }
    for (const LimitSpec& spec : kLimitSpecs) {
      if (spec.key == name) return "it is a connector limit: put it in [receive_connector.limits]";
    }
    return std::nullopt;
  }

  void wrongType(const toml::node& node, const std::string& path, std::string_view expected,
                 std::string_view fix) {
    std::string message =
        path + ": must be " + std::string(expected) + ", not " + std::string(typeName(node.type()));
    if (!fix.empty()) message += "; " + std::string(fix);
    report(node, std::move(message));
  }

  std::optional<std::string> readString(const toml::table& table, std::string_view key,
                                        std::string_view path) {
    const toml::node* node = table.get(key);
    if (node == nullptr) return std::nullopt;
    if (const auto* value = node->as_string()) return value->get();
    wrongType(*node, joinPath(path, key), "a string", "put the value in double quotes");
    return std::nullopt;
  }

  std::optional<bool> readBool(const toml::table& table, std::string_view key,
                               std::string_view path) {
    const toml::node* node = table.get(key);
    if (node == nullptr) return std::nullopt;
    if (const auto* value = node->as_boolean()) return value->get();
    std::string fix = "write true or false";
    if (const auto* text = node->as_string()) {
      if (text->get() == "true" || text->get() == "false") fix += " without quotes";
    }
    wrongType(*node, joinPath(path, key), "a boolean", fix);
    return std::nullopt;
  }

  std::optional<std::int64_t> readInteger(const toml::table& table, std::string_view key,
                                          std::string_view path, std::int64_t minimum,
                                          std::int64_t maximum, std::string_view unit,
                                          std::string_view minimum_reason) {
    const toml::node* node = table.get(key);
    if (node == nullptr) return std::nullopt;
    const std::string range = "use an integer from " + std::to_string(minimum) + " to " +
                              std::to_string(maximum) + " (" + std::string(unit) + ")";
    const std::string full_path = joinPath(path, key);
    const auto* integer = node->as_integer();
    if (integer == nullptr) {
      std::string fix = range;
      if (const auto* text = node->as_string(); text != nullptr && isAllDigits(text->get())) {
        fix = "write " + text->get() + " without quotes";
      } else if (unit == "bytes") {
        fix += "; sizes are plain byte counts, and TOML allows 52_428_800 for readability";
      }
      wrongType(*node, full_path, "an integer", fix);
      return std::nullopt;
    }
    const std::int64_t value = integer->get();
    if (value < minimum) {
      std::string message = full_path + ": " + std::to_string(value) + " is below the minimum of " +
                            std::to_string(minimum);
      if (!minimum_reason.empty()) message += " (" + std::string(minimum_reason) + ")";
      report(*node, message + "; " + range);
      return std::nullopt;
    }
    if (value > maximum) {
      report(*node, full_path + ": " + std::to_string(value) + " is above the maximum of " +
                        std::to_string(maximum) + "; " + range);
      return std::nullopt;
    }
    return value;
  }

  template <std::size_t N>
  std::optional<std::string> readChoice(const toml::table& table, std::string_view key,
                                        std::string_view path,
                                        const std::array<std::string_view, N>& choices) {
    std::optional<std::string> value = readString(table, key, path);
    if (!value) return std::nullopt;
    if (std::find(choices.begin(), choices.end(), *value) != choices.end()) return value;
    std::string message =
        joinPath(path, key) + ": " + inQuotes(*value) + " is not one of " + listOf(choices);
    if (auto suggestion = closest(*value, choices)) {
      message += "; did you mean " + inQuotes(*suggestion) + "?";
    }
    report(*table.get(key), std::move(message));
    return std::nullopt;
  }

  const toml::table* tableAt(const toml::table& table, std::string_view key,
                             std::string_view path) {
    const toml::node* node = table.get(key);
    if (node == nullptr) return nullptr;
    if (const auto* sub = node->as_table()) return sub;
    const std::string full_path = joinPath(path, key);
    wrongType(*node, full_path, "a table", "write it as a [" + full_path + "] section");
    return nullptr;
  }

  std::optional<std::vector<const toml::table*>> arrayOfTables(const toml::table& root,
                                                               std::string_view key) {
    const toml::node* node = root.get(key);
    if (node == nullptr) return std::nullopt;
    const std::string fix = "write each one as a [[" + std::string(key) + "]] section";
    const auto* array = node->as_array();
    if (array == nullptr) {
      wrongType(*node, std::string(key), "an array of tables", fix);
      return std::nullopt;
    }
    std::vector<const toml::table*> tables;
    for (std::size_t index = 0; index < array->size(); ++index) {
      const toml::node& element = *array->get(index);
      if (const auto* table = element.as_table()) {
        tables.push_back(table);
      } else {
        wrongType(element, std::string(key) + "[" + std::to_string(index + 1) + "]", "a table",
                  fix);
      }
    }
    return tables;
  }

  // The retry schedule. Cross-field rules apply to values the file sets; a default that would
  // contradict a value the file sets gives way instead, so that, for example, a file setting only
  // queue_retry_seconds = 86400 still loads.
  void loadQueueTimes(const toml::table& root) {
    const std::optional<std::int64_t> backoff =
        readInteger(root, "queue_max_backoff_seconds", "", 60, 86400, "seconds", "");
    if (backoff && *backoff < config.queue_retry_seconds) {
      report(*root.get("queue_max_backoff_seconds"),
             "queue_max_backoff_seconds: " + std::to_string(*backoff) +
                 " is below queue_retry_seconds (" + std::to_string(config.queue_retry_seconds) +
                 "); retries start at queue_retry_seconds and double up to this maximum, so it "
                 "must be at least as long: raise it or lower queue_retry_seconds");
    } else if (backoff) {
      config.queue_max_backoff_seconds = static_cast<std::uint32_t>(*backoff);
    } else if (!root.contains("queue_max_backoff_seconds")) {
      config.queue_max_backoff_seconds =
          std::max(config.queue_max_backoff_seconds, config.queue_retry_seconds);
    }

    if (auto lifetime = readInteger(root, "queue_lifetime_seconds", "", 60,
                                    kMaximumQueueLifetimeSeconds, "seconds", "")) {
      config.queue_lifetime_seconds = static_cast<std::uint32_t>(*lifetime);
    }
    const std::int64_t lifetime = config.queue_lifetime_seconds;
    const std::string warning_range = "use 0 for no delay notice, or an integer from " +
                                      std::to_string(kMinimumDelayWarningSeconds) + " to " +
                                      std::to_string(lifetime) + " (queue_lifetime_seconds)";
    if (auto warning = readInteger(root, "delay_warning_seconds", "", 0,
                                   kMaximumQueueLifetimeSeconds, "seconds", "")) {
      const toml::node& node = *root.get("delay_warning_seconds");
      if (*warning != 0 && *warning < kMinimumDelayWarningSeconds) {
        report(node, "delay_warning_seconds: " + std::to_string(*warning) +
                         " is below the minimum of " + std::to_string(kMinimumDelayWarningSeconds) +
                         "; " + warning_range);
      } else if (*warning > lifetime) {
        report(node, "delay_warning_seconds: " + std::to_string(*warning) +
                         " is after queue_lifetime_seconds (" + std::to_string(lifetime) +
                         "), when the message has already bounced; " + warning_range);
      } else {
        config.delay_warning_seconds = static_cast<std::uint32_t>(*warning);
      }
    } else if (!root.contains("delay_warning_seconds") && config.delay_warning_seconds > lifetime) {
      // The bounce comes first: a notice after it would only confuse the sender.
      config.delay_warning_seconds = 0;
    }
    // A bounce returns the original whole only below this size, else its header section; 0
    // always returns just the headers.
    if (auto limit = readInteger(root, "bounce_size_limit", "", 0, 100LL * 1024 * 1024, "bytes",
                                 "")) {
      config.bounce_size_limit = static_cast<std::uint64_t>(*limit);
    }
  }

  std::optional<TlsLevel> readTlsLevel(const toml::table& table, std::string_view path) {
    std::optional<std::string> level = readChoice(table, "tls", path, kTlsLevels);
    if (!level) return std::nullopt;
    if (*level == "none") return TlsLevel::none;
    if (*level == "required") return TlsLevel::required;
    if (*level == "verify") return TlsLevel::verify;
    return TlsLevel::opportunistic;
  }

  // A path the loader does not open (the server does, at start): only its presence is checked.
  std::optional<std::string> readPath(const toml::table& table, std::string_view key,
                                      std::string_view path, std::string_view absent_means) {
    std::optional<std::string> value = readString(table, key, path);
    if (value && value->empty()) {
      report(*table.get(key), joinPath(path, key) + ": must not be empty; give the path of a " +
                                  "file, or remove the key " + std::string(absent_means));
      return std::nullopt;
    }
    return value;
  }

  // Calls `visit(node, path, text)` for each string of the array at `key`; reports the rest.
  template <typename Visit>
  void forEachString(const toml::table& table, std::string_view key, std::string_view path,
                     std::string_view example, Visit visit) {
    const toml::node* node = table.get(key);
    if (node == nullptr) return;
    const std::string array_path = joinPath(path, key);
    const auto* array = node->as_array();
    if (array == nullptr) {
      wrongType(*node, array_path, "an array of strings", example);
      return;
    }
    for (std::size_t index = 0; index < array->size(); ++index) {
      const toml::node& element = *array->get(index);
      const std::string element_path = array_path + "[" + std::to_string(index + 1) + "]";
      const auto* text = element.as_string();
      if (text == nullptr) {
        wrongType(element, element_path, "a string", example);
        continue;
      }
      visit(element, element_path, text->get());
    }
  }

  void loadDelivery(const toml::table& table) {
    const std::string path = "delivery";
    checkKeys(table, path, kDeliveryKeys);
    DeliverySettings& delivery = config.delivery;
    if (auto level = readTlsLevel(table, path)) delivery.tls = *level;
    if (auto port = readInteger(table, "port", path, 1, 65535, "port", "")) {
      delivery.port = static_cast<std::uint16_t>(*port);
    }
    if (auto file = readPath(table, "ca_file", path, "to use the system's trust store")) {
      delivery.ca_file = *file;
    }
    if (auto value = readInteger(table, "connect_timeout_seconds", path, 1, 600, "seconds", "")) {
      delivery.connect_timeout_seconds = static_cast<std::uint32_t>(*value);
    }
    if (auto value = readInteger(table, "command_timeout_seconds", path, 1, 3600, "seconds", "")) {
      delivery.command_timeout_seconds = static_cast<std::uint32_t>(*value);
    }
    if (auto value = readInteger(table, "max_connections_per_destination", path, 1, 1000,
                                 "connections", "")) {
      delivery.max_connections_per_destination = static_cast<std::uint32_t>(*value);
    }
    forEachString(
        table, "dns_forwarders", path, "write dns_forwarders = [\"127.0.0.1@5353\"]",
        [&](const toml::node& node, const std::string& element_path, const std::string& text) {
          std::string problem = forwarderProblem(text);
          if (!problem.empty()) {
            report(node, element_path + ": " + problem);
          } else {
            delivery.dns_forwarders.push_back(text);
          }
        });
    if (auto file = readPath(table, "dns_trust_anchor", path, "to use the system's root anchor")) {
      delivery.dns_trust_anchor = *file;
    }
    forEachString(
        table, "dns_records", path,
        "write dns_records = [\"remote.test. 300 IN MX 10 mx.remote.test.\"]",
        [&](const toml::node& node, const std::string& element_path, const std::string& text) {
          std::string problem = dnsRecordProblem(text);
          if (!problem.empty()) {
            report(node, element_path + ": " + problem);
          } else {
            delivery.dns_records.push_back(text);
          }
        });
    if (auto chunking = readBool(table, "chunking", path)) delivery.chunking = *chunking;
    forEachString(
        table, "dns_zone_files", path, "write dns_zone_files = [\"/etc/bulwark/example.test.zone\"]",
        [&](const toml::node& node, const std::string& element_path, const std::string& text) {
          std::string problem = zoneFilePathProblem(text);
          if (!problem.empty()) {
            report(node, element_path + ": " + problem);
          } else {
            delivery.dns_zone_files.emplace_back(text);
          }
        });
    if (auto dane = readBool(table, "dane", path)) delivery.dane = *dane;
    if (auto enabled = readBool(table, "mta_sts", path)) delivery.mta_sts = *enabled;
    if (auto port = readInteger(table, "mta_sts_port", path, 1, 65535, "port", "")) {
      delivery.mta_sts_port = static_cast<std::uint16_t>(*port);
    }
    // RFC 8461 3.2 policies are a few lines; 64 KiB is the RFC's suggested ceiling (3.3).
    if (auto size = readInteger(table, "mta_sts_max_policy_size", path, 256, kMebibyte, "bytes",
                                "a policy with a few mx lines needs a few hundred bytes")) {
      delivery.mta_sts_max_policy_size = static_cast<std::uint32_t>(*size);
    }
    if (auto value = readInteger(table, "mta_sts_timeout_seconds", path, 1, 300, "seconds", "")) {
      delivery.mta_sts_timeout_seconds = static_cast<std::uint32_t>(*value);
    }
  }

  void loadDmarcReports(const toml::table& table) {
    const std::string path = "dmarc_reports";
    checkKeys(table, path, kDmarcReportKeys);
    DmarcReportSettings& reports = config.dmarc_reports;
    reports.config_line = static_cast<int>(table.source().begin.line);
    if (auto enabled = readBool(table, "enabled", path)) reports.enabled = *enabled;
    // A report per minute is already more than any report receiver wants (RFC 7489 7.2 suggests
    // a day); periods must tile the day so that the default lines up with UTC midnight.
    if (auto value = readInteger(table, "interval_seconds", path, 60, kDaySeconds, "seconds",
                                 "reports are meant to be daily; 60 is the most often allowed")) {
      if (kDaySeconds % *value != 0) {
        report(*table.get("interval_seconds"),
               path + ".interval_seconds: " + std::to_string(*value) +
                   " does not divide a day (86400), so periods would not line up with UTC "
                   "days; use 86400, 3600, 600, 60 or another divisor");
      } else {
        reports.interval_seconds = static_cast<std::uint32_t>(*value);
      }
    }
    auto readLine = [&](std::string_view key, std::string& target, std::string_view example) {
      auto value = readString(table, key, path);
      if (!value) return;
      if (value->empty() || value->find_first_of("\r\n") != std::string::npos) {
        report(*table.get(key), joinPath(path, key) +
                                    ": must be one non-empty line (it goes into the report "
                                    "and its header); for example " + std::string(example));
        return;
      }
      target = *value;
    };
    readLine("organization_name", reports.organization_name, "\"Example Ltd\"");
    readLine("contact", reports.contact, "\"https://example.com/dmarc\"");
    std::string sender;
    readLine("sender", sender, "\"noreply-dmarc@example.com\"");
    if (!sender.empty()) {
      auto at = sender.rfind('@');
      bool plain = sender.find_first_of(" <>\"(),;") == std::string::npos;
      if (!plain || at == std::string::npos || at == 0 ||
          !domainNameProblem(sender.substr(at + 1)).empty()) {
        report(*table.get("sender"),
               path + ".sender: " + inQuotes(sender) +
                   " is not a plain address; write sender = \"noreply-dmarc@example.com\"");
      } else {
        reports.sender = sender;
      }
    }
    if (auto value = readInteger(table, "max_rows_per_report", path, 1, 1000000, "rows", "")) {
      reports.max_rows_per_report = static_cast<std::uint32_t>(*value);
    }
  }

  // One list of partner domains: names, lower-cased, each once, none of them ours.
  void loadPartnerDomains(const toml::table& table, std::string_view key,
                          std::vector<std::string>& domains) {
    const std::string path = "domain_secure";
    std::vector<std::pair<std::string, int>> seen;
    forEachString(
        table, key, path, "write " + std::string(key) + " = [\"partner.example\"]",
        [&](const toml::node& node, const std::string& element_path, const std::string& text) {
          std::string problem = domainNameProblem(text);
          if (!problem.empty()) {
            report(node, element_path + ": " + problem +
                             " (list whole domains: no wildcards, no addresses)");
            return;
          }
          const std::string domain = asciiLower(text);
          const int line = static_cast<int>(node.source().begin.line);
          auto duplicate = std::find_if(seen.begin(), seen.end(),
                                        [&](const auto& entry) { return entry.first == domain; });
          if (duplicate != seen.end()) {
            report(node, element_path + ": " + inQuotes(domain) + " is already listed at line " +
                             std::to_string(duplicate->second) + "; remove one of them");
            return;
          }
          if (config.isLocalDomain(domain)) {
            report(node, element_path + ": " + inQuotes(domain) +
                             " is one of our [[local_domain]]s; list the partner's domains here, "
                             "not ours");
            return;
          }
          seen.emplace_back(domain, line);
          domains.push_back(domain);
        });
  }

  void loadDomainSecure(const toml::table& table) {
    const std::string path = "domain_secure";
    checkKeys(table, path, kDomainSecureKeys);
    DomainSecureSettings& settings = config.domain_secure;
    loadPartnerDomains(table, "send", settings.send);
    loadPartnerDomains(table, "receive", settings.receive);
    auto certificate = readPath(table, "client_certificate", path,
                                "to use the pki-issued client certificate or the server's");
    auto key = readPath(table, "client_private_key", path,
                        "to use the pki-issued client certificate or the server's");
    if (table.contains("client_certificate") != table.contains("client_private_key")) {
      const toml::node& at = table.contains("client_certificate")
                                 ? *table.get("client_certificate")
                                 : *table.get("client_private_key");
      report(at, path +
                     ": client_certificate and client_private_key go together; set both, or "
                     "neither to use the default (see docs/configuration.md)");
    }
    if (certificate) settings.client_certificate = *certificate;
    if (key) settings.client_private_key = *key;
    if (auto file = readPath(table, "trusted_ca_file", path,
                             "to trust the pki CA and the partner CAs in data_dir/pki/trusted/")) {
      settings.trusted_ca_file = *file;
    }
    if (auto reject = readBool(table, "reject_unauthenticated", path)) {
      settings.reject_unauthenticated = *reject;
    }
  }

  std::optional<AuthenticationAction> readAction(const toml::table& table, std::string_view key,
                                                 const std::string& path) {
    auto text = readString(table, key, path);
    if (!text) return std::nullopt;
    for (std::size_t index = 0; index < kAuthenticationActions.size(); ++index) {
      if (*text == kAuthenticationActions[index]) {
        return static_cast<AuthenticationAction>(index);  // same order as the enum
      }
    }
    report(*table.get(key), joinPath(path, key) + ": " + inQuotes(*text) +
                                " is not an action; use one of " + listOf(kAuthenticationActions));
    return std::nullopt;
  }

  void loadAuthentication(const toml::table& table) {
    const std::string path = "authentication";
    checkKeys(table, path, kAuthenticationKeys);
    AuthenticationSettings& settings = config.authentication;
    if (auto verify = readBool(table, "verify", path)) settings.verify = *verify;
    if (auto sign = readBool(table, "dkim_sign", path)) settings.dkim_sign = *sign;
    if (auto id = readString(table, "authserv_id", path)) {
      std::string problem = domainNameProblem(*id);
      if (!problem.empty()) {
        report(*table.get("authserv_id"),
               path + ".authserv_id: " + problem + " (use this host's name, as in Received)");
      } else {
        settings.authserv_id = asciiLower(*id);
      }
    }
    if (auto file = readPath(table, "public_suffix_list", path,
                             "to use /usr/share/publicsuffix/public_suffix_list.dat")) {
      settings.public_suffix_list = *file;
    }
    const std::pair<std::string_view, AuthenticationAction*> actions[] = {
        {"dmarc_reject_action", &settings.dmarc_reject_action},
        {"dmarc_quarantine_action", &settings.dmarc_quarantine_action},
        {"dmarc_none_action", &settings.dmarc_none_action},
        {"ambiguous_from_action", &settings.ambiguous_from_action},
        {"spf_fail_action", &settings.spf_fail_action},
    };
    for (const auto& [key, target] : actions) {
      if (auto action = readAction(table, key, path)) *target = *action;
    }
    forEachString(table, "trusted_arc_sealers", path,
                  "write trusted_arc_sealers = [\"lists.example.org\"]",
                  [&](const toml::node& node, const std::string& element_path,
                      const std::string& text) {
                    std::string problem = domainNameProblem(text);
                    if (!problem.empty()) {
                      report(node, element_path + ": " + problem + " (list sealing domains, d=)");
                      return;
                    }
                    settings.trusted_arc_sealers.push_back(asciiLower(text));
                  });
    auto seal_domain = readString(table, "arc_seal_domain", path);
    auto seal_selector = readString(table, "arc_seal_selector", path);
    if (seal_domain.has_value() != seal_selector.has_value()) {
      const toml::node& at = seal_domain ? *table.get("arc_seal_domain")
                                         : *table.get("arc_seal_selector");
      report(at, path + ": arc_seal_domain and arc_seal_selector go together; set both (the key "
                        "is data_dir/dkim/<domain>/<selector>.key) or neither");
    } else if (seal_domain && seal_selector) {
      std::string problem = domainNameProblem(*seal_domain);
      if (!problem.empty()) {
        report(*table.get("arc_seal_domain"), path + ".arc_seal_domain: " + problem);
      } else if (!isSelector(*seal_selector)) {
        report(*table.get("arc_seal_selector"),
               path + ".arc_seal_selector: " + inQuotes(*seal_selector) +
                   " is not a selector; use dot-separated labels of up to 63 letters, digits "
                   "and inner '-' (as bulwark dkim keygen accepts)");
      } else {
        settings.arc_seal_domain = asciiLower(*seal_domain);
        settings.arc_seal_selector = *seal_selector;
      }
    }
  }

  void loadRules(const toml::table& table) {
    const std::string path = "rules";
    checkKeys(table, path, kRulesKeys);
    RulesSettings& settings = config.rules;
    settings.config_line = static_cast<int>(table.source().begin.line);
    forEachString(table, "files", path, "write files = [\"/etc/bulwark/rules.toml\"]",
                  [&](const toml::node& node, const std::string& element_path,
                      const std::string& text) {
                    if (text.empty()) {
                      report(node, element_path + ": a rule file name cannot be empty");
                      return;
                    }
                    // Made relative to the file's folder by loadConfigFile.
                    settings.files.emplace_back(text);
                  });
    forEachString(table, "internal_domains", path, "write internal_domains = [\"example.com\"]",
                  [&](const toml::node& node, const std::string& element_path,
                      const std::string& text) {
                    std::string_view domain = text;
                    if (domain.starts_with("*.")) domain.remove_prefix(2);
                    std::string problem = domainNameProblem(domain);
                    if (!problem.empty()) {
                      report(node, element_path + ": " + problem +
                                       " (a domain, or *.domain for its subdomains)");
                      return;
                    }
                    settings.internal_domains.push_back(asciiLower(text));
                  });
    if (auto action = readString(table, "unparseable_action", path)) {
      if (std::find(kUnparseableActions.begin(), kUnparseableActions.end(), *action) ==
          kUnparseableActions.end()) {
        report(*table.get("unparseable_action"),
               path + ".unparseable_action: " + inQuotes(*action) + " is not allowed; use one of " +
                   listOf(kUnparseableActions));
      } else {
        settings.unparseable_action = *action;
      }
    }
    if (auto depth = readInteger(table, "mime_max_depth", path, 1, 100, "levels", "")) {
      settings.mime_max_depth = static_cast<std::uint32_t>(*depth);
    }
    if (auto parts = readInteger(table, "mime_max_parts", path, 1, 100000, "parts", "")) {
      settings.mime_max_parts = static_cast<std::uint32_t>(*parts);
    }
  }

  // A DKIM selector (RFC 6376 3.1): dot-separated labels of letters, digits and '-' (not at a
  // label's ends), each 1 to 63 characters. The same rule as auth::isDkimDomainName(name, false),
  // which DkimKey applies when the keyring loads <selector>.key: a selector it refuses would
  // leave the server without its sealing key, so the configuration must refuse it too.
  static bool isSelector(std::string_view text) {
    if (text.empty() || text.size() > 253) return false;
    const std::vector<std::string_view> labels = split(text, '.');
    return std::all_of(labels.begin(), labels.end(), [](std::string_view label) {
      return !label.empty() && label.size() <= 63 && label.front() != '-' &&
             label.back() != '-' && std::all_of(label.begin(), label.end(), [](char c) {
               return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
             });
    });
  }

  void loadDmarcOverride(const toml::table& table, const std::string& path) {
    checkKeys(table, path, kDmarcOverrideKeys);
    DmarcOverride entry;
    entry.config_line = static_cast<int>(table.source().begin.line);
    auto domain = readString(table, "domain", path);
    auto action = readAction(table, "action", path);
    if (!table.contains("domain")) {
      report(table, path + ": domain is missing; write domain = \"example.com\"");
      return;
    }
    if (!table.contains("action")) {
      report(table, path + ": action is missing; write action = \"none\" (or spam, quarantine, "
                           "reject)");
      return;
    }
    if (!domain || !action) return;
    std::string problem = domainNameProblem(*domain);
    if (!problem.empty()) {
      report(*table.get("domain"), path + ".domain: " + problem);
      return;
    }
    entry.domain = asciiLower(*domain);
    if (const DmarcOverride* earlier = config.authentication.overrideFor(entry.domain)) {
      report(*table.get("domain"), path + ".domain: " + inQuotes(entry.domain) +
                                       " already has an override at line " +
                                       std::to_string(earlier->config_line) +
                                       "; keep one of them");
      return;
    }
    entry.action = *action;
    config.authentication.dmarc_overrides.push_back(std::move(entry));
  }

  // A login name for AUTH PLAIN (send connectors, mailbox servers): printable, 1 to 256 octets.
  std::optional<std::string> readAuthUser(const toml::table& table, const std::string& path) {
    auto user = readString(table, "auth_user", path);
    if (!user) return std::nullopt;
    const bool printable = std::all_of(user->begin(), user->end(), [](char c) {
      return static_cast<unsigned char>(c) >= 0x20 && c != 0x7F;
    });
    if (user->empty() || !printable || user->size() > 256) {
      report(*table.get("auth_user"),
             path + ".auth_user: must be 1 to 256 characters without control characters");
      return std::nullopt;
    }
    return user;
  }

  void loadSendConnector(const toml::table& table, const std::string& path) {
    checkKeys(table, path, kSendConnectorKeys);
    SendConnector connector;
    connector.config_line = static_cast<int>(table.source().begin.line);
    std::string where = path + " (line " + std::to_string(connector.config_line) + ")";

    if (!table.contains("name")) {
      report(table, path + ": has no name; add name = \"...\" (it appears in logs and the trace)");
    } else if (auto name = readString(table, "name", path)) {
      const toml::node& node = *table.get("name");
      if (!isValidConnectorName(*name)) {
        report(node, path + ".name: " + inQuotes(*name) +
                         " is not a valid name; use 1 to 64 letters, digits, '-', '_' or '.'");
      } else {
        for (const SeenSendConnector& other : seen_send_connectors_) {
          if (other.name == *name) {
            report(node, path + ".name: " + inQuotes(*name) + " is already used by " + other.where +
                             "; give each send connector its own name");
            break;
          }
        }
        connector.name = *name;
        where =
            path + " " + inQuotes(*name) + " (line " + std::to_string(connector.config_line) + ")";
      }
    }

    const std::string example = "write domains = [\"example.net\", \"*.example.net\"] or [\"*\"]";
    if (!table.contains("domains")) {
      report(table, path + ": has no domains; " + example);
    } else if (const auto* array = table.get("domains")->as_array();
               array != nullptr && array->empty()) {
      report(*table.get("domains"), path +
                                        ".domains: is empty, so no mail would use this "
                                        "connector; " +
                                        example);
    }
    forEachString(
        table, "domains", path, example,
        [&](const toml::node& node, const std::string& element_path, const std::string& text) {
          std::string problem = domainPatternProblem(text);
          if (!problem.empty()) {
            report(node, element_path + ": " + problem);
            return;
          }
          const std::string pattern = asciiLower(text);
          auto duplicate = std::find_if(seen_patterns_.begin(), seen_patterns_.end(),
                                        [&](const auto& seen) { return seen.first == pattern; });
          if (duplicate != seen_patterns_.end()) {
            report(node, element_path + ": " + inQuotes(pattern) + " is also routed by " +
                             duplicate->second +
                             "; each domain pattern may be in one send connector only: remove "
                             "one of them");
            return;
          }
          seen_patterns_.emplace_back(pattern, where);
          connector.domains.push_back(pattern);
        });

    if (auto smart_host = readString(table, "smart_host", path)) {
      std::string problem = smartHostProblem(*smart_host);
      if (!problem.empty()) {
        report(*table.get("smart_host"), path + ".smart_host: " + problem);
      } else {
        connector.smart_host = *smart_host;
      }
    }
    if (auto level = readTlsLevel(table, path)) connector.tls = *level;

    if (auto user = readAuthUser(table, path)) connector.auth_user = *user;
    if (auto file = readPath(table, "auth_password_file", path,
                             "and auth_user to send without authenticating")) {
      connector.auth_password_file = *file;
    }
    const toml::node* user_node = table.get("auth_user");
    const toml::node* file_node = table.get("auth_password_file");
    if (user_node != nullptr && file_node == nullptr) {
      report(*user_node, path +
                             ".auth_user: is set but auth_password_file is not; set both (the "
                             "password is read from that file, never written here), or neither");
    } else if (file_node != nullptr && user_node == nullptr) {
      report(*file_node, path +
                             ".auth_password_file: is set but auth_user is not; set both, "
                             "or neither");
    } else if (user_node != nullptr) {
      if (!table.contains("smart_host")) {
        report(*user_node, path +
                               ".auth_user: authentication needs a smart_host (the MX hosts of "
                               "other domains know no account of ours); add smart_host = "
                               "\"relay.example.net:587\", or remove auth_user and "
                               "auth_password_file");
      } else if (connector.tls != TlsLevel::required && connector.tls != TlsLevel::verify) {
        const toml::node& at = table.contains("tls") ? *table.get("tls") : *user_node;
        report(at, path + ".tls: AUTH is never sent in clear, and tls = " +
                       inQuotes(connector.tls == TlsLevel::none ? "none" : "opportunistic") +
                       " could send the password without TLS; set tls = \"verify\" (or "
                       "\"required\"), or remove auth_user and auth_password_file");
      }
    }
    seen_send_connectors_.push_back({connector.name, where});
    config.send_connectors.push_back(std::move(connector));
  }

  void loadTls(const toml::table& tls) {
    checkKeys(tls, "tls", kTlsKeys);
    std::optional<std::string> certificate = readString(tls, "certificate", "tls");
    std::optional<std::string> private_key = readString(tls, "private_key", "tls");
    if (certificate && certificate->empty()) {
      report(*tls.get("certificate"),
             "tls.certificate: must not be empty; give the path of a "
             "PEM file, or remove [tls] to use a generated certificate");
      certificate.reset();
    }
    if (private_key && private_key->empty()) {
      report(*tls.get("private_key"),
             "tls.private_key: must not be empty; give the path of a "
             "PEM file, or remove [tls] to use a generated certificate");
      private_key.reset();
    }
    const bool has_certificate = tls.contains("certificate");
    const bool has_key = tls.contains("private_key");
    if (has_certificate && !has_key) {
      report(tls,
             "tls: certificate is set but private_key is not; set both, or neither to use "
             "a generated self-signed certificate");
    }
    if (has_key && !has_certificate) {
      report(tls,
             "tls: private_key is set but certificate is not; set both, or neither to use "
             "a generated self-signed certificate");
    }
    if (certificate) config.tls_certificate = *certificate;
    if (private_key) config.tls_private_key = *private_key;
  }

  void loadConnector(const toml::table& table, const std::string& path) {
    checkKeys(table, path, kConnectorKeys);
    ReceiveConnector connector;
    connector.config_line = static_cast<int>(table.source().begin.line);
    SeenConnector seen;
    seen.path = path;
    seen.line = connector.config_line;

    if (!table.contains("name")) {
      report(table, path + ": has no name; add name = \"...\" (it appears in logs and the trace)");
    } else if (auto name = readString(table, "name", path)) {
      const toml::node& node = *table.get("name");
      if (!isValidConnectorName(*name)) {
        report(node, path + ".name: " + inQuotes(*name) +
                         " is not a valid name; use 1 to 64 letters, digits, '-', '_' or '.'");
      } else {
        for (const SeenConnector& other : seen_connectors_) {
          if (other.name == *name) {
            report(node, path + ".name: " + inQuotes(*name) + " is already used by " + other.path +
                             " (line " + std::to_string(other.line) +
                             "); give each connector its own name");
            break;
          }
        }
        connector.name = *name;
        seen.name = *name;
      }
    }

    if (!table.contains("listen")) {
      report(table, path + ": has no listen address; add listen = \"0.0.0.0:25\" or similar");
    } else if (auto listen = readString(table, "listen", path)) {
      const toml::node& node = *table.get("listen");
      std::string problem;
      seen.endpoint = parseListen(*listen, problem);
      if (!seen.endpoint) {
        report(node, path + ".listen: " + problem);
      } else {
        for (const SeenConnector& other : seen_connectors_) {
          if (!other.endpoint || !overlaps(*seen.endpoint, *other.endpoint)) continue;
          const std::string where = other.path +
                                    (other.name.empty() ? "" : " " + inQuotes(other.name)) +
                                    " (line " + std::to_string(other.line) + ")";
          if (other.listen == *listen) {
            report(node, path + ".listen: " + inQuotes(*listen) + " is also the address of " +
                             where +
                             "; two connectors cannot listen on the same address and "
                             "port: change the port or the address");
          } else {
            report(node, path + ".listen: " + inQuotes(*listen) + " overlaps " +
                             inQuotes(other.listen) + " of " + where +
                             ": a wildcard address takes the port on every address of its "
                             "family, and [::] on IPv4 addresses too; change the port or the "
                             "address");
          }
          break;
        }
        connector.listen = *listen;
        seen.listen = *listen;
      }
    }

    if (auto mode = readChoice(table, "tls", path, kTlsModes)) {
      if (*mode == "none") connector.tls = TlsMode::none;
      if (*mode == "starttls") connector.tls = TlsMode::starttls;
      if (*mode == "required") connector.tls = TlsMode::required;
      if (*mode == "implicit") connector.tls = TlsMode::implicit;
    }
    const std::optional<bool> auth = readBool(table, "auth", path);
    if (auth) connector.auth = *auth;
    if (auto require_auth = readBool(table, "require_auth", path)) {
      connector.require_auth = *require_auth;
    }
    // Contradictions: AUTH is only ever offered under TLS, so on a plaintext connector it would
    // silently never appear, and require_auth would refuse everyone.
    if (connector.tls == TlsMode::none && auth == true) {
      report(*table.get("auth"), path +
                                     ".auth: AUTH is only offered under TLS, and tls is "
                                     "\"none\"; set tls = \"starttls\" (or stronger), or "
                                     "remove auth");
    }
    if (connector.require_auth && !connector.auth) {
      report(*table.get("require_auth"),
             path +
                 ".require_auth: is true but auth is false, so no client could ever send; "
                 "set auth = true or require_auth = false");
    } else if (connector.require_auth && connector.tls == TlsMode::none) {
      report(*table.get("require_auth"),
             path +
                 ".require_auth: is true but tls is \"none\", and AUTH is only offered under "
                 "TLS, so no client could ever send; set tls = \"starttls\" or stronger");
    }

    if (const toml::node* node = table.get("relay_networks")) {
      const std::string networks_path = path + ".relay_networks";
      if (const auto* array = node->as_array()) {
        for (std::size_t index = 0; index < array->size(); ++index) {
          const toml::node& element = *array->get(index);
          const std::string element_path = networks_path + "[" + std::to_string(index + 1) + "]";
          const auto* text = element.as_string();
          if (text == nullptr) {
            wrongType(element, element_path, "a string", "write networks as \"10.0.0.0/8\"");
            continue;
          }
          std::string problem = networkProblem(text->get());
          if (!problem.empty()) {
            report(element, element_path + ": " + problem);
            continue;
          }
          connector.relay_networks.push_back(text->get());
        }
      } else {
        wrongType(*node, networks_path, "an array of strings",
                  "write relay_networks = [\"10.0.0.0/8\", \"::1/128\"]");
      }
    }

    if (const toml::table* limits = tableAt(table, "limits", path)) {
      loadLimits(*limits, path + ".limits", connector.limits);
    }
    seen_connectors_.push_back(std::move(seen));
    config.receive_connectors.push_back(std::move(connector));
  }

  void loadLimits(const toml::table& table, const std::string& path, ConnectorLimits& limits) {
    std::array<std::string_view, kLimitSpecs.size()> known;
    std::transform(kLimitSpecs.begin(), kLimitSpecs.end(), known.begin(),
                   [](const LimitSpec& spec) { return spec.key; });
    checkKeys(table, path, known);
    for (const LimitSpec& spec : kLimitSpecs) {
      if (auto value = readInteger(table, spec.key, path, spec.minimum, spec.maximum, spec.unit,
                                   spec.minimum_reason)) {
        spec.store(limits, *value);
      }
    }
  }

  void loadLocalDomain(const toml::table& table, const std::string& path) {
    checkKeys(table, path, kLocalDomainKeys);
    LocalDomain domain;
    if (!table.contains("name")) {
      report(table, path + ": has no name; add name = \"example.com\"");
    } else if (auto name = readString(table, "name", path)) {
      const toml::node& node = *table.get("name");
      std::string problem = domainNameProblem(*name);
      if (!problem.empty()) {
        report(node, path + ".name: " + problem);
      } else {
        domain.name = asciiLower(*name);
        const int line = static_cast<int>(node.source().begin.line);
        auto duplicate = std::find_if(seen_domains_.begin(), seen_domains_.end(),
                                      [&](const auto& seen) { return seen.first == domain.name; });
        if (duplicate != seen_domains_.end()) {
          report(node, path + ".name: " + inQuotes(domain.name) + " is already listed at line " +
                           std::to_string(duplicate->second) + "; remove one of them");
        }
        seen_domains_.emplace_back(domain.name, line);
      }
    }
    const std::optional<std::string> delivery = readChoice(table, "delivery", path, kDeliveries);
    if (delivery) domain.delivery = *delivery;
    domain.config_line = static_cast<int>(table.source().begin.line);
    // With a wrong method (reported above) it is not known which other keys belong.
    const bool method_known = delivery.has_value() || !table.contains("delivery");
    if (method_known && domain.delivery == "maildir") {
      for (std::string_view key : {"host", "tls", "auth_user", "auth_password_file"}) {
        if (const toml::node* node = table.get(key)) {
          report(*node, path + "." + std::string(key) +
                            ": is only used with delivery = \"lmtp\" or \"smtp\" (to a mailbox "
                            "server); remove it, or set delivery");
        }
      }
    } else if (method_known) {
      loadMailboxServer(table, path, domain);
    }
    config.local_domains.push_back(std::move(domain));
  }

  // delivery = "lmtp" or "smtp": where the mailbox server is, with which TLS level and login.
  void loadMailboxServer(const toml::table& table, const std::string& path, LocalDomain& domain) {
    const bool lmtp = domain.delivery == "lmtp";
    if (!table.contains("host")) {
      report(*table.get("delivery"),
             path + ": delivery = " + inQuotes(domain.delivery) + " needs a host; add host = " +
                 (lmtp ? "\"127.0.0.1:24\" or \"unix:/var/run/dovecot/lmtp\""
                       : "\"127.0.0.1:25\""));
    } else if (auto host = readString(table, "host", path)) {
      std::string problem = mailboxHostProblem(*host, lmtp);
      if (!problem.empty()) {
        report(*table.get("host"), path + ".host: " + problem);
      } else {
        domain.host = *host;
      }
    }
    if (auto level = readTlsLevel(table, path)) {
      const toml::node& node = *table.get("tls");
      if (domain.host.starts_with(kUnixSocketPrefix) && *level != TlsLevel::none) {
        report(node, path +
                         ".tls: a unix socket never leaves this machine and has no host name to "
                         "verify, so TLS adds nothing; remove tls (or set \"none\")");
      } else if (*level > TlsLevel::verify) {
        // MTA-STS, DANE and the domain-secure list are policies about a recipient domain's MX
        // hosts; a mailbox server is named here, so its certificate is checked by name.
        report(node, path + ".tls: a mailbox server is checked with \"verify\" (its name in "
                            "host, a trusted CA); use none, opportunistic, required or verify");
      } else {
        domain.tls = *level;
      }
    }
    if (auto user = readAuthUser(table, path)) domain.auth_user = *user;
    if (auto file = readPath(table, "auth_password_file", path,
                             "and auth_user to deliver without authenticating")) {
      domain.auth_password_file = *file;
    }
    const toml::node* user_node = table.get("auth_user");
    const toml::node* file_node = table.get("auth_password_file");
    if (lmtp && (user_node != nullptr || file_node != nullptr)) {
      report(user_node != nullptr ? *user_node : *file_node,
             path + "." + (user_node != nullptr ? "auth_user" : "auth_password_file") +
                 ": LMTP servers take no login from us (they trust who may connect); remove "
                 "auth_user and auth_password_file, or use delivery = \"smtp\"");
    } else if (user_node != nullptr && file_node == nullptr) {
      report(*user_node, path +
                             ".auth_user: is set but auth_password_file is not; set both (the "
                             "password is read from that file, never written here), or neither");
    } else if (file_node != nullptr && user_node == nullptr) {
      report(*file_node, path +
                             ".auth_password_file: is set but auth_user is not; set both, "
                             "or neither");
    } else if (user_node != nullptr && domain.tls != TlsLevel::required &&
               domain.tls != TlsLevel::verify) {
      const toml::node& at = table.contains("tls") ? *table.get("tls") : *user_node;
      report(at, path + ".tls: AUTH is never sent in clear, and tls = " +
                     inQuotes(domain.tls == TlsLevel::none ? "none" : "opportunistic") +
                     " could send the password without TLS; set tls = \"verify\" (or "
                     "\"required\"), or remove auth_user and auth_password_file");
    }
  }

  void loadUser(const toml::table& table, const std::string& path) {
    checkKeys(table, path, kUserKeys);
    User user;
    if (!table.contains("name")) {
      report(table, path + ": has no name; add name = \"login name\" (usually an address)");
    } else if (auto name = readString(table, "name", path)) {
      const toml::node& node = *table.get("name");
      const bool printable = std::all_of(name->begin(), name->end(), [](char c) {
        return static_cast<unsigned char>(c) > 0x20 && c != 0x7F;
      });
      if (name->empty() || !printable || name->size() > 256) {
        report(node, path + ".name: " + inQuotes(*name) +
                         " is not a valid login name; use 1 to 256 characters without spaces or "
                         "control characters");
      } else {
        const std::string lowered = asciiLower(*name);
        const int line = static_cast<int>(node.source().begin.line);
        auto duplicate = std::find_if(seen_users_.begin(), seen_users_.end(),
                                      [&](const auto& seen) { return seen.first == lowered; });
        if (duplicate != seen_users_.end()) {
          report(node, path + ".name: " + inQuotes(*name) + " is already defined at line " +
                           std::to_string(duplicate->second) +
                           " (login names are compared ignoring case); remove one of them");
        }
        seen_users_.emplace_back(lowered, line);
        user.name = *name;
      }
    }
    if (!table.contains("password_hash")) {
      report(table, path + ": has no password_hash; generate one with: bulwark user hash");
    } else if (auto hash = readString(table, "password_hash", path)) {
      std::string problem = passwordHashProblem(*hash);
      if (!problem.empty()) {
        report(*table.get("password_hash"), path + ".password_hash: " + problem);
      } else {
        user.password_hash = *hash;
      }
    }
    config.users.push_back(std::move(user));
  }
};

}  // namespace

ConfigLoad loadConfigText(std::string_view text, std::string_view source_name) {
  Loader loader;
  try {
    toml::table root = toml::parse(text, source_name);
    loader.load(root);
  } catch (const toml::parse_error& error) {
    // toml++ stops at the first syntax error; the semantic checks need a parsed tree.
    loader.report(error.source(), "TOML syntax error: " + std::string(error.description()) +
                                      "; fix the syntax (see https://toml.io), then check again");
  }
  std::stable_sort(loader.problems.begin(), loader.problems.end(),
                   [](const ConfigProblem& left, const ConfigProblem& right) {
                     return std::pair(left.line, left.column) < std::pair(right.line, right.column);
                   });
  ConfigLoad result;
  result.config = std::move(loader.config);
  result.problems = std::move(loader.problems);
  return result;
}

ConfigLoad loadConfigFile(const std::string& path) {
  auto unreadable = [&](int error_number) {
    ConfigLoad result;
    result.config.source = path;
    result.problems.push_back({0, 0,
                               "cannot read configuration file " + inQuotes(path) + ": " +
                                   std::strerror(error_number) +
                                   "; check the path and its permissions"});
    return result;
  };
  const int descriptor = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (descriptor < 0) return unreadable(errno);
  std::string text;
  char buffer[16384];
  for (;;) {
    const ssize_t count = ::read(descriptor, buffer, sizeof buffer);
    if (count < 0) {
      if (errno == EINTR) continue;
      const int error_number = errno;
      ::close(descriptor);
      return unreadable(error_number);
    }
    if (count == 0) break;
    text.append(buffer, static_cast<std::size_t>(count));
  }
  ::close(descriptor);
  ConfigLoad result = loadConfigText(text, path);
  result.config.source = path;
  // [rules] files are relative to this file's folder, as an administrator reads them.
  const std::filesystem::path folder = std::filesystem::path(path).parent_path();
  for (auto& file : result.config.rules.files) {
    if (file.is_relative()) file = folder / file;
  }
  return result;
}

std::string formatProblems(std::string_view source_name,
                           const std::vector<ConfigProblem>& problems) {
  std::string out;
  for (const ConfigProblem& problem : problems) {
    out += source_name;
    // Line 0 means the problem is with the file as a whole (it could not be read).
    if (problem.line > 0) {
      out += ":" + std::to_string(problem.line) + ":" + std::to_string(problem.column);
    }
    out += ": " + problem.message + "\n";
  }
  return out;
}

}  // namespace bulwark
