// Delivery status notifications; see bounce.h.
#include "queue/bounce.h"

#include "common/ids.h"

#include <ctime>

namespace bulwark::queue {
namespace {

std::string dateOf(std::chrono::system_clock::time_point time) {
  std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char buffer[64];
  std::strftime(buffer, sizeof buffer, "%a, %d %b %Y %H:%M:%S +0000", &parts);
  return buffer;
}

// Header values built from untrusted text must not break the header: no CR, LF or NUL.
std::string headerSafe(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) out += (c == '\r' || c == '\n' || c == '\0') ? ' ' : c;
  return out;
}

std::string_view headerSection(std::string_view message) {
  auto end = message.find("\r\n\r\n");
  return end == std::string_view::npos ? message : message.substr(0, end + 2);
}

}  // namespace

std::string explainStatus(std::string_view status) {
  if (status.size() < 5) return "The message could not be delivered.";
  std::string_view detail = status.substr(2);
  if (detail == "1.1") return "The recipient's mail server says this address does not exist.";
  if (detail == "1.2") return "The recipient's domain does not exist or does not accept mail.";
  if (detail == "1.10") return "The recipient's domain says it does not accept any mail (null MX).";
  if (detail == "2.1") return "The recipient's mailbox is disabled.";
  if (detail == "2.2") return "The recipient's mailbox is full.";
  if (detail == "3.4" || detail == "2.3") return "The message is too big for the recipient's system.";
  if (detail == "4.4") return "No mail server could be found for the recipient's domain.";
  if (detail == "4.7") return "The message was not delivered in time and has expired.";
  if (detail == "4.1" || detail == "4.2")
    return "The recipient's mail server could not be reached or did not answer.";
  if (detail == "7.10")
    return "The message required a secure (TLS) connection all the way, and the next mail server "
           "does not support that.";
  if (detail == "7.5" || detail == "7.4")
    return "A secure (TLS) connection to the recipient's mail server was required and could not "
           "be established.";
  if (detail == "6.7") return "The address needs internationalised mail (SMTPUTF8), which the "
                              "recipient's server does not support.";
  if (status[0] == '5') return "The recipient's mail server refused the message.";
  return "The message could not be delivered yet.";
}

std::string describeDuration(std::uint64_t seconds) {
  auto unit = [](std::uint64_t count, const char* name) {
    return std::to_string(count) + " " + name + (count == 1 ? "" : "s");
  };
  if (seconds >= 86400 && seconds % 86400 == 0) return unit(seconds / 86400, "day");
  if (seconds >= 3600 && seconds % 3600 == 0) return unit(seconds / 3600, "hour");
  if (seconds >= 60 && seconds % 60 == 0) return unit(seconds / 60, "minute");
  return unit(seconds, "second");
}

std::string buildNotice(const Notice& notice) {
  const Envelope& envelope = *notice.envelope;
  const bool failure = notice.kind == NoticeKind::failure;
  const std::string boundary = newQueueId() + "/" + notice.reporting_mta;
  std::string out;
  out += "From: Mail Delivery System <MAILER-DAEMON@" + notice.reporting_mta + ">\r\n";
  out += "To: <" + headerSafe(envelope.sender) + ">\r\n";
  out += failure ? "Subject: Undelivered Mail Returned to Sender\r\n"
                 : "Subject: Delayed Mail (still being retried)\r\n";
  out += "Date: " + dateOf(notice.now) + "\r\n";
  out += "Message-ID: " + newMessageId(notice.reporting_mta) + "\r\n";
  out += "Auto-Submitted: auto-replied\r\n";  // RFC 3834: no auto-replies to this
  out += "MIME-Version: 1.0\r\n";
  out += "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"" +
         boundary + "\"\r\n\r\n";
  out += "This is a MIME-encapsulated message.\r\n\r\n";

  // Part 1: for people.
  out += "--" + boundary + "\r\n";
  out += "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n";
  out += "This is the mail system at " + notice.reporting_mta + ".\r\n\r\n";
  if (failure) {
    out += "Your message could not be delivered to the recipients below. This is a permanent "
           "error; the mail system will not try again.\r\n\r\n";
  } else {
    out += "Your message has not been delivered yet to the recipients below. The mail system "
           "will keep trying until " + dateOf(notice.retry_until) +
           "; you do not need to send it again.\r\n\r\n";
  }
  for (const auto& recipient : notice.recipients) {
    out += "<" + headerSafe(recipient.address) + ">: " + explainStatus(recipient.status);
    if (!recipient.cause.empty()) out += " The last problem was: " + explainStatus(recipient.cause);
    out += "\r\n";
    if (!recipient.diagnostic.empty()) {
      out += "    " + (recipient.remote_mta.empty() ? std::string("Reason")
                                                     : "The server " + recipient.remote_mta) +
             " said: " + headerSafe(recipient.diagnostic) + "\r\n";
    }
    out += "\r\n";
  }

  // Part 2: for programs (RFC 3464 2.2, 2.3).
  out += "--" + boundary + "\r\n";
  out += "Content-Type: message/delivery-status\r\n\r\n";
  out += "Reporting-MTA: dns; " + notice.reporting_mta + "\r\n";
  out += "X-Bulwark-Queue-ID: " + envelope.queue_id + "\r\n";
  if (!envelope.dsn_envelope_id.empty()) {
    out += "Original-Envelope-Id: " + headerSafe(envelope.dsn_envelope_id) + "\r\n";
  }
  out += "Arrival-Date: " + dateOf(envelope.received_at) + "\r\n";
  for (const auto& recipient : notice.recipients) {
    out += "\r\n";
    out += "Final-Recipient: rfc822; " + headerSafe(recipient.address) + "\r\n";
    if (!recipient.original.empty()) {
      out += "Original-Recipient: " + headerSafe(recipient.original) + "\r\n";
    }
    out += std::string("Action: ") + (failure ? "failed" : "delayed") + "\r\n";
    out += "Status: " + headerSafe(recipient.status) + "\r\n";
    if (!recipient.remote_mta.empty()) {
      out += "Remote-MTA: dns; " + headerSafe(recipient.remote_mta) + "\r\n";
    }
    if (!recipient.diagnostic.empty()) {
      out += "Diagnostic-Code: smtp; " + headerSafe(recipient.diagnostic) + "\r\n";
    }
    out += "Last-Attempt-Date: " + dateOf(notice.now) + "\r\n";
    if (!failure) out += "Will-Retry-Until: " + dateOf(notice.retry_until) + "\r\n";
  }
  out += "\r\n";

  // Part 3: the original, whole when small enough and asked for (RET=HDRS asks for headers only).
  out += "--" + boundary + "\r\n";
  bool whole = failure && envelope.dsn_return != "HDRS" && notice.original.size() <= notice.size_limit;
  if (whole) {
    out += "Content-Type: message/rfc822\r\n\r\n";
    out.append(notice.original);
    if (!notice.original.empty() && !notice.original.ends_with("\r\n")) out += "\r\n";
  } else {
    out += "Content-Type: text/rfc822-headers\r\n\r\n";
    out.append(headerSection(notice.original));
  }
  out += "\r\n--" + boundary + "--\r\n";
  return out;
}

}  // namespace bulwark::queue
