// The condition vocabulary of [rule.if] / [rule.unless] (docs/rule-reference.md): addresses and
// domains (exact, "*" wildcards, list files), inside/outside the organisation, words and RE2
// patterns in the subject, body and header fields, attachment names, extensions, true types,
// sizes and password protection, message size, SPF/DKIM/DMARC results, spam, classification,
// Domain Security, TLS and authentication. Values within one condition are ORed. The message is
// untrusted; reasons quote it with control characters replaced and long text cut.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "policy/file_type.h"
#include "policy/message_scan.h"
#include "policy/pattern.h"
#include "policy/rule.h"

namespace bulwark::policy {

// Which addresses a from* / to* condition looks at: the sender is the RFC5322.From address (what
// the reader sees), or the envelope sender when the message has no usable From; the recipients
// are the envelope recipients, and the condition matches when ANY of them does.
enum class AddressRole { sender, recipient };

// Exact addresses (a hash set, so long list files cost nothing per message) and "*" wildcards
// ("*@example.com", "ceo*@example.com"), compared case-insensitively (ASCII).
class AddressPatterns {
 public:
  void add(std::string_view pattern);
  // The pattern that matches `address`, if any.
  std::optional<std::string> match(std::string_view address) const;
  std::size_t size() const { return exact_.size() + wildcards_.size(); }

 private:
  std::unordered_set<std::string> exact_;
  std::vector<std::string> wildcards_;
};

// Domains: "example.com" (that domain only) or "*.example.com" (its subdomains, not itself).
class DomainPatterns {
 public:
  void add(std::string_view pattern);
  std::optional<std::string> match(std::string_view domain) const;
  std::size_t size() const { return exact_.size() + subdomains_of_.size(); }

 private:
  std::unordered_set<std::string> exact_;
  std::unordered_set<std::string> subdomains_of_;
};

// "*" matches any run of characters (including none); everything else compares ASCII
// case-insensitively. Linear-time two-pointer match with one backtrack point.
bool wildcardMatch(std::string_view pattern, std::string_view text);

// The words and patterns of a subject/body condition live in a shared TextIndex; the condition
// keeps their ids and the text as the administrator wrote it, for its reasons.
struct IndexedText {
  std::string written;
  std::size_t id = 0;
};

// Where a word or pattern is looked for.
enum class TextScope { subject, subject_or_body };

struct HeaderWords {
  std::string name;
  std::vector<std::string> words;
};
struct HeaderPatterns {
  std::string name;
  std::vector<Pattern> patterns;
};

enum class AuthenticationCheck { spf, dkim, dmarc };
enum class MessageFlag { spam, domain_secured, received_over_tls, authenticated_sender };

std::unique_ptr<Condition> makeAddressCondition(AddressRole role, AddressPatterns patterns);
std::unique_ptr<Condition> makeDomainCondition(AddressRole role, DomainPatterns patterns);
std::unique_ptr<Condition> makeScopeCondition(AddressRole role, bool inside);
// `index` must be built (TextIndex::build) before the condition is matched.
std::unique_ptr<Condition> makeWordsCondition(std::shared_ptr<const TextIndex> index,
                                              std::vector<IndexedText> words, TextScope scope);
std::unique_ptr<Condition> makePatternsCondition(std::shared_ptr<const TextIndex> index,
                                                 std::vector<IndexedText> patterns,
                                                 TextScope scope);
std::unique_ptr<Condition> makeHeaderWordsCondition(std::vector<HeaderWords> fields);
std::unique_ptr<Condition> makeHeaderPatternsCondition(std::vector<HeaderPatterns> fields);
std::unique_ptr<Condition> makeAttachmentNameCondition(std::vector<Pattern> patterns);
// Extensions lower-case without the dot ("exe").
std::unique_ptr<Condition> makeAttachmentExtensionCondition(std::vector<std::string> extensions);
std::unique_ptr<Condition> makeAttachmentTypeCondition(std::vector<FileKind> kinds);
std::unique_ptr<Condition> makeAttachmentSizeCondition(std::uint64_t over_bytes);
std::unique_ptr<Condition> makeHasAttachmentCondition(bool expected);
std::unique_ptr<Condition> makePasswordProtectedCondition(bool expected);
std::unique_ptr<Condition> makeMessageSizeCondition(std::uint64_t over_bytes);
// Result names lower-case ("pass", "fail", "softfail", ...).
std::unique_ptr<Condition> makeAuthenticationCondition(AuthenticationCheck check,
                                                       std::vector<std::string> results);
std::unique_ptr<Condition> makeFlagCondition(MessageFlag flag, bool expected);
std::unique_ptr<Condition> makeClassificationCondition(std::vector<std::string> classifications);

// An attachment's extension as Windows sees it: after the last dot, lower-case, trailing dots and
// spaces ignored ("report.PDF. " → "pdf"); "" when none.
std::string attachmentExtension(std::string_view filename);

// Message text for a reason: control characters replaced by '?', cut at 80 bytes (on a UTF-8
// boundary) with "...", in double quotes.
std::string quoteForReason(std::string_view text);

}  // namespace bulwark::policy
