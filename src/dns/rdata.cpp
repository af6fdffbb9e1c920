// RDATA decoding and name normalisation; see rdata.h for the rules and why.
#include "dns/rdata.h"

#include "common/strings.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cstddef>
#include <string>

namespace bulwark::dns {
namespace {

constexpr std::size_t maxNameText = 253;   // RFC 1035 2.3.4: 255 on the wire
constexpr std::size_t maxNameWire = 255;
constexpr std::size_t maxLabel = 63;

// A byte that may stand in a label when the name is handled as text. Dots would split the label,
// backslashes and quotes are escapes in zone syntax, spaces and control bytes end tokens in logs
// and protocol lines; 8-bit bytes belong in A-labels (RFC 5890), never raw.
bool isNameByte(unsigned char byte) {
  return byte > 0x20 && byte < 0x7f && byte != '.' && byte != '\\' && byte != '"';
}

// Reads a wire-format name that must fill rdata from `offset` to its end exactly.
std::optional<std::string> readWireName(std::span<const std::uint8_t> rdata, std::size_t offset) {
  std::string name;
  std::size_t wireLength = 0;
  while (true) {
    if (offset >= rdata.size()) return std::nullopt;
    const std::size_t labelLength = rdata[offset];
    ++offset;
    ++wireLength;
    if (labelLength == 0) break;
    // 0xC0 (a compression pointer) and the reserved 0x40/0x80 forms all exceed 63.
    if (labelLength > maxLabel) return std::nullopt;
    if (rdata.size() - offset < labelLength) return std::nullopt;
    wireLength += labelLength;
    if (wireLength > maxNameWire) return std::nullopt;
    if (!name.empty()) name.push_back('.');
    for (std::size_t index = 0; index < labelLength; ++index) {
      const unsigned char byte = rdata[offset + index];
      if (!isNameByte(byte)) return std::nullopt;
      name.push_back(asciiLower(static_cast<char>(byte)));
    }
    offset += labelLength;
  }
  if (offset != rdata.size()) return std::nullopt;  // trailing bytes: not an MX RDATA
  return name;
}

}  // namespace

std::optional<std::string> normaliseName(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > maxNameText) return std::nullopt;
  std::string result;
  result.reserve(name.size());
  std::size_t labelLength = 0;
  for (const char character : name) {
    if (character == '.') {
      if (labelLength == 0) return std::nullopt;  // "a..b" or a leading dot
      labelLength = 0;
      result.push_back('.');
      continue;
    }
    if (!isNameByte(static_cast<unsigned char>(character))) return std::nullopt;
    if (++labelLength > maxLabel) return std::nullopt;
    result.push_back(asciiLower(character));
  }
  return result;
}

std::optional<MxRecord> parseMxRdata(std::span<const std::uint8_t> rdata) {
  if (rdata.size() < 3) return std::nullopt;  // preference and at least the root label
  MxRecord record;
  record.preference = static_cast<std::uint16_t>((rdata[0] << 8) | rdata[1]);
  auto exchange = readWireName(rdata, 2);
  if (!exchange) return std::nullopt;
  record.exchange = std::move(*exchange);
  return record;
}

std::optional<std::string> parseAddressRdata(std::span<const std::uint8_t> rdata) {
  char text[INET6_ADDRSTRLEN] = {};
  int family = 0;
  if (rdata.size() == 4) {
    family = AF_INET;
  } else if (rdata.size() == 16) {
    family = AF_INET6;
  } else {
    return std::nullopt;
  }
  if (inet_ntop(family, rdata.data(), text, sizeof text) == nullptr) return std::nullopt;
  return std::string(text);
}

std::optional<std::string> parseTxtRdata(std::span<const std::uint8_t> rdata) {
  std::string text;
  text.reserve(rdata.size());
  std::size_t offset = 0;
  while (offset < rdata.size()) {
    const std::size_t length = rdata[offset];
    ++offset;
    if (rdata.size() - offset < length) return std::nullopt;
    text.append(reinterpret_cast<const char*>(rdata.data() + offset), length);
    offset += length;
  }
  return text;
}

std::optional<std::string> parsePtrRdata(std::span<const std::uint8_t> rdata) {
  auto name = readWireName(rdata, 0);
  // The root name points nowhere: a broken record, not a host name.
  if (!name || name->empty()) return std::nullopt;
  return name;
}

std::optional<std::string> reverseName(std::string_view address) {
  const std::string text(address);
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(&v4.s_addr);
    std::string name;
    for (int index = 3; index >= 0; --index) name += std::to_string(bytes[index]) + ".";
    return name + "in-addr.arpa";
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    static constexpr char hexDigits[] = "0123456789abcdef";
    std::string name;
    name.reserve(72);
    for (int index = 15; index >= 0; --index) {
      name += hexDigits[v6.s6_addr[index] & 0x0f];
      name += '.';
      name += hexDigits[v6.s6_addr[index] >> 4];
      name += '.';
    }
    return name + "ip6.arpa";
  }
  return std::nullopt;
}

std::optional<TlsaRecord> parseTlsaRdata(std::span<const std::uint8_t> rdata) {
  constexpr std::size_t header = 3;
  if (rdata.size() <= header) return std::nullopt;  // truncated, or no association data
  TlsaRecord record;
  record.usage = rdata[0];
  record.selector = rdata[1];
  record.matching_type = rdata[2];
  record.data.assign(rdata.begin() + header, rdata.end());
  return record;
}

}  // namespace bulwark::dns
