// The Public Suffix List (publicsuffix.org; the format of its "Formal Algorithm") and the
// Organizational Domain of DMARC (RFC 7489 3.2). The list file is local, trusted configuration;
// the domains asked about are untrusted.
#pragma once

#include "common/result.h"

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace bulwark::auth {

class PublicSuffixList {
 public:
  // Reads public_suffix_list.dat (rules, wildcards "*.", exceptions "!", comments, ICANN and
  // private sections both used). An unreadable or empty file is an error naming the path.
  static Result<PublicSuffixList> load(const std::filesystem::path& file);
  static PublicSuffixList fromText(std::string_view text);

  // The public suffix of `domain`; the implicit rule "*" applies when no rule matches. Names
  // are compared as A-labels (U-labels of the list and of `domain` go through IDNA), and results
  // keep the form `domain` was given in, ASCII lower-cased, without a trailing dot. A
  // default-constructed list has no rules (only "*").
  std::string publicSuffix(std::string_view domain) const;
  // The public suffix plus one label (RFC 7489 3.2); `domain` itself when it is a public suffix
  // or shorter. Empty when `domain` is empty or not a domain name.
  std::string organizationalDomain(std::string_view domain) const;
  // The public suffix plus one label, nullopt when `domain` is a public suffix itself or not a
  // domain name (the list's own tests call this the registrable domain; "null" there).
  std::optional<std::string> registrableDomain(std::string_view domain) const;

 private:
  struct Rules;
  const Rules& rules() const;
  std::shared_ptr<const Rules> rules_;
};

}  // namespace bulwark::auth
