// DMARC aggregate reports, RFC 7489 7.2 and Appendix C: what one evaluation contributes, the
// report URIs of rua= (6.2, with the size limit "!"), the external-destination check of 7.1, and
// the XML report. The URIs, the evaluated messages' identities and DNS answers are untrusted.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "auth/dmarc.h"

namespace bulwark::auth {

// One evaluated message, as the pipeline records it.
struct DmarcEvaluation {
  std::chrono::system_clock::time_point time;
  std::string source_ip;
  std::string header_from;    // the author domain
  std::string envelope_from;  // MAIL FROM domain (HELO for <>)
  std::string envelope_to;    // first recipient's domain
  DmarcOutcome outcome;       // with the record as published
  SpfResult spf = SpfResult::none;
  std::string spf_domain;
  bool null_sender = false;  // MAIL FROM <>: SPF checked the HELO identity (report scope "helo")
  std::vector<DkimSignatureResult> dkim;
};

struct ReportUri {
  std::string address;         // the mailto: address (only mailto is supported for sending)
  std::uint64_t max_size = 0;  // "!" limit in bytes; 0: none
};
// "mailto:dmarc@example.com!10m" → address and limit; nullopt for other schemes or bad syntax.
// Units k, m, g, t are powers of 1024; a limit too large for 64 bits means "no limit".
std::optional<ReportUri> parseReportUri(std::string_view uri);

// RFC 7489 7.1: a report for `policy_domain` may go to a mailbox in another organizational
// domain only if <policy_domain>._report._dmarc.<destination domain> has a TXT record starting
// "v=DMARC1"; same organization: allowed without a lookup. The reason goes in the log line of a
// refused destination. `destination` is the domain of the rua address; `same_organization` says
// whether its organizational domain is the policy domain's (the caller asks the Public Suffix
// List).
struct DestinationCheck {
  bool allowed = false;
  std::string reason;  // why not, in words; for allowed ones how ("same organization", ...)
};
DestinationCheck checkReportDestination(dns::Resolver& resolver, std::string_view policy_domain,
                                        std::string_view destination, bool same_organization);

// The report's <policy_published> (Appendix C PolicyPublishedType, with np of DMARCbis), as the
// XML writes it, plus where reports go. Built from the record the evaluation found.
struct PublishedPolicy {
  std::string domain;  // where the record was found
  std::string adkim = "r";
  std::string aspf = "r";
  std::string p = "none";
  std::string sp = "none";
  std::string np;  // empty: not published (then not written: RFC 7489's schema lacks it)
  unsigned pct = 100;
  std::vector<std::string> rua;  // rua= URIs as published
};
PublishedPolicy publishedPolicy(const DmarcOutcome& outcome);

// One <record> of the report with the values as the XML writes them: the group key is every
// field but `count` (RFC 7489 7.2.1.1 aggregates by these).
struct ReportRow {
  std::string source_ip;
  std::string disposition = "none";  // none, quarantine, reject
  std::string dkim = "fail";         // DMARC-aligned DKIM: pass, fail
  std::string spf = "fail";          // DMARC-aligned SPF: pass, fail
  std::string reason;                // PolicyOverrideType, e.g. "sampled_out"; empty: none
  std::string envelope_to;
  std::string envelope_from;
  std::string header_from;
  struct Dkim {
    std::string domain, selector, result;
  };
  std::vector<Dkim> dkim_results;
  std::string spf_domain;
  std::string spf_scope = "mfrom";  // mfrom, helo
  std::string spf_result = "none";
  std::uint64_t count = 1;
};
ReportRow reportRow(const DmarcEvaluation& evaluation);

struct AggregateReport {
  std::string organization_name;
  std::string email;               // the report sender's address
  std::string extra_contact_info;  // empty: not written
  std::string report_id;
  std::int64_t begin = 0;  // seconds since the epoch, UTC
  std::int64_t end = 0;
  PublishedPolicy policy;
  std::vector<ReportRow> rows;
};
// The report as XML (Appendix C element names and order). Every text is escaped; bytes that XML
// 1.0 cannot carry (control characters, invalid UTF-8) are replaced by U+FFFD.
std::string renderAggregateReport(const AggregateReport& report);

// Text safe inside an XML element or attribute (the escaping renderAggregateReport uses).
std::string escapeXml(std::string_view text);

}  // namespace bulwark::auth
