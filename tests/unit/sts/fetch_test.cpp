// Tests of the HTTPS policy fetcher's failures that need no HTTPS server: no address, a name that
// cannot be a host, a refused connection, and a server that accepts the connection and then says
// nothing (the one deadline ends the fetch). Fetches that reach a real server are in
// tests/integration/mta_sts_test.py.
#include "sts/fetch.h"

#include "support/fake_resolver.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

namespace bulwark::sts {
namespace {

using bulwark::testing::FakeResolver;

// A loopback TCP socket; listening (connections complete in the kernel and are never served) or
// merely bound (connections are refused).
class LoopbackSocket {
 public:
  explicit LoopbackSocket(bool listening) {
    descriptor_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(descriptor_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    socklen_t length = sizeof address;
    EXPECT_EQ(::getsockname(descriptor_, reinterpret_cast<sockaddr*>(&address), &length), 0);
    port_ = ntohs(address.sin_port);
    if (listening) {
      EXPECT_EQ(::listen(descriptor_, 4), 0);
    }
  }
  ~LoopbackSocket() { ::close(descriptor_); }
  std::uint16_t port() const { return port_; }

 private:
  int descriptor_ = -1;
  std::uint16_t port_ = 0;
};

TEST(StsFetch, NoAddressIsADnsError) {
  FakeResolver resolver;
  HttpsPolicyFetcher fetcher(resolver, FetchOptions{});
  auto result = fetcher.fetch("remote.test");
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, "dns");
  EXPECT_NE(result.error().message.find("mta-sts.remote.test"), std::string::npos);
}

TEST(StsFetch, NamesThatCannotBeHostsAreNeverLookedUp) {
  FakeResolver resolver;
  resolver.address_records["mta-sts.a b.test"] = {"127.0.0.1"};
  HttpsPolicyFetcher fetcher(resolver, FetchOptions{});
  for (const std::string& bad :
       std::vector<std::string>{"a b.test", "a\r\nHost: evil.test", "[127.0.0.1]", ""}) {
    auto result = fetcher.fetch(bad);
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error().code, "dns");
  }
}

TEST(StsFetch, RefusedConnectionIsAConnectError) {
  LoopbackSocket closed(false);
  FakeResolver resolver;
  resolver.address_records["mta-sts.remote.test"] = {"127.0.0.1"};
  FetchOptions options;
  options.port = closed.port();
  HttpsPolicyFetcher fetcher(resolver, options);
  auto result = fetcher.fetch("remote.test");
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, "connect");
}

TEST(StsFetch, SilentServerEndsAtTheTimeout) {
  LoopbackSocket silent(true);
  FakeResolver resolver;
  resolver.address_records["mta-sts.remote.test"] = {"127.0.0.1"};
  FetchOptions options;
  options.port = silent.port();
  options.timeout = std::chrono::seconds(1);
  HttpsPolicyFetcher fetcher(resolver, options);
  const auto started = std::chrono::steady_clock::now();
  auto result = fetcher.fetch("remote.test");
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, "timeout");
  EXPECT_NE(result.error().message.find("TLS handshake"), std::string::npos)
      << result.error().message;
  EXPECT_GE(took, std::chrono::milliseconds(900));
  EXPECT_LT(took, std::chrono::seconds(5));
}

}  // namespace
}  // namespace bulwark::sts
