// Test-only command line over auth::validateArc / auth::sealArc (RFC 8617), so that interop tests
// can hand Bulwark's ARC the messages an independent implementation (dkimpy) made, and the
// reverse. DNS comes from a file of "<name> <TXT value>" lines instead of the network. Inputs are
// test files; nothing here runs in the server.
//
//   arc_tool verify MESSAGE RECORDS
//       prints "cv=<none|pass|fail> instances=N oldest_pass=N reason=<text>"
//   arc_tool seal MESSAGE RECORDS KEY.pem DOMAIN SELECTOR AUTHSERV_ID RESULTS
//       validates the chain, then prints the message with the new ARC set prepended
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>

#include "auth/arc.h"
#include "support/fake_resolver.h"

namespace {

std::string readFile(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << "arc_tool: cannot read " << path << "\n";
    std::exit(2);
  }
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void loadRecords(const char* path, bulwark::testing::FakeResolver& resolver) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::size_t space = line.find(' ');
    if (line.empty() || line.front() == '#' || space == std::string::npos) continue;
    resolver.txt_records[line.substr(0, space)].push_back(line.substr(space + 1));
  }
}

int usage() {
  std::cerr << "usage: arc_tool verify MESSAGE RECORDS\n"
               "       arc_tool seal MESSAGE RECORDS KEY.pem DOMAIN SELECTOR AUTHSERV_ID "
               "RESULTS\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace bulwark::auth;
  if (argc < 4) return usage();
  const std::string command = argv[1];
  const std::string message = readFile(argv[2]);
  bulwark::testing::FakeResolver resolver;
  loadRecords(argv[3], resolver);
  const ArcValidation validation = validateArc(resolver, message);
  if (command == "verify" && argc == 4) {
    std::cout << "cv=" << arcResultName(validation.result) << " instances=" << validation.instances
              << " oldest_pass=" << validation.oldest_pass << " reason=" << validation.reason
              << "\n";
    return 0;
  }
  if (command != "seal" || argc != 9) return usage();
  auto key = DkimKey::fromPem(argv[5], argv[6], readFile(argv[4]));
  if (!key) {
    std::cerr << "arc_tool: key: " << key.error().message << "\n";
    return 1;
  }
  ArcSealOptions options;
  options.authserv_id = argv[7];
  options.authentication_results = argv[8];
  auto sealed = sealArc(message, validation, *key, options);
  if (!sealed) {
    std::cerr << "arc_tool: " << sealed.error().message << "\n";
    return 1;
  }
  std::cout << *sealed << message;
  return 0;
}
