// IDNA conversion through libidn2; see idna.h.
#include "auth/idna.h"

#include "common/strings.h"

#include <cstdint>
#include <idn2.h>
#include <memory>

namespace bulwark::auth {
namespace {

bool isAscii(std::string_view text) {
  for (char character : text) {
    if (static_cast<unsigned char>(character) > 0x7f) return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> asciiLabel(std::string_view label) {
  if (label.empty()) return std::nullopt;
  if (isAscii(label)) return asciiLower(label);
  // libidn2 reads a NUL-terminated string: a label with a NUL in it is no label at all.
  if (label.find('\0') != std::string_view::npos) return std::nullopt;
  std::string input(label);
  std::uint8_t* output = nullptr;
  int status = idn2_lookup_u8(reinterpret_cast<const std::uint8_t*>(input.c_str()), &output,
                              IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
  std::unique_ptr<std::uint8_t, decltype(&idn2_free)> owned(output, &idn2_free);
  if (status != IDN2_OK || output == nullptr) return std::nullopt;
  std::string converted(reinterpret_cast<const char*>(output));
  // A "label" that maps to several (a full stop look-alike such as U+3002) is not one label.
  if (converted.empty() || converted.find('.') != std::string::npos) return std::nullopt;
  return asciiLower(converted);
}

std::optional<std::string> asciiDomain(std::string_view domain) {
  if (domain.empty()) return std::nullopt;
  std::string converted;
  converted.reserve(domain.size());
  std::size_t position = 0;
  while (true) {
    std::size_t dot = domain.find('.', position);
    std::string_view label = domain.substr(
        position, dot == std::string_view::npos ? std::string_view::npos : dot - position);
    std::optional<std::string> ascii = asciiLabel(label);
    if (!ascii) return std::nullopt;
    converted += *ascii;
    if (dot == std::string_view::npos) break;
    converted += '.';
    position = dot + 1;
  }
  return converted;
}

}  // namespace bulwark::auth
