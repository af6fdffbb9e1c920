// What DMARC aggregate reports (RFC 7489 7.2) are built from: per reporting domain (where the
// DMARC record was found) and per report period, the policy as published and one counter per
// group of identical report rows; plus, per domain, the end of the last period reported, so a
// restart neither loses a period nor reports one twice. The rows' strings came from the network.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "auth/dmarc_report.h"
#include "common/result.h"

namespace bulwark::store {

// Periods are [begin, end) in seconds since the epoch (UTC); the report's date_range is
// begin .. end - 1.
struct DmarcReportPeriod {
  std::string domain;
  std::int64_t begin = 0;
  std::int64_t end = 0;
};

// One evaluated message: `row.count` is added to the group of identical rows of its period.
struct DmarcReportEntry {
  DmarcReportPeriod period;
  auth::PublishedPolicy policy;
  auth::ReportRow row;
};

struct DmarcRecordOutcome {
  std::uint64_t counted = 0;
  std::uint64_t already_reported = 0;  // for a period that was reported: dropped
  std::uint64_t over_limit = 0;        // a new group past max_rows_per_report: dropped
};

struct DmarcReportContent {
  auth::PublishedPolicy policy;  // as last seen in the period
  std::vector<auth::ReportRow> rows;
};

struct DmarcReportStoreLimits {
  // Distinct rows (groups) per domain and period. Each is one <record> of ~1 KB in the report;
  // past the limit new groups are dropped (and counted) so a flood of source addresses cannot
  // grow the store or the report without bound. Existing groups keep counting.
  std::uint32_t max_rows_per_report = 10000;
};

class DmarcReportStore {
 public:
  virtual ~DmarcReportStore() = default;
  // One transaction for the batch.
  virtual Result<DmarcRecordOutcome> record(const std::vector<DmarcReportEntry>& entries) = 0;
  // Periods holding rows that ended at or before `now` (seconds since the epoch), oldest first.
  virtual Result<std::vector<DmarcReportPeriod>> duePeriods(std::int64_t now) = 0;
  virtual Result<DmarcReportContent> load(const DmarcReportPeriod& period) = 0;
  // The period's rows are gone and its end is the domain's "reported up to" (one transaction).
  virtual Result<void> markReported(const DmarcReportPeriod& period) = 0;
  // The end of the last period reported for `domain`; 0 when none was.
  virtual Result<std::int64_t> reportedUpTo(std::string_view domain) = 0;
};

// SQLite in WAL mode at `path`, created with its schema if missing.
Result<std::unique_ptr<DmarcReportStore>> openSqliteDmarcReportStore(
    const std::filesystem::path& path, DmarcReportStoreLimits limits = {});

}  // namespace bulwark::store
