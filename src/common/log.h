// Logging for every module: spdlog behind a few functions, so that no header pulls spdlog in and
// secrets policy lives in one place (never log passwords, keys or message bodies).
#pragma once

#include <fmt/format.h>

#include <string_view>

namespace bulwark::log {

enum class Level { debug, info, warning, error };

void setLevel(Level level);
bool parseLevel(std::string_view text, Level& level);
void write(Level level, std::string_view message);

template <class... Args>
void debug(fmt::format_string<Args...> format, Args&&... args) {
  write(Level::debug, fmt::format(format, std::forward<Args>(args)...));
}
template <class... Args>
void info(fmt::format_string<Args...> format, Args&&... args) {
  write(Level::info, fmt::format(format, std::forward<Args>(args)...));
}
template <class... Args>
void warning(fmt::format_string<Args...> format, Args&&... args) {
  write(Level::warning, fmt::format(format, std::forward<Args>(args)...));
}
template <class... Args>
void error(fmt::format_string<Args...> format, Args&&... args) {
  write(Level::error, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace bulwark::log
