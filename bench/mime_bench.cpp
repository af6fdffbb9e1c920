// Parse time of the MIME view (mime::parseMessage: GMime tree, transfer decoding, charset
// conversion, HTML reduction) on a 4 KiB and a 1 MiB message, in microseconds per message.
// Build Release (bench/mime.sh); the messages are generated here, so no input is needed.
#include "mime/mime_message.h"

#include <chrono>
#include <cstdio>
#include <string>

namespace {

using bulwark::mime::parseMessage;

std::string base64Lines(std::size_t bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t characters = bytes / 3 * 4;
  for (std::size_t i = 0; i < characters; ++i) {
    out += kAlphabet[(i * 7 + i / 64) % 64];
    if (i % 76 == 75) out += "\r\n";
  }
  return out + "\r\n";
}

// A multipart/alternative text + HTML message padded to `size`, plus an attachment of
// `attachment_bytes` decoded bytes.
std::string message(std::size_t size, std::size_t attachment_bytes) {
  std::string text;
  while (text.size() < size / 3) {
    text += "Quarterly figures are attached; the totals are in the second table.\r\n";
  }
  std::string html = "<html><head><style>p{margin:0}</style></head><body>";
  while (html.size() < size / 2) {
    html += "<p>Quarterly figures are <b>attached</b>&nbsp;now.</p>\r\n";
  }
  html += "</body></html>\r\n";
  std::string out =
      "From: ann@example.test\r\nTo: bob@example.test\r\n"
      "Subject: =?utf-8?Q?Quartalsbericht_f=C3=BCr_Q3?=\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=outer\r\n\r\n"
      "--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n"
      "--inner\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text +
      "--inner\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html + "--inner--\r\n";
  if (attachment_bytes > 0) {
    out += "--outer\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
           "Content-Disposition: attachment; filename=\"report.pdf\"\r\n\r\n" +
           base64Lines(attachment_bytes);
  }
  return out + "--outer--\r\n";
}

void measure(const char* label, const std::string& input, int rounds) {
  std::size_t sink = 0;
  parseMessage(input);  // warm-up: GMime's tables and iconv caches
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < rounds; ++i) sink += parseMessage(input).bodyText().size();
  std::chrono::duration<double, std::micro> elapsed = std::chrono::steady_clock::now() - start;
  std::printf("%-8s %8zu bytes  %10.1f us/message  (%d rounds, %zu)\n", label, input.size(),
              elapsed.count() / rounds, rounds, sink / rounds);
}

}  // namespace

int main() {
  bulwark::mime::initializeMimeLibrary();
  measure("4 KiB", message(4300, 0), 20000);
  measure("1 MiB", message(64 * 1024, 700 * 1024), 300);
  return 0;
}
