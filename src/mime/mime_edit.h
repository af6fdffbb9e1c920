// Edits to a message that produce new bytes: header fields added, set or removed and a subject
// prefix, on the raw header section (the body's bytes are kept exactly); a disclaimer appended to
// the text and HTML parts through the MIME structure (GMime), without breaking signed or
// encrypted content (RFC 1847 multipart/signed, RFC 8551 S/MIME): those are left alone or
// wrapped, as the rule says. The message is untrusted; the header values come from rules.
#pragma once

#include "common/result.h"
#include "mime/mime_message.h"

#include <string>
#include <string_view>

namespace bulwark::mime {

// Adds `name: value` at the top of the header section (value folded if long; RFC 2047-encoded
// when not ASCII). A value with CR or LF is refused (header injection).
Result<void> addHeader(std::string& message, std::string_view name, std::string_view value);
// Removes every `name` field, then adds one.
Result<void> setHeader(std::string& message, std::string_view name, std::string_view value);
// Removes every field named `name` (case-insensitive); returns how many.
std::size_t removeHeader(std::string& message, std::string_view name);
// Puts `prefix` before the Subject's text (adds a Subject when absent); an encoded subject keeps
// its meaning: the result is RFC 2047-encoded when either part is not ASCII. Idempotent: a
// subject that already starts with the prefix (decoded) is left alone.
Result<void> prependSubject(std::string& message, std::string_view prefix);

struct Disclaimer {
  std::string text;  // appended to text/plain parts (UTF-8)
  std::string html;  // appended to text/html parts; empty: the text, HTML-escaped, in a <p>
  enum class SignedContent {
    skip,  // signed or encrypted messages are left unchanged (the rule says so in the trace)
    wrap,  // the original becomes the first part of a new multipart/mixed, the disclaimer a
           // second text/plain part: the signature still verifies
  };
  SignedContent signed_content = SignedContent::wrap;
};

struct DisclaimerOutcome {
  bool changed = false;
  std::string how;  // "appended to 2 text parts", "wrapped: signed", "skipped: encrypted"
};

// Appends the disclaimer to every body text part (the first text/plain and text/html of the
// message's alternative, not attachments or attached messages), re-encoding those parts in
// their charset when it can hold the text, else UTF-8. The header section keeps its bytes
// except Content-Type / Content-Transfer-Encoding of changed parts.
Result<DisclaimerOutcome> appendDisclaimer(std::string& message, const Disclaimer& disclaimer,
                                           const MimeLimits& limits = {});

}  // namespace bulwark::mime
