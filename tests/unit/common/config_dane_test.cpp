// The DANE options of [delivery] (docs/configuration.md): `dane` and `dns_zone_files`, their
// defaults, and each kind of bad value reported with its line, column and a fix.
#include "config_test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace bulwark {
namespace {

TEST(ConfigDane, DefaultsAreDaneOnAndNoZoneFiles) {
  const ConfigLoad result = load("");
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result.config.delivery.dane);
  EXPECT_TRUE(result.config.delivery.dns_zone_files.empty());
}

TEST(ConfigDane, BothOptionsAreRead) {
  const ConfigLoad result = load(
      "[delivery]\ndane = false\n"
      "dns_zone_files = [\"/etc/bulwark/example.test.zone\", \"relative/other.zone\"]\n");
  ASSERT_TRUE(result.ok()) << formatProblems("test.toml", result.problems);
  EXPECT_FALSE(result.config.delivery.dane);
  EXPECT_EQ(result.config.delivery.dns_zone_files,
            (std::vector<std::filesystem::path>{"/etc/bulwark/example.test.zone",
                                                "relative/other.zone"}));
  EXPECT_TRUE(load("[delivery]\ndane = true\ndns_zone_files = []\n").ok());
}

TEST(ConfigDane, BadValuesSayWhatToWrite) {
  expectProblem("[delivery]\ndane = \"false\"\n", 2, 8,
                "delivery.dane: must be a boolean, not a string; write true or false without "
                "quotes");
  expectProblem("[delivery]\ndane = 1\n", 2, 8, "must be a boolean");
  expectProblem("[delivery]\ndns_zone_files = \"/a.zone\"\n", 2, 18,
                "must be an array of strings");
  expectProblem("[delivery]\ndns_zone_files = [\"\"]\n", 2, 19,
                "delivery.dns_zone_files[1]: must not be empty");
  expectProblem("[delivery]\ndns_zone_files = [\"/a.zone\", \"/b\\\"c.zone\"]\n", 2, 30,
                "delivery.dns_zone_files[2]: contains a quote or control character");
  expectProblem("[delivery]\ndns_zone_files = [\"/a\\nb.zone\"]\n", 2, 19, "rename the file");
  expectProblem("[delivery]\ndns_zone_files = [7]\n", 2, 19, "must be a string");
}

TEST(ConfigDane, KeysInTheWrongPlaceSayWhereTheyBelong) {
  expectProblem("dane = true\n", 1, 1, "it belongs in the [delivery] table");
  expectProblem("dns_zone_files = []\n", 1, 1, "it belongs in the [delivery] table");
  expectProblem("[delivery]\ndnssec_zone_files = []\n", 2, 1, "delivery.dnssec_zone_files");
}

}  // namespace
}  // namespace bulwark
