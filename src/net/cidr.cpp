// CIDR parsing and matching; input comes from the configuration and from accepted sockets.
#include "net/cidr.h"

#include <arpa/inet.h>

#include <charconv>
#include <string>

namespace bulwark::net {

std::optional<std::array<std::uint8_t, 16>> parseIpAddress(std::string_view text) {
  std::string copy(text);
  std::array<std::uint8_t, 16> address{};
  in_addr v4{};
  if (inet_pton(AF_INET, copy.c_str(), &v4) == 1) {
    address[10] = 0xff;
    address[11] = 0xff;
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(&v4.s_addr);
    for (int index = 0; index < 4; ++index) address[12 + index] = bytes[index];
    return address;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, copy.c_str(), &v6) == 1) {
    for (int index = 0; index < 16; ++index) address[index] = v6.s6_addr[index];
    return address;
  }
  return std::nullopt;
}

std::optional<Cidr> parseCidr(std::string_view text) {
  auto slash = text.find('/');
  auto address = parseIpAddress(text.substr(0, slash));
  if (!address) return std::nullopt;
  bool is_v4 = text.substr(0, slash).find(':') == std::string_view::npos;
  int maximum = is_v4 ? 32 : 128;
  int prefix = maximum;
  if (slash != std::string_view::npos) {
    auto digits = text.substr(slash + 1);
    auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (error != std::errc() || end != digits.data() + digits.size() || prefix < 0 ||
        prefix > maximum) {
      return std::nullopt;
    }
  }
  return Cidr{*address, is_v4 ? prefix + 96 : prefix};
}

bool contains(const Cidr& network, const std::array<std::uint8_t, 16>& address) {
  int remaining = network.prefix_length;
  for (int index = 0; index < 16 && remaining > 0; ++index, remaining -= 8) {
    std::uint8_t mask = remaining >= 8 ? 0xff : static_cast<std::uint8_t>(0xff << (8 - remaining));
    if ((network.address[index] & mask) != (address[index] & mask)) return false;
  }
  return true;
}

}  // namespace bulwark::net
