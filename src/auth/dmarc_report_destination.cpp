// RFC 7489 7.1 with the Public Suffix List: whether a report destination belongs to the policy
// domain's organization, else whether it authorised reports for it in DNS (untrusted answers).
// Apart from dmarc_report.cpp so that the report code links without the suffix list.
#include "auth/dmarc_report.h"
#include "common/strings.h"

namespace bulwark::auth {

bool reportDestinationAllowed(dns::Resolver& resolver, const PublicSuffixList& suffixes,
                              std::string_view policy_domain, std::string_view destination) {
  std::string policy_organization = suffixes.organizationalDomain(asciiLower(policy_domain));
  bool same = !policy_organization.empty() &&
              policy_organization == suffixes.organizationalDomain(asciiLower(destination));
  return checkReportDestination(resolver, policy_domain, destination, same).allowed;
}

}  // namespace bulwark::auth
