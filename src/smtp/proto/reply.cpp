// The reply table: every outcome of an SMTP exchange mapped to one basic code (RFC 5321 4.2.3) and
// one enhanced code (RFC 3463, registry of RFC 5248). Texts are for people reading logs and
// bounces: they say what happened and, for failures, what to change.
#include "smtp/proto/reply.h"

#include <stdexcept>

namespace bulwark::smtp {
namespace {

struct Entry {
  int code;
  const char* enhanced;
  const char* text;
};

Entry entryFor(ReplyKind kind) {
  switch (kind) {
    case ReplyKind::greeting: return {220, "", "ESMTP Bulwark"};
    case ReplyKind::closing: return {221, "2.0.0", "Bye"};
    case ReplyKind::ok: return {250, "2.0.0", "OK"};
    case ReplyKind::ok_sender: return {250, "2.1.0", "Sender OK"};
    case ReplyKind::ok_recipient: return {250, "2.1.5", "Recipient OK"};
    case ReplyKind::queued: return {250, "2.0.0", "Queued"};
    case ReplyKind::start_data: return {354, "", "End data with <CR><LF>.<CR><LF>"};
    case ReplyKind::tls_go_ahead: return {220, "2.0.0", "Ready to start TLS"};
    case ReplyKind::auth_success: return {235, "2.7.0", "Authentication successful"};
    case ReplyKind::auth_continue: return {334, "", ""};
    case ReplyKind::vrfy_cannot_verify:
      return {252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery"};
    case ReplyKind::help:
      return {214, "2.0.0", "See RFC 5321; commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH"};
    case ReplyKind::noop: return {250, "2.0.0", "OK"};
    case ReplyKind::reset: return {250, "2.0.0", "Reset state"};

    case ReplyKind::service_shutting_down:
      return {421, "4.3.2", "Service shutting down, closing transmission channel"};
    case ReplyKind::too_many_connections:
      return {421, "4.7.0", "Too many connections, try again later"};
    case ReplyKind::too_many_connections_from_client:
      return {421, "4.7.0", "Too many connections from your address, try again later"};
    case ReplyKind::too_many_errors: return {421, "4.7.0", "Too many errors, closing connection"};
    case ReplyKind::timeout: return {421, "4.4.2", "Timeout exceeded, closing connection"};
    case ReplyKind::insufficient_storage:
      return {452, "4.3.1", "Insufficient system storage, try again later"};
    case ReplyKind::too_many_recipients: return {452, "4.5.3", "Too many recipients"};
    case ReplyKind::local_error:
      return {451, "4.3.0", "Local error in processing, try again later"};
    case ReplyKind::tls_not_available: return {454, "4.7.0", "TLS not available"};
    case ReplyKind::too_many_auth_failures:
      return {421, "4.7.0", "Too many authentication failures, try again later"};
    case ReplyKind::auth_temporary_failure:
      return {454, "4.7.0", "Temporary authentication failure"};

    case ReplyKind::syntax_error: return {500, "5.5.2", "Syntax error"};
    case ReplyKind::unrecognized_command: return {500, "5.5.2", "Command not recognized"};
    case ReplyKind::parameter_syntax: return {501, "5.5.4", "Syntax error in parameters"};
    case ReplyKind::parameter_not_recognized:
      return {555, "5.5.4", "MAIL FROM/RCPT TO parameter not recognized or not implemented"};
    case ReplyKind::not_implemented: return {502, "5.5.1", "Command not implemented"};
    case ReplyKind::bad_sequence: return {503, "5.5.1", "Bad sequence of commands"};
    case ReplyKind::need_helo: return {503, "5.5.1", "Send EHLO or HELO first"};
    case ReplyKind::need_mail: return {503, "5.5.1", "Send MAIL FROM first"};
    case ReplyKind::need_recipient: return {554, "5.5.1", "No valid recipients"};
    case ReplyKind::nested_mail: return {503, "5.5.1", "Sender already given; send RSET first"};
    case ReplyKind::bad_sender_address: return {501, "5.1.7", "Bad sender address syntax"};
    case ReplyKind::bad_recipient_address: return {501, "5.1.3", "Bad recipient address syntax"};
    case ReplyKind::relay_denied:
      return {554, "5.7.1", "Relay access denied: authenticate first, or send only to our domains"};
    case ReplyKind::routing_characters:
      return {554, "5.7.1", "Relay access denied: '%', '!' and '@' are not allowed in the local part"};
    case ReplyKind::no_such_user: return {550, "5.1.1", "No such user here"};
    case ReplyKind::message_too_big: return {552, "5.3.4", "Message size exceeds fixed limit"};
    case ReplyKind::header_too_big: return {552, "5.3.4", "Message header section exceeds fixed limit"};
    case ReplyKind::line_too_long:
      return {500, "5.5.2", "Line too long; lines must be shorter than the fixed limit"};
    case ReplyKind::bare_line_ending:
      return {550, "5.5.2",
              "Message contains a bare CR or LF; lines must end with CRLF (RFC 5321 2.3.8)"};
    case ReplyKind::must_issue_starttls: return {530, "5.7.0", "Must issue a STARTTLS command first"};
    case ReplyKind::auth_required: return {530, "5.7.0", "Authentication required"};
    case ReplyKind::auth_mechanism_unknown:
      return {504, "5.5.4", "Unrecognized authentication mechanism"};
    case ReplyKind::auth_invalid_credentials:
      return {535, "5.7.8", "Authentication credentials invalid"};
    case ReplyKind::auth_encryption_required:
      return {538, "5.7.11", "Encryption required for requested authentication mechanism"};
    case ReplyKind::auth_already_done: return {503, "5.5.1", "Already authenticated"};
    case ReplyKind::auth_cancelled: return {501, "5.0.0", "Authentication cancelled"};
    case ReplyKind::auth_syntax: return {501, "5.5.2", "Cannot decode the authentication response"};
    case ReplyKind::requiretls_needs_tls:
      return {530, "5.7.10", "REQUIRETLS needed: the message must arrive over TLS"};
    case ReplyKind::sender_authentication_failed:
      // DMARC (RFC 7489 6.6.4 and 10.3 suggest 550 5.7.1) and the other sender checks; the
      // detail names the policy that refused.
      return {550, "5.7.1", "Message refused: the sender's domain does not authenticate it"};
    case ReplyKind::partner_not_authenticated:
      // Domain Security: the sender's domain is a partner's, and partners are known by their
      // certificate; the same reply whether no certificate came or a wrong one (no oracle).
      return {550, "5.7.1",
              "Mail from this partner domain must arrive over mutually authenticated TLS"};
    case ReplyKind::smtputf8_not_allowed:
      return {553, "5.6.7", "Non-ASCII address requires SMTPUTF8"};
    case ReplyKind::chunk_syntax: return {501, "5.5.4", "BDAT needs a chunk size, then optional LAST"};
    case ReplyKind::command_line_too_long: return {500, "5.5.6", "Command line too long"};
    case ReplyKind::bdat_after_data_problem:
      return {503, "5.5.1", "Message already rejected; send RSET"};
    // RFC 3463 X.6.3 "conversion required but not supported"; RFC 6152 3 lets the client bounce.
    case ReplyKind::conversion_not_possible:
      return {554, "5.6.3", "Conversion to 7 bit required but not possible"};
  }
  return {451, "4.3.0", "Local error in processing"};
}

}  // namespace

std::string Reply::render() const {
  std::string out;
  const std::string code_text = std::to_string(code);
  if (lines.empty()) {
    out = code_text + (enhanced.empty() ? std::string() : " " + enhanced) + "\r\n";
    return out;
  }
  for (size_t index = 0; index < lines.size(); ++index) {
    out += code_text;
    out += (index + 1 == lines.size()) ? ' ' : '-';
    if (!enhanced.empty()) {
      out += enhanced;
      if (!lines[index].empty()) out += ' ';
    }
    out += lines[index];
    out += "\r\n";
  }
  return out;
}

Reply makeReply(ReplyKind kind, std::string_view detail) {
  Entry entry = entryFor(kind);
  Reply reply;
  reply.code = entry.code;
  reply.enhanced = entry.enhanced;
  reply.lines.emplace_back(detail.empty() ? std::string_view(entry.text) : detail);
  return reply;
}

void throw_exception_from_error(const Reply& reply, const boost::source_location&) {
  throw std::runtime_error("SMTP reply " + reply.render());
}

}  // namespace bulwark::smtp
