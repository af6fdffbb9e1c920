// DkimKeyring: the signing keys under data_dir/dkim/<domain>/<selector>.key (docs/dkim.md), re-read
// when a file or directory changes (checked at most once a second) so keys rotate without a
// restart. The files are operator data; a file others can read is refused, as ssh does.
#include <algorithm>
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
