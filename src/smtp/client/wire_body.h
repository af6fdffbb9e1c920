// The message content as the SMTP client sends it, decided from what the server offers: CRLF line
// endings (RFC 5321 2.3.8, needed for an exact BDAT size, RFC 3030 2), and conversion to 7 bit
// when the message is 8-bit and the server lacks 8BITMIME (RFC 6152 3). The message is untrusted;
// the conversion is mime::convertToSevenBit (bounded nesting).
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace bulwark::smtp {

class WireBody {
 public:
  // The bytes to send: the stored message itself, or the copy that had to change.
  std::string_view bytes() const { return changed_ ? std::string_view(storage_) : original_; }
  bool eightBit() const { return eight_bit_; }   // 8-bit octets go out: BODY=8BITMIME
  bool converted() const { return converted_; }  // re-encoded to 7 bit

 private:
  friend Result<WireBody> prepareWireBody(std::string_view stored, bool declared_8bit,
                                          bool server_8bitmime, bool crlf_needed);
  std::string_view original_;
  std::string storage_;
  bool changed_ = false;
  bool eight_bit_ = false;
  bool converted_ = false;
};

// Whether every CR is followed by LF, every LF preceded by CR, and the data is empty or ends
// with CRLF.
bool hasCrlfLineEndings(std::string_view data);

// `data` with each bare CR, bare LF or CRLF as one CRLF, and a final CRLF when the last line had
// none: the same lines the DATA encoding sends (so DATA and BDAT carry identical messages).
std::string withCrlfLineEndings(std::string_view data);

// `stored`: the queued message; `declared_8bit`: BODY=8BITMIME came with it. `crlf_needed`: the
// bytes are sent as they are (BDAT), so line endings must be CRLF already. An Error (code
// "conversion") means the message needs 8BITMIME, the server lacks it, and it cannot be converted.
// The result refers to `stored` when nothing changed: it must not outlive it.
Result<WireBody> prepareWireBody(std::string_view stored, bool declared_8bit, bool server_8bitmime,
                                 bool crlf_needed);

}  // namespace bulwark::smtp
