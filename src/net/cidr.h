// IP networks in CIDR notation ("10.0.0.0/8", "::1/128", or a bare address) for relay rights and
// connection limits. IPv4 is held as IPv4-mapped IPv6 so one comparison serves both families.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace bulwark::net {

struct Cidr {
  std::array<std::uint8_t, 16> address{};
  int prefix_length = 128;  // over the 128-bit mapped form
};

std::optional<Cidr> parseCidr(std::string_view text);
std::optional<std::array<std::uint8_t, 16>> parseIpAddress(std::string_view text);
bool contains(const Cidr& network, const std::array<std::uint8_t, 16>& address);

}  // namespace bulwark::net
