// DKIM speed (bench/dkim.sh): signatures and verifications per CPU second on one thread
// for Bulwark (src/auth/dkim.h) and OpenDKIM (libopendkim, through tests/support/opendkim_peer.h),
// RSA and Ed25519, each message given. Both verify against key records held in memory (Bulwark
// through a FakeResolver, OpenDKIM through its key lookup callback), so no DNS time is counted.
// Every signature made and every verification is checked: a failed one stops the run.
// Inputs are the benchmark's own files.
#include "auth/dkim.h"
#include "support/fake_resolver.h"
#include "support/opendkim_peer.h"

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

namespace {

std::string readFile(const std::string& path) {
  std::ifstream input(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(input), std::istreambuf_iterator<char>());
}

// CPU seconds this process has used: the divisor, as in `openssl speed` (user CPU time unless
// -elapsed), so that other load on a shared machine does not count against anyone.
double cpuSeconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

// Runs `operation` for about `seconds` of CPU time (at least 3 times) and returns operations per
// CPU second; 0 when an operation reported failure. The clock is read once per batch of about a
// millisecond of operations, not after each: reading it is a system call (around a microsecond
// here), which would otherwise count against the fastest operations and not against `openssl
// speed`, which reads no clock per operation.
double rate(double seconds, const std::function<bool()>& operation) {
  double start = cpuSeconds();
  std::size_t count = 0;
  std::size_t batch = 1;
  double now = start;
  do {
    for (std::size_t index = 0; index < batch; ++index) {
      if (!operation()) return 0;
    }
    count += batch;
    now = cpuSeconds();
    const double per_operation = (now - start) / static_cast<double>(count);
    batch = per_operation > 0 ? std::clamp<std::size_t>(
                                    static_cast<std::size_t>(0.001 / per_operation), 1, 1000)
                              : 1;
  } while (now - start < seconds || count < 3);
  return static_cast<double>(count) / (now - start);
}

// "sign", "verify" or empty for both: one operation alone, for a profiler (perf record).
std::string only_operation;

bool measured(const char* operation) {
  return only_operation.empty() || only_operation == operation;
}

struct KeyFile {
  std::string algorithm;  // "rsa-sha256" or "ed25519-sha256"
  std::string path;
};

int usage() {
  std::cerr << "usage: dkim_bench --rsa-key FILE --ed25519-key FILE --message FILE... "
               "[--seconds S] [--only bulwark|opendkim] [--operation sign|verify]\n"
               "prints: implementation algorithm message-bytes sign|verify operations-per-second\n";
  return 2;
}

void report(const std::string& implementation, const std::string& algorithm, std::size_t size,
            const char* operation, double per_second) {
  std::printf("%s %s %zu %s %.1f\n", implementation.c_str(), algorithm.c_str(), size, operation,
              per_second);
  std::fflush(stdout);
}

bool benchBulwark(const std::vector<KeyFile>& keys, const std::vector<std::string>& messages,
                  double seconds) {
  bulwark::testing::FakeResolver resolver;
  for (const KeyFile& key_file : keys) {
    std::string selector = key_file.algorithm == "rsa-sha256" ? "rsa" : "ed";
    auto key = bulwark::auth::DkimKey::load("bench.example", selector, key_file.path);
    if (!key) {
      std::cerr << "bulwark: " << key.error().message << "\n";
      return false;
    }
    resolver.txt_records[selector + "._domainkey.bench.example"] = {key->dnsRecord()};
    bulwark::auth::DkimSignOptions options;
    for (const std::string& message : messages) {
      std::string signed_message;
      double signing = rate(measured("sign") ? seconds : 0, [&] {
        auto field = bulwark::auth::signDkim(message, *key, options);
        if (!field) {
          std::cerr << "bulwark sign: " << field.error().message << "\n";
          return false;
        }
        if (signed_message.empty()) signed_message = *field + message;
        return true;
      });
      if (signing == 0) return false;
      if (measured("sign")) report("bulwark", key_file.algorithm, message.size(), "sign", signing);
      if (!measured("verify")) continue;
      double verifying = rate(seconds, [&] {
        auto results = bulwark::auth::verifyDkim(resolver, signed_message);
        if (results.size() != 1 || results[0].result != bulwark::auth::DkimResult::pass) {
          std::cerr << "bulwark verify: "
                    << (results.empty() ? "no signature" : results[0].reason) << "\n";
          return false;
        }
        return true;
      });
      if (verifying == 0) return false;
      report("bulwark", key_file.algorithm, message.size(), "verify", verifying);
    }
  }
  return true;
}

bool benchOpenDkim(const std::vector<KeyFile>& keys, const std::vector<std::string>& messages,
                   double seconds, const std::string& ed25519_record,
                   const std::string& rsa_record) {
  bulwark::testing::OpenDkimPeer peer;
  if (!peer.ready()) {
    std::cerr << "opendkim: dkim_init failed\n";
    return false;
  }
  peer.records["rsa._domainkey.bench.example"] = rsa_record;
  peer.records["ed._domainkey.bench.example"] = ed25519_record;
  for (const KeyFile& key_file : keys) {
    bool rsa = key_file.algorithm == "rsa-sha256";
    std::string selector = rsa ? "rsa" : "ed";
    std::string pem = readFile(key_file.path);
    auto algorithm = rsa ? bulwark::testing::OpenDkimPeer::Algorithm::rsa_sha256
                         : bulwark::testing::OpenDkimPeer::Algorithm::ed25519_sha256;
    for (const std::string& message : messages) {
      std::string signed_message;
      std::string error;
      double signing = rate(measured("sign") ? seconds : 0, [&] {
        auto field = peer.sign(message, pem, "bench.example", selector, algorithm, true, true,
                               error);
        if (!field) {
          std::cerr << "opendkim sign: " << error << "\n";
          return false;
        }
        if (signed_message.empty()) signed_message = *field + message;
        return true;
      });
      if (signing == 0) return false;
      if (measured("sign")) report("opendkim", key_file.algorithm, message.size(), "sign", signing);
      if (!measured("verify")) continue;
      double verifying = rate(seconds, [&] {
        auto verdicts = peer.verify(signed_message, error);
        if (verdicts.size() != 1 || !verdicts[0].passed) {
          std::cerr << "opendkim verify: "
                    << (verdicts.empty() ? error : verdicts[0].reason) << "\n";
          return false;
        }
        return true;
      });
      if (verifying == 0) return false;
      report("opendkim", key_file.algorithm, message.size(), "verify", verifying);
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<KeyFile> keys;
  std::vector<std::string> messages;
  double seconds = 3;
  std::string only;
  for (int index = 1; index + 1 < argc; index += 2) {
    std::string option = argv[index];
    std::string value = argv[index + 1];
    if (option == "--rsa-key") {
      keys.push_back({"rsa-sha256", value});
    } else if (option == "--ed25519-key") {
      keys.push_back({"ed25519-sha256", value});
    } else if (option == "--message") {
      messages.push_back(readFile(value));
      if (messages.back().empty()) {
        std::cerr << "cannot read " << value << "\n";
        return 1;
      }
    } else if (option == "--seconds") {
      seconds = std::stod(value);
    } else if (option == "--only") {
      only = value;
    } else if (option == "--operation") {
      only_operation = value;
    } else {
      return usage();
    }
  }
  if (argc % 2 == 0 || keys.empty() || messages.empty()) return usage();

  // OpenDKIM verifies against the same records Bulwark publishes for these keys.
  std::string rsa_record, ed25519_record;
  for (const KeyFile& key_file : keys) {
    bool rsa = key_file.algorithm == "rsa-sha256";
    auto key = bulwark::auth::DkimKey::load("bench.example", rsa ? "rsa" : "ed", key_file.path);
    if (!key) {
      std::cerr << key_file.path << ": " << key.error().message << "\n";
      return 1;
    }
    (rsa ? rsa_record : ed25519_record) = key->dnsRecord();
  }
  if (only.empty() || only == "bulwark")
    if (!benchBulwark(keys, messages, seconds)) return 1;
  if (only.empty() || only == "opendkim")
    if (!benchOpenDkim(keys, messages, seconds, ed25519_record, rsa_record)) return 1;
  return 0;
}
