// DKIM canonicalisation (RFC 6376 3.4) and the header selection of signing and verifying
// (RFC 6376 5.4.2, 3.7), shared by DKIM and ARC (RFC 8617 5.1.1). Works on views into the raw,
// untrusted message; bodies are streamed in chunks, never copied whole.
#pragma once

#include <openssl/types.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/dkim.h"
#include "mime/header_fields.h"

namespace bulwark::auth {

// Appends the canonical form of one header field, with its CRLF (RFC 6376 3.4.1, 3.4.2).
// `field.raw` is used as is for simple; relaxed lower-cases the name, unfolds, and reduces
// whitespace.
void appendCanonicalHeader(Canonicalization canonicalization, const mime::HeaderField& field,
                           std::string& out);

// The raw field with the value of its b= tag removed, everything else kept byte for byte
// (RFC 6376 3.5 "b=", 3.7): the folding whitespace and base64 characters after "b=" go, any
// whitespace after the last base64 character stays. The field's final line break is dropped.
std::string withoutSignatureValue(std::string_view raw_field);

// Appends what the signature's own field contributes to the header hash: `raw_field` with b=
// emptied, canonicalised, without the trailing CRLF (RFC 6376 3.7).
void appendCanonicalSignatureField(Canonicalization canonicalization, std::string_view raw_field,
                                   std::string& out);

// The fields an h= list names, in hash order: for each name, the bottom-most instance not yet
// used; a name with no instance left selects nothing (signed as null, RFC 6376 5.4.2).
// `fields` is the message's header, top to bottom.
std::vector<const mime::HeaderField*> selectSignedFields(
    const std::vector<mime::HeaderField>& fields, const std::vector<std::string_view>& names);

// Room for the signed data of `selected` and the signature field: their raw size, which
// canonicalisation does not exceed but for a CRLF written for a bare LF (a hint for reserve()).
std::size_t signedDataSize(const std::vector<const mime::HeaderField*>& selected,
                           std::string_view signature_field);

// Canonicalises a body given in pieces of any size (RFC 6376 3.4.3, 3.4.4): a CRLF, a whitespace
// run or a run of empty lines may straddle two pieces. Stretches that canonicalisation leaves
// unchanged reach `sink` as views into the piece being fed (the sink must use them before
// update() returns); only what it rewrites (one SP for a whitespace run, CRLF for a bare LF, the
// empty lines kept back until a non-empty line shows they are not trailing) comes from constants.
// A bare LF is taken as a line end (written CRLF): messages stored with LF endings still verify.
class BodyCanonicalizer {
 public:
  using Sink = std::function<void(std::string_view)>;
  BodyCanonicalizer(Canonicalization canonicalization, Sink sink);
  void update(std::string_view piece);
  // After the last piece: trailing empty lines are dropped, a last line without a line break
  // gets one, and a simple body that is empty becomes one CRLF.
  void finish();

 private:
  void flushTo(std::size_t end);
  void emitOwedLines();
  void lineEnd(std::size_t position, std::size_t length);
  void whitespace(std::size_t& position);

  Sink sink_;
  bool relaxed_;
  std::string_view piece_;             // the piece being fed
  std::size_t run_start_ = 0;          // piece_[run_start_, position) is output not yet sunk
  std::size_t owed_empty_lines_ = 0;   // empty lines kept back: trailing ones are dropped
  bool owed_space_ = false;            // relaxed: whitespace at the end of the previous piece
  bool pending_carriage_return_ = false;  // the previous piece ended in CR: CRLF or content?
  bool line_has_content_ = false;      // the current line has bytes that are not whitespace
  bool wrote_line_ = false;            // simple: a body without lines becomes one CRLF
};

// Streams the canonical body (RFC 6376 3.4.3, 3.4.4) of a whole body to `sink`.
void canonicalizeBody(Canonicalization canonicalization, std::string_view body,
                      const std::function<void(std::string_view)>& sink);

// The whole canonical body in one string (tests, small bodies).
std::string canonicalBody(Canonicalization canonicalization, std::string_view body);

struct BodyHash {
  std::string digest;                // raw bytes of the hash over the first `limit` bytes
  std::size_t canonical_length = 0;  // length of the whole canonical body
};

// SHA-256, or SHA-1 when `sha1`, fetched once per process (an implicit fetch on every use costs
// measurable time in OpenSSL 3). Never null once OpenSSL is initialised; callers still check.
const EVP_MD* dkimDigest(bool sha1);

// The hash (SHA-256, or SHA-1 when `sha1`) of the canonical body, or of its first `limit`
// bytes (l=). An error only if OpenSSL fails.
Result<BodyHash> hashBody(Canonicalization canonicalization, std::string_view body, bool sha1,
                          std::optional<std::size_t> limit);

}  // namespace bulwark::auth
