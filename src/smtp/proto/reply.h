// SMTP replies (RFC 5321 4.2) with enhanced status codes (RFC 2034, RFC 3463), and the one table
// that chooses the code for every outcome the server can have. A new failure gets a new ReplyKind
// here, never an ad-hoc number in the session.
#pragma once

#include <boost/system/result.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace bulwark::smtp {

enum class ReplyKind {
  // success and intermediate
  greeting, closing, ok, ok_sender, ok_recipient, queued, start_data, tls_go_ahead,
  auth_success, auth_continue, vrfy_cannot_verify, help, noop, reset,
  // transient (4xx)
  service_shutting_down, too_many_connections, too_many_connections_from_client,
  too_many_errors, timeout, insufficient_storage, too_many_recipients, local_error,
  tls_not_available, too_many_auth_failures, auth_temporary_failure,
  // permanent (5xx)
  syntax_error, unrecognized_command, parameter_syntax, parameter_not_recognized, not_implemented,
  bad_sequence, need_helo, need_mail, need_recipient, nested_mail, bad_sender_address,
  bad_recipient_address, relay_denied, routing_characters, no_such_user, message_too_big,
  header_too_big, line_too_long, bare_line_ending, must_issue_starttls, auth_required,
  auth_mechanism_unknown, auth_invalid_credentials, auth_encryption_required, auth_already_done,
  auth_cancelled, auth_syntax, requiretls_needs_tls, smtputf8_not_allowed, chunk_syntax,
  partner_not_authenticated, sender_authentication_failed,
  command_line_too_long, bdat_after_data_problem,
  // permanent, decided by our SMTP client
  conversion_not_possible,
};

struct Reply {
  int code = 250;
  std::string enhanced;              // "2.0.0"; empty only where RFC 2034 forbids it (greeting, EHLO)
  std::vector<std::string> lines;    // one or more text lines

  // "250-first\r\n250 2.0.0 last\r\n": enhanced code on every line when present.
  std::string render() const;
  bool isPositive() const { return code < 400; }
  bool isTransient() const { return code >= 400 && code < 500; }
};

// The table: code and enhanced code for `kind`, with `detail` as text (or the table's default
// sentence when detail is empty).
Reply makeReply(ReplyKind kind, std::string_view detail = {});

template <class T>
using ReplyResult = boost::system::result<T, Reply>;

[[noreturn]] void throw_exception_from_error(const Reply& reply,
                                             const boost::source_location& location);

}  // namespace bulwark::smtp
