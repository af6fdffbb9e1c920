// Tests for [[local_domain]] delivery to a downstream mailbox server (docs/configuration.md):
// delivery = "lmtp"/"smtp" with host (TCP or, for LMTP, a unix socket), tls and the SMTP login;
// every wrong value is reported at its line and column with what to write instead.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config_test_support.h"

namespace bulwark {
namespace {

std::string domain(std::string_view lines) {
  return "[[local_domain]]\nname = \"example.com\"\n" + std::string(lines);
}

TEST(LocalDomainConfig, MaildirStaysTheDefault) {
  const ConfigLoad result = load(domain(""));
  ASSERT_TRUE(result.ok()) << formatProblems("test.toml", result.problems);
  const LocalDomain& local = result.config.local_domains.at(0);
  EXPECT_EQ(local.delivery, "maildir");
  EXPECT_TRUE(local.host.empty());
  EXPECT_EQ(local.tls, TlsLevel::none);
}

TEST(LocalDomainConfig, OnlyMaildirDomainsAreStoredHere) {
  const ConfigLoad result = load(
      "[[local_domain]]\nname = \"box.example\"\n"
      "[[local_domain]]\nname = \"tcp.example\"\ndelivery = \"lmtp\"\nhost = \"127.0.0.1:24\"\n");
  ASSERT_TRUE(result.ok()) << formatProblems("test.toml", result.problems);
  EXPECT_TRUE(result.config.storedHere("alice@BOX.example"));
  EXPECT_FALSE(result.config.storedHere("alice@tcp.example")) << "its mailbox server is another MTA";
  EXPECT_FALSE(result.config.storedHere("alice@remote.example"));
  EXPECT_FALSE(result.config.storedHere("no-domain"));
}

TEST(LocalDomainConfig, LmtpAndSmtpMailboxServers) {
  const ConfigLoad result = load(
      "[[local_domain]]\nname = \"tcp.example\"\ndelivery = \"lmtp\"\nhost = \"127.0.0.1:24\"\n"
      "[[local_domain]]\nname = \"v6.example\"\ndelivery = \"lmtp\"\nhost = \"[::1]:24\"\n"
      "[[local_domain]]\nname = \"socket.example\"\ndelivery = \"lmtp\"\n"
      "host = \"unix:/var/run/dovecot/lmtp\"\n"
      "[[local_domain]]\nname = \"smtp.example\"\ndelivery = \"smtp\"\n"
      "host = \"mailbox.example.net:25\"\ntls = \"verify\"\nauth_user = \"bulwark\"\n"
      "auth_password_file = \"/etc/bulwark/mailbox.password\"\n");
  ASSERT_TRUE(result.ok()) << formatProblems("test.toml", result.problems);
  const auto& domains = result.config.local_domains;
  ASSERT_EQ(domains.size(), 4u);
  EXPECT_EQ(domains[0].delivery, "lmtp");
  EXPECT_EQ(domains[0].host, "127.0.0.1:24");
  EXPECT_EQ(domains[0].tls, TlsLevel::none);
  EXPECT_EQ(domains[1].host, "[::1]:24");
  EXPECT_EQ(domains[2].host, "unix:/var/run/dovecot/lmtp");
  EXPECT_EQ(domains[3].delivery, "smtp");
  EXPECT_EQ(domains[3].tls, TlsLevel::verify);
  EXPECT_EQ(domains[3].auth_user, "bulwark");
  EXPECT_EQ(domains[3].auth_password_file, "/etc/bulwark/mailbox.password");
  EXPECT_EQ(domains[3].config_line, 13);
}

TEST(LocalDomainConfig, UnknownMethodSuggestsAndSaysNothingElse) {
  expectProblem(domain("delivery = \"lmpt\"\nhost = \"127.0.0.1:24\"\n"), 3, 12,
                "is not one of maildir, lmtp, smtp; did you mean \"lmtp\"?");
}

TEST(LocalDomainConfig, MailboxServerNeedsAHost) {
  expectProblem(domain("delivery = \"lmtp\"\n"), 3, 12,
                "delivery = \"lmtp\" needs a host; add host = \"127.0.0.1:24\"");
  expectProblem(domain("delivery = \"smtp\"\n"), 3, 12, "needs a host");
}

TEST(LocalDomainConfig, BadHosts) {
  const auto with = [](std::string_view delivery, std::string_view host) {
    return domain("delivery = \"" + std::string(delivery) + "\"\nhost = \"" + std::string(host) +
                  "\"\n");
  };
  expectProblem(with("lmtp", "127.0.0.1"), 4, 8, "has no port (LMTP has no standard port");
  expectProblem(with("smtp", "mailbox.example.net"), 4, 8, "has no port (25 is usual)");
  expectProblem(with("lmtp", "127.0.0.1:0"), 4, 8, "invalid port; use a port from 1 to 65535");
  expectProblem(with("lmtp", "127.0.0.1:65536"), 4, 8, "invalid port");
  expectProblem(with("lmtp", "::1:24"), 4, 8, "IPv6 address without brackets; write \"[::1]:24\"");
  expectProblem(with("lmtp", "[mailbox]:24"), 4, 8, "no IP address inside the brackets");
  expectProblem(with("lmtp", "bad_host:24"), 4, 8, "a domain name has only letters");
  expectProblem(with("lmtp", "unix:var/run/lmtp"), 4, 8, "needs an absolute path");
  expectProblem(with("smtp", "unix:/var/run/lmtp"), 4, 8, "only delivery = \"lmtp\" uses");
  // sun_path holds 107 bytes and the NUL: 107 is the longest path, 108 one past it.
  EXPECT_TRUE(load(with("lmtp", "unix:/" + std::string(106, 'a'))).ok());
  expectProblem(with("lmtp", "unix:/" + std::string(107, 'a')), 4, 8,
                "longer than 107 bytes");
  expectProblem(domain("delivery = \"lmtp\"\nhost = 24\n"), 4, 8, "must be a string");
}

TEST(LocalDomainConfig, TlsLevels) {
  const auto with = [](std::string_view host, std::string_view tls) {
    return domain("delivery = \"lmtp\"\nhost = \"" + std::string(host) + "\"\ntls = \"" +
                  std::string(tls) + "\"\n");
  };
  for (std::string_view level : {"none", "opportunistic", "required", "verify"}) {
    EXPECT_TRUE(load(with("mailbox.example.net:24", level)).ok()) << level;
  }
  EXPECT_EQ(load(with("mailbox.example.net:24", "verify")).config.local_domains[0].tls,
            TlsLevel::verify);
  expectProblem(with("unix:/run/lmtp", "opportunistic"), 5, 7,
                "a unix socket never leaves this machine");
  EXPECT_TRUE(load(with("unix:/run/lmtp", "none")).ok());
  expectProblem(with("127.0.0.1:24", "verfy"), 5, 7, "did you mean \"verify\"?");
}

TEST(LocalDomainConfig, Login) {
  const std::string smtp = "delivery = \"smtp\"\nhost = \"mailbox.example.net:587\"\n";
  expectProblem(domain(smtp + "tls = \"verify\"\nauth_user = \"bulwark\"\n"), 6, 13,
                "auth_password_file is not; set both");
  expectProblem(domain(smtp + "tls = \"verify\"\nauth_password_file = \"/p\"\n"), 6, 22,
                "auth_user is not; set both");
  expectProblem(domain(smtp + "auth_user = \"bulwark\"\nauth_password_file = \"/p\"\n"), 5, 13,
                "AUTH is never sent in clear, and tls = \"none\"");
  expectProblem(domain(smtp + "tls = \"opportunistic\"\nauth_user = \"bulwark\"\n"
                              "auth_password_file = \"/p\"\n"),
                5, 7, "tls = \"opportunistic\" could send the password without TLS");
  EXPECT_TRUE(load(domain(smtp + "tls = \"required\"\nauth_user = \"bulwark\"\n"
                                 "auth_password_file = \"/p\"\n"))
                  .ok());
  expectProblem(domain("delivery = \"lmtp\"\nhost = \"127.0.0.1:24\"\nauth_user = \"x\"\n"
                       "auth_password_file = \"/p\"\n"),
                5, 13, "LMTP servers take no login from us");
}

TEST(LocalDomainConfig, MailboxKeysWithMaildirAreReported) {
  expectProblem(domain("host = \"127.0.0.1:24\"\n"), 3, 8,
                "local_domain[1].host: is only used with delivery = \"lmtp\" or \"smtp\"");
  expectProblem(domain("delivery = \"maildir\"\ntls = \"none\"\n"), 4, 7,
                "local_domain[1].tls: is only used with delivery");
}

TEST(LocalDomainConfig, UnknownKeySuggests) {
  expectProblem(domain("delivery = \"lmtp\"\nhost = \"127.0.0.1:24\"\nhots = \"x\"\n"), 5, 1,
                "local_domain[1].hots: unknown key; did you mean \"host\"?");
}

}  // namespace
}  // namespace bulwark
