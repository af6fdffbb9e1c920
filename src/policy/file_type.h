// The true type of an attachment from its first bytes (magic numbers), whatever its name or
// declared Content-Type says, and whether it is password protected: ZIP (APPNOTE.TXT 4.3.7,
// 4.4.4 bit 0), PDF (ISO 32000-1 7.6.1, the trailer's /Encrypt), Office documents encrypted into
// an OLE2 "EncryptedPackage" stream (MS-OFFCRYPTO 2.3.4.4 and 2.3.4.1), 7z with AES (7zFormat.txt).
// Content is untrusted: every offset read is bounds-checked; work is linear in the size.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bulwark::policy {

enum class FileKind {
  unknown,
  pdf,
  zip,
  ooxml,
  ole2,
  exe,
  elf,
  png,
  jpeg,
  gif,
  gzip,
  sevenzip,
  rar
};

FileKind sniffFileKind(std::string_view content);
// The names rule files use: "pdf", "zip", "ooxml", "ole2", "exe", "elf", "png", "jpeg", "gif",
// "gzip", "7z", "rar" ("unknown" for anything else).
std::string_view fileKindName(FileKind kind);
std::optional<FileKind> fileKindFromName(std::string_view name);
std::vector<std::string_view> fileKindNames();

// Why the content counts as password protected ("ZIP entry \"a.doc\" is encrypted"), or nothing.
std::optional<std::string> passwordProtection(std::string_view content);

}  // namespace bulwark::policy
