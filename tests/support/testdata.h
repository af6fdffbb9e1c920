// The shared conformance data for tests (SOURCES.md in it): where it is ($BULWARK_TESTDATA, else
// the compiled-in default), what a missing folder means (skip, or fail when CI=true), its files,
// the exception lists of the runners, and YAML read through support/yaml_to_json.py (there is no
// C++ YAML parser; the JSON goes into the test's build folder). The data is untrusted input.
// A test using the YAML or exception helpers is declared with bulwark_uses_testdata() in CMake.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <string_view>

namespace bulwark::testing {

inline std::filesystem::path testdataRoot() {
  const char* configured = std::getenv("BULWARK_TESTDATA");
  return configured != nullptr && *configured != '\0'
             ? std::filesystem::path(configured)
             : std::filesystem::path(BULWARK_TESTDATA_DEFAULT);
}

inline bool runningInCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string_view(ci) == "true";
}

// Skips the test when `folder` is missing, or fails it in CI, where the data must be there.
#define BULWARK_REQUIRE_FOLDER(folder)                                                \
  do {                                                                                \
    if (!std::filesystem::is_directory(folder)) {                                     \
      if (::bulwark::testing::runningInCi()) {                                        \
        FAIL() << "test data missing in CI: " << (folder);                            \
      }                                                                               \
      GTEST_SKIP() << "test data missing: " << (folder) << " (set BULWARK_TESTDATA)"; \
    }                                                                                 \
  } while (false)

inline std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot read " << path;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The suites write messages with LF endings (SOURCES.md: convert to CRLF); CRLF stays as it is.
inline std::string withCrlf(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 32);
  for (std::size_t index = 0; index < text.size(); ++index) {
    if (text[index] == '\n' && (index == 0 || text[index - 1] != '\r')) out += '\r';
    out += text[index];
  }
  return out;
}

#ifdef BULWARK_TEST_SOURCE_DIR
// A file next to the test's sources (an exception list, a case table).
inline std::filesystem::path testSourceFile(std::string_view name) {
  return std::filesystem::path(BULWARK_TEST_SOURCE_DIR) / name;
}

// An exception list of a conformance runner: "<case><TAB><reason>" lines, '#' comments. Each
// case needs a real reason (the RFC section that decides it), so a short one fails the test.
inline std::map<std::string, std::string> loadExceptions(std::string_view file_name) {
  constexpr std::size_t kShortestReason = 20;
  const std::filesystem::path file = testSourceFile(file_name);
  std::map<std::string, std::string> exceptions;
  std::istringstream in(readFile(file));
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.front() == '#') continue;
    const std::size_t tab = line.find('\t');
    const bool reasoned = tab != std::string::npos && line.size() - tab > kShortestReason;
    EXPECT_TRUE(reasoned) << file << ": an exception needs a real reason: " << line;
    if (reasoned) exceptions[line.substr(0, tab)] = line.substr(tab + 1);
  }
  return exceptions;
}
#endif

#ifdef BULWARK_YAML_TO_JSON
}  // namespace bulwark::testing

#include <boost/json.hpp>

namespace bulwark::testing {

// `input` converted by yaml_to_json.py with `option` ("" for every document of one YAML file
// as a JSON array, "--repeated-keys", "--spf-suites"; see the script). A failed conversion or
// unparsable JSON is a test failure and a null value.
inline boost::json::value yamlAsJson(const std::filesystem::path& input,
                                     std::string_view option = {}) {
  auto quoted = [](const std::string& text) {
    std::string out = "'";
    for (char character : text) {
      if (character == '\'') {
        out += "'\\''";
      } else {
        out += character;
      }
    }
    return out + "'";
  };
  // One file per process: ctest may run two tests that convert the same suite at once.
  const std::filesystem::path output =
      std::filesystem::path(BULWARK_TEST_WORK_DIR) /
      (input.stem().string() + "-" + std::to_string(::getpid()) + ".json");
  const std::string command = "/usr/bin/python3 " + quoted(BULWARK_YAML_TO_JSON) + " " +
                              std::string(option) + " " + quoted(input.string()) + " " +
                              quoted(output.string());
  const int status = std::system(command.c_str());
  EXPECT_EQ(status, 0) << "conversion failed: " << command;
  if (status != 0) return nullptr;
  boost::system::error_code error;
  boost::json::value value = boost::json::parse(readFile(output), error);
  std::filesystem::remove(output);
  EXPECT_FALSE(error) << output << ": " << error.message();
  return value;
}
#endif

}  // namespace bulwark::testing
