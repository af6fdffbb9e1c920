// The Public Suffix List (publicsuffix.org; the format of its "Formal Algorithm") and the
// Organizational Domain of DMARC (RFC 7489 3.2). The list file is local, trusted configuration;
// the domains asked about are untrusted.
#pragma once

#include "common/result.h"

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace bulwark::auth {

class PublicSuffixList {
 public:
  // Reads public_suffix_list.dat (rules, wildcards "*.", exceptions "!", comments, ICANN and
  // private sections both used). An unreadable or empty file is an error naming the path.
  static Result<PublicSuffixList> load(const std::filesystem::path& file);
  static PublicSuffixList fromText(std::string_view text);

  // The public suffix of `domain` (lower-case, no trailing dot); the implicit rule "*" applies
  // when no rule matches.
  std::string publicSuffix(std::string_view domain) const;
  // The public suffix plus one label (RFC 7489 3.2); `domain` itself when it is a public suffix
  // or shorter. Empty when `domain` is empty or not a domain name.
  std::string organizationalDomain(std::string_view domain) const;

 private:
  struct Rules;
  std::shared_ptr<const Rules> rules_;
};

}  // namespace bulwark::auth
