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
#include "mime/header_fields.h"
#include "support/fake_resolver.h"

namespace bulwark::auth {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

fs::path testdataRoot() {
  const char* configured = std::getenv("BULWARK_TESTDATA");
  return configured != nullptr && *configured != '\0' ? fs::path(configured)
                                                      : fs::path(BULWARK_TESTDATA_DEFAULT);
}

bool runningInCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string_view(ci) == "true";
}

#define BULWARK_REQUIRE_FOLDER(folder)                                                \
  do {                                                                                \
    if (!fs::is_directory(folder)) {                                                  \
      if (runningInCi()) FAIL() << "test data missing in CI: " << (folder);           \
      GTEST_SKIP() << "test data missing: " << (folder) << " (set BULWARK_TESTDATA)"; \
    }                                                                                 \
  } while (false)

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot read " << path;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The suites write messages with LF endings; SOURCES.md: convert to CRLF.
std::string withCrlf(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 32);
  for (std::size_t index = 0; index < text.size(); ++index) {
    if (text[index] == '\n' && (index == 0 || text[index - 1] != '\r')) out += '\r';
    out += text[index];
  }
  return out;
}

std::string lowerCased(std::string text) {
  for (char& character : text) {
    if (character >= 'A' && character <= 'Z') character = static_cast<char>(character + 32);
  }
  return text;
}

std::string withoutWhitespace(std::string_view text) {
  std::string out;
  for (char character : text) {
    if (character != ' ' && character != '\t' && character != '\r' && character != '\n') {
      out += character;
    }
  }
  return out;
}

// arc_exceptions.txt: "<suite> <case> <reason>" per line, '#' comments.
std::map<std::string, std::string> loadExceptions() {
  std::map<std::string, std::string> exceptions;
  std::ifstream in(ARC_EXCEPTIONS_FILE);
  EXPECT_TRUE(in) << "cannot read " << ARC_EXCEPTIONS_FILE;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line.front() == '#') continue;
    std::size_t first = line.find(' ');
    std::size_t second = line.find(' ', first + 1);
    EXPECT_NE(second, std::string::npos) << "exception without a reason: " << line;
    if (second == std::string::npos) continue;
    exceptions[line.substr(0, second)] = line.substr(second + 1);
  }
  return exceptions;
}

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

json::value loadValimailSuite(const fs::path& folder) {
  const fs::path output = fs::path(ARC_JSON_DIRECTORY) / "valimail-arc.json";
  const std::string command = std::string(PYTHON_WITH_YAML) + " " + ARC_CONVERTER + " '" +
                              (folder / "arc-draft-validation-tests.yml").string() + "' '" +
                              (folder / "arc-draft-sign-tests.yml").string() + "' '" +
                              output.string() + "'";
  if (std::system(command.c_str()) != 0) {
    ADD_FAILURE() << "conversion failed: " << command;
    return {};
  }
  return json::parse(readFile(output));
}

void addRecords(testing::FakeResolver& resolver, const json::object& records) {
  for (const auto& [name, value] : records) {
    resolver.txt_records[std::string(name)].push_back(std::string(value.as_string()));
  }
}

TEST(ArcConformance, ValimailValidationSuite) {
  const fs::path folder = testdataRoot() / "arc" / "valimail-arc-test-suite";
  BULWARK_REQUIRE_FOLDER(folder);
  const auto exceptions = loadExceptions();
  const json::value suite = loadValimailSuite(folder);
  ASSERT_TRUE(suite.is_object());
  Tally tally{"valimail-arc-validation"};
  for (const json::value& entry : suite.at("validation").as_array()) {
    const json::object& test = entry.as_object();
    const std::string name(test.at("name").as_string());
    if (auto exception = exceptions.find("validation " + name); exception != exceptions.end()) {
      ++tally.skipped;
      continue;
    }
    testing::FakeResolver resolver;
    addRecords(resolver, test.at("txt_records").as_object());
    // SOURCES.md: the 3 empty expectations are chains whose newest seal already says cv=fail,
    // where the upstream harness expects no output; the chain status is fail (RFC 8617 5.2
    // step 2).
    std::string expected = lowerCased(std::string(test.at("cv").as_string()));
    if (expected.empty()) expected = "fail";
    const ArcValidation validation =
        validateArc(resolver, withCrlf(test.at("message").as_string()));
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
    if (lowerCased(std::string(field.name)) != "authentication-results") continue;
    const std::string value = mime::unfold(field.value);
    const std::size_t semicolon = value.find(';');
    if (semicolon == std::string::npos) continue;
    if (lowerCased(std::string(mime::unfold(value.substr(0, semicolon)))) !=
        lowerCased(std::string(authserv_id))) {
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
  const auto exceptions = loadExceptions();
  const json::value suite = loadValimailSuite(folder);
  ASSERT_TRUE(suite.is_object());
  Tally tally{"valimail-arc-signing"};
  for (const json::value& entry : suite.at("signing").as_array()) {
    const json::object& test = entry.as_object();
    const std::string name(test.at("name").as_string());
    if (auto exception = exceptions.find("signing " + name); exception != exceptions.end()) {
      ++tally.skipped;
      continue;
    }
    auto fail = [&tally, &name](const std::string& why) {
      ++tally.failed;
      tally.failures.push_back(name + ": " + why);
    };
    testing::FakeResolver resolver;
    addRecords(resolver, test.at("txt_records").as_object());
    auto key = DkimKey::fromPem(std::string(test.at("domain").as_string()),
                                std::string(test.at("selector").as_string()),
                                test.at("private_key").as_string());
    if (!key) {
      fail("key: " + key.error().message);
      continue;
    }
    const std::string message = withCrlf(test.at("message").as_string());
    const std::chrono::system_clock::time_point now{std::chrono::seconds(test.at("t").as_int64())};
    const ArcValidation validation = validateArc(resolver, message, {.now = now});
    ArcSealOptions options;
    options.authserv_id = std::string(test.at("srv_id").as_string());
    options.authentication_results = consolidatedResults(message, options.authserv_id);
    options.headers = splitColons(test.at("sig_headers").as_string());
    options.now = now;
    auto sealed = sealArc(message, validation, *key, options);
    if (!sealed) {
      fail("sealArc: " + sealed.error().message);
      continue;
    }
    std::map<std::string, std::string> produced;
    for (const mime::HeaderField& field : mime::headerFields(*sealed)) {
      produced[lowerCased(std::string(field.name))] = std::string(field.value);
    }
    const std::map<std::string, std::string> names = {{"AS", "arc-seal"},
                                                      {"AMS", "arc-message-signature"},
                                                      {"AAR", "arc-authentication-results"}};
    std::string mismatch;
    for (const auto& [expected_name, field_name] : names) {
      const std::string expected(test.at(expected_name).as_string());
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
  const auto exceptions = loadExceptions();
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
