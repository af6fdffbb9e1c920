// Fetching an MTA-STS policy (RFC 8461 3.3): HTTPS GET of
// https://mta-sts.<domain>/.well-known/mta-sts.txt with a PKIX-verified certificate naming
// mta-sts.<domain>, TLS 1.2 or newer, no redirects followed, only a 200 with media type
// text/plain, a body limit and one deadline for the whole exchange. The host is found through
// the dns::Resolver seam. Everything the server sends is untrusted. Blocking (delivery workers).
#pragma once

#include "common/result.h"
#include "dns/resolver.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>

namespace bulwark::sts {

// The seam between policy discovery and the network (tests put a fake behind it).
class PolicyFetcher {
 public:
  virtual ~PolicyFetcher() = default;
  // The policy text of `domain` (lower-case), or why there is none: code "dns", "connect",
  // "tls", "http", "limit", "timeout" or "status" (a reply other than 200), with a sentence.
  virtual Result<std::string> fetch(std::string_view domain) = 0;
};

struct FetchOptions {
  std::uint16_t port = 443;  // tests serve the policy on another port
  std::size_t max_policy_size = 64 * 1024;
  std::chrono::seconds timeout{30};  // the whole fetch: connect, handshake, request, reply
  std::filesystem::path ca_file;     // trust anchors; empty: OpenSSL's default paths
};

class HttpsPolicyFetcher final : public PolicyFetcher {
 public:
  HttpsPolicyFetcher(dns::Resolver& resolver, FetchOptions options)
      : resolver_(resolver), options_(std::move(options)) {}
  Result<std::string> fetch(std::string_view domain) override;

 private:
  dns::Resolver& resolver_;
  FetchOptions options_;
};

}  // namespace bulwark::sts
