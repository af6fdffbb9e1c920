// Queue ids are time-prefixed so that a directory listing is roughly arrival order, and carry
// randomness so that two nodes sharing a trace store never collide.
#include "common/ids.h"

#include <atomic>
#include <chrono>
#include <ctime>
#include <random>

namespace bulwark {
namespace {

constexpr char kAlphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

void appendBase36(std::string& out, unsigned long long value, int width) {
  std::string digits(static_cast<size_t>(width), '0');
  for (int index = width - 1; index >= 0 && value > 0; --index) {
    digits[static_cast<size_t>(index)] = kAlphabet[value % 36];
    value /= 36;
  }
  out += digits;
}

unsigned long long randomBits() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  return generator();
}

}  // namespace

std::string newQueueId() {
  static std::atomic<unsigned> counter{0};
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  std::string id;
  id.reserve(16);
  appendBase36(id, static_cast<unsigned long long>(micros), 10);
  // 36^6 ≈ 2.2e9: a counter keeps ids from one process distinct within a microsecond, the random
  // part keeps processes and nodes apart.
  unsigned long long tail = (randomBits() % 46656ULL) * 46656ULL + (counter++ % 46656U);
  appendBase36(id, tail, 6);
  return id;
}

std::string newMessageId(std::string_view hostname) {
  std::string id = "<" + newQueueId() + ".";
  appendBase36(id, randomBits() % 2176782336ULL, 6);
  id += "@";
  id += hostname;
  id += ">";
  return id;
}

std::string rfc5322DateNow() {
  std::time_t now = std::time(nullptr);
  std::tm parts{};
  localtime_r(&now, &parts);
  char buffer[64];
  std::strftime(buffer, sizeof buffer, "%a, %d %b %Y %H:%M:%S %z", &parts);
  return buffer;
}

}  // namespace bulwark
