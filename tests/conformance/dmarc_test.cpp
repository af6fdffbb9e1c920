// DMARC and Public Suffix List conformance (SOURCES.md section 4): the publicsuffix/list tests
// (dmarc/psl/tests.txt) and the DERIVED vectors of mail-auth and OpenDMARC (dmarc/vectors/*.yaml,
// converted to JSON in the build directory by support/yaml_to_json.py), read in place from
// $BULWARK_TESTDATA. Cases that encode behaviour other than RFC 7489's are listed with their
// reason in dmarc_exceptions.txt; a listed case that starts to pass fails the run, so the list
// stays true.
#include "auth/dmarc.h"
#include "auth/public_suffix.h"
#include "support/fake_resolver.h"
#include "support/testdata.h"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>

namespace bulwark::auth {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using testing::readFile;
using testing::testdataRoot;

// The one YAML document of a vectors file.
json::value loadYaml(const fs::path& yaml) {
  json::value documents = testing::yamlAsJson(yaml);
  if (!documents.is_array() || documents.as_array().size() != 1) {
    ADD_FAILURE() << yaml << ": not one YAML document";
    return nullptr;
  }
  return documents.as_array().front();
}

// Counts one suite's cases and prints "<suite>: N passed, N failed, N skipped".
class Suite {
 public:
  Suite(std::string name, const std::map<std::string, std::string>& exceptions)
      : name_(std::move(name)), exceptions_(exceptions) {}
  ~Suite() {
    std::cout << name_ << ": " << passed_ << " passed, " << failed_ << " failed, " << skipped_
              << " skipped\n";
  }
  // Records a case; `detail` explains a failure.
  void record(const std::string& id, bool passed, const std::string& detail) {
    auto exception = exceptions_.find(name_ + "/" + id);
    if (exception != exceptions_.end()) {
      ++skipped_;
      std::cout << "  skipped " << name_ << "/" << id << ": " << exception->second << "\n";
      EXPECT_FALSE(passed) << name_ << "/" << id
                           << " is listed as an exception but passes: remove it from the list";
      return;
    }
    if (passed) {
      ++passed_;
    } else {
      ++failed_;
      ADD_FAILURE() << name_ << "/" << id << ": " << detail;
    }
  }
  void skip(const std::string& id) {
    auto exception = exceptions_.find(name_ + "/" + id);
    EXPECT_NE(exception, exceptions_.end()) << name_ << "/" << id << " skipped without a reason";
    ++skipped_;
    if (exception != exceptions_.end()) {
      std::cout << "  skipped " << name_ << "/" << id << ": " << exception->second << "\n";
    }
  }

 private:
  std::string name_;
  const std::map<std::string, std::string>& exceptions_;
  unsigned passed_ = 0;
  unsigned failed_ = 0;
  unsigned skipped_ = 0;
};

std::string text(const json::value& value) {
  if (value.is_string()) return std::string(value.as_string());
  if (value.is_null()) return "null";
  return json::serialize(value);
}

std::string policyText(std::optional<DmarcPolicy> policy) {
  return policy ? std::string(dmarcPolicyName(*policy)) : "unset";
}

PublicSuffixList loadList(const fs::path& file) {
  Result<PublicSuffixList> list = PublicSuffixList::load(file);
  EXPECT_TRUE(list.has_value()) << file;
  return list.has_value() ? std::move(*list) : PublicSuffixList();
}

TEST(DmarcConformance, PublicSuffixListTests) {
  const fs::path folder = testdataRoot() / "dmarc" / "psl";
  BULWARK_REQUIRE_FOLDER(folder);
  std::map<std::string, std::string> exceptions = testing::loadExceptions("dmarc_exceptions.txt");
  PublicSuffixList list = loadList(folder / "public_suffix_list.dat");
  std::istringstream in(readFile(folder / "tests.txt"));
  Suite suite("psl", exceptions);
  std::string line;
  unsigned cases = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line.starts_with("//")) continue;
    std::size_t space = line.find(' ');
    ASSERT_NE(space, std::string::npos) << line;
    std::string input = line.substr(0, space);
    std::string expected = line.substr(space + 1);
    std::optional<std::string> got = list.registrableDomain(input == "null" ? "" : input);
    std::string got_text = got ? *got : "null";
    suite.record(input, got_text == expected, "expected " + expected + ", got " + got_text);
    ++cases;
  }
  EXPECT_EQ(cases, 78u);
}

class DmarcVectors : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = testdataRoot() / "dmarc" / "vectors";
    exceptions_ = testing::loadExceptions("dmarc_exceptions.txt");
  }
  fs::path folder_;
  std::map<std::string, std::string> exceptions_;
};

TEST_F(DmarcVectors, OpenDmarc) {
  BULWARK_REQUIRE_FOLDER(folder_);
  json::value root = loadYaml(folder_ / "opendmarc-libtests-vectors.yaml");
  ASSERT_TRUE(root.is_object());
  const json::object& vectors = root.as_object();
  {
    Suite suite("opendmarc-record-parsing", exceptions_);
    for (const json::value& entry : vectors.at("record_parsing").as_array()) {
      const json::object& test = entry.as_object();
      Result<DmarcRecord> record = parseDmarcRecord(text(test.at("record")));
      const bool want_ok = text(test.at("expect")) == "OKAY";
      suite.record("n" + text(test.at("n")), record.has_value() == want_ok,
                   "expected " + text(test.at("expect")) + ", got " +
                       (record ? std::string("a record") : record.error().message));
    }
  }
  PublicSuffixList current = loadList(testdataRoot() / "dmarc" / "psl" / "public_suffix_list.dat");
  {
    Suite suite("opendmarc-alignment", exceptions_);
    for (const json::value& entry : vectors.at("identifier_alignment").as_array()) {
      const json::object& test = entry.as_object();
      bool aligned = domainsAligned(current, text(test.at("domain_a")), text(test.at("domain_b")),
                                    text(test.at("mode")) == "strict");
      const bool want = text(test.at("expect")) == "aligned";
      suite.record("n" + text(test.at("n")), aligned == want,
                   std::string("expected ") + (want ? "aligned" : "not aligned"));
    }
  }
  {
    Suite suite("opendmarc-from-domain", exceptions_);
    for (const json::value& entry : vectors.at("from_header_domain_extraction").as_array()) {
      const json::object& test = entry.as_object();
      AuthorDomain author = authorDomain("From: " + text(test.at("raw")) + "\r\n\r\n");
      const bool passed =
          author.status == AuthorDomain::Status::single && author.domain == text(test.at("expect"));
      suite.record("n" + text(test.at("n")), passed,
                   "expected " + text(test.at("expect")) + ", got " +
                       (author.domain.empty() ? author.reason : author.domain));
    }
  }
  {
    Suite suite("opendmarc-organizational-domain", exceptions_);
    PublicSuffixList old_list =
        loadList(testdataRoot() / "dmarc" / "psl" / "opendmarc-effective_tld_names-2014.dat");
    for (const json::value& entry : vectors.at("organizational_domain").as_array()) {
      const json::object& test = entry.as_object();
      std::string got = old_list.organizationalDomain(text(test.at("domain")));
      suite.record("n" + text(test.at("n")), got == text(test.at("expect")),
                   "expected " + text(test.at("expect")) + ", got " + got);
    }
  }
}

// The DNS of one mail-auth case: TXT records, and names that exist (A records).
void loadDns(const json::object& test, testing::FakeResolver& resolver) {
  if (!test.contains("dns")) return;
  const json::object& dns = test.at("dns").as_object();
  if (dns.contains("txt") && dns.at("txt").is_object()) {
    for (const auto& [name, value] : dns.at("txt").as_object()) {
      resolver.txt_records[std::string(name)] = {text(value)};
    }
  }
  if (dns.contains("a")) {
    for (const json::value& name : dns.at("a").as_array()) {
      resolver.address_records[text(name)] = {"192.0.2.1"};
    }
  }
}

// (spfResultName is the SPF part's; the vectors use only these words.)
SpfResult spfFromText(const std::string& name) {
  static const std::map<std::string, SpfResult> results = {
      {"none", SpfResult::none},         {"neutral", SpfResult::neutral},
      {"pass", SpfResult::pass},         {"fail", SpfResult::fail},
      {"softfail", SpfResult::softfail}, {"temperror", SpfResult::temperror},
      {"permerror", SpfResult::permerror}};
  auto found = results.find(name);
  EXPECT_NE(found, results.end()) << "unknown SPF result " << name;
  return found == results.end() ? SpfResult::none : found->second;
}

struct Evaluated {
  DmarcInput input;
  DmarcOutcome outcome;
};

Evaluated evaluateCase(const json::object& test, const PublicSuffixList& list) {
  testing::FakeResolver resolver;
  loadDns(test, resolver);
  Evaluated evaluated;
  evaluated.input.author = authorDomain("From: " + text(test.at("from")) + "\r\n\r\n");
  // Policy-discovery cases: "SPF = pass for an empty MAIL FROM domain" (the file's convention).
  evaluated.input.spf = test.contains("spf_result") ? spfFromText(text(test.at("spf_result")))
                                                    : SpfResult::pass;
  if (test.contains("mail_from_domain")) {
    evaluated.input.spf_domain = text(test.at("mail_from_domain"));
  }
  if (test.contains("dkim")) {
    for (const json::value& signature : test.at("dkim").as_array()) {
      DkimSignatureResult result;
      result.domain = text(signature.at("d"));
      result.result = text(signature.at("result")) == "pass" ? DkimResult::pass : DkimResult::fail;
      evaluated.input.dkim.push_back(result);
    }
  }
  DmarcOptions options;
  options.sample = [] { return 0u; };
  evaluated.outcome = evaluateDmarc(resolver, list, evaluated.input, options);
  return evaluated;
}

// mail-auth's three alignment answers: pass (aligned), fail (passed, not aligned), none.
std::string alignmentText(bool aligned, bool any_pass) {
  return aligned ? "pass" : any_pass ? "fail" : "none";
}

// Compares every expectation a case states; empty when all hold.
std::string mismatches(const json::object& expect, const Evaluated& evaluated) {
  std::string problems;
  const DmarcOutcome& outcome = evaluated.outcome;
  if (expect.contains("dkim_alignment")) {
    bool any_pass = std::any_of(evaluated.input.dkim.begin(), evaluated.input.dkim.end(),
                                [](const auto& s) { return s.result == DkimResult::pass; });
    std::string got = alignmentText(outcome.dkim_aligned, any_pass);
    if (got != text(expect.at("dkim_alignment"))) problems += " dkim_alignment " + got;
  }
  if (expect.contains("spf_alignment")) {
    std::string got =
        alignmentText(outcome.spf_aligned, evaluated.input.spf == SpfResult::pass);
    if (got != text(expect.at("spf_alignment"))) problems += " spf_alignment " + got;
  }
  if (expect.contains("policy")) {
    std::string got = outcome.record ? std::string(dmarcPolicyName(outcome.policy)) : "no record";
    if (got != text(expect.at("policy"))) problems += " policy " + got;
  }
  if (expect.contains("dmarc_record") && expect.at("dmarc_record").is_null() && outcome.record) {
    problems += " a record was found at " + outcome.record_domain;
  }
  if (!problems.empty()) problems += " (" + outcome.reason + ")";
  return problems;
}

// A URI of rua=/ruf= as mail-auth prints it: the mailto address, without the "!" size limit,
// percent-escapes decoded and spaces dropped. The size limit itself is parseReportUri's
// (dmarc_report.h), not checked here.
std::string reportAddress(std::string uri) {
  if (uri.starts_with("mailto:")) uri.erase(0, 7);
  uri = uri.substr(0, uri.find('!'));
  std::string decoded;
  for (std::size_t index = 0; index < uri.size(); ++index) {
    if (uri[index] == '%' && index + 2 < uri.size()) {
      decoded += static_cast<char>(std::stoi(uri.substr(index + 1, 2), nullptr, 16));
      index += 2;
    } else {
      decoded += uri[index];
    }
  }
  std::erase(decoded, ' ');
  return decoded;
}

std::string sortedOptions(std::string options) {
  std::vector<std::string> parts;
  std::istringstream in(options);
  std::string part;
  while (std::getline(in, part, ':')) parts.push_back(part);
  std::sort(parts.begin(), parts.end());
  std::string joined;
  for (const std::string& each : parts) joined += (joined.empty() ? "" : ":") + each;
  return joined;
}

// Fields of mail-auth's resolved record that DmarcRecord holds; psd= and t= are DMARCbis tags
// this implementation of RFC 7489 ignores, so they are not compared.
std::string recordMismatches(const json::object& expected, const DmarcRecord& record) {
  std::string problems;
  DmarcPolicy subdomain = record.subdomain_policy.value_or(record.policy);
  DmarcPolicy nonexistent = record.nonexistent_subdomain_policy.value_or(subdomain);
  auto compare = [&](std::string_view field, const std::string& got) {
    if (text(expected.at(field)) != got) {
      problems += " " + std::string(field) + "=" + got + " (want " + text(expected.at(field)) + ")";
    }
  };
  compare("p", policyText(record.policy));
  compare("sp", policyText(subdomain));
  compare("np", policyText(nonexistent));
  compare("adkim", record.strict_dkim ? "s" : "r");
  compare("aspf", record.strict_spf ? "s" : "r");
  if (sortedOptions(text(expected.at("fo"))) != sortedOptions(record.failure_options)) {
    problems += " fo=" + record.failure_options;
  }
  for (auto [field, uris] : {std::pair{"rua", &record.aggregate_addresses},
                             std::pair{"ruf", &record.failure_addresses}}) {
    const json::array& want = expected.at(field).as_array();
    if (want.size() != uris->size()) {
      problems += " " + std::string(field) + " count " + std::to_string(uris->size());
      continue;
    }
    for (std::size_t index = 0; index < want.size(); ++index) {
      if (reportAddress((*uris)[index]) != text(want[index].at("uri"))) {
        problems += " " + std::string(field) + " " + (*uris)[index];
      }
    }
  }
  return problems;
}

TEST_F(DmarcVectors, MailAuth) {
  BULWARK_REQUIRE_FOLDER(folder_);
  json::value root = loadYaml(folder_ / "mail-auth-dmarc-vectors.yaml");
  ASSERT_TRUE(root.is_object());
  const json::object& vectors = root.as_object();
  PublicSuffixList list = loadList(testdataRoot() / "dmarc" / "psl" / "public_suffix_list.dat");
  for (const char* section : {"evaluation", "policy_discovery", "tree_walk"}) {
    std::string suite_name = "mail-auth-" + std::string(section);
    std::replace(suite_name.begin(), suite_name.end(), '_', '-');
    Suite suite(suite_name, exceptions_);
    for (const json::value& entry : vectors.at(section).as_array()) {
      const json::object& test = entry.as_object();
      Evaluated evaluated = evaluateCase(test, list);
      std::string problems = mismatches(test.at("expect").as_object(), evaluated);
      suite.record(text(test.at("name")), problems.empty(), "got" + problems);
    }
  }
  {
    Suite suite("mail-auth-external-report", exceptions_);
    for (const json::value& entry : vectors.at("external_report_address_verification").as_array()) {
      suite.skip(text(entry.at("name")));
    }
  }
  {
    Suite suite("mail-auth-record-parsing", exceptions_);
    unsigned index = 0;
    for (const json::value& entry : vectors.at("record_parsing").as_array()) {
      const json::object& test = entry.as_object();
      std::string id = "record-" + std::to_string(++index);
      Result<DmarcRecord> record = parseDmarcRecord(text(test.at("record")));
      if (!record) {
        suite.record(id, false, "not parsed: " + record.error().message);
        continue;
      }
      std::string problems = recordMismatches(test.at("expected").as_object(), *record);
      suite.record(id, problems.empty(), "got" + problems);
    }
  }
}

}  // namespace
}  // namespace bulwark::auth
