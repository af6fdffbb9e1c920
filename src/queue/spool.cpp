// FileSpool: the on-disk queue of DESIGN.md "Durability" (format and guarantees in
// docs/queue-format.md). Queue files read back are untrusted (they may be damaged); queue ids are
// checked before they become file names. Thread-safety: any operations on different messages may
// run concurrently; one message must only be touched by one thread at a time (the queue manager
// owns each message while it works on it), so no per-message locking happens here.
#include "queue/spool.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <system_error>
#include <utility>

#include "common/log.h"
#include "queue/record.h"

namespace bulwark::queue {
namespace {

enum class Directory { incoming, active, deferred, hold, corrupt };
constexpr std::array<const char*, 5> kDirectoryNames = {"incoming", "active", "deferred", "hold",
                                                        "corrupt"};
// Where a committed message can be; searched in this order.
constexpr std::array<Directory, 3> kStateDirectories = {Directory::active, Directory::deferred,
                                                        Directory::hold};

const char* directoryName(Directory directory) {
  return kDirectoryNames[static_cast<std::size_t>(directory)];
}

std::string describeErrno(int number) {
  return std::system_category().message(number);
}

Error ioError(std::string_view what, int number) {
  return makeError("io", fmt::format("{}: {}", what, describeErrno(number)));
}

// Queue ids become file names: only what newQueueId() produces and tests use, so that an id from
// an operator or a file can never name "..", a path, or a hidden file.
bool isValidQueueId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
           c == '-';
  });
}

class FileDescriptor {
 public:
  FileDescriptor() = default;
  explicit FileDescriptor(int descriptor) : descriptor_(descriptor) {}
  FileDescriptor(FileDescriptor&& other) noexcept : descriptor_(other.release()) {}
  FileDescriptor& operator=(FileDescriptor&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() { reset(-1); }

  int get() const { return descriptor_; }
  bool valid() const { return descriptor_ >= 0; }
  int release() { return std::exchange(descriptor_, -1); }
  void reset(int descriptor) {
    if (descriptor_ >= 0) ::close(descriptor_);
    descriptor_ = descriptor;
  }
  // Close and report: on some file systems a deferred write error only shows up here.
  // EINTR is not a failure: Linux has released the descriptor by then, and retrying could close
  // one another thread just opened.
  int close() {
    int result = ::close(release());
    return result == 0 || errno == EINTR ? 0 : errno;
  }

 private:
  int descriptor_ = -1;
};

int openAt(int directory, const std::string& name, int flags, mode_t mode = 0) {
  int descriptor;
  do {
    descriptor = ::openat(directory, name.c_str(), flags | O_CLOEXEC | O_NOFOLLOW, mode);
  } while (descriptor < 0 && errno == EINTR);
  return descriptor;
}

// Writes every byte of the vectors, resuming after EINTR and short writes. Returns 0 or errno.
int writeAll(int descriptor, iovec* vectors, int count) {
  while (count > 0) {
    ssize_t written = ::writev(descriptor, vectors, count);
    if (written < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    auto left = static_cast<std::size_t>(written);
    while (count > 0 && left >= vectors->iov_len) {
      left -= vectors->iov_len;
      ++vectors;
      --count;
    }
    if (count > 0) {
      vectors->iov_base = static_cast<char*>(vectors->iov_base) + left;
      vectors->iov_len -= left;
    }
  }
  return 0;
}

int writeAll(int descriptor, std::string_view bytes) {
  iovec vector{const_cast<char*>(bytes.data()), bytes.size()};
  return writeAll(descriptor, &vector, 1);
}

int syncDescriptor(int descriptor, bool data_only) {
  int result;
  do {
    result = data_only ? ::fdatasync(descriptor) : ::fsync(descriptor);
  } while (result < 0 && errno == EINTR);
  return result == 0 ? 0 : errno;
}

// rename() that refuses to replace an existing message; falls back to a check-then-rename on
// file systems without RENAME_NOREPLACE (safe here: one thread per message id).
int renameNoReplace(int from_directory, const std::string& from_name, int to_directory,
                    const std::string& to_name) {
  if (::renameat2(from_directory, from_name.c_str(), to_directory, to_name.c_str(),
                  RENAME_NOREPLACE) == 0) {
    return 0;
  }
  if (errno != EINVAL && errno != ENOSYS) return errno;
  struct stat existing;
  if (::fstatat(to_directory, to_name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0) return EEXIST;
  if (::renameat(from_directory, from_name.c_str(), to_directory, to_name.c_str()) != 0) {
    return errno;
  }
  return 0;
}

Result<std::string> readWhole(int descriptor, const std::string& what) {
  struct stat status;
  if (::fstat(descriptor, &status) != 0) return ioError("fstat " + what, errno);
  std::string bytes(static_cast<std::size_t>(status.st_size), '\0');
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t count =
        ::pread(descriptor, bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
    if (count < 0) {
      if (errno == EINTR) continue;
      return ioError("read " + what, errno);
    }
    if (count == 0) break;  // shrank under us; the parser will call it truncated
    done += static_cast<std::size_t>(count);
  }
  bytes.resize(done);
  return bytes;
}

struct LoadedFile {
  std::string bytes;
  ParsedQueueFile parsed;
  Directory directory = Directory::active;
};

class FileSpool final : public Spool {
 public:
  FileSpool(std::filesystem::path root, std::array<FileDescriptor, 5> directories)
      : root_(std::move(root)), directories_(std::move(directories)) {}

  Result<void> commit(const Envelope& envelope, std::string_view data) override {
    return commitInto(envelope, data, Directory::active);
  }

  Result<void> commitHeld(const Envelope& envelope, std::string_view data) override {
    return commitInto(envelope, data, Directory::hold);
  }

  Result<void> commitInto(const Envelope& envelope, std::string_view data, Directory target) {
    const std::string& id = envelope.queue_id;
    const std::string target_name = kDirectoryNames[static_cast<std::size_t>(target)];
    if (!isValidQueueId(id)) return invalidId(id);
    auto encoded = encodeCommit(envelope, data);
    if (!encoded) return encoded.error();

    FileDescriptor file(
        openAt(directory(Directory::incoming), id, O_WRONLY | O_CREAT | O_EXCL, 0600));
    if (!file.valid()) return ioError("create incoming/" + id, errno);
    iovec vectors[3] = {
        {encoded->head.data(), encoded->head.size()},
        {const_cast<char*>(encoded->data.data()), encoded->data.size()},
        {encoded->tail.data(), encoded->tail.size()},
    };
    // The data must be on disk before the name in active/ (or hold/) can be: a rename persisted ahead of
    // the data would leave a committed-looking file with holes after a crash.
    int failure = writeAll(file.get(), vectors, 3);
    std::string step = "write";
    if (failure == 0) {
      failure = syncDescriptor(file.get(), false);
      step = "fsync";
    }
    if (failure == 0) {
      failure = file.close();
      step = "close";
    }
    if (failure == 0) {
      failure =
          renameNoReplace(directory(Directory::incoming), id, directory(target), id);
      step = "rename to " + target_name + "/";
    }
    if (failure != 0) {
      file.reset(-1);
      ::unlinkat(directory(Directory::incoming), id.c_str(), 0);
      return ioError(fmt::format("commit {}: {}", id, step), failure);
    }
    failure = syncDescriptor(directory(target), false);
    if (failure != 0) {
      // Not durable, so not committed: the client will be told to retry, and a copy left in
      // active/ would be delivered as well.
      ::unlinkat(directory(target), id.c_str(), 0);
      return ioError(fmt::format("commit {}: fsync {}/", id, target_name), failure);
    }
    return {};
  }

  Result<QueuedMessage> load(const std::string& queue_id, std::string* data) override {
    auto loaded = loadFile(queue_id);
    if (!loaded) return loaded.error();
    if (data) *data = loaded->bytes.substr(loaded->parsed.data_offset, loaded->parsed.data_size);
    QueuedMessage message;
    message.envelope = std::move(loaded->parsed.envelope);
    message.state = stateOf(loaded->directory);
    message.attempts = loaded->parsed.attempts;
    message.next_attempt = loaded->parsed.next_attempt;
    message.last_reason = std::move(loaded->parsed.last_reason);
    return message;
  }

  Result<std::string> readData(const std::string& queue_id) override {
    auto loaded = loadFile(queue_id);
    if (!loaded) return loaded.error();
    // Reuse the file buffer rather than copying megabytes out of it.
    std::string& bytes = loaded->bytes;
    bytes.resize(loaded->parsed.data_offset + loaded->parsed.data_size);
    bytes.erase(0, loaded->parsed.data_offset);
    return std::move(bytes);
  }

  Result<QueuedMessage> inspect(const std::string& queue_id, std::string* data) override {
    if (!isValidQueueId(queue_id)) return invalidId(queue_id);
    // A state change is a rename between our opens: look twice before calling it gone.
    for (int round = 0; round < 2; ++round) {
      for (Directory state : kStateDirectories) {
        FileDescriptor file(openAt(directory(state), queue_id, O_RDONLY));
        if (!file.valid()) {
          if (errno == ENOENT) continue;
          return ioError(fmt::format("open {}/{}", directoryName(state), queue_id), errno);
        }
        std::string path = fmt::format("{}/{}", directoryName(state), queue_id);
        auto bytes = readWhole(file.get(), path);
        if (!bytes) return bytes.error();
        // A record being appended right now reads as a torn tail: parsing stops before it,
        // which is the state before the append. Nothing is cut.
        auto parsed = parseQueueFile(*bytes);
        if (!parsed) {
          return makeError("corrupt", fmt::format("{}: {}", path, parsed.error().message));
        }
        if (parsed->envelope.queue_id != queue_id) {
          return makeError("corrupt", fmt::format("{}: its queue id record says \"{}\"", path,
                                                  parsed->envelope.queue_id));
        }
        QueuedMessage message;
        message.envelope = std::move(parsed->envelope);
        message.state = stateOf(state);
        message.attempts = parsed->attempts;
        message.next_attempt = parsed->next_attempt;
        message.last_reason = std::move(parsed->last_reason);
        if (data != nullptr) {
          bytes->resize(parsed->data_offset + parsed->data_size);
          bytes->erase(0, parsed->data_offset);
          *data = std::move(*bytes);
        }
        return message;
      }
    }
    return notFound(queue_id);
  }

  Result<void> recordRecipient(const std::string& queue_id, std::size_t index,
                               RecipientStatus status, std::string_view reply, bool sync) override {
    if (index > std::numeric_limits<std::uint32_t>::max()) {
      return makeError("invalid", fmt::format("recipient index {} out of range", index));
    }
    auto appended = append(
        queue_id, encodeRecipientStatus(static_cast<std::uint32_t>(index), status, reply), sync);
    if (!appended) return appended.error();
    return {};
  }

  Result<void> defer(const std::string& queue_id, std::string_view reason,
                     std::chrono::system_clock::time_point next_attempt) override {
    auto record = encodeDeliveryAttempt(std::chrono::system_clock::now(), reason, next_attempt);
    auto appended = append(queue_id, record, true);
    if (!appended) return appended.error();
    // An operator's hold wins over the retry schedule; a deferred message stays where it is.
    if (*appended != Directory::active) return {};
    return move(queue_id, Directory::active, Directory::deferred);
  }

  Result<void> activate(const std::string& queue_id) override {
    if (!isValidQueueId(queue_id)) return invalidId(queue_id);
    for (Directory from : {Directory::deferred, Directory::hold}) {
      auto moved = move(queue_id, from, Directory::active);
      if (moved || moved.error().code != "not_found") return moved;
    }
    struct stat status;
    if (::fstatat(directory(Directory::active), queue_id.c_str(), &status, 0) == 0) return {};
    return notFound(queue_id);
  }

  Result<void> activateDeferred(const std::string& queue_id) override {
    if (!isValidQueueId(queue_id)) return invalidId(queue_id);
    return move(queue_id, Directory::deferred, Directory::active);
  }

  Result<void> hold(const std::string& queue_id) override {
    if (!isValidQueueId(queue_id)) return invalidId(queue_id);
    // The running server may move the message between active/ and deferred/ while we look:
    // a few rounds make a miss caused by that race unlikely.
    for (int round = 0; round < 3; ++round) {
      for (Directory from : {Directory::active, Directory::deferred}) {
        auto moved = move(queue_id, from, Directory::hold);
        if (moved || moved.error().code != "not_found") return moved;
      }
      struct stat status;
      if (::fstatat(directory(Directory::hold), queue_id.c_str(), &status, 0) == 0) return {};
    }
    return notFound(queue_id);
  }

  Result<void> remove(const std::string& queue_id) override {
    if (!isValidQueueId(queue_id)) return invalidId(queue_id);
    // Not followed by a directory fsync: if a crash forgets the unlink, the message is delivered
    // again (at least once), which the delivery journal is there to make rare.
    for (Directory state : kStateDirectories) {
      if (::unlinkat(directory(state), queue_id.c_str(), 0) == 0) return {};
      if (errno != ENOENT) {
        return ioError(fmt::format("remove {}/{}", directoryName(state), queue_id), errno);
      }
    }
    return notFound(queue_id);
  }

  Result<std::vector<std::string>> list(QueueState state) override {
    const Directory which = state == QueueState::deferred ? Directory::deferred
                            : state == QueueState::hold   ? Directory::hold
                                                          : Directory::active;
    auto names = listDirectory(which);
    if (!names) return names.error();
    std::erase_if(*names, [](const std::string& name) { return !isValidQueueId(name); });
    return names;
  }

  Result<RecoveryReport> recover() override {
    RecoveryReport report;
    auto leftovers = listDirectory(Directory::incoming);
    if (!leftovers) return leftovers.error();
    for (const std::string& name : *leftovers) {
      // Never acknowledged: the client was not answered 250, so it still holds the message.
      if (::unlinkat(directory(Directory::incoming), name.c_str(), 0) != 0 && errno != ENOENT) {
        log::error("queue: cannot remove incoming/{}: {}", name, describeErrno(errno));
        continue;
      }
      log::info("queue: removed unacknowledged incoming/{}", name);
      report.discarded.push_back(name);
    }
    for (Directory state : kStateDirectories) {
      auto names = listDirectory(state);
      if (!names) return names.error();
      for (const std::string& name : *names) {
        struct stat status;
        if (::fstatat(directory(state), name.c_str(), &status, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(status.st_mode)) {
          log::warning("queue: {}/{} is not a regular file; left alone", directoryName(state),
                       name);
          continue;
        }
        if (!isValidQueueId(name)) {
          auto moved = moveToCorrupt(state, name, "the file name is not a queue id");
          if (moved)
            report.corrupt.push_back(name);
          else
            log::error("queue: {}; skipped by recovery", moved.error().message);
          continue;
        }
        auto loaded = loadFrom(state, name);
        if (!loaded && loaded.error().code == "corrupt") {
          report.corrupt.push_back(name);
          continue;
        }
        if (!loaded) {
          // One unreadable file must not keep every other message from being delivered.
          log::error("queue: {}; skipped by recovery", loaded.error().message);
          continue;
        }
        if (state != Directory::hold) report.active.push_back(name);
      }
    }
    std::sort(report.active.begin(), report.active.end());
    return report;
  }

  std::uint64_t freeBytes() const override {
    struct statvfs status;
    if (::fstatvfs(directory(Directory::active), &status) != 0) return 0;
    return static_cast<std::uint64_t>(status.f_bavail) * status.f_frsize;
  }

 private:
  int directory(Directory which) const {
    return directories_[static_cast<std::size_t>(which)].get();
  }

  static QueueState stateOf(Directory directory) {
    switch (directory) {
      case Directory::deferred: return QueueState::deferred;
      case Directory::hold: return QueueState::hold;
      default: return QueueState::active;
    }
  }

  static Error invalidId(std::string_view id) {
    return makeError("invalid", fmt::format("not a queue id: \"{}\"", id.substr(0, 80)));
  }

  static Error notFound(std::string_view id) {
    return makeError("not_found",
                     fmt::format("queue id {} is not in active/, deferred/ or hold/", id));
  }

  // Opens the message in whichever state directory holds it.
  Result<std::pair<FileDescriptor, Directory>> locate(const std::string& queue_id, int flags) {
    if (!isValidQueueId(queue_id)) return invalidId(queue_id);
    for (Directory state : kStateDirectories) {
      FileDescriptor file(openAt(directory(state), queue_id, flags));
      if (file.valid()) return std::make_pair(std::move(file), state);
      if (errno != ENOENT) {
        return ioError(fmt::format("open {}/{}", directoryName(state), queue_id), errno);
      }
    }
    return notFound(queue_id);
  }

  Result<Directory> append(const std::string& queue_id, std::string_view record, bool sync) {
    auto located = locate(queue_id, O_WRONLY | O_APPEND);
    if (!located) return located.error();
    auto& [file, state] = *located;
    std::string name = fmt::format("{}/{}", directoryName(state), queue_id);
    struct stat status;
    if (::fstat(file.get(), &status) != 0) return ioError("fstat " + name, errno);
    int failure = writeAll(file.get(), record);
    if (failure == 0 && sync) failure = syncDescriptor(file.get(), true);
    if (failure != 0) {
      // A half-written record would hide every record appended after it from the parser.
      if (::ftruncate(file.get(), status.st_size) != 0) {
        log::error("queue: cannot cut {} back after a failed append: {}", name,
                   describeErrno(errno));
      }
      return ioError("append to " + name, failure);
    }
    if (int closed = file.close(); closed != 0) return ioError("close " + name, closed);
    return state;
  }

  // Renames between state directories and makes the new name durable.
  Result<void> move(const std::string& queue_id, Directory from, Directory to) {
    int failure = renameNoReplace(directory(from), queue_id, directory(to), queue_id);
    if (failure == ENOENT) return notFound(queue_id);
    std::string what =
        fmt::format("move {} from {}/ to {}/", queue_id, directoryName(from), directoryName(to));
    if (failure != 0) return ioError(what, failure);
    failure = syncDescriptor(directory(to), false);
    if (failure != 0) return ioError(what + " (fsync)", failure);
    return {};
  }

  Result<LoadedFile> loadFile(const std::string& queue_id) {
    if (!isValidQueueId(queue_id)) return invalidId(queue_id);
    for (Directory state : kStateDirectories) {
      auto loaded = loadFrom(state, queue_id);
      if (loaded || loaded.error().code != "not_found") return loaded;
    }
    return notFound(queue_id);
  }

  // Reads and checks one file. Damage before the end of the commit is moved to corrupt/ (the
  // error says so); a torn appended record is cut off so later appends land after good records.
  Result<LoadedFile> loadFrom(Directory state, const std::string& name) {
    std::string path = fmt::format("{}/{}", directoryName(state), name);
    FileDescriptor file(openAt(directory(state), name, O_RDONLY));
    if (!file.valid()) {
      if (errno == ENOENT) return notFound(name);
      return ioError("open " + path, errno);
    }
    auto bytes = readWhole(file.get(), path);
    if (!bytes) return bytes.error();
    file.reset(-1);
    auto parsed = parseQueueFile(*bytes);
    std::string problem;
    if (!parsed) {
      problem = parsed.error().message;
    } else if (parsed->envelope.queue_id != name) {
      problem = fmt::format("its queue id record says \"{}\"", parsed->envelope.queue_id);
    }
    if (!problem.empty()) {
      auto moved = moveToCorrupt(state, name, problem);
      if (!moved) return moved.error();
      return makeError("corrupt",
                       fmt::format("{}: {}; moved to corrupt/{}", path, problem, *moved));
    }
    if (!parsed->tail_damage.empty()) {
      auto cut = cutTornTail(state, name, parsed->valid_size, bytes->size(), parsed->tail_damage);
      if (!cut) return cut.error();
    }
    return LoadedFile{std::move(*bytes), std::move(*parsed), state};
  }

  Result<void> cutTornTail(Directory state, const std::string& name, std::size_t valid_size,
                           std::size_t file_size, const std::string& damage) {
    std::string path = fmt::format("{}/{}", directoryName(state), name);
    log::warning(
        "queue: {}: {}; cutting {} trailing bytes (an interrupted append), the message "
        "stays queued",
        path, damage, file_size - valid_size);
    FileDescriptor file(openAt(directory(state), name, O_WRONLY));
    if (!file.valid()) return ioError("open " + path, errno);
    if (::ftruncate(file.get(), static_cast<off_t>(valid_size)) != 0) {
      return ioError("truncate " + path, errno);
    }
    if (int failure = syncDescriptor(file.get(), true); failure != 0) {
      return ioError("fdatasync " + path, failure);
    }
    return {};
  }

  // Returns the name used in corrupt/ (the queue id, with a suffix when already taken).
  Result<std::string> moveToCorrupt(Directory state, const std::string& name,
                                    std::string_view reason) {
    for (int attempt = 0; attempt < 1000; ++attempt) {
      std::string target = attempt == 0 ? name : fmt::format("{}.{}", name, attempt);
      int failure = renameNoReplace(directory(state), name, directory(Directory::corrupt), target);
      if (failure == EEXIST) continue;
      if (failure != 0) {
        return ioError(fmt::format("move {}/{} to corrupt/", directoryName(state), name), failure);
      }
      syncDescriptor(directory(Directory::corrupt), false);
      log::warning("queue: {}/{} is damaged ({}); moved to corrupt/{}", directoryName(state), name,
                   reason, target);
      return target;
    }
    return makeError("io", fmt::format("corrupt/ already holds 1000 copies of {}", name));
  }

  Result<std::vector<std::string>> listDirectory(Directory which) {
    std::vector<std::string> names;
    std::error_code error;
    std::filesystem::directory_iterator entries(root_ / directoryName(which), error);
    for (; !error && entries != std::filesystem::directory_iterator(); entries.increment(error)) {
      names.push_back(entries->path().filename().string());
    }
    if (error) {
      return makeError("io", fmt::format("list {}: {}", (root_ / directoryName(which)).string(),
                                         error.message()));
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  std::filesystem::path root_;
  std::array<FileDescriptor, 5> directories_;  // open for the spool's lifetime: *at() calls
};

}  // namespace

Result<std::unique_ptr<Spool>> openFileSpool(const std::filesystem::path& root) {
  std::error_code error;
  std::filesystem::create_directories(root, error);
  if (error) {
    return makeError("io", fmt::format("create spool {}: {}", root.string(), error.message()));
  }
  std::array<FileDescriptor, 5> directories;
  for (std::size_t index = 0; index < kDirectoryNames.size(); ++index) {
    std::filesystem::path path = root / kDirectoryNames[index];
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
      return ioError("create " + path.string(), errno);
    }
    directories[index].reset(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!directories[index].valid()) return ioError("open " + path.string(), errno);
  }
  // The state directories' own names must survive a crash before any message relies on them.
  FileDescriptor rootDirectory(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!rootDirectory.valid()) return ioError("open " + root.string(), errno);
  if (int failure = syncDescriptor(rootDirectory.get(), false); failure != 0) {
    return ioError("fsync " + root.string(), failure);
  }
  return std::unique_ptr<Spool>(new FileSpool(root, std::move(directories)));
}

}  // namespace bulwark::queue
