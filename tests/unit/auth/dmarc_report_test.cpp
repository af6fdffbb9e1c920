// DMARC aggregate reports: rua= URIs with size limits (RFC 7489 6.2), the external destination
// check (7.1), what an evaluation contributes to a report, and the XML (Appendix C) read back by
// python's xml.etree and compared in shape with the sample reports of
// $BULWARK_TESTDATA/dmarc/aggregate-reports.
#include "auth/dmarc_report.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "support/fake_resolver.h"
#include "support/testdata.h"

namespace bulwark::auth {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

TEST(ParseReportUri, MailtoWithoutLimit) {
  auto uri = parseReportUri("mailto:dmarc@example.com");
  ASSERT_TRUE(uri);
  EXPECT_EQ(uri->address, "dmarc@example.com");
  EXPECT_EQ(uri->max_size, 0u);
}

TEST(ParseReportUri, SizeUnitsArePowersOf1024) {
  EXPECT_EQ(parseReportUri("mailto:a@example.com!512")->max_size, 512u);
  EXPECT_EQ(parseReportUri("mailto:a@example.com!10k")->max_size, 10u * 1024);
  EXPECT_EQ(parseReportUri("mailto:a@example.com!10m")->max_size, 10u * 1024 * 1024);
  EXPECT_EQ(parseReportUri("mailto:a@example.com!2g")->max_size, 2ULL << 30);
  EXPECT_EQ(parseReportUri("mailto:a@example.com!3t")->max_size, 3ULL << 40);
  EXPECT_EQ(parseReportUri("MAILTO:a@example.com!1M")->max_size, 1u << 20);
}

TEST(ParseReportUri, LimitBeyond64BitsLimitsNothing) {
  auto uri = parseReportUri("mailto:a@example.com!99999999999999999999999");
  ASSERT_TRUE(uri);
  EXPECT_EQ(uri->max_size, 0u);
  auto scaled = parseReportUri("mailto:a@example.com!99999999999t");
  ASSERT_TRUE(scaled);
  EXPECT_EQ(scaled->max_size, 0u);
}

TEST(ParseReportUri, PercentEncodingIsDecodedAndHeaderFieldsDropped) {
  auto uri = parseReportUri("mailto:dmarc%2Breports@example.com?subject=hello!20k");
  ASSERT_TRUE(uri);
  EXPECT_EQ(uri->address, "dmarc+reports@example.com");
  EXPECT_EQ(uri->max_size, 20u * 1024);
}

TEST(ParseReportUri, RefusesOtherSchemesAndBadSyntax) {
  EXPECT_FALSE(parseReportUri("https://example.com/dmarc"));
  EXPECT_FALSE(parseReportUri("dmarc@example.com"));
  EXPECT_FALSE(parseReportUri("mailto:"));
  EXPECT_FALSE(parseReportUri("mailto:no-at-sign"));
  EXPECT_FALSE(parseReportUri("mailto:a@example.com!"));
  EXPECT_FALSE(parseReportUri("mailto:a@example.com!10x"));
  EXPECT_FALSE(parseReportUri("mailto:a@example.com!k"));
  EXPECT_FALSE(parseReportUri("mailto:a@exa%2"));
  // Decoded bytes that would end a header line or an SMTP command.
  EXPECT_FALSE(parseReportUri("mailto:a@example.com%0D%0ABcc:victim@example.net"));
  EXPECT_FALSE(parseReportUri("mailto:a%3E@example.com"));
  EXPECT_FALSE(parseReportUri("mailto:a@example..com"));
}

class ReportDestination : public ::testing::Test {
 protected:
  testing::FakeResolver resolver_;
};

TEST_F(ReportDestination, SameOrganizationNeedsNoLookup) {
  // Any lookup would fail: the answer shows none was made.
  resolver_.failing.insert("example.com._report._dmarc.example.com");
  auto check = checkReportDestination(resolver_, "example.com", "example.com", true);
  EXPECT_TRUE(check.allowed) << check.reason;
}

TEST_F(ReportDestination, ExternalDestinationWithAuthorisationRecord) {
  resolver_.txt_records["example.com._report._dmarc.reports.example.net"] = {"v=DMARC1"};
  auto check = checkReportDestination(resolver_, "Example.COM", "reports.example.net", false);
  EXPECT_TRUE(check.allowed) << check.reason;
}

TEST_F(ReportDestination, OneGoodRecordAmongOthersIsEnough) {
  resolver_.txt_records["example.com._report._dmarc.example.net"] = {"hello", "v=DMARC1; rua="};
  EXPECT_TRUE(checkReportDestination(resolver_, "example.com", "example.net", false).allowed);
}

TEST_F(ReportDestination, MissingRecordRefuses) {
  resolver_.txt_records["other.example._report._dmarc.example.net"] = {"v=DMARC1"};
  auto check = checkReportDestination(resolver_, "example.com", "example.net", false);
  EXPECT_FALSE(check.allowed);
  EXPECT_NE(check.reason.find("example.com._report._dmarc.example.net"), std::string::npos)
      << check.reason;
}

TEST_F(ReportDestination, RecordNotStartingWithVersionRefuses) {
  resolver_.txt_records["example.com._report._dmarc.example.net"] = {"v=spf1 -all",
                                                                     "p=none; v=DMARC1"};
  auto check = checkReportDestination(resolver_, "example.com", "example.net", false);
  EXPECT_FALSE(check.allowed);
  EXPECT_NE(check.reason.find("v=DMARC1"), std::string::npos) << check.reason;
}

TEST_F(ReportDestination, LookupFailureRefuses) {
  resolver_.failing.insert("example.com._report._dmarc.example.net");
  auto check = checkReportDestination(resolver_, "example.com", "example.net", false);
  EXPECT_FALSE(check.allowed);
  EXPECT_NE(check.reason.find("could not be looked up"), std::string::npos) << check.reason;
}

DmarcEvaluation sampleEvaluation() {
  DmarcEvaluation evaluation;
  evaluation.time = std::chrono::system_clock::time_point(1700000000s);
  evaluation.source_ip = "192.0.2.10";
  evaluation.header_from = "example.com";
  evaluation.envelope_from = "bounce.example.com";
  evaluation.envelope_to = "example.net";
  evaluation.spf = SpfResult::softfail;
  evaluation.spf_domain = "bounce.example.com";
  DkimSignatureResult signature;
  signature.result = DkimResult::pass;
  signature.domain = "example.com";
  signature.selector = "s2024";
  evaluation.dkim.push_back(signature);
  signature.result = DkimResult::permerror;
  signature.domain = "esp.example";
  signature.selector = "k1";
  evaluation.dkim.push_back(signature);
  DmarcOutcome& outcome = evaluation.outcome;
  outcome.result = DmarcResult::pass;
  outcome.domain = "example.com";
  outcome.organizational_domain = "example.com";
  outcome.record_domain = "example.com";
  DmarcRecord record;
  record.policy = DmarcPolicy::reject;
  record.strict_dkim = true;
  record.percent = 50;
  record.aggregate_addresses = {"mailto:dmarc@example.com"};
  outcome.record = record;
  outcome.policy = DmarcPolicy::reject;
  outcome.disposition = DmarcPolicy::none;
  outcome.dkim_aligned = true;
  return evaluation;
}

TEST(ReportRowOf, TakesTheReportsWordsFromTheEvaluation) {
  ReportRow row = reportRow(sampleEvaluation());
  EXPECT_EQ(row.source_ip, "192.0.2.10");
  EXPECT_EQ(row.disposition, "none");
  EXPECT_EQ(row.dkim, "pass");
  EXPECT_EQ(row.spf, "fail");
  EXPECT_EQ(row.reason, "");  // a pass is not an override even though p=reject
  EXPECT_EQ(row.envelope_to, "example.net");
  EXPECT_EQ(row.envelope_from, "bounce.example.com");
  EXPECT_EQ(row.header_from, "example.com");
  ASSERT_EQ(row.dkim_results.size(), 2u);
  EXPECT_EQ(row.dkim_results[0].domain, "example.com");
  EXPECT_EQ(row.dkim_results[0].selector, "s2024");
  EXPECT_EQ(row.dkim_results[0].result, "pass");
  EXPECT_EQ(row.dkim_results[1].result, "permerror");
  EXPECT_EQ(row.spf_domain, "bounce.example.com");
  EXPECT_EQ(row.spf_scope, "mfrom");
  EXPECT_EQ(row.spf_result, "softfail");
  EXPECT_EQ(row.count, 1u);
}

TEST(ReportRowOf, SampledOutFailureAndHeloScope) {
  DmarcEvaluation evaluation = sampleEvaluation();
  evaluation.outcome.result = DmarcResult::fail;
  evaluation.outcome.dkim_aligned = false;
  evaluation.outcome.disposition = DmarcPolicy::quarantine;  // pct= chose the weaker one
  evaluation.null_sender = true;
  ReportRow row = reportRow(evaluation);
  EXPECT_EQ(row.disposition, "quarantine");
  EXPECT_EQ(row.dkim, "fail");
  EXPECT_EQ(row.reason, "sampled_out");
  EXPECT_EQ(row.spf_scope, "helo");

  evaluation.outcome.disposition = DmarcPolicy::reject;
  EXPECT_EQ(reportRow(evaluation).reason, "");
}

TEST(PublishedPolicyOf, SubdomainPolicyDefaultsToPolicy) {
  PublishedPolicy policy = publishedPolicy(sampleEvaluation().outcome);
  EXPECT_EQ(policy.domain, "example.com");
  EXPECT_EQ(policy.adkim, "s");
  EXPECT_EQ(policy.aspf, "r");
  EXPECT_EQ(policy.p, "reject");
  EXPECT_EQ(policy.sp, "reject");
  EXPECT_EQ(policy.np, "");
  EXPECT_EQ(policy.pct, 50u);
  EXPECT_EQ(policy.rua, std::vector<std::string>{"mailto:dmarc@example.com"});

  DmarcOutcome outcome = sampleEvaluation().outcome;
  outcome.record->subdomain_policy = DmarcPolicy::none;
  outcome.record->nonexistent_subdomain_policy = DmarcPolicy::quarantine;
  policy = publishedPolicy(outcome);
  EXPECT_EQ(policy.sp, "none");
  EXPECT_EQ(policy.np, "quarantine");
}

TEST(EscapeXml, MarkupControlsAndInvalidUtf8) {
  EXPECT_EQ(escapeXml("a<b>&\"'c"), "a&lt;b&gt;&amp;&quot;&apos;c");
  EXPECT_EQ(escapeXml(std::string("x\0y\x01z", 5)), "x\xef\xbf\xbdy\xef\xbf\xbdz");
  EXPECT_EQ(escapeXml("caf\xc3\xa9"), "caf\xc3\xa9");            // valid UTF-8 kept
  EXPECT_EQ(escapeXml("\xc3("), "\xef\xbf\xbd(");                // truncated sequence
  EXPECT_EQ(escapeXml("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd");  // overlong '/'
  EXPECT_EQ(escapeXml("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // surrogate
}

// ---- the XML, read back by another parser ---------------------------------------------------

struct CheckRun {
  int status = -1;
  std::string output;
};

// Runs aggregate_report_check.py over `xml` (and the sample folder when given).
CheckRun runChecker(const std::string& xml, const fs::path& samples = {}) {
  fs::path file =
      fs::temp_directory_path() / ("dmarc-report-test-" + std::to_string(::getpid()) + ".xml");
  {
    std::ofstream out(file, std::ios::binary);
    out << xml;
  }
  std::string command = "/usr/bin/python3 '" BULWARK_AUTH_TEST_DIR "/aggregate_report_check.py' '" +
                        file.string() + "'";
  if (!samples.empty()) command += " '" + samples.string() + "'";
  command += " 2>&1";
  CheckRun run;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  char buffer[4096];
  std::size_t read = 0;
  while ((read = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) run.output.append(buffer, read);
  int status = ::pclose(pipe);
  run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  fs::remove(file);
  return run;
}

AggregateReport sampleReport() {
  AggregateReport report;
  report.organization_name = "mx.example.org";
  report.email = "noreply-dmarc@mx.example.org";
  report.extra_contact_info = "https://example.org/dmarc";
  report.report_id = "1700006400.example.com";
  report.begin = 1700006400;
  report.end = 1700092799;
  DmarcEvaluation evaluation = sampleEvaluation();
  report.policy = publishedPolicy(evaluation.outcome);
  ReportRow first = reportRow(evaluation);
  first.count = 41;
  evaluation.source_ip = "2001:db8::25";
  evaluation.outcome.result = DmarcResult::fail;
  evaluation.outcome.dkim_aligned = false;
  evaluation.outcome.disposition = DmarcPolicy::none;
  evaluation.envelope_to.clear();
  evaluation.dkim.clear();
  ReportRow second = reportRow(evaluation);
  report.rows = {first, second};
  return report;
}

TEST(AggregateReportXml, ReadBackByXmlEtree) {
  AggregateReport report = sampleReport();
  // Hostile identities: markup, quotes, a control byte and broken UTF-8 from the SMTP client.
  report.rows[1].header_from = "ex<ample>&\"'.com\x01\xff";
  report.organization_name = "Org & <Co>";
  CheckRun run = runChecker(renderAggregateReport(report));
  ASSERT_EQ(run.status, 0) << run.output;
  auto parsed = boost::json::parse(run.output).as_object();
  EXPECT_EQ(parsed.at("version").as_string(), "1.0");
  EXPECT_EQ(parsed.at("org_name").as_string(), "Org & <Co>");
  EXPECT_EQ(parsed.at("email").as_string(), "noreply-dmarc@mx.example.org");
  EXPECT_EQ(parsed.at("extra_contact_info").as_string(), "https://example.org/dmarc");
  EXPECT_EQ(parsed.at("report_id").as_string(), "1700006400.example.com");
  EXPECT_EQ(parsed.at("begin").as_int64(), 1700006400);
  EXPECT_EQ(parsed.at("end").as_int64(), 1700092799);
  const auto& policy = parsed.at("policy").as_object();
  EXPECT_EQ(policy.at("domain").as_string(), "example.com");
  EXPECT_EQ(policy.at("adkim").as_string(), "s");
  EXPECT_EQ(policy.at("aspf").as_string(), "r");
  EXPECT_EQ(policy.at("p").as_string(), "reject");
  EXPECT_EQ(policy.at("sp").as_string(), "reject");
  EXPECT_EQ(policy.at("pct").as_string(), "50");
  EXPECT_TRUE(policy.at("np").is_null());
  const auto& records = parsed.at("records").as_array();
  ASSERT_EQ(records.size(), 2u);
  const auto& first = records[0].as_object();
  EXPECT_EQ(first.at("source_ip").as_string(), "192.0.2.10");
  EXPECT_EQ(first.at("count").as_int64(), 41);
  EXPECT_EQ(first.at("disposition").as_string(), "none");
  EXPECT_EQ(first.at("dkim").as_string(), "pass");
  EXPECT_EQ(first.at("spf").as_string(), "fail");
  EXPECT_TRUE(first.at("reason").is_null());
  EXPECT_EQ(first.at("envelope_to").as_string(), "example.net");
  EXPECT_EQ(first.at("envelope_from").as_string(), "bounce.example.com");
  EXPECT_EQ(first.at("header_from").as_string(), "example.com");
  const auto& dkim = first.at("auth_dkim").as_array();
  ASSERT_EQ(dkim.size(), 2u);
  EXPECT_EQ(dkim[0].at("domain").as_string(), "example.com");
  EXPECT_EQ(dkim[0].at("selector").as_string(), "s2024");
  EXPECT_EQ(dkim[0].at("result").as_string(), "pass");
  EXPECT_EQ(dkim[1].at("result").as_string(), "permerror");
  const auto& spf = first.at("auth_spf").as_array();
  ASSERT_EQ(spf.size(), 1u);
  EXPECT_EQ(spf[0].at("domain").as_string(), "bounce.example.com");
  EXPECT_EQ(spf[0].at("scope").as_string(), "mfrom");
  EXPECT_EQ(spf[0].at("result").as_string(), "softfail");
  const auto& second = records[1].as_object();
  EXPECT_EQ(second.at("source_ip").as_string(), "2001:db8::25");
  EXPECT_EQ(second.at("count").as_int64(), 1);
  EXPECT_EQ(second.at("dkim").as_string(), "fail");
  EXPECT_TRUE(second.at("envelope_to").is_null());
  EXPECT_EQ(second.at("auth_dkim").as_array().size(), 0u);
  EXPECT_EQ(second.at("header_from").as_string(), "ex<ample>&\"'.com\xef\xbf\xbd\xef\xbf\xbd");
}

TEST(AggregateReportXml, NonexistentSubdomainPolicyFollowsSubdomainPolicy) {
  AggregateReport report = sampleReport();
  report.policy.np = "quarantine";
  std::string xml = renderAggregateReport(report);
  auto sp = xml.find("<sp>reject</sp>");
  auto np = xml.find("<np>quarantine</np>");
  ASSERT_NE(sp, std::string::npos);
  ASSERT_NE(np, std::string::npos);
  EXPECT_LT(sp, np);
  EXPECT_LT(np, xml.find("</policy_published>"));
}

TEST(AggregateReportXml, ShapeMatchesTheSampleReports) {
  fs::path samples = testing::testdataRoot() / "dmarc" / "aggregate-reports";
  BULWARK_REQUIRE_FOLDER(samples);
  AggregateReport report = sampleReport();
  report.policy.np = "reject";  // DMARCbis: the 2.0 sample places it
  report.rows[1].reason = "sampled_out";
  CheckRun run = runChecker(renderAggregateReport(report), samples);
  EXPECT_EQ(run.status, 0) << run.output;

  // The check itself can fail: an element the samples never use, and siblings swapped.
  std::string swapped = renderAggregateReport(sampleReport());
  swapped.replace(swapped.find("<version>1.0</version>"), 22, "<versio>1.0</versio>");
  EXPECT_NE(runChecker(swapped, samples).status, 0);
  std::string reordered = renderAggregateReport(sampleReport());
  auto metadata = reordered.find("  <report_metadata>");
  auto policy = reordered.find("  <policy_published>");
  auto record = reordered.find("  <record>");
  std::string metadata_text = reordered.substr(metadata, policy - metadata);
  std::string policy_text = reordered.substr(policy, record - policy);
  reordered.replace(metadata, record - metadata, policy_text + metadata_text);
  EXPECT_NE(runChecker(reordered, samples).status, 0);
}

}  // namespace
}  // namespace bulwark::auth
