// Small string helpers shared by the parsers: ASCII-only case folding and trimming (protocol
// keywords are ASCII; locale-dependent functions must not decide protocol behaviour).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace bulwark {

char asciiLower(char c);
std::string asciiLower(std::string_view text);
bool equalsIgnoreCase(std::string_view left, std::string_view right);
bool startsWithIgnoreCase(std::string_view text, std::string_view prefix);
std::string_view trim(std::string_view text);
std::vector<std::string_view> split(std::string_view text, char separator);

}  // namespace bulwark
