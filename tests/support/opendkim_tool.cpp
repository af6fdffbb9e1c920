// OpenDKIM on the command line for the DKIM interop test (tests/interop/dkim_test.py), because
// Debian 12's opendkim-testmsg signs only rsa-sha1 relaxed/simple: libopendkim through
// opendkim_peer.h, with I/O only.
//   opendkim_tool sign --key FILE --domain D --selector S [--algorithm rsa-sha256|ed25519-sha256]
//                      [--canonicalization relaxed/simple] < message   (prints the signed message)
//   opendkim_tool verify --records FILE < message   (one line per signature:
//                      "pass|fail domain selector reason"; records: "name TAB text" lines)
// Test-only: the inputs are the test's own files.
#include "support/opendkim_peer.h"

#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <string>

namespace {

std::string readAll(std::istream& input) {
  return std::string(std::istreambuf_iterator<char>(input), std::istreambuf_iterator<char>());
}

int usage() {
  std::cerr << "usage: opendkim_tool sign --key FILE --domain D --selector S "
               "[--algorithm rsa-sha256|ed25519-sha256] [--canonicalization H/B] < message\n"
               "       opendkim_tool verify --records FILE < message\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || (argc - 2) % 2 != 0) return usage();
  std::string command = argv[1];
  std::map<std::string, std::string> options;
  for (int index = 2; index + 1 < argc; index += 2) options[argv[index]] = argv[index + 1];

  bulwark::testing::OpenDkimPeer peer;
  if (!peer.ready()) {
    std::cerr << "dkim_init failed\n";
    return 1;
  }
  std::string message = readAll(std::cin);
  std::string error;

  if (command == "sign") {
    if (!options.count("--key") || !options.count("--domain") || !options.count("--selector"))
      return usage();
    std::ifstream key_file(options["--key"], std::ios::binary);
    if (!key_file) {
      std::cerr << "cannot read " << options["--key"] << "\n";
      return 1;
    }
    std::string key = readAll(key_file);
    std::string algorithm_name =
        options.count("--algorithm") ? options["--algorithm"] : "rsa-sha256";
    std::string canonicalization =
        options.count("--canonicalization") ? options["--canonicalization"] : "relaxed/relaxed";
    if (algorithm_name != "rsa-sha256" && algorithm_name != "ed25519-sha256") return usage();
    auto slash = canonicalization.find('/');
    if (slash == std::string::npos) return usage();
    std::string header = canonicalization.substr(0, slash);
    std::string body = canonicalization.substr(slash + 1);
    for (const std::string& part : {header, body})
      if (part != "simple" && part != "relaxed") return usage();
    auto algorithm = algorithm_name == "rsa-sha256"
                         ? bulwark::testing::OpenDkimPeer::Algorithm::rsa_sha256
                         : bulwark::testing::OpenDkimPeer::Algorithm::ed25519_sha256;
    auto field = peer.sign(message, key, options["--domain"], options["--selector"], algorithm,
                           header == "relaxed", body == "relaxed", error);
    if (!field) {
      std::cerr << "opendkim sign: " << error << "\n";
      return 1;
    }
    std::cout << *field << message;
    return 0;
  }

  if (command == "verify") {
    if (!options.count("--records")) return usage();
    std::ifstream records(options["--records"]);
    if (!records) {
      std::cerr << "cannot read " << options["--records"] << "\n";
      return 1;
    }
    std::string line;
    while (std::getline(records, line)) {
      auto tab = line.find('\t');
      if (tab != std::string::npos) peer.records[line.substr(0, tab)] = line.substr(tab + 1);
    }
    auto verdicts = peer.verify(message, error);
    if (!error.empty()) {
      std::cerr << "opendkim verify: " << error << "\n";
      return 1;
    }
    for (const auto& verdict : verdicts)
      std::cout << (verdict.passed ? "pass" : "fail") << ' ' << verdict.domain << ' '
                << verdict.selector << ' ' << verdict.reason << "\n";
    return 0;
  }
  return usage();
}
