// A dns::Resolver answering from maps, for routing tests: names absent from every map are
// NXDOMAIN, present names without the asked type NODATA, and names listed as failing answer
// "temporary". Answers are insecure unless the name is listed in `secure`; names in `bogus`
// fail DNSSEC validation (status bogus). address_records holds both families; the one-family
// lookup keeps the addresses of the asked family (NODATA when the name has only the other).
// ptr_records is keyed by the address as written ("192.0.2.1", "2001:db8::1"); `failing` and
// `bogus` apply to those keys too.
#pragma once

#include "dns/resolver.h"

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace bulwark::testing {

class FakeResolver final : public dns::Resolver {
 public:
  std::map<std::string, std::vector<dns::MxRecord>> mx_records;
  std::map<std::string, std::vector<std::string>> address_records;
  std::map<std::string, std::vector<dns::TlsaRecord>> tlsa_records;
  std::map<std::string, std::vector<std::string>> txt_records;  // each string one record
  std::map<std::string, std::vector<std::string>> ptr_records;  // address -> names
  std::set<std::string> failing;
  std::set<std::string> secure;
  std::set<std::string> bogus;
  std::vector<std::string> tlsa_queries;  // every TLSA name asked, in order
  std::vector<std::string> txt_queries;   // every TXT name asked, in order

  std::vector<std::string> tlsaQueries() {
    std::lock_guard lock(mutex_);
    return tlsa_queries;
  }

  dns::Answer<dns::MxRecord> mx(std::string_view domain) override {
    return lookup(mx_records, std::string(domain));
  }
  dns::Answer<std::string> addresses(std::string_view host) override {
    return lookup(address_records, std::string(host));
  }
  dns::Answer<std::string> addresses(std::string_view host, dns::AddressFamily family) override {
    auto answer = lookup(address_records, std::string(host));
    if (answer.status != dns::Status::ok) return answer;
    const bool wantIpv6 = family == dns::AddressFamily::ipv6;
    std::erase_if(answer.records, [wantIpv6](const std::string& address) {
      return (address.find(':') != std::string::npos) != wantIpv6;
    });
    if (answer.records.empty()) answer.status = dns::Status::nodata;
    return answer;
  }
  dns::Answer<std::string> ptr(std::string_view address) override {
    return lookup(ptr_records, std::string(address));
  }
  dns::Answer<std::string> txt(std::string_view name) override {
    {
      std::lock_guard lock(mutex_);
      txt_queries.emplace_back(name);
    }
    return lookup(txt_records, std::string(name));
  }
  dns::Answer<dns::TlsaRecord> tlsa(std::string_view name) override {
    {
      std::lock_guard lock(mutex_);
      tlsa_queries.emplace_back(name);
    }
    return lookup(tlsa_records, std::string(name));
  }

 private:
  bool exists(const std::string& name) const {
    return mx_records.count(name) || address_records.count(name) || tlsa_records.count(name) ||
           txt_records.count(name) || ptr_records.count(name);
  }
  template <class Record>
  dns::Answer<Record> lookup(const std::map<std::string, std::vector<Record>>& table,
                             const std::string& name) {
    std::lock_guard lock(mutex_);
    dns::Answer<Record> answer;
    if (failing.count(name)) {
      answer.status = dns::Status::temporary;
      answer.reason = "SERVFAIL (test)";
      return answer;
    }
    if (bogus.count(name)) {
      answer.status = dns::Status::bogus;
      answer.reason = "validation failure (test)";
      return answer;
    }
    answer.secure = secure.count(name) > 0;
    auto found = table.find(name);
    if (found != table.end()) {
      answer.status = dns::Status::ok;
      answer.records = found->second;
    } else {
      answer.status = exists(name) ? dns::Status::nodata : dns::Status::nxdomain;
    }
    return answer;
  }
  std::mutex mutex_;
};

}  // namespace bulwark::testing
