// DkimKeyring: the signing keys under data_dir/dkim/<domain>/<selector>.key (docs/dkim.md), re-read
// when a file or directory changes (checked at most once a second) so keys rotate without a
// restart. The files are operator data; a file others can read is refused, as ssh does.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <set>

#include "auth/dkim.h"
#include "common/log.h"
#include "common/strings.h"

namespace bulwark::auth {
namespace {

namespace fs = std::filesystem;

constexpr std::chrono::seconds kRecheckInterval{1};

struct KeyFile {
  std::string domain;
  std::string selector;
  fs::path path;
};

// Every key file with its change time and size, as one string: equal strings, nothing changed.
std::string scan(const fs::path& directory, std::vector<KeyFile>& files) {
  std::string fingerprint;
  std::error_code error;
  for (const fs::directory_entry& domain : fs::directory_iterator(directory, error)) {
    if (!domain.is_directory(error)) continue;
    for (const fs::directory_entry& entry : fs::directory_iterator(domain.path(), error)) {
      if (entry.path().extension() != ".key" || !entry.is_regular_file(error)) continue;
      auto changed = fs::last_write_time(entry.path(), error).time_since_epoch().count();
      auto size = entry.file_size(error);
      fingerprint += entry.path().string() + "\n" + std::to_string(changed) + "\n" +
                     std::to_string(size) + "\n";
      files.push_back({asciiLower(domain.path().filename().string()), entry.path().stem().string(),
                       entry.path()});
    }
  }
  return fingerprint;
}

}  // namespace

struct DkimKeyring::State {
  fs::path directory;
  std::mutex mutex;
  std::map<std::string, std::vector<DkimKey>> keys;  // by domain
  std::string fingerprint;
  bool loaded = false;
  std::chrono::steady_clock::time_point checked;
  std::set<std::string> reported;  // problems already logged

  void refresh() {
    auto now = std::chrono::steady_clock::now();
    if (loaded && now - checked < kRecheckInterval) return;
    checked = now;
    std::vector<KeyFile> files;
    std::string current = scan(directory, files);
    if (loaded && current == fingerprint) return;
    loaded = true;
    fingerprint = std::move(current);
    std::map<std::string, std::vector<DkimKey>> fresh;
    for (const KeyFile& file : files) {
      std::error_code error;
      auto permissions = fs::status(file.path, error).permissions();
      if (!error &&
          (permissions & (fs::perms::group_all | fs::perms::others_all)) != fs::perms::none) {
        report(file.path.string() + ": readable by others; skipped (chmod 600 it)");
        continue;
      }
      auto key = DkimKey::load(file.domain, file.selector, file.path);
      if (!key) {
        report(key.error().message + "; skipped");
        continue;
      }
      fresh[file.domain].push_back(std::move(*key));
    }
    for (auto& [domain, domain_keys] : fresh) {
      std::sort(domain_keys.begin(), domain_keys.end(),
                [](const DkimKey& left, const DkimKey& right) {
                  return left.selector() < right.selector();
                });
    }
    std::size_t count = 0;
    for (const auto& [domain, domain_keys] : fresh) count += domain_keys.size();
    log::info("dkim: {} signing key(s) for {} domain(s) from {}", count, fresh.size(),
              directory.string());
    keys = std::move(fresh);
  }

  void report(const std::string& problem) {
    if (reported.insert(problem).second) log::error("dkim: {}", problem);
  }
};

Result<std::filesystem::path> writeDkimKeyFile(const std::filesystem::path& directory,
                                               const DkimKey& key) {
  const fs::path domain_directory = directory / key.domain();
  std::error_code error;
  fs::create_directories(domain_directory, error);
  if (error) {
    return makeError("io", "cannot create " + domain_directory.string() + ": " + error.message());
  }
  fs::permissions(domain_directory, fs::perms::owner_all, error);
  if (error) return makeError("io", "cannot restrict " + domain_directory.string());
  const fs::path file = domain_directory / (key.selector() + ".key");
  auto pem = key.privateKeyPem();
  if (!pem) return pem.error();
  int descriptor = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (descriptor < 0) {
    if (errno == EEXIST) {
      return makeError("exists", file.string() +
                                     " already exists; a new key needs a new "
                                     "selector (see docs/dkim.md, rotation)");
    }
    return makeError("io", "cannot create " + file.string() + ": " + std::strerror(errno));
  }
  std::string_view rest = *pem;
  bool written = true;
  while (!rest.empty()) {
    ssize_t count = ::write(descriptor, rest.data(), rest.size());
    if (count < 0 && errno == EINTR) continue;
    if (count <= 0) {
      written = false;
      break;
    }
    rest.remove_prefix(static_cast<std::size_t>(count));
  }
  written = ::fsync(descriptor) == 0 && written;
  written = ::close(descriptor) == 0 && written;
  if (!written) {
    fs::remove(file, error);
    return makeError("io", "cannot write " + file.string());
  }
  return file;
}

DkimKeyring::DkimKeyring(std::filesystem::path directory) : state_(std::make_unique<State>()) {
  state_->directory = std::move(directory);
}

DkimKeyring::~DkimKeyring() = default;

std::vector<DkimKey> DkimKeyring::keysFor(std::string_view domain) {
  std::lock_guard lock(state_->mutex);
  state_->refresh();
  auto found = state_->keys.find(asciiLower(domain));
  return found == state_->keys.end() ? std::vector<DkimKey>{} : found->second;
}

std::string DkimKeyring::sign(std::string_view domain, std::string_view message,
                              const DkimSignOptions& options) {
  std::string fields;
  for (const DkimKey& key : keysFor(domain)) {
    auto field = signDkim(message, key, options);
    if (!field) {
      log::warning("dkim: not signed with {}._domainkey.{}: {}", key.selector(), key.domain(),
                   field.error().message);
      continue;
    }
    fields += *field;
  }
  return fields;
}

}  // namespace bulwark::auth
