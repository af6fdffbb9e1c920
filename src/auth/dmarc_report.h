// DMARC aggregate reports, RFC 7489 7.2 and Appendix C: what one evaluation contributes, the
// report URIs of rua= (6.2, with the size limit "!"), the external-destination check of 7.1, and
// the XML report. The URIs and DNS answers are untrusted.
#pragma once

#include "auth/dmarc.h"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

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
  std::vector<DkimSignatureResult> dkim;
};

struct ReportUri {
  std::string address;       // the mailto: address (only mailto is supported for sending)
  std::uint64_t max_size = 0;  // "!" limit in bytes; 0: none
};
// "mailto:dmarc@example.com!10m" → address and limit; nullopt for other schemes or bad syntax.
std::optional<ReportUri> parseReportUri(std::string_view uri);

// RFC 7489 7.1: a report for `policy_domain` may go to a mailbox in another organizational
// domain only if <policy_domain>._report._dmarc.<destination domain> has a TXT record starting
// "v=DMARC1". Same organizational domain: true without a lookup.
bool reportDestinationAllowed(dns::Resolver& resolver, const PublicSuffixList& suffixes,
                              std::string_view policy_domain, std::string_view destination);

}  // namespace bulwark::auth
