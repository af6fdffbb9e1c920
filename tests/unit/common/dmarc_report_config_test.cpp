// Tests for [dmarc_reports] (docs/configuration.md, docs/dmarc-reports.md): the defaults that name
// this host, every key set, and each wrong value reported at its line and column with a fix.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config_test_support.h"

namespace bulwark {
namespace {

TEST(DmarcReportConfig, OffByDefaultWithDefaultsNamingTheHost) {
  const ConfigLoad result = load("hostname = \"mx.example.org\"\n");
  ASSERT_TRUE(result.ok()) << formatProblems("test.toml", result.problems);
  const DmarcReportSettings& reports = result.config.dmarc_reports;
  EXPECT_FALSE(reports.enabled);
  EXPECT_EQ(reports.interval_seconds, 86400u);
  EXPECT_EQ(reports.organization_name, "mx.example.org");
  EXPECT_EQ(reports.sender, "noreply-dmarc@mx.example.org");
  EXPECT_EQ(reports.contact, "");
  EXPECT_EQ(reports.max_rows_per_report, 10000u);
}

TEST(DmarcReportConfig, EveryKeySet) {
  const ConfigLoad result = load(
      "hostname = \"mx.example.org\"\n"
      "[dmarc_reports]\n"
      "enabled = true\n"
      "interval_seconds = 3600\n"
      "organization_name = \"Example Ltd\"\n"
      "sender = \"dmarc-reports@example.org\"\n"
      "contact = \"https://example.org/dmarc\"\n"
      "max_rows_per_report = 500\n");
  ASSERT_TRUE(result.ok()) << formatProblems("test.toml", result.problems);
  const DmarcReportSettings& reports = result.config.dmarc_reports;
  EXPECT_TRUE(reports.enabled);
  EXPECT_EQ(reports.interval_seconds, 3600u);
  EXPECT_EQ(reports.organization_name, "Example Ltd");
  EXPECT_EQ(reports.sender, "dmarc-reports@example.org");
  EXPECT_EQ(reports.contact, "https://example.org/dmarc");
  EXPECT_EQ(reports.max_rows_per_report, 500u);
  EXPECT_EQ(reports.config_line, 2);
}

TEST(DmarcReportConfig, IntervalLimits) {
  EXPECT_TRUE(load("[dmarc_reports]\ninterval_seconds = 60\n").ok());
  EXPECT_TRUE(load("[dmarc_reports]\ninterval_seconds = 86400\n").ok());
  expectProblem("[dmarc_reports]\ninterval_seconds = 59\n", 2, 20, "below the minimum of 60");
  expectProblem("[dmarc_reports]\ninterval_seconds = 86401\n", 2, 20, "above the maximum");
  expectProblem("[dmarc_reports]\ninterval_seconds = 7000\n", 2, 20, "does not divide a day");
}

TEST(DmarcReportConfig, RowLimit) {
  EXPECT_TRUE(load("[dmarc_reports]\nmax_rows_per_report = 1\n").ok());
  expectProblem("[dmarc_reports]\nmax_rows_per_report = 0\n", 2, 23, "below the minimum of 1");
  expectProblem("[dmarc_reports]\nmax_rows_per_report = 1000001\n", 2, 23, "above the maximum");
}

TEST(DmarcReportConfig, WrongValues) {
  expectProblem("[dmarc_reports]\nsender = \"Reports <r@example.org>\"\n", 2, 10,
                "not a plain address");
  expectProblem("[dmarc_reports]\nsender = \"reports\"\n", 2, 10, "not a plain address");
  expectProblem("[dmarc_reports]\norganization_name = \"a\\nBcc: x@example.net\"\n", 2, 21,
                "one non-empty line");
  expectProblem("[dmarc_reports]\ncontact = \"\"\n", 2, 11, "one non-empty line");
  expectProblem("[dmarc_reports]\nenabled = \"yes\"\n", 2, 11, "must be a boolean");
  expectProblem("[dmarc_reports]\nenable = true\n", 2, 1, "enable");
  expectProblem("interval_seconds = 60\n", 1, 1, "[dmarc_reports]");
}

}  // namespace
}  // namespace bulwark
