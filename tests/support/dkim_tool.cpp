// Bulwark's DKIM (src/auth/dkim.h) on the command line, for the interop test
// (tests/interop/dkim_test.py) that hands messages to and from dkimpy and OpenDKIM. I/O only: every
// decision is the library's.
//   dkim_tool sign --key FILE --domain D --selector S [--canonicalization relaxed/simple] < message
//       prints the message with the DKIM-Signature field prepended
//   dkim_tool record --key FILE --domain D --selector S
//       prints the TXT record to publish for the key (DkimKey::dnsRecord)
//   dkim_tool verify --records FILE < message
//       one line per signature, "result domain selector reason"; FILE holds "name TAB text" lines,
//       answered through a FakeResolver (names absent from it are NXDOMAIN)
// Test-only: the inputs are the test's own files.
#include "auth/dkim.h"
#include "auth/dkim_syntax.h"
#include "support/fake_resolver.h"

#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <string>
#include <tuple>

namespace {

std::string readAll(std::istream& input) {
  return std::string(std::istreambuf_iterator<char>(input), std::istreambuf_iterator<char>());
}

int usage() {
  std::cerr << "usage: dkim_tool sign --key FILE --domain D --selector S "
               "[--canonicalization H/B] < message\n"
               "       dkim_tool record --key FILE --domain D --selector S\n"
               "       dkim_tool verify --records FILE < message\n";
  return 2;
}

bulwark::Result<bulwark::auth::DkimKey> loadKey(std::map<std::string, std::string>& options) {
  return bulwark::auth::DkimKey::load(options["--domain"], options["--selector"],
                                      options["--key"]);
}

bool hasKeyOptions(const std::map<std::string, std::string>& options) {
  return options.count("--key") && options.count("--domain") && options.count("--selector");
}

int record(std::map<std::string, std::string>& options) {
  if (!hasKeyOptions(options)) return usage();
  auto key = loadKey(options);
  if (!key) {
    std::cerr << "dkim_tool: " << key.error().message << "\n";
    return 1;
  }
  std::cout << key->dnsRecord() << "\n";
  return 0;
}

int sign(std::map<std::string, std::string>& options, const std::string& message) {
  if (!hasKeyOptions(options)) return usage();
  auto key = loadKey(options);
  if (!key) {
    std::cerr << "dkim_tool: " << key.error().message << "\n";
    return 1;
  }
  bulwark::auth::DkimSignOptions sign_options;
  if (options.count("--canonicalization")) {
    auto parsed = bulwark::auth::parseCanonicalizationTag(options["--canonicalization"]);
    if (!parsed) return usage();
    std::tie(sign_options.header_canonicalization, sign_options.body_canonicalization) = *parsed;
  }
  auto field = bulwark::auth::signDkim(message, *key, sign_options);
  if (!field) {
    std::cerr << "dkim_tool: " << field.error().message << "\n";
    return 1;
  }
  std::cout << *field << message;
  return 0;
}

int verify(std::map<std::string, std::string>& options, const std::string& message) {
  if (!options.count("--records")) return usage();
  std::ifstream records(options["--records"]);
  if (!records) {
    std::cerr << "dkim_tool: cannot read " << options["--records"] << "\n";
    return 1;
  }
  bulwark::testing::FakeResolver resolver;
  std::string line;
  while (std::getline(records, line)) {
    auto tab = line.find('\t');
    if (tab != std::string::npos)
      resolver.txt_records[line.substr(0, tab)].push_back(line.substr(tab + 1));
  }
  for (const auto& signature : bulwark::auth::verifyDkim(resolver, message))
    std::cout << bulwark::auth::dkimResultName(signature.result) << ' ' << signature.domain << ' '
              << signature.selector << ' ' << signature.reason << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || (argc - 2) % 2 != 0) return usage();
  std::string command = argv[1];
  std::map<std::string, std::string> options;
  for (int index = 2; index + 1 < argc; index += 2) options[argv[index]] = argv[index + 1];
  if (command == "record") return record(options);
  std::string message = readAll(std::cin);
  if (command == "sign") return sign(options, message);
  if (command == "verify") return verify(options, message);
  return usage();
}
