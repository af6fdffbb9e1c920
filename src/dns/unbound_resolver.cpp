// dns::Resolver over libunbound (DESIGN.md "Dependencies", "Traps"): a validating stub or
// recursive resolver in-process, with offline local records for tests and closed sites.
// RFC 1035 (messages; 3.5 reverse names for PTR), RFC 2308 (NXDOMAIN versus NODATA), RFC 4035
// (DNSSEC states), RFC 7505 (null MX). Answers come from the network and are untrusted: RDATA is
// decoded by rdata.cpp, which checks every length.
//
// Threads and time limits. libunbound's blocking ub_resolve() has no time limit: an upstream that
// never answers holds the caller for the library's whole retry schedule (measured: 12-17 s against
// a closed port). So every lookup goes through ub_resolve_async() on one context created with
// ub_ctx_async(ctx, 1) (a background resolver thread, never fork), and the calling thread waits on
// its own condition variable until the answer or its deadline (timeout_seconds). One dispatcher
// thread here waits on ub_fd() and runs ub_process(), which calls onAnswer() for whichever query
// finished. A lookup past its deadline is cancelled with ub_cancel() and answers `temporary`.
// Ownership of a pending query's state: the waiting thread, unless it gave up, in which case
// whichever of ub_cancel() (success: no callback will come) and onAnswer() ends it frees it;
// ub_cancel() and the callback are serialised by libunbound's own lock, so exactly one does.
//
// Sources of answers. `forwarders` are used as given ("addr" or "addr@port"); none means the
// servers of /etc/resolv.conf. /etc/hosts is not read on purpose: libunbound turns each hosts
// entry into local data, which would answer MX and TXT for those names with NODATA instead of
// asking DNS, and an MTA's routing must not depend on the local hosts file. Sites that need
// overrides give local_records.
//
// Local records. Each record's owner name becomes (unless a higher owner already covers it) a
// "static" local zone: the records given are the whole truth for that subtree, so a name below it
// that is not listed answers NXDOMAIN and a missing type NODATA, without any network. libunbound
// does not expand wildcards in local data ("*" is an ordinary label there): list each name.
// Local answers are never `secure`.
//
// DNSSEC. trust_anchor_file, else /usr/share/dns/root.key when present (Debian dns-root-data),
// else no validation. With an anchor, an upstream that strips signatures makes answers bogus:
// point forwarders at a validating or DNSSEC-transparent resolver.
//
// Zone files. Each becomes an unbound `auth-zone` (for-upstream, no fallback to the network), so
// its answers go through the validator like answers from the zone's own servers: a signed zone
// with its DS or DNSKEY as trust anchor is `secure`, a tampered or expired signature `bogus`
// (DESIGN.md "Traps"). Three details make that work offline: forwarders (configured ones, or
// those of /etc/resolv.conf) would otherwise take the query first, so the zone is also declared a
// stub zone without servers (the iterator then asks the auth-zone); a "transparent" local zone
// at its name lifts RFC 6761's built-in zones (`test.`, `invalid.`, ...) for that subtree only;
// and auth-zone and stub-zone exist only in unbound's configuration-file syntax, so that text is
// handed over through an in-memory file (memfd) read by ub_ctx_config().
#include "dns/rdata.h"
#include "dns/resolver.h"

#include "common/log.h"

#include "dns/zone_file.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <unbound.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <sstream>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>

namespace bulwark::dns {
namespace {

constexpr int typeA = 1;
constexpr int typePtr = 12;
constexpr int typeMx = 15;
constexpr int typeTxt = 16;
constexpr int typeAaaa = 28;
constexpr int typeTlsa = 52;
constexpr int classIn = 1;
constexpr int rcodeNxdomain = 3;

const char* const systemRootAnchor = "/usr/share/dns/root.key";

// One ub_result, decoded into the status every record type shares; `rdata` views stay valid
// while `result` lives.
struct RawAnswer {
  Status status = Status::temporary;
  bool secure = false;
  std::string reason;
  std::unique_ptr<ub_result, void (*)(ub_result*)> result{nullptr, ub_resolve_free};
};

const char* rcodeName(int rcode) {
  switch (rcode) {
    case 1: return "FORMERR";
    case 2: return "SERVFAIL";
    case 4: return "NOTIMP";
    case 5: return "REFUSED";
    default: return "error";
  }
}

// Maps libunbound's flags to a Status. Order matters: a bogus answer can carry rcode 0 and data
// (DESIGN.md "Traps"), so `bogus` is checked before anything else is believed.
void classify(RawAnswer& answer) {
  const ub_result& result = *answer.result;
  answer.secure = result.secure != 0;
  if (result.bogus) {
    answer.status = Status::bogus;
    answer.secure = false;
    answer.reason = result.why_bogus != nullptr ? result.why_bogus : "DNSSEC validation failed";
  } else if (result.rcode == rcodeNxdomain || result.nxdomain) {
    answer.status = Status::nxdomain;
    answer.reason = "the name does not exist (NXDOMAIN)";
  } else if (result.rcode != 0) {
    answer.status = Status::temporary;
    answer.reason = std::string("DNS lookup failed: ") + rcodeName(result.rcode) + " (rcode " +
                    std::to_string(result.rcode) + ")";
  } else if (!result.havedata || result.data == nullptr || result.data[0] == nullptr) {
    answer.status = Status::nodata;
    answer.reason = "no records of this type (NODATA)";
  } else {
    answer.status = Status::ok;
  }
}

// Calls `decode` for each RDATA of an ok answer; records that fail to decode are dropped, and if
// none is left the answer is `temporary`: a broken answer says nothing about absence.
template <class Record, class Decode>
Answer<Record> decodeRecords(RawAnswer& raw, const char* typeName, Decode decode) {
  Answer<Record> answer;
  answer.status = raw.status;
  answer.secure = raw.secure;
  answer.reason = std::move(raw.reason);
  if (raw.status != Status::ok) return answer;
  std::size_t malformed = 0;
  const ub_result& result = *raw.result;
  for (std::size_t index = 0; result.data[index] != nullptr; ++index) {
    if (result.len[index] < 0) {
      ++malformed;
      continue;
    }
    const std::span<const std::uint8_t> rdata(
        reinterpret_cast<const std::uint8_t*>(result.data[index]),
        static_cast<std::size_t>(result.len[index]));
    auto record = decode(rdata);
    if (record) {
      answer.records.push_back(std::move(*record));
    } else {
      ++malformed;
    }
  }
  if (answer.records.empty()) {
    answer.status = Status::temporary;
    answer.secure = false;
    answer.reason = std::string("every ") + typeName + " record in the answer was malformed";
  } else if (malformed > 0) {
    log::warning("dns: {} malformed {} record(s) for {} ignored", malformed, typeName,
                 result.qname != nullptr ? result.qname : "?");
  }
  return answer;
}

class UnboundResolver final : public Resolver {
 public:
  UnboundResolver(ub_ctx* context, unsigned timeoutSeconds)
      : context_(context), timeout_(std::chrono::seconds(std::max(1u, timeoutSeconds))) {}
  UnboundResolver(const UnboundResolver&) = delete;
  UnboundResolver& operator=(const UnboundResolver&) = delete;

  ~UnboundResolver() override {
    if (dispatcher_.joinable()) {
      const char stop = 's';
      while (::write(wakeWrite_, &stop, 1) < 0 && errno == EINTR) {
      }
      dispatcher_.join();
    }
    // Stops libunbound's worker thread and drops its outstanding queries without callbacks;
    // after this nothing refers to pending_.
    ub_ctx_delete(context_);
    for (auto& entry : pending_) {
      if (entry.second->result != nullptr) ub_resolve_free(entry.second->result);
    }
    if (wakeRead_ >= 0) ::close(wakeRead_);
    if (wakeWrite_ >= 0) ::close(wakeWrite_);
  }

  Result<void> start() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      return makeError("io", std::string("cannot create the resolver's wake-up pipe: ") +
                                 std::strerror(errno));
    }
    wakeRead_ = fds[0];
    wakeWrite_ = fds[1];
    const int answerFd = ub_fd(context_);
    if (answerFd < 0) return makeError("dns", "libunbound gave no file descriptor (ub_fd)");
    dispatcher_ = std::thread([this, answerFd] { dispatch(answerFd); });
    // The first asynchronous query finalises the configuration and starts libunbound's worker
    // thread; do it here, on one thread, so configuration errors surface at start-up and the
    // start never races between delivery threads. localhost is answered from a built-in zone.
    std::string name = "localhost";
    RawAnswer check;
    lookup(name, {typeA}, &check);
    if (check.status != Status::ok) {
      return makeError("dns", "the resolver failed its start-up lookup of localhost: " +
                                  check.reason);
    }
    return {};
  }

  Answer<MxRecord> mx(std::string_view domain) override {
    auto name = normaliseName(domain);
    if (!name) return invalidName<MxRecord>(domain);
    RawAnswer raw;
    lookup(*name, {typeMx}, &raw);
    return decodeRecords<MxRecord>(raw, "MX", parseMxRdata);
  }

  Answer<std::string> addresses(std::string_view host) override {
    auto name = normaliseName(host);
    if (!name) return invalidName<std::string>(host);
    RawAnswer raw[2];
    lookup(*name, {typeA, typeAaaa}, raw);
    auto v4 = decodeRecords<std::string>(raw[0], "A", parseAddressRdata);
    auto v6 = decodeRecords<std::string>(raw[1], "AAAA", parseAddressRdata);
    return combineAddresses(std::move(v4), std::move(v6));
  }

  Answer<std::string> addresses(std::string_view host, AddressFamily family) override {
    auto name = normaliseName(host);
    if (!name) return invalidName<std::string>(host);
    const bool ipv4 = family == AddressFamily::ipv4;
    RawAnswer raw;
    lookup(*name, {ipv4 ? typeA : typeAaaa}, &raw);
    return decodeRecords<std::string>(raw, ipv4 ? "A" : "AAAA", parseAddressRdata);
  }

  Answer<std::string> ptr(std::string_view address) override {
    auto name = reverseName(address);
    if (!name) return invalidName<std::string>(address);
    RawAnswer raw;
    lookup(*name, {typePtr}, &raw);
    return decodeRecords<std::string>(raw, "PTR", parsePtrRdata);
  }

  Answer<std::string> txt(std::string_view name) override {
    auto normal = normaliseName(name);
    if (!normal) return invalidName<std::string>(name);
    RawAnswer raw;
    lookup(*normal, {typeTxt}, &raw);
    return decodeRecords<std::string>(raw, "TXT", parseTxtRdata);
  }

  Answer<TlsaRecord> tlsa(std::string_view name) override {
    // "_25._tcp.mx.example.com": the underscore labels pass normaliseName (any printable byte).
    auto normal = normaliseName(name);
    if (!normal) return invalidName<TlsaRecord>(name);
    RawAnswer raw;
    lookup(*normal, {typeTlsa}, &raw);
    return decodeRecords<TlsaRecord>(raw, "TLSA", parseTlsaRdata);
  }

 private:
  // One query in flight. Guarded by mutex_.
  struct Pending {
    UnboundResolver* resolver = nullptr;
    std::condition_variable answered;
    bool done = false;
    bool abandoned = false;  // the waiter gave up; whoever finishes the query frees this
    int error = 0;
    ub_result* result = nullptr;
    int asyncId = 0;
  };

  template <class Record>
  static Answer<Record> invalidName(std::string_view name) {
    Answer<Record> answer;
    // Permanent: no retry can make a syntactically impossible name resolve.
    answer.status = Status::nxdomain;
    answer.reason = "not a valid domain name: \"" + std::string(name.substr(0, 300)) + "\"";
    return answer;
  }

  // A and AAAA into one answer: records if either has some (IPv4 first); bogus wins over data,
  // because a failed validation of one type means someone is tampering with this name.
  static Answer<std::string> combineAddresses(Answer<std::string> v4, Answer<std::string> v6) {
    Answer<std::string> answer;
    answer.secure = v4.secure && v6.secure;
    if (v4.status == Status::bogus || v6.status == Status::bogus) {
      answer.status = Status::bogus;
      answer.secure = false;
      answer.reason = v4.status == Status::bogus ? v4.reason : v6.reason;
      return answer;
    }
    if (v4.status == Status::ok || v6.status == Status::ok) {
      answer.status = Status::ok;
      // Secure only if both halves are: the caller cannot tell which address came from where.
      for (auto& address : v4.records) answer.records.push_back(std::move(address));
      for (auto& address : v6.records) answer.records.push_back(std::move(address));
      return answer;
    }
    if (v4.status == Status::temporary || v6.status == Status::temporary) {
      answer.status = Status::temporary;
      answer.reason = v4.status == Status::temporary ? v4.reason : v6.reason;
      return answer;
    }
    if (v4.status == Status::nxdomain || v6.status == Status::nxdomain) {
      answer.status = Status::nxdomain;
      answer.reason = v4.status == Status::nxdomain ? v4.reason : v6.reason;
      return answer;
    }
    answer.status = Status::nodata;
    answer.reason = "no A or AAAA records (NODATA)";
    return answer;
  }

  // Asks for each type of `name` at once and waits for all of them up to one deadline.
  // answers[i] receives the outcome for types[i].
  void lookup(const std::string& name, std::initializer_list<int> types, RawAnswer* answers) {
    const auto deadline = std::chrono::steady_clock::now() + timeout_;
    std::vector<Pending*> queries;
    {
      std::lock_guard lock(mutex_);
      for (std::size_t index = 0; index < types.size(); ++index) {
        auto pending = std::make_unique<Pending>();
        pending->resolver = this;
        queries.push_back(pending.get());
        pending_.emplace(pending.get(), std::move(pending));
      }
    }
    std::size_t index = 0;
    for (const int type : types) {
      Pending* pending = queries[index];
      int asyncId = 0;
      // Not under mutex_: ub_process() holds libunbound's locks while onAnswer() takes mutex_.
      const int error = ub_resolve_async(context_, name.c_str(), type, classIn, pending,
                                         &UnboundResolver::onAnswer, &asyncId);
      std::lock_guard lock(mutex_);
      if (error != 0) {
        pending->done = true;
        pending->error = error;
      } else {
        pending->asyncId = asyncId;
      }
      ++index;
    }
    for (index = 0; index < queries.size(); ++index) {
      finish(queries[index], deadline, answers[index]);
    }
  }

  // Waits for one query and moves its outcome into `answer`.
  void finish(Pending* pending, std::chrono::steady_clock::time_point deadline,
              RawAnswer& answer) {
    std::unique_lock lock(mutex_);
    if (!pending->answered.wait_until(lock, deadline, [pending] { return pending->done; })) {
      pending->abandoned = true;
      const int asyncId = pending->asyncId;
      lock.unlock();
      // Success means libunbound will never call back for it, so it is ours to free; failure
      // means the answer is being delivered right now and onAnswer() frees it.
      if (ub_cancel(context_, asyncId) == 0) {
        lock.lock();
        pending_.erase(pending);
      }
      answer.status = Status::temporary;
      answer.reason = "no DNS answer within " + std::to_string(timeout_.count()) + " seconds";
      return;
    }
    const int error = pending->error;
    answer.result.reset(pending->result);
    pending_.erase(pending);
    lock.unlock();
    if (error != 0 || answer.result == nullptr) {
      answer.result.reset();
      answer.status = Status::temporary;
      answer.reason = std::string("DNS lookup failed: ") + ub_strerror(error);
      return;
    }
    classify(answer);
  }

  // libunbound's callback, on the dispatcher thread inside ub_process().
  static void onAnswer(void* data, int error, ub_result* result) {
    auto* pending = static_cast<Pending*>(data);
    UnboundResolver& self = *pending->resolver;
    std::lock_guard lock(self.mutex_);
    if (pending->abandoned) {
      if (result != nullptr) ub_resolve_free(result);
      self.pending_.erase(pending);
      return;
    }
    pending->error = error;
    pending->result = result;
    pending->done = true;
    pending->answered.notify_one();
  }

  void dispatch(int answerFd) {
    pollfd fds[2] = {{answerFd, POLLIN, 0}, {wakeRead_, POLLIN, 0}};
    while (true) {
      const int ready = ::poll(fds, 2, -1);
      if (ready < 0) {
        if (errno == EINTR) continue;
        log::error("dns: poll on the resolver failed: {}", std::strerror(errno));
        return;
      }
      if (fds[1].revents != 0) return;
      if ((fds[0].revents & POLLIN) != 0) {
        const int error = ub_process(context_);
        if (error != 0) log::warning("dns: ub_process: {}", ub_strerror(error));
      } else if (fds[0].revents != 0) {
        // The pipe to libunbound's worker broke: every lookup from now on times out (temporary).
        log::error("dns: the libunbound worker is gone; lookups will fail");
        return;
      }
    }
  }

  ub_ctx* context_;
  std::chrono::seconds timeout_;
  std::thread dispatcher_;
  int wakeRead_ = -1;
  int wakeWrite_ = -1;
  std::mutex mutex_;
  std::unordered_map<Pending*, std::unique_ptr<Pending>> pending_;
};

// The zone a local record's owner name belongs to, as libunbound expects it (trailing dot).
std::optional<std::string> ownerZone(std::string_view record) {
  if (record.empty() || record.front() == ' ' || record.front() == '\t') return std::nullopt;
  const std::string_view owner = record.substr(0, record.find_first_of(" \t"));
  auto name = normaliseName(owner);
  if (!name) return std::nullopt;
  return *name + ".";
}

bool isWithin(const std::string& name, const std::string& zone) {
  return name == zone || (name.size() > zone.size() && name.ends_with(zone) &&
                          name[name.size() - zone.size() - 1] == '.');
}

// A path as a quoted string of unbound's configuration syntax, which has no escapes.
bool quotable(const std::string& text) {
  return std::none_of(text.begin(), text.end(), [](char character) {
    return character == '"' || static_cast<unsigned char>(character) < 0x20;
  });
}

// The auth-zone, stub-zone and local-zone clauses for the zone files (see the file comment), read
// by libunbound from an in-memory file so that nothing is left on disk.
Result<void> configureZoneFiles(ub_ctx* context, const ResolverOptions& options) {
  if (options.zone_files.empty()) return {};
  std::string server;
  std::string zones;
  for (const auto& file : options.zone_files) {
    std::error_code error;
    const std::filesystem::path path = std::filesystem::absolute(file, error);
    const std::string text = path.string();
    if (error || !quotable(text)) {
      return makeError("config", "DNS zone file " + file.string() +
                                     ": the path must not contain quotes or control characters");
    }
    std::ifstream stream(path, std::ios::binary);
    if (!stream.is_open()) {
      return makeError("config", "cannot open the DNS zone file " + text + ": " +
                                     std::strerror(errno));
    }
    std::ostringstream content;
    content << stream.rdbuf();
    auto apex = zoneFileApex(content.str());
    if (!apex) {
      return makeError("config", "the DNS zone file " + text +
                                     " has no SOA record to name its zone (it must come first, "
                                     "before any $INCLUDE, with an absolute owner or $ORIGIN)");
    }
    server += "  local-zone: \"" + *apex + ".\" transparent\n";
    zones += "stub-zone:\n  name: \"" + *apex + ".\"\n";
    zones += "auth-zone:\n  name: \"" + *apex + ".\"\n  zonefile: \"" + text +
             "\"\n  for-upstream: yes\n  for-downstream: no\n  fallback-enabled: no\n";
  }
  const std::string configuration = "server:\n" + server + zones;
  const int descriptor = ::memfd_create("bulwark-unbound-zones", MFD_CLOEXEC);
  if (descriptor < 0) {
    return makeError("io", std::string("cannot create the resolver's zone configuration: ") +
                               std::strerror(errno));
  }
  std::size_t written = 0;
  while (written < configuration.size()) {
    const ssize_t count =
        ::write(descriptor, configuration.data() + written, configuration.size() - written);
    if (count < 0 && errno == EINTR) continue;
    if (count <= 0) {
      ::close(descriptor);
      return makeError("io", std::string("cannot write the resolver's zone configuration: ") +
                                 std::strerror(errno));
    }
    written += static_cast<std::size_t>(count);
  }
  const std::string name = "/proc/self/fd/" + std::to_string(descriptor);
  const int error = ub_ctx_config(context, name.c_str());
  ::close(descriptor);
  if (error != 0) {
    return makeError("config", std::string("libunbound refused the zone files ") +
                                   "(its message is on standard error): " + ub_strerror(error));
  }
  return {};
}

Result<void> configure(ub_ctx* context, const ResolverOptions& options) {
  auto fail = [](std::string what, int error) {
    return makeError("config", what + ": " + ub_strerror(error));
  };
  // Before anything else: the setting has no effect once a query ran (unbound.h).
  if (int error = ub_ctx_async(context, 1); error != 0) {
    return fail("libunbound cannot resolve on a thread", error);
  }
  if (options.forwarders.empty()) {
    if (int error = ub_ctx_resolvconf(context, nullptr); error != 0) {
      return fail("cannot read the name servers of /etc/resolv.conf", error);
    }
  }
  for (const auto& forwarder : options.forwarders) {
    if (int error = ub_ctx_set_fwd(context, forwarder.c_str()); error != 0) {
      return fail("DNS forwarder \"" + forwarder + "\" (expected address or address@port)",
                  error);
    }
  }
  std::string anchor = options.trust_anchor_file.string();
  if (anchor.empty() && ::access(systemRootAnchor, R_OK) == 0) anchor = systemRootAnchor;
  if (!anchor.empty()) {
    if (int error = ub_ctx_add_ta_file(context, anchor.c_str()); error != 0) {
      return fail("DNSSEC trust anchor file " + anchor, error);
    }
  }

  // Before the local records: ub_ctx_data_add() finalises the configuration.
  if (auto zones = configureZoneFiles(context, options); !zones) return zones.error();

  // Zones first, shortest owners first, so each record lands in the highest zone covering it.
  std::vector<std::string> zones;
  for (const auto& record : options.local_records) {
    auto zone = ownerZone(record);
    if (!zone) {
      return makeError("config", "local DNS record \"" + record +
                                     "\" must start with a valid owner name");
    }
    zones.push_back(std::move(*zone));
  }
  auto labels = [](const std::string& name) { return std::count(name.begin(), name.end(), '.'); };
  std::sort(zones.begin(), zones.end(), [&](const std::string& left, const std::string& right) {
    return labels(left) != labels(right) ? labels(left) < labels(right) : left < right;
  });
  std::vector<std::string> declared;
  for (const auto& zone : zones) {
    const bool covered = std::any_of(declared.begin(), declared.end(),
                                     [&](const std::string& top) { return isWithin(zone, top); });
    if (covered) continue;
    if (int error = ub_ctx_zone_add(context, zone.c_str(), "static"); error != 0) {
      return fail("local DNS zone " + zone, error);
    }
    declared.push_back(zone);
  }
  for (const auto& record : options.local_records) {
    if (int error = ub_ctx_data_add(context, record.c_str()); error != 0) {
      return fail("local DNS record \"" + record + "\"", error);
    }
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<Resolver>> openUnboundResolver(const ResolverOptions& options) {
  ub_ctx* context = ub_ctx_create();
  if (context == nullptr) return makeError("dns", "libunbound could not create a context");
  if (auto configured = configure(context, options); !configured) {
    ub_ctx_delete(context);
    return configured.error();
  }

  auto resolver = std::make_unique<UnboundResolver>(context, options.timeout_seconds);
  if (auto started = resolver->start(); !started) return started.error();
  return std::unique_ptr<Resolver>(std::move(resolver));
}

}  // namespace bulwark::dns
