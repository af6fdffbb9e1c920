// spdlog sink set-up: logs go to stderr with a timestamp; `serve` is run under a supervisor
// (systemd) that adds its own, so the format stays short.
#include "common/log.h"
#include "common/result.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <stdexcept>

namespace bulwark {

void throw_exception_from_error(const Error& error, const boost::source_location&) {
  throw std::runtime_error(error.code + ": " + error.message);
}

}  // namespace bulwark

namespace bulwark::log {
namespace {

spdlog::logger& logger() {
  static auto instance = [] {
    auto created = spdlog::stderr_color_mt("bulwark");
    created->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    created->set_level(spdlog::level::info);
    return created;
  }();
  return *instance;
}

spdlog::level::level_enum toSpdlog(Level level) {
  switch (level) {
    case Level::debug: return spdlog::level::debug;
    case Level::info: return spdlog::level::info;
    case Level::warning: return spdlog::level::warn;
    case Level::error: return spdlog::level::err;
  }
  return spdlog::level::info;
}

}  // namespace

void setLevel(Level level) { logger().set_level(toSpdlog(level)); }

bool parseLevel(std::string_view text, Level& level) {
  if (text == "debug") level = Level::debug;
  else if (text == "info") level = Level::info;
  else if (text == "warning") level = Level::warning;
  else if (text == "error") level = Level::error;
  else return false;
  return true;
}

void write(Level level, std::string_view message) { logger().log(toSpdlog(level), message); }

}  // namespace bulwark::log
