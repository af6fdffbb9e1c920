// Conversion of an 8-bit message to 7 bit for a next hop without 8BITMIME (RFC 6152 3), by
// re-encoding bodies (RFC 2045 6.7 quoted-printable, 6.8 base64) through multipart (RFC 2046 5.1)
// and message/rfc822 (RFC 2046 5.2.1) structure; a message without MIME headers is text (RFC 1428
// 3). The message is untrusted: parsing has no I/O, nesting is bounded, every loop advances.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/result.h"

namespace bulwark::mime {

// Levels of multipart parts and message/rfc822 bodies the converter descends through (the top
// level is 0). Real mail rarely nests past 5; Postfix's default limit is 100.
constexpr std::size_t kMaximumConversionDepth = 50;

struct SevenBitOptions {
  std::size_t max_depth = kMaximumConversionDepth;
};

// Whether any octet has its high bit set.
bool hasEightBitOctets(std::string_view bytes);

// The 7-bit form of `message` (CRLF line endings). Every entity whose body holds 8-bit octets is
// re-encoded: text/* as quoted-printable (lines of at most 76 characters), anything else as
// base64; its Content-Transfer-Encoding field says so (added when absent), and multipart or
// message/rfc822 entities around it that said 8bit or binary now say 7bit. A text entity without
// a Content-Type field gets "text/plain; charset=unknown-8bit" (its charset is not us-ascii, and
// which one is unknown; RFC 1428 3), and the top level gets "MIME-Version: 1.0" when it had none.
// Every other byte, headers included, is copied unchanged; a message without 8-bit octets comes
// back as it was.
// Error (code "conversion", with the reason) when the message cannot be made 7-bit without losing
// what it says: 8-bit octets in a header field, inside an entity that is already encoded
// (quoted-printable, base64, an unknown encoding), in a multipart preamble or epilogue, in a
// multipart entity without a usable boundary, in message/partial or message/external-body (RFC 2046
// 5.2.2, 5.2.3: 7bit only), or deeper than `max_depth`.
Result<std::string> convertToSevenBit(std::string_view message,
                                      const SevenBitOptions& options = {});

}  // namespace bulwark::mime
