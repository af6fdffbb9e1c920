// SPF conformance (RFC 7208): the OpenSPF RFC 7208 and RFC 4408 suites, pyspf's test.yml and
// mail-auth's SPF files, read in place from $BULWARK_TESTDATA/spf (SOURCES.md section 1) through
// support/yaml_to_json.py --spf-suites, each case run against an in-memory resolver with its
// suite's DNS rules.
// Cases that do not apply to an RFC 7208 implementation are listed, with the reason, in
// spf_exceptions.txt. With BULWARK_SPF_RESULTS=<file> every case's result is written as TSV
// (suite, case, result, explanation) for the pyspf agreement test
// (tests/interop/spf_pyspf_test.py).
#include "auth/spf.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/strings.h"
#include "dns/rdata.h"
#include "support/testdata.h"

namespace bulwark::auth {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

// JSON strings carry one code point per byte (yaml_to_json.py --spf-suites): back to those bytes.
std::string bytesOf(const json::value& value) {
  if (!value.is_string()) return {};
  const json::string& text = value.as_string();
  std::string bytes;
  for (std::size_t index = 0; index < text.size(); ++index) {
    const auto lead = static_cast<unsigned char>(text[index]);
    if (lead < 0x80) {
      bytes.push_back(static_cast<char>(lead));
    } else if ((lead & 0xe0) == 0xc0 && index + 1 < text.size()) {
      const auto next = static_cast<unsigned char>(text[++index]);
      bytes.push_back(static_cast<char>(((lead & 0x1f) << 6) | (next & 0x3f)));
    } else {
      bytes.push_back('?');  // not produced by the converter
    }
  }
  return bytes;
}

struct Entry {
  std::string type;  // TXT A AAAA MX PTR CNAME TIMEOUT
  std::string value;
  std::uint16_t preference = 0;
};

// The zone data of one scenario, answered the way the suite's reference driver does
// (SOURCES.md): absent names NXDOMAIN, present names without the type NODATA, a TIMEOUT entry
// times out the types not listed before it, CNAMEs followed, SPF copied into TXT by the
// converter. mail-auth's names containing "_dns_error." fail; pyspf's absent "error." names too.
class ZoneResolver final : public dns::Resolver {
 public:
  explicit ZoneResolver(std::map<std::string, std::vector<Entry>> zone) : zone_(std::move(zone)) {}

  dns::Answer<dns::MxRecord> mx(std::string_view name) override {
    dns::Answer<dns::MxRecord> answer;
    auto raw = lookup(name, "MX");
    answer.status = raw.status;
    answer.reason = raw.reason;
    for (const Entry& entry : raw.records) {
      answer.records.push_back({entry.preference, asciiLower(entry.value)});
    }
    return answer;
  }
  dns::Answer<std::string> addresses(std::string_view host) override {
    auto v4 = addresses(host, dns::AddressFamily::ipv4);
    auto v6 = addresses(host, dns::AddressFamily::ipv6);
    if (v4.status != dns::Status::ok) return v6.status == dns::Status::ok ? v6 : v4;
    for (auto& address : v6.records) v4.records.push_back(std::move(address));
    return v4;
  }
  dns::Answer<std::string> addresses(std::string_view host, dns::AddressFamily family) override {
    return values(lookup(host, family == dns::AddressFamily::ipv4 ? "A" : "AAAA"));
  }
  dns::Answer<std::string> ptr(std::string_view address) override {
    auto name = dns::reverseName(address);
    if (!name) {
      dns::Answer<std::string> answer;
      answer.status = dns::Status::nxdomain;
      return answer;
    }
    return values(lookup(*name, "PTR"));
  }
  dns::Answer<std::string> txt(std::string_view name) override {
    return values(lookup(name, "TXT"));
  }
  dns::Answer<dns::TlsaRecord> tlsa(std::string_view) override {
    dns::Answer<dns::TlsaRecord> answer;
    answer.status = dns::Status::nxdomain;
    return answer;
  }

  bool mail_auth_errors = false;

 private:
  static dns::Answer<std::string> values(const dns::Answer<Entry>& raw) {
    dns::Answer<std::string> answer;
    answer.status = raw.status;
    answer.reason = raw.reason;
    for (const Entry& entry : raw.records) answer.records.push_back(entry.value);
    return answer;
  }

  dns::Answer<Entry> lookup(std::string_view asked, const std::string& type) {
    std::string name = asciiLower(asked);
    if (!name.empty() && name.back() == '.') name.pop_back();
    dns::Answer<Entry> answer;
    for (int hops = 0; hops <= 10; ++hops) {
      if (mail_auth_errors && name.find("_dns_error.") != std::string::npos) {
        answer.status = dns::Status::temporary;
        answer.reason = "DNS error (test)";
        return answer;
      }
      auto found = zone_.find(name);
      if (found == zone_.end()) {
        const bool error = !mail_auth_errors && name.starts_with("error.");
        answer.status = error ? dns::Status::temporary : dns::Status::nxdomain;
        return answer;
      }
      bool seen = false;
      std::string alias;
      for (const Entry& entry : found->second) {
        if (entry.type == "TIMEOUT") {
          if (!seen) {
            answer.status = dns::Status::temporary;
            answer.reason = "timeout (test)";
            return answer;
          }
          break;
        }
        if (entry.type == type) {
          seen = true;
          answer.records.push_back(entry);
        } else if (entry.type == "CNAME") {
          alias = asciiLower(entry.value);
          if (!alias.empty() && alias.back() == '.') alias.pop_back();
        }
      }
      if (!answer.records.empty()) {
        answer.status = dns::Status::ok;
        return answer;
      }
      if (alias.empty()) break;
      name = alias;
    }
    answer.status = dns::Status::nodata;
    return answer;
  }

  std::map<std::string, std::vector<Entry>> zone_;
};

std::map<std::string, std::vector<Entry>> zoneOf(const json::object& zone) {
  std::map<std::string, std::vector<Entry>> result;
  for (const auto& [name, entries] : zone) {
    auto& list = result[std::string(name)];
    for (const json::value& item : entries.as_array()) {
      const json::object& object = item.as_object();
      Entry entry;
      entry.type = json::value_to<std::string>(object.at("type"));
      if (const json::value* value = object.if_contains("value")) {
        if (value->is_array()) {
          entry.preference = static_cast<std::uint16_t>(value->as_array().at(0).to_number<int>());
          entry.value = bytesOf(value->as_array().at(1));
        } else {
          entry.value = bytesOf(*value);
        }
      }
      list.push_back(std::move(entry));
    }
  }
  return result;
}

SpfOutcome runCase(ZoneResolver& resolver, const json::object& test) {
  SpfRequest request;
  request.client_address = json::value_to<std::string>(test.at("host"));
  request.helo = bytesOf(test.at("helo"));
  request.sender = bytesOf(test.at("mailfrom"));
  request.receiver = json::value_to<std::string>(test.at("receiver"));
  if (test.at("mode").as_string() == "helo-then-mailfrom") {
    // mail-auth's verify_spf(): the HELO identity first; MAIL FROM only after a HELO pass.
    SpfOutcome helo = checkHelo(resolver, request);
    if (helo.result != SpfResult::pass) return helo;
  }
  return checkSender(resolver, request);
}

TEST(SpfConformance, AllSuites) {
  const fs::path folder = testing::testdataRoot() / "spf";
  BULWARK_REQUIRE_FOLDER(folder);
  const json::value document = testing::yamlAsJson(testing::testdataRoot(), "--spf-suites");
  ASSERT_TRUE(document.is_object());

  // "suite:case<TAB>reason" (case names contain spaces).
  auto exceptions = testing::loadExceptions("spf_exceptions.txt");
  std::set<std::string> usedExceptions;
  std::ofstream tsv;
  if (const char* path = std::getenv("BULWARK_SPF_RESULTS"); path != nullptr && *path != '\0') {
    tsv.open(path);
    ASSERT_TRUE(tsv) << path;
  }

  for (const json::value& suiteValue : document.at("suites").as_array()) {
    const json::object& suite = suiteValue.as_object();
    const std::string suiteName = json::value_to<std::string>(suite.at("name"));
    const json::array& zones = suite.at("zones").as_array();
    int passed = 0;
    int failed = 0;
    int skipped = 0;
    for (const json::value& caseValue : suite.at("cases").as_array()) {
      const json::object& test = caseValue.as_object();
      const std::string caseName = json::value_to<std::string>(test.at("name"));
      const std::string key = suiteName + ":" + caseName;
      ZoneResolver resolver(zoneOf(zones.at(test.at("zone").to_number<std::size_t>()).as_object()));
      resolver.mail_auth_errors = suiteName == "mail-auth";
      const SpfOutcome outcome = runCase(resolver, test);
      const std::string result(spfResultName(outcome.result));
      if (tsv.is_open()) {
        tsv << suiteName << '\t' << caseName << '\t' << result << '\t' << outcome.explanation
            << '\n';
      }
      std::vector<std::string> expected;
      for (const json::value& item : test.at("results").as_array()) {
        expected.push_back(json::value_to<std::string>(item));
      }
      bool ok = std::find(expected.begin(), expected.end(), result) != expected.end();
      std::string why;
      if (!ok) why = "result " + result;
      const json::value& explanation = test.at("explanation");
      if (ok && explanation.is_string() && outcome.result == SpfResult::fail) {
        // "DEFAULT" is the pyspf driver's stand-in for "no explanation from the domain".
        std::string wanted = bytesOf(explanation);
        if (wanted == "DEFAULT") wanted.clear();
        if (outcome.explanation != wanted) {
          ok = false;
          why = "explanation \"" + outcome.explanation + "\"";
        }
      }
      if (exceptions.count(key)) {
        usedExceptions.insert(key);
        ++skipped;
        continue;
      }
      if (ok) {
        ++passed;
      } else {
        ++failed;
        std::string wanted;
        for (const auto& item : expected) wanted += (wanted.empty() ? "" : "|") + item;
        ADD_FAILURE() << key << ": expected " << wanted << ", got " << why
                      << (outcome.problem.empty() ? "" : " (" + outcome.problem + ")");
      }
    }
    std::cout << suiteName << ": " << passed << " passed, " << failed << " failed, " << skipped
              << " skipped" << std::endl;
  }
  for (const auto& [key, reason] : exceptions) {
    EXPECT_TRUE(usedExceptions.count(key)) << "exception for a case that does not exist: " << key;
  }
}

}  // namespace
}  // namespace bulwark::auth
