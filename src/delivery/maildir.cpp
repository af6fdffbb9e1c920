// Maildir delivery; see maildir.h. File names follow the maildir(5) convention
// "<seconds>.M<microseconds>P<pid>Q<counter>.<host>" so that they are unique across processes.
#include "delivery/maildir.h"

#include "common/strings.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace bulwark::delivery {
namespace {

std::string errnoText() { return std::strerror(errno); }

Result<void> syncDirectory(const std::filesystem::path& directory) {
  int descriptor = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (descriptor < 0) return makeError("io", "cannot open " + directory.string() + ": " + errnoText());
  int result = ::fsync(descriptor);
  ::close(descriptor);
  if (result != 0) return makeError("io", "cannot fsync " + directory.string() + ": " + errnoText());
  return {};
}

bool safeName(std::string_view name) {
  if (name.empty() || name.front() == '.') return false;
  for (unsigned char c : name) {
    if (c < 0x21 || c == 0x7f || c == '/' || c == '\\') return false;
  }
  return true;
}

Result<void> writeAll(int descriptor, std::string_view bytes, const std::filesystem::path& path) {
  while (!bytes.empty()) {
    ssize_t written = ::write(descriptor, bytes.data(), bytes.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return makeError("io", "cannot write " + path.string() + ": " + errnoText());
    }
    bytes.remove_prefix(static_cast<size_t>(written));
  }
  return {};
}

}  // namespace

MaildirDelivery::MaildirDelivery(std::filesystem::path root, std::string hostname)
    : root_(std::move(root)), hostname_(std::move(hostname)) {
  for (char& c : hostname_) {
    if (c == '/' || c == ':') c = '_';
  }
}

std::filesystem::path MaildirDelivery::folderFor(std::string_view domain,
                                                 std::string_view local_part) const {
  return root_ / asciiLower(domain) / asciiLower(local_part);
}

Result<void> MaildirDelivery::ensureFolder(const std::filesystem::path& folder) {
  if (::access((folder / "new").c_str(), F_OK) == 0 && ::access((folder / "tmp").c_str(), F_OK) == 0) {
    return {};
  }
  std::error_code error;
  for (const char* sub : {"tmp", "new", "cur"}) {
    std::filesystem::create_directories(folder / sub, error);
    if (error) return makeError("io", "cannot create " + (folder / sub).string() + ": " + error.message());
  }
  // New directory entries must be durable too, up to the domain folder.
  for (auto directory : {folder, folder.parent_path(), folder.parent_path().parent_path()}) {
    auto synced = syncDirectory(directory);
    if (!synced) return synced;
  }
  return {};
}

Result<std::filesystem::path> MaildirDelivery::deliver(std::string_view domain,
                                                       std::string_view local_part,
                                                       std::string_view return_path,
                                                       std::string_view message) {
  if (!safeName(domain) || !safeName(local_part)) {
    return makeError("mailbox", "mailbox name not allowed: " + std::string(local_part) + "@" +
                                    std::string(domain));
  }
  auto folder = folderFor(domain, local_part);
  auto ready = ensureFolder(folder);
  if (!ready) return ready.error();

  static std::atomic<unsigned long> counter{0};
  auto now = std::chrono::system_clock::now().time_since_epoch();
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now).count();
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(now).count() % 1000000;
  std::string name = std::to_string(seconds) + ".M" + std::to_string(micros) + "P" +
                     std::to_string(::getpid()) + "Q" + std::to_string(counter++) + "." + hostname_;
  auto temporary = folder / "tmp" / name;
  auto final_path = folder / "new" / name;

  std::string content;
  content.reserve(message.size() + return_path.size() + 20);
  content += "Return-Path: <";
  content += return_path;
  content += ">\n";
  size_t position = 0;
  while (position < message.size()) {
    size_t end = message.find("\r\n", position);
    if (end == std::string_view::npos) {
      content.append(message.substr(position));
      break;
    }
    content.append(message.substr(position, end - position));
    content += '\n';
    position = end + 2;
  }

  int descriptor = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (descriptor < 0) return makeError("io", "cannot create " + temporary.string() + ": " + errnoText());
  auto written = writeAll(descriptor, content, temporary);
  if (written && ::fsync(descriptor) != 0) {
    written = makeError("io", "cannot fsync " + temporary.string() + ": " + errnoText());
  }
  ::close(descriptor);
  if (!written) {
    ::unlink(temporary.c_str());
    return written.error();
  }
  if (::rename(temporary.c_str(), final_path.c_str()) != 0) {
    auto error = makeError("io", "cannot rename into " + final_path.string() + ": " + errnoText());
    ::unlink(temporary.c_str());
    return error;
  }
  auto synced = syncDirectory(folder / "new");
  if (!synced) return synced.error();
  return final_path;
}

}  // namespace bulwark::delivery
