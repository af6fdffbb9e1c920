// SMTP command-line parser (RFC 5321 4.1, with ESMTP parameters of SIZE RFC 1870, BODY RFC 6152 /
// RFC 3030, SMTPUTF8 RFC 6531, DSN RFC 3461, REQUIRETLS RFC 8689, AUTH RFC 4954, BDAT RFC 3030).
// Does no I/O: takes one line without its CRLF. Input is untrusted: any byte sequence.
#pragma once

#include "smtp/proto/reply.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bulwark::smtp {

enum class Verb {
  helo, ehlo, mail, rcpt, data, bdat, rset, noop, quit, vrfy, expn, help, starttls, auth,
};

struct MailParameters {
  std::optional<std::uint64_t> size;  // SIZE=
  std::string body;                    // BODY= upper-cased: "7BIT", "8BITMIME", "BINARYMIME"
  bool smtputf8 = false;               // SMTPUTF8
  bool require_tls = false;            // REQUIRETLS
  std::string dsn_return;              // RET= upper-cased: "FULL" / "HDRS"
  std::string dsn_envelope_id;         // ENVID=, xtext-decoded
  std::string auth;                    // AUTH= (RFC 4954 5), xtext-decoded, "<>" kept as is
};

struct RcptParameters {
  std::uint8_t notify = 0;             // NotifyFlags bits (common/dsn.h)
  std::string original_recipient;      // ORCPT= as "addr-type;address", xtext-decoded
};

struct Command {
  Verb verb = Verb::noop;
  // HELO/EHLO: the domain or address literal. AUTH: "MECHANISM [initial-response]". VRFY, EXPN,
  // HELP, NOOP: the rest of the line. Otherwise empty.
  std::string argument;
  // MAIL/RCPT: the mailbox without angle brackets or source route; empty for the null path <>.
  std::string address;
  MailParameters mail;
  RcptParameters rcpt;
  std::uint64_t chunk_size = 0;        // BDAT
  bool last_chunk = false;             // BDAT ... LAST
};

// Parses one command line. Verbs are case-insensitive; "MAIL FROM:<a@b>" and the common
// "MAIL FROM: <a@b>" are both accepted. Unknown ESMTP parameters yield
// parameter_not_recognized (555 5.5.4), malformed ones parameter_syntax (501 5.5.4), a bad path
// bad_sender_address / bad_recipient_address (501 5.1.7 / 5.1.3), an unknown verb
// unrecognized_command (500 5.5.2). `smtputf8_allowed` lets non-ASCII in addresses (RFC 6531).
ReplyResult<Command> parseCommand(std::string_view line, bool smtputf8_allowed = true);

}  // namespace bulwark::smtp
