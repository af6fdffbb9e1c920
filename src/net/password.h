// Password hashes for SMTP AUTH users: PBKDF2-HMAC-SHA256 with a random salt, stored as
// "$pbkdf2-sha256$<iterations>$<salt base64>$<hash base64>". Passwords are never logged.
#pragma once

#include <string>
#include <string_view>

namespace bulwark::net {

inline constexpr int kDefaultPasswordIterations = 100000;

std::string hashPassword(std::string_view password, int iterations = kDefaultPasswordIterations);
// Constant-time comparison; false for malformed stored hashes.
bool verifyPassword(std::string_view password, std::string_view stored_hash);

}  // namespace bulwark::net
