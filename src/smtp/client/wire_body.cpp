// Preparing the message content for the wire; see wire_body.h. RFC 6152 3 (no 8-bit octets to a
// server without 8BITMIME), RFC 3030 2 (BDAT sends exactly the counted octets). The stored
// message is untrusted input.
#include "smtp/client/wire_body.h"

#include "mime/seven_bit.h"

namespace bulwark::smtp {

bool hasCrlfLineEndings(std::string_view data) {
  for (std::size_t index = 0; index < data.size(); ++index) {
    if (data[index] == '\r') {
      if (index + 1 >= data.size() || data[index + 1] != '\n') return false;
      ++index;
    } else if (data[index] == '\n') {
      return false;
    }
  }
  return data.empty() || data.ends_with("\r\n");
}

std::string withCrlfLineEndings(std::string_view data) {
  std::string out;
  out.reserve(data.size() + data.size() / 32 + 2);
  bool line_start = true;
  for (std::size_t index = 0; index < data.size(); ++index) {
    const char c = data[index];
    if (c == '\r' || c == '\n') {
      out += "\r\n";
      if (c == '\r' && index + 1 < data.size() && data[index + 1] == '\n') ++index;
      line_start = true;
    } else {
      out += c;
      line_start = false;
    }
  }
  if (!line_start) out += "\r\n";
  return out;
}

Result<WireBody> prepareWireBody(std::string_view stored, bool declared_8bit, bool server_8bitmime,
                                 bool crlf_needed) {
  WireBody body;
  body.original_ = stored;
  // A message that says 7BIT but holds 8-bit octets is 8-bit all the same: what matters to the
  // next hop is the octets.
  const bool has_8bit_octets = mime::hasEightBitOctets(stored);
  const bool convert = has_8bit_octets && !server_8bitmime;
  if (convert) {
    // The converter reads CRLF lines; its output keeps them.
    std::string canonical;
    std::string_view source = stored;
    if (!hasCrlfLineEndings(stored)) {
      canonical = withCrlfLineEndings(stored);
      source = canonical;
    }
    auto converted = mime::convertToSevenBit(source);
    if (!converted) return converted.error();
    body.storage_ = std::move(*converted);
    body.changed_ = true;
    body.converted_ = true;
  } else if (crlf_needed && !hasCrlfLineEndings(stored)) {
    body.storage_ = withCrlfLineEndings(stored);
    body.changed_ = true;
  }
  body.eight_bit_ = !body.converted_ && (declared_8bit || has_8bit_octets);
  return body;
}

}  // namespace bulwark::smtp
