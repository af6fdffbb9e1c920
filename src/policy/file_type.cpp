// Magic-number sniffing and password-protection markers; see file_type.h. Hand-written rather
// than libmagic: the dozen types the rules name need a few byte comparisons, with no database to
// load and no per-call allocation.
#include "policy/file_type.h"

#include <algorithm>
#include <array>
#include <cstdint>

namespace bulwark::policy {
namespace {

constexpr std::array<std::pair<FileKind, std::string_view>, 12> kNames{{
    {FileKind::pdf, "pdf"},
    {FileKind::zip, "zip"},
    {FileKind::ooxml, "ooxml"},
    {FileKind::ole2, "ole2"},
    {FileKind::exe, "exe"},
    {FileKind::elf, "elf"},
    {FileKind::png, "png"},
    {FileKind::jpeg, "jpeg"},
    {FileKind::gif, "gif"},
    {FileKind::gzip, "gzip"},
    {FileKind::sevenzip, "7z"},
    {FileKind::rar, "rar"},
}};

bool startsWith(std::string_view content, std::string_view magic) {
  return content.substr(0, magic.size()) == magic;
}

// Little-endian integers at `offset`, nothing when the content is too short.
std::optional<std::uint64_t> readLittleEndian(std::string_view content, std::size_t offset,
                                              std::size_t bytes) {
  if (offset > content.size() || content.size() - offset < bytes) return std::nullopt;
  std::uint64_t value = 0;
  for (std::size_t index = 0; index < bytes; ++index) {
    value |= static_cast<std::uint64_t>(static_cast<unsigned char>(content[offset + index]))
             << (8 * index);
  }
  return value;
}

constexpr std::string_view kZipLocalHeader{"PK\x03\x04", 4};
constexpr std::string_view kZipCentralHeader{"PK\x01\x02", 4};
constexpr std::string_view kZipEndOfDirectory{"PK\x05\x06", 4};
constexpr std::string_view kOle2Magic{"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8};
constexpr std::string_view kSevenZipMagic{"7z\xBC\xAF\x27\x1C", 6};
// 7-Zip's coder id of AES-256 + SHA-256 (7zFormat.txt, "06F10701").
constexpr std::string_view kSevenZipAesCoder{"\x06\xF1\x07\x01", 4};

std::string entryName(std::string_view content, std::size_t offset, std::uint64_t length) {
  if (offset > content.size()) return "?";
  return std::string(content.substr(offset, static_cast<std::size_t>(length)));
}

std::optional<std::string> zipEncryption(std::string_view content) {
  // The local headers from the start, as long as their sizes are known (bit 3 clear).
  std::size_t offset = 0;
  while (content.substr(offset, 4) == kZipLocalHeader) {
    const auto flags = readLittleEndian(content, offset + 6, 2);
    const auto compressed = readLittleEndian(content, offset + 18, 4);
    const auto name_length = readLittleEndian(content, offset + 26, 2);
    const auto extra_length = readLittleEndian(content, offset + 28, 2);
    if (!flags || !compressed || !name_length || !extra_length) break;
    if (*flags & 1) {
      return "ZIP entry \"" + entryName(content, offset + 30, *name_length) + "\" is encrypted";
    }
    if (*flags & 8) break;
    const std::uint64_t next = offset + 30 + *name_length + *extra_length + *compressed;
    if (next <= offset || next > content.size()) break;
    offset = static_cast<std::size_t>(next);
  }
  // The central directory, found from the end-of-directory record (within the last 64 KiB +
  // 22 bytes: the record plus the longest comment).
  const std::size_t search_from = content.size() > 65557 ? content.size() - 65557 : std::size_t{0};
  const std::size_t end = content.rfind(kZipEndOfDirectory);
  if (end == std::string_view::npos || end < search_from) return std::nullopt;
  const auto entries = readLittleEndian(content, end + 10, 2);
  const auto directory = readLittleEndian(content, end + 16, 4);
  if (!entries || !directory) return std::nullopt;
  offset = static_cast<std::size_t>(*directory);
  for (std::uint64_t entry = 0; entry < *entries; ++entry) {
    if (offset > content.size() || content.substr(offset, 4) != kZipCentralHeader) break;
    const auto flags = readLittleEndian(content, offset + 8, 2);
    const auto name_length = readLittleEndian(content, offset + 28, 2);
    const auto extra_length = readLittleEndian(content, offset + 30, 2);
    const auto comment_length = readLittleEndian(content, offset + 32, 2);
    if (!flags || !name_length || !extra_length || !comment_length) break;
    if (*flags & 1) {
      return "ZIP entry \"" + entryName(content, offset + 46, *name_length) + "\" is encrypted";
    }
    offset += 46 + static_cast<std::size_t>(*name_length + *extra_length + *comment_length);
  }
  return std::nullopt;
}

std::optional<std::string> pdfEncryption(std::string_view content) {
  constexpr std::string_view kEncrypt = "/Encrypt";
  for (std::size_t at = content.find(kEncrypt); at != std::string_view::npos;
       at = content.find(kEncrypt, at + 1)) {
    // "/Encrypt 12 0 R" or "/Encrypt<<...>>"; not a longer name such as "/EncryptMetadata" on
    // its own (that key only exists inside an encryption dictionary anyway).
    const std::size_t after = at + kEncrypt.size();
    if (after >= content.size()) break;
    const char next = content[after];
    if (next == ' ' || next == '\r' || next == '\n' || next == '\t' || next == '<' ||
        (next >= '0' && next <= '9')) {
      return std::string("PDF is encrypted (/Encrypt in its trailer)");
    }
  }
  return std::nullopt;
}

std::optional<std::string> ole2Encryption(std::string_view content) {
  // Directory entry names are UTF-16LE.
  static const std::string kEncryptedPackage = [] {
    std::string name;
    for (char c : std::string_view("EncryptedPackage")) {
      name.push_back(c);
      name.push_back('\0');
    }
    return name;
  }();
  if (content.find(kEncryptedPackage) == std::string_view::npos) return std::nullopt;
  return std::string("Office document is encrypted (OLE2 \"EncryptedPackage\" stream)");
}

std::optional<std::string> sevenZipEncryption(std::string_view content) {
  // Signature header: magic (6), version (2), CRC (4), next header offset (8), size (8), CRC (4).
  const auto next_offset = readLittleEndian(content, 12, 8);
  const auto next_size = readLittleEndian(content, 20, 8);
  if (!next_offset || !next_size) return std::nullopt;
  const std::uint64_t start = 32 + *next_offset;
  if (*next_offset > content.size() || start >= content.size()) return std::nullopt;
  const std::string_view header = content.substr(
      static_cast<std::size_t>(start),
      static_cast<std::size_t>(std::min<std::uint64_t>(*next_size, content.size() - start)));
  if (header.find(kSevenZipAesCoder) == std::string_view::npos) return std::nullopt;
  // 0x17 (kEncodedHeader): the header itself is packed, here with AES, so names are hidden.
  if (!header.empty() && header[0] == '\x17') {
    return std::string("7z archive with an encrypted header (AES)");
  }
  return std::string("7z archive with encrypted content (AES)");
}

}  // namespace

FileKind sniffFileKind(std::string_view content) {
  if (startsWith(content, kZipLocalHeader) || startsWith(content, kZipEndOfDirectory)) {
    // OOXML packages are ZIPs whose part list "[Content_Types].xml" is an entry (ECMA-376-2 10.1).
    if (content.find("[Content_Types].xml") != std::string_view::npos) return FileKind::ooxml;
    return FileKind::zip;
  }
  if (content.substr(0, 1024).find("%PDF-") != std::string_view::npos) return FileKind::pdf;
  if (startsWith(content, kOle2Magic)) return FileKind::ole2;
  if (startsWith(content, "MZ") && content.size() >= 64) return FileKind::exe;
  if (startsWith(content,
                 "\x7F"
                 "ELF"))
    return FileKind::elf;
  if (startsWith(content, "\x89PNG\r\n\x1A\n")) return FileKind::png;
  if (startsWith(content, "\xFF\xD8\xFF")) return FileKind::jpeg;
  if (startsWith(content, "GIF87a") || startsWith(content, "GIF89a")) return FileKind::gif;
  if (startsWith(content, "\x1F\x8B\x08")) return FileKind::gzip;
  if (startsWith(content, kSevenZipMagic)) return FileKind::sevenzip;
  if (startsWith(content, "Rar!\x1A\x07")) return FileKind::rar;
  return FileKind::unknown;
}

std::string_view fileKindName(FileKind kind) {
  for (const auto& [known, name] : kNames) {
    if (known == kind) return name;
  }
  return "unknown";
}

std::optional<FileKind> fileKindFromName(std::string_view name) {
  for (const auto& [kind, known] : kNames) {
    if (known == name) return kind;
  }
  return std::nullopt;
}

std::vector<std::string_view> fileKindNames() {
  std::vector<std::string_view> names;
  for (const auto& entry : kNames) names.push_back(entry.second);
  return names;
}

std::optional<std::string> passwordProtection(std::string_view content) {
  switch (sniffFileKind(content)) {
    case FileKind::zip:
    case FileKind::ooxml: return zipEncryption(content);
    case FileKind::pdf: return pdfEncryption(content);
    case FileKind::ole2: return ole2Encryption(content);
    case FileKind::sevenzip: return sevenZipEncryption(content);
    default: return std::nullopt;
  }
}

}  // namespace bulwark::policy
