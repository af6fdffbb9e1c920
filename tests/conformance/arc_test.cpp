// ARC conformance (RFC 8617; the ValiMail suite is written against protocol draft -18): the
// ValiMail validation and signing suites and mail-auth's chains, read in place from
// $BULWARK_TESTDATA/arc (SOURCES.md "2. ARC"). Cases that do not apply to an RFC 8617
// implementation are listed, with the reason, in arc_exceptions.txt.
#include "auth/arc.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "auth/dkim.h"
#include "auth/dkim_syntax.h"
#include "auth/tag_list.h"
#include "common/strings.h"
#include "mime/header_fields.h"
#include "support/fake_resolver.h"
#include "support/testdata.h"

namespace bulwark::auth {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using testing::loadExceptions;
using testing::readFile;
using testing::testdataRoot;
using testing::withCrlf;

struct Tally {
  std::string suite;
  int passed = 0;
  int failed = 0;
  int skipped = 0;
  std::vector<std::string> failures;

  void print() const {
    std::cout << suite << ": " << passed << " passed, " << failed << " failed, " << skipped
              << " skipped\n";
    for (const std::string& failure : failures) std::cout << "  FAILED " << failure << "\n";
  }
};

// A field of the suite as text; "" when it is missing or null, as the suite's harness reads it.
std::string text(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr || value->is_null()) return {};
  return value->is_string() ? std::string(value->as_string()) : json::serialize(*value);
}

// The tests of one ValiMail suite file (validation or signing) in order, each with its
// scenario's fields. The suite repeats four test names; yaml_to_json.py names the later "#2".
struct ValimailTest {
  std::string name;
  const json::object* test;
  const json::object* scenario;
};

std::vector<ValimailTest> valimailTests(const json::value& documents) {
  std::vector<ValimailTest> tests;
  if (!documents.is_array()) return tests;
  for (const json::value& document : documents.as_array()) {
    if (!document.is_object()) continue;
    const json::object& scenario = document.as_object();
    for (const auto& [name, test] : scenario.at("tests").as_object()) {
      tests.push_back({std::string(name), &test.as_object(), &scenario});
    }
  }
  return tests;
}

void addRecords(testing::FakeResolver& resolver, const json::object& scenario) {
  const json::value* records = scenario.if_contains("txt-records");
  if (records == nullptr || !records->is_object()) return;
  for (const auto& [name, value] : records->as_object()) {
    resolver.txt_records[std::string(name)].push_back(
        value.is_string() ? std::string(value.as_string()) : json::serialize(value));
  }
}

TEST(ArcConformance, ValimailValidationSuite) {
  const fs::path folder = testdataRoot() / "arc" / "valimail-arc-test-suite";
  BULWARK_REQUIRE_FOLDER(folder);
  const auto exceptions = loadExceptions("arc_exceptions.txt");
  const json::value suite =
      testing::yamlAsJson(folder / "arc-draft-validation-tests.yml", "--repeated-keys");
  ASSERT_TRUE(suite.is_array());
  Tally tally{"valimail-arc-validation"};
  for (const auto& [name, test, scenario] : valimailTests(suite)) {
    if (auto exception = exceptions.find("validation " + name); exception != exceptions.end()) {
      ++tally.skipped;
      continue;
    }
    testing::FakeResolver resolver;
    addRecords(resolver, *scenario);
    // SOURCES.md: the 3 empty expectations are chains whose newest seal already says cv=fail,
    // where the upstream harness expects no output; the chain status is fail (RFC 8617 5.2
    // step 2).
    std::string expected(asciiLower(trimFoldingWhitespace(text(*test, "cv"))));
    if (expected.empty()) expected = "fail";
    const ArcValidation validation = validateArc(resolver, withCrlf(text(*test, "message")));
    const std::string actual(arcResultName(validation.result));
    if (actual == expected) {
      ++tally.passed;
    } else {
      ++tally.failed;
      tally.failures.push_back(name + ": expected " + expected + ", got " + actual + " (" +
                               validation.reason + ")");
    }
  }
  tally.print();
  EXPECT_EQ(tally.passed + tally.failed + tally.skipped, 175);
  EXPECT_EQ(tally.failed, 0);
}

// RFC 8617 sets as the ValiMail harness compares them: items split at ';', whitespace deleted.
std::multiset<std::string> tagItems(std::string_view value) {
  std::multiset<std::string> items;
  const std::string compact = withoutWhitespace(value);
  std::size_t position = 0;
  while (position <= compact.size()) {
    std::size_t end = compact.find(';', position);
    if (end == std::string::npos) end = compact.size();
    if (end > position) items.insert(compact.substr(position, end - position));
    position = end + 1;
  }
  return items;
}

// The suite's AR consolidation (its README "AR Consolidation"): every result of the
// Authentication-Results fields with our authserv-id, in order. In Bulwark the payload is our
// own single Authentication-Results, which the pipeline hands to sealArc.
std::string consolidatedResults(std::string_view message, std::string_view authserv_id) {
  std::string payload;
  for (const mime::HeaderField& field : mime::headerFields(message)) {
    if (asciiLower(field.name) != "authentication-results") continue;
    const std::string value = mime::unfold(field.value);
    const std::size_t semicolon = value.find(';');
    if (semicolon == std::string::npos) continue;
    if (!equalsIgnoreCase(mime::unfold(value.substr(0, semicolon)), authserv_id)) {
      continue;
    }
    std::string_view rest = std::string_view(value).substr(semicolon + 1);
    while (!rest.empty()) {
      std::size_t end = rest.find(';');
      const std::string item = mime::unfold(rest.substr(0, end));
      if (!item.empty()) payload += (payload.empty() ? "" : ";\r\n\t") + item;
      if (end == std::string_view::npos) break;
      rest.remove_prefix(end + 1);
    }
  }
  return payload;
}

std::vector<std::string> splitColons(std::string_view text) {
  std::vector<std::string> names;
  while (!text.empty()) {
    std::size_t colon = text.find(':');
    names.emplace_back(mime::unfold(text.substr(0, colon)));
    if (colon == std::string_view::npos) break;
    text.remove_prefix(colon + 1);
  }
  return names;
}

TEST(ArcConformance, ValimailSigningSuite) {
  const fs::path folder = testdataRoot() / "arc" / "valimail-arc-test-suite";
  BULWARK_REQUIRE_FOLDER(folder);
  const auto exceptions = loadExceptions("arc_exceptions.txt");
  const json::value suite =
      testing::yamlAsJson(folder / "arc-draft-sign-tests.yml", "--repeated-keys");
  ASSERT_TRUE(suite.is_array());
  Tally tally{"valimail-arc-signing"};
  for (const auto& [name, test, scenario] : valimailTests(suite)) {
    if (auto exception = exceptions.find("signing " + name); exception != exceptions.end()) {
      ++tally.skipped;
      continue;
    }
    auto fail = [&tally, &name](const std::string& why) {
      ++tally.failed;
      tally.failures.push_back(name + ": " + why);
    };
    testing::FakeResolver resolver;
    addRecords(resolver, *scenario);
    auto key = DkimKey::fromPem(text(*scenario, "domain"), text(*scenario, "sel"),
                                text(*scenario, "privatekey"));
    if (!key) {
      fail("key: " + key.error().message);
      continue;
    }
    const std::string message = withCrlf(text(*test, "message"));
    const std::chrono::system_clock::time_point now{
        std::chrono::seconds(test->at("t").to_number<std::int64_t>())};
    const ArcValidation validation = validateArc(resolver, message, {.now = now});
    ArcSealOptions options;
    options.authserv_id = text(*test, "srv-id");
    options.authentication_results = consolidatedResults(message, options.authserv_id);
    options.headers = splitColons(text(*test, "sig-headers"));
    options.now = now;
    auto sealed = sealArc(message, validation, *key, options);
    if (!sealed) {
      fail("sealArc: " + sealed.error().message);
      continue;
    }
    std::map<std::string, std::string> produced;
    for (const mime::HeaderField& field : mime::headerFields(*sealed)) {
      produced[asciiLower(field.name)] = std::string(field.value);
    }
    const std::map<std::string, std::string> names = {{"AS", "arc-seal"},
                                                      {"AMS", "arc-message-signature"},
                                                      {"AAR", "arc-authentication-results"}};
    std::string mismatch;
    for (const auto& [expected_name, field_name] : names) {
      const std::string expected = text(*test, expected_name);
      const auto found = produced.find(field_name);
      const std::string actual = found == produced.end() ? std::string() : found->second;
      if (tagItems(expected) != tagItems(actual)) {
        mismatch += " " + expected_name + " differs: got [" + withoutWhitespace(actual) +
                    "] expected [" + withoutWhitespace(expected) + "]";
      }
    }
    // Our own seal must also validate, to the status it wrote.
    if (mismatch.empty() && !sealed->empty()) {
      const ArcValidation again = validateArc(resolver, *sealed + message, {.now = now});
      const ArcResult wanted =
          validation.result == ArcResult::fail ? ArcResult::fail : ArcResult::pass;
      if (again.result != wanted) {
        mismatch = " the sealed message validates " + std::string(arcResultName(again.result)) +
                   " (" + again.reason + ")";
      }
    }
    if (mismatch.empty()) {
      ++tally.passed;
    } else {
      fail(mismatch);
    }
  }
  tally.print();
  EXPECT_EQ(tally.passed + tally.failed + tally.skipped, 17);
  EXPECT_EQ(tally.failed, 0);
}

// mail-auth resources/arc: "<name> <TXT>" lines, a blank line, the message (LF endings).
TEST(ArcConformance, MailAuthChainsPass) {
  const fs::path folder = testdataRoot() / "arc" / "mail-auth";
  BULWARK_REQUIRE_FOLDER(folder);
  const auto exceptions = loadExceptions("arc_exceptions.txt");
  Tally tally{"mail-auth-arc"};
  for (const char* file : {"001.txt", "002.txt"}) {
    if (exceptions.count(std::string("mail-auth ") + file)) {
      ++tally.skipped;
      continue;
    }
    const std::string text = readFile(folder / file);
    const std::size_t blank = text.find("\n\n");
    ASSERT_NE(blank, std::string::npos) << file;
    testing::FakeResolver resolver;
    std::string_view records = std::string_view(text).substr(0, blank + 1);
    while (!records.empty()) {
      const std::size_t end = records.find('\n');
      const std::string_view line = records.substr(0, end);
      const std::size_t space = line.find(' ');
      if (space != std::string_view::npos) {
        resolver.txt_records[std::string(line.substr(0, space))].emplace_back(
            line.substr(space + 1));
      }
      records.remove_prefix(end == std::string_view::npos ? records.size() : end + 1);
    }
    const std::string message = withCrlf(std::string_view(text).substr(blank + 2));
    const ArcValidation validation = validateArc(resolver, message);
    const auto signatures = verifyDkim(resolver, message);
    const bool some_dkim_pass = std::any_of(
        signatures.begin(), signatures.end(),
        [](const DkimSignatureResult& result) { return result.result == DkimResult::pass; });
    if (validation.result == ArcResult::pass && some_dkim_pass) {
      ++tally.passed;
    } else {
      ++tally.failed;
      tally.failures.push_back(
          std::string(file) + ": arc=" + std::string(arcResultName(validation.result)) + " (" +
          validation.reason + "), a DKIM pass: " + (some_dkim_pass ? "yes" : "no"));
    }
  }
  tally.print();
  EXPECT_EQ(tally.failed, 0);
}

}  // namespace
}  // namespace bulwark::auth
