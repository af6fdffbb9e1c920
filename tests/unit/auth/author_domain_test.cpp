// The author domain DMARC evaluates (dmarc.h authorDomain): the table in
// data/author_domain_cases.tsv (the "Composition Kills" From ambiguities and ordinary fields),
// the address-list parser's limits, and encoded-word decoding.
#include "auth/address_list.h"
#include "auth/dmarc.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

namespace bulwark::auth {
namespace {

struct AuthorCase {
  std::string name;
  std::string status;
  std::string domain;
  std::string message;
};

int hexDigit(char character) {
  if (character >= '0' && character <= '9') return character - '0';
  if (character >= 'a' && character <= 'f') return character - 'a' + 10;
  if (character >= 'A' && character <= 'F') return character - 'A' + 10;
  return -1;
}

std::string unescaped(const std::string& text) {
  std::string out;
  for (std::size_t index = 0; index < text.size(); ++index) {
    if (text[index] != '\\' || index + 1 >= text.size()) {
      out += text[index];
      continue;
    }
    char next = text[++index];
    switch (next) {
      case 'r': out += '\r'; break;
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case '0': out += '\0'; break;
      case 'x':
        out += static_cast<char>(hexDigit(text[index + 1]) * 16 + hexDigit(text[index + 2]));
        index += 2;
        break;
      default: out += next; break;
    }
  }
  return out;
}

std::vector<AuthorCase> loadCases() {
  std::ifstream in(std::string(AUTH_TEST_DATA_DIR) + "/author_domain_cases.tsv");
  EXPECT_TRUE(in) << "cannot read author_domain_cases.tsv";
  std::vector<AuthorCase> cases;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line.front() == '#') continue;
    std::vector<std::string> columns;
    std::size_t position = 0;
    for (int column = 0; column < 3; ++column) {
      std::size_t tab = line.find('\t', position);
      EXPECT_NE(tab, std::string::npos) << line;
      if (tab == std::string::npos) break;
      columns.push_back(line.substr(position, tab - position));
      position = tab + 1;
    }
    if (columns.size() != 3) continue;
    cases.push_back({columns[0], columns[1], columns[2], unescaped(line.substr(position))});
  }
  return cases;
}

std::string statusName(AuthorDomain::Status status) {
  switch (status) {
    case AuthorDomain::Status::single: return "single";
    case AuthorDomain::Status::none: return "none";
    case AuthorDomain::Status::ambiguous: return "ambiguous";
  }
  return "?";
}

TEST(AuthorDomain, EveryCaseOfTheTable) {
  std::vector<AuthorCase> cases = loadCases();
  ASSERT_GE(cases.size(), 60u);
  for (const AuthorCase& test : cases) {
    AuthorDomain author = authorDomain(test.message);
    EXPECT_EQ(statusName(author.status), test.status) << test.name << ": " << author.reason;
    if (test.status == "single") {
      EXPECT_EQ(author.domain, test.domain) << test.name;
    } else {
      EXPECT_TRUE(author.domain.empty()) << test.name;
      EXPECT_FALSE(author.reason.empty()) << test.name;
    }
  }
}

TEST(AuthorDomain, ReasonsNameTheProblem) {
  EXPECT_EQ(authorDomain("From: a@x.example\r\nFrom: b@y.example\r\n\r\n").reason,
            "2 From fields");
  EXPECT_EQ(authorDomain("From: a@x.example, b@y.example\r\n\r\n").reason,
            "addresses in different domains (x.example, y.example)");
}

TEST(AuthorDomain, AddressLimit) {
  std::string list;
  for (int index = 0; index < 5; ++index) {
    list += (index ? ", a" : "a") + std::to_string(index) + "@x.example";
  }
  AddressListLimits limits;
  limits.max_addresses = 5;
  EXPECT_EQ(authorDomain("From: " + list + "\r\n\r\n", limits).status,
            AuthorDomain::Status::single);
  limits.max_addresses = 4;
  AuthorDomain past = authorDomain("From: " + list + "\r\n\r\n", limits);
  EXPECT_EQ(past.status, AuthorDomain::Status::ambiguous);
  EXPECT_NE(past.reason.find("more than 4 addresses"), std::string::npos) << past.reason;
}

TEST(AuthorDomain, CommentDepthLimit) {
  AddressListLimits limits;
  limits.max_comment_depth = 3;
  EXPECT_TRUE(parseAddressList("(((c))) a@x.example", limits).has_value());
  Result<AddressList> past = parseAddressList("((((c)))) a@x.example", limits);
  ASSERT_FALSE(past.has_value());
  EXPECT_NE(past.error().message.find("deeper than 3"), std::string::npos);
  // Deep nesting costs no stack: a million parentheses are an error, not a crash.
  std::string deep(1'000'000, '(');
  EXPECT_FALSE(parseAddressList(deep + "a@x.example").has_value());
}

TEST(AddressList, PartsOfAMailbox) {
  Result<AddressList> list =
      parseAddressList("\"Doe, J.\" (home) <\"j doe\"@Example.COM>, g: k@x.example;");
  ASSERT_TRUE(list.has_value()) << list.error().message;
  ASSERT_EQ(list->mailboxes.size(), 2u);
  EXPECT_EQ(list->mailboxes[0].display_name, "Doe, J.");
  EXPECT_EQ(list->mailboxes[0].local_part, "j doe");
  EXPECT_TRUE(list->mailboxes[0].quoted_local_part);
  EXPECT_EQ(list->mailboxes[0].domain, "Example.COM");
  EXPECT_EQ(list->mailboxes[1].local_part, "k");
  EXPECT_EQ(list->groups, 1u);
  ASSERT_EQ(list->comments.size(), 1u);
  EXPECT_EQ(list->comments[0], "home");
}

TEST(AddressList, EncodedWords) {
  EXPECT_EQ(decodeEncodedWords("=?UTF-8?B?SsO8cmdlbg==?= x"), "J\xc3\xbcrgen x");
  EXPECT_EQ(decodeEncodedWords("=?iso-8859-1?q?a_b=3Dc?= =?us-ascii?q?d?="), "a b=cd");
  EXPECT_EQ(decodeEncodedWords("=?utf-8?x?abc?= plain"), "=?utf-8?x?abc?= plain");
  bool opaque = false;
  decodeEncodedWords("=?utf-16?b?AEA=?=", &opaque);
  EXPECT_TRUE(opaque);
  opaque = false;
  decodeEncodedWords("=?utf-8*en?q?a?=", &opaque);
  EXPECT_FALSE(opaque);
}

}  // namespace
}  // namespace bulwark::auth
