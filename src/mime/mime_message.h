// The MIME view of a message (RFC 2045-2049, RFC 2047 encoded words, RFC 2231 parameters,
// RFC 2046 5.2.1 attached messages) that the rules, the threat scanner and the tools read: the
// one MIME parser of DESIGN.md (GMime inside; no GMime type in this header). Every part's text is
// decoded (base64 / quoted-printable) and converted to UTF-8; HTML is also reduced to text.
// The message is untrusted: depth, part count and decoded size are bounded, nothing is skipped
// silently (a part past a limit or that cannot be decoded is listed as a problem).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bulwark::mime {

// Call once in main() before any thread starts (GMime's global state, DESIGN.md "Traps").
void initializeMimeLibrary();

struct MimeLimits {
  unsigned max_depth = 20;                         // multipart / message nesting (top level 0)
  unsigned max_parts = 2000;                       // entities in the whole tree
  std::size_t max_decoded_bytes = 64 * 1024 * 1024;  // decoded content of all parts together
};

struct MimePart {
  std::size_t index = 0;   // position in ParsedMessage::parts (depth-first, 0 = the message)
  std::size_t parent = 0;  // index of the enclosing part (0 for the root's children and root)
  unsigned depth = 0;
  std::string section;     // IMAP section number ("1", "2.1"; "" for the message itself)
  std::string content_type;  // "type/subtype", lower-case; "text/plain" when absent (RFC 2045 5.2)
  std::vector<std::pair<std::string, std::string>> parameters;  // lower-case names, RFC 2231
                                                                // decoded values (UTF-8)
  std::string charset;        // lower-case, from the parameters; "" when none
  std::string disposition;    // "inline", "attachment" or ""
  std::string filename;       // RFC 2231 / 2047 decoded (UTF-8); from name= when no filename=
  std::string transfer_encoding;  // lower-case; "" when absent
  bool is_multipart = false;
  bool is_message = false;     // message/rfc822 (or global): its child is the attached message
  bool is_attachment = false;  // what a mail client shows as an attachment
  std::vector<std::size_t> children;
  // Leaf parts: the decoded content (transfer encoding removed, charset untouched), and for
  // text/* parts the content as UTF-8 (`text`; for text/html the HTML reduced to text, the
  // UTF-8 HTML itself in `html`).
  std::string content;
  std::string text;
  std::string html;
  bool encoding_problem = false;  // bad base64 / QP, unknown charset (converted as far as it went)
};

struct ParsedMessage {
  enum class Status {
    ok,
    damaged,      // parsed, with problems (listed): what could be read is in `parts`
    unparseable,  // no MIME structure could be made out at all
  };
  Status status = Status::ok;
  std::vector<MimePart> parts;  // parts[0] is the message itself
  // Top-level header fields, in order: name as written, value unfolded and RFC 2047-decoded
  // (UTF-8).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string subject;  // decoded, UTF-8
  std::vector<std::string> problems;  // in words, for the trace ("part 2.3: bad base64", ...)
  bool limit_exceeded = false;        // a MimeLimits bound cut the tree short

  // Decoded text of every text part (plain text, and HTML reduced to text), each part once,
  // separated by newlines: what "body contains" conditions search.
  std::string bodyText() const;
  // The parts a client shows as attachments.
  std::vector<const MimePart*> attachments() const;
};

// Parses `message` (CRLF or LF line ends). Never fails: a message GMime cannot make sense of is
// Status::unparseable with the reason in `problems`.
ParsedMessage parseMessage(std::string_view message, const MimeLimits& limits = {});

// HTML to the text a reader sees: tags removed, scripts and styles dropped, entities decoded,
// block elements as line breaks. Input is untrusted; linear time.
std::string htmlToText(std::string_view html);

// An unstructured header value with RFC 2047 encoded words decoded to UTF-8 (unknown charsets
// and broken words are kept as written).
std::string decodeHeaderText(std::string_view value);

}  // namespace bulwark::mime
