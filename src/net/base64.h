// Base64 (RFC 4648 4) for SMTP AUTH exchanges (RFC 4954) and stored password hashes. Decoding
// input is untrusted: anything malformed yields nullopt.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace bulwark::net {

std::string base64Encode(std::string_view bytes);
std::optional<std::string> base64Decode(std::string_view text);

}  // namespace bulwark::net
