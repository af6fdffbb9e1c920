// The header fields of a raw message as views into its bytes (RFC 5322 2.2), in order: what DKIM
// and ARC canonicalise (RFC 6376 3.4), what DMARC reads the author from, without copying or
// re-serialising anything. Input is untrusted: any byte sequence yields fields, never an error.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace bulwark::mime {

struct HeaderField {
  // The name as written, without the whitespace obsolete syntax allows before the colon
  // (RFC 5322 4.5: "From :" is the field "From").
  std::string_view name;
  // The whole field: name, colon, value, continuation lines, and its final line break.
  std::string_view raw;
  // Everything after the colon up to (not including) the final line break, folding kept.
  std::string_view value;
  // True when the name was followed by whitespace before the colon (obsolete syntax; mail
  // clients disagree on such fields, so DMARC treats them with suspicion).
  bool space_before_colon = false;
};

// The fields of the header section (up to the empty line, or the whole message if there is
// none). A line ends at LF (CRLF or bare LF); a line starting with SP or HTAB continues the
// field before it. A line without a colon that is not a continuation is not a field and is
// skipped (it cannot be signed or displayed as one either).
std::vector<HeaderField> headerFields(std::string_view message);

// Offset of the body: just past the empty line ending the header section; message.size() when
// the message has no body (accepts CRLF CRLF and bare LF LF).
std::size_t bodyOffset(std::string_view message);

// The value with folding line breaks removed (RFC 5322 2.2.3: CRLF followed by WSP becomes the
// WSP) and surrounding whitespace trimmed.
std::string unfold(std::string_view value);

}  // namespace bulwark::mime
