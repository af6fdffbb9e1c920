// The RFC5322.From domain DMARC evaluates (RFC 7489 6.6.1): the header-level checks (how many
// From fields a reader can find) and the address-level ones (what a client displays). The whole
// message is untrusted; see dmarc.h and docs/dmarc.md for the cases judged ambiguous.
#include "auth/dmarc.h"

#include "auth/idna.h"
#include "common/strings.h"
#include "mime/header_fields.h"

#include <cctype>
#include <optional>
#include <string>
#include <vector>

namespace bulwark::auth {
namespace {

AuthorDomain ambiguous(std::string reason) {
  AuthorDomain author;
  author.status = AuthorDomain::Status::ambiguous;
  author.reason = std::move(reason);
  return author;
}

// A line that starts with the name From, in any case, followed by whitespace, a colon, or the
// end of the line: what some reader could take for a From field.
bool startsLikeFrom(std::string_view line) {
  if (line.size() < 4 || !equalsIgnoreCase(line.substr(0, 4), "from")) return false;
  if (line.size() == 4) return true;
  char next = line[4];
  return next == ':' || isSpaceOrTab(next) || next == '\r' || next == '\n';
}

// Whether `line` is a From field a strict reader sees: "From" then optional whitespace then ':'.
bool isFromFieldLine(std::string_view line) {
  if (!startsLikeFrom(line)) return false;
  std::size_t colon = line.find_first_not_of(" \t", 4);
  return colon != std::string_view::npos && line[colon] == ':';
}

// Calls `visit` with each line (including its LF) of `text`.
template <class Visit>
void forEachLine(std::string_view text, Visit visit) {
  std::size_t position = 0;
  while (position < text.size()) {
    std::size_t newline = text.find('\n', position);
    std::size_t end = newline == std::string_view::npos ? text.size() : newline + 1;
    if (!visit(text.substr(position, end - position))) return;
    position = end;
  }
}

// The checks on the header section as bytes, before any field is read: a reader that splits
// lines differently from mime::headerFields must not find a From field we did not.
std::optional<std::string> headerSectionProblem(std::string_view message) {
  const std::size_t body = mime::bodyOffset(message);
  std::string_view header = message.substr(0, body);
  if (header.find('\0') != std::string_view::npos) {
    return "a NUL byte in the header section (C-string readers stop there)";
  }
  for (std::size_t index = header.find('\r'); index != std::string_view::npos;
       index = header.find('\r', index + 1)) {
    if (index + 1 >= header.size() || header[index + 1] != '\n') {
      return "a bare CR in the header section (some readers end a line there)";
    }
  }
  std::optional<std::string> problem;
  // An indented first line continues nothing: some readers take it for a field of its own.
  std::string_view first_line = header.substr(0, header.find('\n'));
  std::size_t indent = first_line.find_first_not_of(" \t");
  if (indent > 0 && indent != std::string_view::npos && startsLikeFrom(first_line.substr(indent))) {
    return "an indented From field on the first line";
  }
  forEachLine(header, [&](std::string_view line) {
    if (startsLikeFrom(line) && !isFromFieldLine(line)) {
      problem = "a line starting with From that is not a From field";
      return false;
    }
    return true;
  });
  if (problem) return problem;
  // A header that ends at a bare-LF empty line while its lines end in CRLF: a CRLF-only reader
  // reads on into what we call the body.
  const bool ends_at_bare_lf = body >= 1 && body <= message.size() && message[body - 1] == '\n' &&
                               (body < 2 || message[body - 2] != '\r');
  if (ends_at_bare_lf && header.find("\r\n") != std::string_view::npos) {
    forEachLine(message.substr(body), [&](std::string_view line) {
      if (line == "\r\n") return false;  // where a CRLF reader's header ends
      if (startsLikeFrom(line)) {
        problem = "a From field after a bare LF that ends the header for some readers only";
        return false;
      }
      return true;
    });
  }
  return problem;
}

bool isDomainLabelCharacter(char character) {
  return (character >= 'a' && character <= 'z') || (character >= '0' && character <= '9') ||
         character == '-';
}

// A host name DNS can look up (RFC 1123 2.1 letters, digits, hyphens; 63 per label, 253 in all).
bool isHostName(std::string_view domain) {
  if (domain.empty() || domain.size() > 253) return false;
  std::size_t position = 0;
  while (true) {
    std::size_t dot = domain.find('.', position);
    std::string_view label = domain.substr(
        position, dot == std::string_view::npos ? std::string_view::npos : dot - position);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char character : label) {
      if (!isDomainLabelCharacter(character)) return false;
    }
    if (dot == std::string_view::npos) return true;
    position = dot + 1;
  }
}

// The domain of an address-looking text in a display name or comment ("admin@good.example"),
// or empty: what a reader takes for the sender when the name is all a client shows.
std::vector<std::string> shownDomains(std::string_view text) {
  std::vector<std::string> domains;
  for (std::size_t at = text.find('@'); at != std::string_view::npos; at = text.find('@', at + 1)) {
    std::size_t end = at + 1;
    while (end < text.size() &&
           (isDomainLabelCharacter(
                static_cast<char>(std::tolower(static_cast<unsigned char>(text[end])))) ||
            text[end] == '.' || static_cast<unsigned char>(text[end]) >= 0x80)) {
      ++end;
    }
    std::string_view domain = text.substr(at + 1, end - at - 1);
    while (domain.ends_with('.')) domain.remove_suffix(1);
    if (!domain.empty()) domains.emplace_back(domain);
  }
  return domains;
}

bool showsOtherDomain(std::string_view text, std::string_view domain) {
  for (const std::string& shown : shownDomains(text)) {
    std::optional<std::string> ascii = asciiDomain(shown);
    if (!ascii || *ascii != domain) return true;
  }
  return false;
}

// The checks on one parsed From field.
AuthorDomain fromAddresses(const AddressList& list) {
  if (list.mailboxes.empty()) return ambiguous("the From field has no address");
  if (list.opaque_charset) {
    return ambiguous("an encoded-word in a charset that can hide an address (UTF-7, UTF-16...)");
  }
  std::vector<std::string> domains;
  for (const Mailbox& mailbox : list.mailboxes) {
    if (mailbox.route) return ambiguous("route syntax <@...:...> (clients show different parts)");
    if (mailbox.domain_literal) return ambiguous("an address literal has no domain to evaluate");
    if (mailbox.local_part.find("=?") != std::string::npos ||
        mailbox.domain.find("=?") != std::string::npos) {
      return ambiguous("an encoded-word inside the address (RFC 2047 5; some clients decode it)");
    }
    if (mailbox.quoted_local_part && mailbox.local_part.find('@') != std::string::npos) {
      return ambiguous("a quoted local part containing '@'");
    }
    std::optional<std::string> domain = asciiDomain(mailbox.domain);
    if (!domain || !isHostName(*domain)) {
      return ambiguous("\"" + mailbox.domain + "\" is not a domain name");
    }
    if (showsOtherDomain(mailbox.display_name, *domain)) {
      return ambiguous("the display name shows an address in another domain");
    }
    domains.push_back(std::move(*domain));
  }
  for (const std::string& comment : list.comments) {
    if (comment.find('@') != std::string::npos) return ambiguous("a comment contains an address");
  }
  for (const std::string& domain : domains) {
    if (domain != domains.front()) {
      return ambiguous("addresses in different domains (" + domains.front() + ", " + domain + ")");
    }
  }
  AuthorDomain author;
  author.status = AuthorDomain::Status::single;
  author.domain = std::move(domains.front());
  return author;
}

}  // namespace

AuthorDomain authorDomain(std::string_view message, const AddressListLimits& limits) {
  if (std::optional<std::string> problem = headerSectionProblem(message)) {
    return ambiguous(std::move(*problem));
  }
  std::vector<mime::HeaderField> from_fields;
  for (const mime::HeaderField& field : mime::headerFields(message)) {
    if (equalsIgnoreCase(field.name, "from")) from_fields.push_back(field);
  }
  if (from_fields.empty()) {
    AuthorDomain author;
    author.reason = "no From field (Sender and other fields are not used)";
    return author;
  }
  if (from_fields.size() > 1) {
    return ambiguous(std::to_string(from_fields.size()) + " From fields");
  }
  const mime::HeaderField& from = from_fields.front();
  if (from.space_before_colon) {
    return ambiguous("whitespace between From and the colon (clients disagree on such fields)");
  }
  Result<AddressList> list = parseAddressList(mime::unfold(from.value), limits);
  if (!list) return ambiguous("the From field cannot be parsed: " + list.error().message);
  return fromAddresses(*list);
}

}  // namespace bulwark::auth
