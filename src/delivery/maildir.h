// Final delivery into Maildir folders (the maildir(5) layout of tmp/, new/, cur/): the file is
// written in tmp/, fsynced, renamed into new/, and new/ is fsynced, so a delivery that returned
// success survives a crash. Adds Return-Path (RFC 5321 4.4) and converts CRLF to LF as mail
// readers expect of Maildir files. Local parts were checked by the SMTP session; they are still
// treated as untrusted here (no path separators, no leading dot).
#pragma once

#include "common/result.h"

#include <filesystem>
#include <string>
#include <string_view>

namespace bulwark::delivery {

class MaildirDelivery {
 public:
  // Mail for user@domain goes to `root`/domain/localpart/ (both lower-cased).
  MaildirDelivery(std::filesystem::path root, std::string hostname);

  // Returns the path of the delivered file.
  Result<std::filesystem::path> deliver(std::string_view domain, std::string_view local_part,
                                        std::string_view return_path, std::string_view message);

  std::filesystem::path folderFor(std::string_view domain, std::string_view local_part) const;

 private:
  Result<void> ensureFolder(const std::filesystem::path& folder);
  std::filesystem::path root_;
  std::string hostname_;
};

}  // namespace bulwark::delivery
