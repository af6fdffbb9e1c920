// Authentication-Results (RFC 8601): rendering (quoting, folding under 78 columns), parsing
// (CFWS, versions, "none", reason=, properties, comments; RFC 8601 Appendix B and
// Gmail/Microsoft-style fields written for these tests), round trips, and removal of fields
// that claim our authserv-id.
#include "auth/authentication_results.h"

#include <gtest/gtest.h>

namespace bulwark::auth {
namespace {

AuthenticationResults sample() {
  AuthenticationResults results;
  results.authserv_id = "mx.bulwark.example";
  MethodResult spf{"spf", "pass", "", {{"smtp", "mailfrom", "sender@example.com"}}, ""};
  MethodResult dkim{"dkim",
                    "fail",
                    "body hash did not verify",
                    {{"header", "d", "example.com"},
                     {"header", "s", "selector one"},
                     {"header", "b", "ab/c+d=="}},
                    "signature (v=1) by example.com"};
  MethodResult dmarc{"dmarc", "pass", "", {{"header", "from", "example.com"}}, ""};
  results.results = {spf, dkim, dmarc};
  return results;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::size_t position = 0;
  while (position < text.size()) {
    std::size_t end = text.find("\r\n", position);
    if (end == std::string::npos) end = text.size();
    out.push_back(text.substr(position, end - position));
    position = end + 2;
  }
  return out;
}

TEST(AuthenticationResults, RendersQuotedWhereNeeded) {
  std::string field = renderAuthenticationResults(sample());
  EXPECT_EQ(field,
            "Authentication-Results: mx.bulwark.example;\r\n"
            "\tspf=pass smtp.mailfrom=sender@example.com;\r\n"
            "\tdkim=fail reason=\"body hash did not verify\" header.d=example.com\r\n"
            "\theader.s=\"selector one\" header.b=\"ab/c+d==\" (signature \\(v=1\\) by\r\n"
            "\texample.com);\r\n"
            "\tdmarc=pass header.from=example.com\r\n");
}

TEST(AuthenticationResults, NoResultsIsNone) {
  AuthenticationResults results;
  results.authserv_id = "mx.example";
  EXPECT_EQ(renderResultsValue(results), "mx.example; none");
  Result<AuthenticationResults> parsed = parseAuthenticationResults(" mx.example; none ");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->authserv_id, "mx.example");
  EXPECT_TRUE(parsed->results.empty());
}

TEST(AuthenticationResults, FoldsLongFieldsUnder78Columns) {
  AuthenticationResults results;
  results.authserv_id = "mx.example";
  MethodResult dkim{"dkim", "pass", "", {}, ""};
  for (int index = 0; index < 12; ++index) {
    dkim.properties.push_back({"header", "i", "@sub" + std::to_string(index) + ".example.com"});
  }
  dkim.comment = std::string(30, 'x') + " " + std::string(30, 'y') + " " + std::string(30, 'z');
  results.results = {dkim};
  std::string field = renderAuthenticationResults(results);
  for (const std::string& line : lines(field)) EXPECT_LE(line.size(), 78u) << line;
  Result<AuthenticationResults> back = parseAuthenticationResults(renderResultsValue(results));
  ASSERT_TRUE(back.has_value()) << back.error().message;
  ASSERT_EQ(back->results.size(), 1u);
  EXPECT_EQ(back->results[0].properties.size(), 12u);
  EXPECT_EQ(back->results[0].comment, dkim.comment);
}

TEST(AuthenticationResults, RoundTrip) {
  AuthenticationResults original = sample();
  Result<AuthenticationResults> parsed = parseAuthenticationResults(renderResultsValue(original));
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_EQ(parsed->authserv_id, original.authserv_id);
  ASSERT_EQ(parsed->results.size(), original.results.size());
  for (std::size_t index = 0; index < original.results.size(); ++index) {
    const MethodResult& want = original.results[index];
    const MethodResult& got = parsed->results[index];
    EXPECT_EQ(got.method, want.method);
    EXPECT_EQ(got.result, want.result);
    EXPECT_EQ(got.reason, want.reason);
    EXPECT_EQ(got.comment, want.comment);
    ASSERT_EQ(got.properties.size(), want.properties.size());
    for (std::size_t property = 0; property < want.properties.size(); ++property) {
      EXPECT_EQ(got.properties[property].type, want.properties[property].type);
      EXPECT_EQ(got.properties[property].name, want.properties[property].name);
      EXPECT_EQ(got.properties[property].value, want.properties[property].value);
    }
  }
}

// RFC 8601 Appendix B.4-B.6 style: several methods, a version, comments everywhere.
TEST(AuthenticationResults, ParsesAppendixBStyle) {
  Result<AuthenticationResults> parsed = parseAuthenticationResults(
      " example.com 1;\r\n"
      "          auth=pass (cram-md5) smtp.auth=sender@example.net;\r\n"
      "          spf=pass smtp.mailfrom=example.net;\r\n"
      "          sender-id=pass header.from=example.net;\r\n"
      "          dkim/1 = pass (good signature) header.d=mail-router.example.net;\r\n"
      "          dkim=fail (bad signature) header.i=\"@newyork.example.com\"");
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_EQ(parsed->authserv_id, "example.com");
  ASSERT_EQ(parsed->results.size(), 5u);
  EXPECT_EQ(parsed->results[0].method, "auth");
  EXPECT_EQ(parsed->results[0].comment, "cram-md5");
  EXPECT_EQ(parsed->results[0].properties[0].value, "sender@example.net");
  EXPECT_EQ(parsed->results[3].method, "dkim/1");
  EXPECT_EQ(parsed->results[3].comment, "good signature");
  EXPECT_EQ(parsed->results[4].properties[0].name, "i");
  EXPECT_EQ(parsed->results[4].properties[0].value, "@newyork.example.com");
}

TEST(AuthenticationResults, ParsesGmailStyle) {
  Result<AuthenticationResults> parsed = parseAuthenticationResults(
      " mx.google.com;\r\n"
      "       dkim=pass header.i=@example.com header.s=20230601 header.b=Ab1/Cd2+;\r\n"
      "       spf=pass (google.com: domain of bounce@example.com designates 192.0.2.1 as "
      "permitted sender) smtp.mailfrom=bounce@example.com;\r\n"
      "       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.com");
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  ASSERT_EQ(parsed->results.size(), 3u);
  EXPECT_EQ(parsed->results[0].properties[2].value, "Ab1/Cd2+");
  EXPECT_EQ(parsed->results[1].comment,
            "google.com: domain of bounce@example.com designates 192.0.2.1 as permitted sender");
  EXPECT_EQ(parsed->results[2].comment, "p=REJECT sp=REJECT dis=NONE");
}

TEST(AuthenticationResults, ParsesMicrosoftStyle) {
  Result<AuthenticationResults> parsed = parseAuthenticationResults(
      " spf=pass (sender IP is 192.0.2.1)\r\n smtp.mailfrom=example.com; dkim=none (message not "
      "signed)\r\n header.d=none;dmarc=none action=none header.from=example.com;compauth=pass "
      "reason=100");
  // Without an authserv-id (as Microsoft 365 writes its internal fields) the field is invalid.
  EXPECT_FALSE(parsed.has_value());
  Result<AuthenticationResults> with_id = parseAuthenticationResults(
      " outlook.example; dkim=none (message not signed) header.d=none;dmarc=none action=none "
      "header.from=example.com;compauth=pass reason=100");
  ASSERT_TRUE(with_id.has_value()) << with_id.error().message;
  ASSERT_EQ(with_id->results.size(), 3u);
  EXPECT_EQ(with_id->results[1].properties[0].type, "");
  EXPECT_EQ(with_id->results[1].properties[0].name, "action");
  EXPECT_EQ(with_id->results[2].reason, "100");
}

TEST(AuthenticationResults, SyntaxErrors) {
  EXPECT_FALSE(parseAuthenticationResults("").has_value());
  EXPECT_FALSE(parseAuthenticationResults("example.com").has_value());
  EXPECT_FALSE(parseAuthenticationResults("example.com 2; spf=pass").has_value());
  EXPECT_FALSE(parseAuthenticationResults("example.com; spf").has_value());
  EXPECT_FALSE(parseAuthenticationResults("example.com; spf=pass (open").has_value());
  EXPECT_FALSE(parseAuthenticationResults("example.com; spf=pass smtp.mailfrom").has_value());
}

TEST(AuthenticationResults, RemovesOnlyOurs) {
  std::string message =
      "Authentication-Results: MX.Bulwark.Example; spf=pass smtp.mailfrom=x.example\r\n"
      "Received: from a by b\r\n"
      "authentication-results : (forged) mx.bulwark.example;\r\n"
      "\tdkim=pass header.d=bank.example\r\n"
      "Authentication-Results: mx.bulwark.example (unclosed; dmarc=pass\r\n"
      "Authentication-Results: \"mx.bulwark.example\"; none\r\n"
      "Authentication-Results: mx.bulwark.example.evil; spf=pass\r\n"
      "Authentication-Results: other.example; spf=fail smtp.mailfrom=mx.bulwark.example\r\n"
      "Subject: mx.bulwark.example\r\n"
      "\r\n"
      "Authentication-Results: mx.bulwark.example; in the body\r\n";
  EXPECT_EQ(removeOurAuthenticationResults(message, "mx.bulwark.example"), 4u);
  EXPECT_EQ(message,
            "Received: from a by b\r\n"
            "Authentication-Results: mx.bulwark.example.evil; spf=pass\r\n"
            "Authentication-Results: other.example; spf=fail smtp.mailfrom=mx.bulwark.example\r\n"
            "Subject: mx.bulwark.example\r\n"
            "\r\n"
            "Authentication-Results: mx.bulwark.example; in the body\r\n");
  EXPECT_EQ(removeOurAuthenticationResults(message, "mx.bulwark.example"), 0u);
}

}  // namespace
}  // namespace bulwark::auth
