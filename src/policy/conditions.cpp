// The rule conditions; see conditions.h. Each is a small function over MessageFacts; the
// subject/body ones read the shared MessageScan so the message text is searched once per
// evaluation, not once per rule.
#include "policy/conditions.h"

#include <functional>

#include "common/strings.h"
#include "policy/text_folding.h"

namespace bulwark::policy {
namespace {

using Matcher = std::function<std::optional<std::string>(const MessageFacts&, MessageScan&)>;

class FunctionCondition final : public Condition {
 public:
  FunctionCondition(std::string_view name, Matcher matcher)
      : name_(name), matcher_(std::move(matcher)) {}
  std::string_view name() const override { return name_; }
  std::optional<std::string> match(const MessageFacts& facts) const override {
    MessageScan scan(facts);
    return matcher_(facts, scan);
  }
  std::optional<std::string> matchScanned(const MessageFacts& facts,
                                          MessageScan& scan) const override {
    return matcher_(facts, scan);
  }

 private:
  std::string_view name_;  // always a string literal
  Matcher matcher_;
};

std::unique_ptr<Condition> makeCondition(std::string_view name, Matcher matcher) {
  return std::make_unique<FunctionCondition>(name, std::move(matcher));
}

std::string_view domainOf(std::string_view address) {
  const std::size_t at = address.rfind('@');
  return at == std::string_view::npos ? address : address.substr(at + 1);
}

// The addresses a condition of `role` looks at (see AddressRole).
std::vector<std::string_view> addressesFor(AddressRole role, const MessageFacts& facts) {
  std::vector<std::string_view> addresses;
  if (role == AddressRole::sender) {
    std::string_view sender = facts.from_address.empty() ? facts.sender : facts.from_address;
    if (!sender.empty()) addresses.push_back(sender);
  } else {
    for (const std::string& recipient : facts.recipients) addresses.push_back(recipient);
  }
  return addresses;
}

std::string_view roleWord(AddressRole role) {
  return role == AddressRole::sender ? "from" : "recipient";
}

std::string attachmentLabel(const mime::MimePart& part) {
  if (!part.filename.empty()) return "attachment " + quoteForReason(part.filename);
  return "attachment (part " + (part.section.empty() ? std::string("1") : part.section) + ")";
}

template <class Visit>
std::optional<std::string> firstAttachment(const MessageFacts& facts, Visit&& visit) {
  if (facts.message == nullptr) return std::nullopt;
  for (const mime::MimePart& part : facts.message->parts) {
    if (!part.is_attachment) continue;
    if (auto reason = visit(part)) return reason;
  }
  return std::nullopt;
}

std::string sectionOf(const MessageScan::BodyText& text) {
  return "(part " + text.section + ")";
}

}  // namespace

// ---- helpers ----

bool wildcardMatch(std::string_view pattern, std::string_view text) {
  std::size_t p = 0;
  std::size_t t = 0;
  std::size_t star = std::string_view::npos;
  std::size_t resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && asciiLower(pattern[p]) == asciiLower(text[t])) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

void AddressPatterns::add(std::string_view pattern) {
  std::string lowered = asciiLower(pattern);
  if (lowered.find('*') != std::string::npos) {
    wildcards_.push_back(std::move(lowered));
  } else {
    exact_.insert(std::move(lowered));
  }
}

std::optional<std::string> AddressPatterns::match(std::string_view address) const {
  if (address.empty()) return std::nullopt;
  const std::string lowered = asciiLower(address);
  if (exact_.contains(lowered)) return lowered;
  for (const std::string& wildcard : wildcards_) {
    if (wildcardMatch(wildcard, lowered)) return wildcard;
  }
  return std::nullopt;
}

void DomainPatterns::add(std::string_view pattern) {
  std::string lowered = asciiLower(pattern);
  if (lowered.starts_with("*.")) {
    subdomains_of_.insert(lowered.substr(2));
  } else {
    exact_.insert(std::move(lowered));
  }
}

std::optional<std::string> DomainPatterns::match(std::string_view domain) const {
  std::string lowered = asciiLower(domain);
  while (!lowered.empty() && lowered.back() == '.') lowered.pop_back();
  if (lowered.empty()) return std::nullopt;
  if (exact_.contains(lowered)) return lowered;
  // Each proper parent: "a.b.example.com" → "b.example.com", "example.com", "com".
  for (std::size_t dot = lowered.find('.'); dot != std::string::npos;
       dot = lowered.find('.', dot + 1)) {
    const std::string parent = lowered.substr(dot + 1);
    if (subdomains_of_.contains(parent)) return "*." + parent;
  }
  return std::nullopt;
}

std::string attachmentExtension(std::string_view filename) {
  while (!filename.empty() && (filename.back() == '.' || filename.back() == ' ')) {
    filename.remove_suffix(1);
  }
  const std::size_t slash = filename.find_last_of("/\\");
  if (slash != std::string_view::npos) filename.remove_prefix(slash + 1);
  const std::size_t dot = filename.rfind('.');
  if (dot == std::string_view::npos) return "";
  return asciiLower(filename.substr(dot + 1));
}

std::string quoteForReason(std::string_view text) {
  constexpr std::size_t kLimit = 80;
  bool cut = false;
  if (text.size() > kLimit) {
    std::size_t end = kLimit;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
    text = text.substr(0, end);
    cut = true;
  }
  std::string out = "\"";
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    out.push_back(byte < 0x20 || byte == 0x7F ? '?' : c);
  }
  if (cut) out += "...";
  out += "\"";
  return out;
}

// ---- addresses ----

std::unique_ptr<Condition> makeAddressCondition(AddressRole role, AddressPatterns patterns) {
  return makeCondition(role == AddressRole::sender ? "from" : "to",
                       [role, patterns = std::move(patterns)](
                           const MessageFacts& facts, MessageScan&) -> std::optional<std::string> {
                         for (std::string_view address : addressesFor(role, facts)) {
                           if (auto which = patterns.match(address)) {
                             return std::string(roleWord(role)) + " " + quoteForReason(address) +
                                    " matches " + quoteForReason(*which);
                           }
                         }
                         return std::nullopt;
                       });
}

std::unique_ptr<Condition> makeDomainCondition(AddressRole role, DomainPatterns patterns) {
  return makeCondition(role == AddressRole::sender ? "from_domain" : "to_domain",
                       [role, patterns = std::move(patterns)](
                           const MessageFacts& facts, MessageScan&) -> std::optional<std::string> {
                         for (std::string_view address : addressesFor(role, facts)) {
                           if (auto which = patterns.match(domainOf(address))) {
                             return std::string(roleWord(role)) + " domain " +
                                    quoteForReason(domainOf(address)) + " matches " +
                                    quoteForReason(*which);
                           }
                         }
                         return std::nullopt;
                       });
}

std::unique_ptr<Condition> makeScopeCondition(AddressRole role, bool inside) {
  return makeCondition(
      role == AddressRole::sender ? "from_scope" : "to_scope",
      [role, inside](const MessageFacts& facts, MessageScan&) -> std::optional<std::string> {
        for (std::string_view address : addressesFor(role, facts)) {
          const bool is_inside =
              facts.organisation != nullptr && facts.organisation->isInside(address);
          if (is_inside == inside) {
            return std::string(roleWord(role)) + " " + quoteForReason(address) + " is " +
                   (inside ? "inside" : "outside") + " the organisation";
          }
        }
        return std::nullopt;
      });
}

// ---- subject and body ----

std::unique_ptr<Condition> makeWordsCondition(std::shared_ptr<const TextIndex> index,
                                              std::vector<IndexedText> words, TextScope scope) {
  return makeCondition(
      scope == TextScope::subject ? "subject_contains" : "subject_or_body_contains",
      [index = std::move(index), words = std::move(words), scope](
          const MessageFacts&, MessageScan& scan) -> std::optional<std::string> {
        const MessageScan::Hits& subject = scan.subjectHits(*index);
        for (const IndexedText& word : words) {
          if (subject.subject_words[word.id]) {
            return "subject contains " + quoteForReason(word.written);
          }
        }
        if (scope == TextScope::subject) return std::nullopt;
        const MessageScan::Hits& body = scan.bodyHits(*index);
        for (const IndexedText& word : words) {
          if (const std::int32_t text = body.body_words[word.id]; text >= 0) {
            return "body contains " + quoteForReason(word.written) + " " +
                   sectionOf(scan.bodyTexts()[static_cast<std::size_t>(text)]);
          }
        }
        return std::nullopt;
      });
}

std::unique_ptr<Condition> makePatternsCondition(std::shared_ptr<const TextIndex> index,
                                                 std::vector<IndexedText> patterns,
                                                 TextScope scope) {
  return makeCondition(
      scope == TextScope::subject ? "subject_matches" : "subject_or_body_matches",
      [index = std::move(index), patterns = std::move(patterns), scope](
          const MessageFacts&, MessageScan& scan) -> std::optional<std::string> {
        const MessageScan::Hits& subject = scan.subjectHits(*index);
        for (const IndexedText& pattern : patterns) {
          if (!subject.subject_patterns[pattern.id]) continue;
          const auto matched = index->patterns().pattern(pattern.id).search(scan.subject());
          return "subject matches /" + pattern.written + "/ (" +
                 quoteForReason(matched.value_or("")) + ")";
        }
        if (scope == TextScope::subject) return std::nullopt;
        const MessageScan::Hits& body = scan.bodyHits(*index);
        for (const IndexedText& pattern : patterns) {
          const std::int32_t text = body.body_patterns[pattern.id];
          if (text < 0) continue;
          const MessageScan::BodyText& where = scan.bodyTexts()[static_cast<std::size_t>(text)];
          const auto matched = index->patterns().pattern(pattern.id).search(where.text);
          return "body matches /" + pattern.written + "/ (" + quoteForReason(matched.value_or("")) +
                 ") " + sectionOf(where);
        }
        return std::nullopt;
      });
}

// ---- header fields ----

std::unique_ptr<Condition> makeHeaderWordsCondition(std::vector<HeaderWords> fields) {
  struct Field {
    std::string name;
    std::vector<std::string> written;  // by word id of `matcher`
    std::shared_ptr<WordMatcher> matcher;
  };
  std::vector<Field> compiled;
  for (HeaderWords& field : fields) {
    Field entry{std::move(field.name), {}, std::make_shared<WordMatcher>()};
    for (const std::string& word : field.words) {
      const std::size_t id = entry.matcher->add(foldForMatching(word));
      if (id >= entry.written.size()) entry.written.resize(id + 1);
      if (entry.written[id].empty()) entry.written[id] = word;
    }
    entry.matcher->build();
    compiled.push_back(std::move(entry));
  }
  return makeCondition("header_contains",
                       [compiled = std::move(compiled)](
                           const MessageFacts& facts, MessageScan&) -> std::optional<std::string> {
                         if (facts.message == nullptr) return std::nullopt;
                         for (const Field& field : compiled) {
                           for (const auto& [name, value] : facts.message->headers) {
                             if (!equalsIgnoreCase(name, field.name)) continue;
                             std::optional<std::size_t> found;
                             field.matcher->scan(foldForMatching(value), [&found](std::size_t id) {
                               if (!found) found = id;
                             });
                             if (found) {
                               return "header " + field.name + " contains " +
                                      quoteForReason(field.written[*found]);
                             }
                           }
                         }
                         return std::nullopt;
                       });
}

std::unique_ptr<Condition> makeHeaderPatternsCondition(std::vector<HeaderPatterns> fields) {
  return makeCondition("header_matches",
                       [fields = std::move(fields)](const MessageFacts& facts,
                                                    MessageScan&) -> std::optional<std::string> {
                         if (facts.message == nullptr) return std::nullopt;
                         for (const HeaderPatterns& field : fields) {
                           for (const auto& [name, value] : facts.message->headers) {
                             if (!equalsIgnoreCase(name, field.name)) continue;
                             for (const Pattern& pattern : field.patterns) {
                               if (auto matched = pattern.search(value)) {
                                 return "header " + field.name + " matches /" + pattern.source() +
                                        "/ (" + quoteForReason(*matched) + ")";
                               }
                             }
                           }
                         }
                         return std::nullopt;
                       });
}

// ---- attachments ----

std::unique_ptr<Condition> makeAttachmentNameCondition(std::vector<Pattern> patterns) {
  return makeCondition("attachment_name_matches",
                       [patterns = std::move(patterns)](
                           const MessageFacts& facts, MessageScan&) -> std::optional<std::string> {
                         return firstAttachment(
                             facts, [&](const mime::MimePart& part) -> std::optional<std::string> {
                               if (part.filename.empty()) return std::nullopt;
                               for (const Pattern& pattern : patterns) {
                                 if (pattern.search(part.filename)) {
                                   return attachmentLabel(part) + " name matches /" +
                                          pattern.source() + "/";
                                 }
                               }
                               return std::nullopt;
                             });
                       });
}

std::unique_ptr<Condition> makeAttachmentExtensionCondition(std::vector<std::string> extensions) {
  return makeCondition("attachment_extension",
                       [extensions = std::move(extensions)](
                           const MessageFacts& facts, MessageScan&) -> std::optional<std::string> {
                         return firstAttachment(
                             facts, [&](const mime::MimePart& part) -> std::optional<std::string> {
                               const std::string extension = attachmentExtension(part.filename);
                               if (extension.empty()) return std::nullopt;
                               for (const std::string& wanted : extensions) {
                                 if (wanted == extension) {
                                   return attachmentLabel(part) + " has extension " +
                                          quoteForReason(extension);
                                 }
                               }
                               return std::nullopt;
                             });
                       });
}

std::unique_ptr<Condition> makeAttachmentTypeCondition(std::vector<FileKind> kinds) {
  return makeCondition("attachment_content_type",
                       [kinds = std::move(kinds)](const MessageFacts& facts,
                                                  MessageScan&) -> std::optional<std::string> {
                         return firstAttachment(
                             facts, [&](const mime::MimePart& part) -> std::optional<std::string> {
                               const FileKind kind = sniffFileKind(part.content);
                               for (FileKind wanted : kinds) {
                                 if (wanted == kind) {
                                   return attachmentLabel(part) + " content is " +
                                          std::string(fileKindName(kind)) +
                                          " (by its magic bytes; declared " +
                                          quoteForReason(part.content_type) + ")";
                                 }
                               }
                               return std::nullopt;
                             });
                       });
}

std::unique_ptr<Condition> makeAttachmentSizeCondition(std::uint64_t over_bytes) {
  return makeCondition(
      "attachment_size_over",
      [over_bytes](const MessageFacts& facts, MessageScan&) -> std::optional<std::string> {
        return firstAttachment(
            facts, [&](const mime::MimePart& part) -> std::optional<std::string> {
              if (part.content.size() <= over_bytes) return std::nullopt;
              return attachmentLabel(part) + " is " + std::to_string(part.content.size()) +
                     " bytes (over " + std::to_string(over_bytes) + ")";
            });
      });
}

std::unique_ptr<Condition> makeHasAttachmentCondition(bool expected) {
  return makeCondition(
      "has_attachment",
      [expected](const MessageFacts& facts, MessageScan&) -> std::optional<std::string> {
        std::size_t count = 0;
        std::string first;
        if (facts.message != nullptr) {
          for (const mime::MimePart& part : facts.message->parts) {
            if (!part.is_attachment) continue;
            if (count++ == 0) first = attachmentLabel(part);
          }
        }
        if ((count > 0) != expected) return std::nullopt;
        if (count == 0) return std::string("message has no attachment");
        return "message has " + std::to_string(count) + " attachment" + (count > 1 ? "s" : "") +
               " (first: " + first + ")";
      });
}

std::unique_ptr<Condition> makePasswordProtectedCondition(bool expected) {
  return makeCondition(
      "attachment_password_protected",
      [expected](const MessageFacts& facts, MessageScan&) -> std::optional<std::string> {
        auto protected_attachment =
            firstAttachment(facts, [](const mime::MimePart& part) -> std::optional<std::string> {
              if (auto why = passwordProtection(part.content)) {
                return attachmentLabel(part) + " is password protected: " + *why;
              }
              return std::nullopt;
            });
        if (expected) return protected_attachment;
        if (protected_attachment) return std::nullopt;
        return std::string("no attachment is password protected");
      });
}

std::unique_ptr<Condition> makeMessageSizeCondition(std::uint64_t over_bytes) {
  return makeCondition(
      "message_size_over",
      [over_bytes](const MessageFacts& facts, MessageScan&) -> std::optional<std::string> {
        if (facts.size <= over_bytes) return std::nullopt;
        return "message is " + std::to_string(facts.size) + " bytes (over " +
               std::to_string(over_bytes) + ")";
      });
}

// ---- results and flags ----

std::unique_ptr<Condition> makeAuthenticationCondition(AuthenticationCheck check,
                                                       std::vector<std::string> results) {
  const std::string_view name = check == AuthenticationCheck::spf    ? "spf"
                                : check == AuthenticationCheck::dkim ? "dkim"
                                                                     : "dmarc";
  return makeCondition(name,
                       [check, name, results = std::move(results)](
                           const MessageFacts& facts, MessageScan&) -> std::optional<std::string> {
                         const std::string& actual = check == AuthenticationCheck::spf ? facts.spf
                                                     : check == AuthenticationCheck::dkim
                                                         ? facts.dkim
                                                         : facts.dmarc;
                         for (const std::string& wanted : results) {
                           if (equalsIgnoreCase(wanted, actual)) {
                             return std::string(name) + " result is " + quoteForReason(actual);
                           }
                         }
                         return std::nullopt;
                       });
}

std::unique_ptr<Condition> makeFlagCondition(MessageFlag flag, bool expected) {
  struct Description {
    std::string_view key;
    bool MessageFacts::*member;
    std::string_view when_true;
    std::string_view when_false;
  };
  static constexpr Description kFlags[] = {
      {"spam", &MessageFacts::spam, "spam verdict is set", "spam verdict is not set"},
      {"domain_secured", &MessageFacts::domain_secured, "received over Domain Security",
       "not received over Domain Security"},
      {"received_over_tls", &MessageFacts::received_over_tls, "received over TLS",
       "not received over TLS"},
      {"authenticated_sender", &MessageFacts::authenticated_sender, "sender is authenticated",
       "sender is not authenticated"},
  };
  const Description& description = kFlags[static_cast<std::size_t>(flag)];
  return makeCondition(
      description.key,
      [&description, expected](const MessageFacts& facts,
                               MessageScan&) -> std::optional<std::string> {
        if (facts.*description.member != expected) return std::nullopt;
        return std::string(expected ? description.when_true : description.when_false);
      });
}

std::unique_ptr<Condition> makeClassificationCondition(std::vector<std::string> classifications) {
  return makeCondition(
      "classification",
      [classifications = std::move(classifications)](const MessageFacts& facts,
                                                     MessageScan&) -> std::optional<std::string> {
        for (const std::string& wanted : classifications) {
          if (!facts.classification.empty() && equalsIgnoreCase(wanted, facts.classification)) {
            return "classification is " + quoteForReason(facts.classification);
          }
        }
        return std::nullopt;
      });
}

}  // namespace bulwark::policy
