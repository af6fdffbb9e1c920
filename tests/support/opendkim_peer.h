// OpenDKIM (libopendkim 2.11, the library under the opendkim milter) as a peer: signs and
// verifies whole messages in-process, with key records from a map instead of DNS
// (dkim_set_key_lookup). Used by opendkim_tool (interop tests) and bench/dkim_bench (speed), so
// what is timed is what is tested. Test-only; the messages are the tests' own.
#pragma once

// dkim.h is C99: it spells bool `_Bool`, which C++ does not know; bool has the same ABI.
#define _Bool bool
#include <opendkim/dkim.h>
#undef _Bool

#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bulwark::testing {

struct OpenDkimVerdict {
  std::string domain;
  std::string selector;
  bool passed = false;
  std::string reason;  // libopendkim's error text when not passed
};

class OpenDkimPeer {
 public:
  enum class Algorithm { rsa_sha256, ed25519_sha256 };

  OpenDkimPeer() : library_(dkim_init(nullptr, nullptr)) {
    if (library_ == nullptr) return;
    dkim_set_key_lookup(library_, &OpenDkimPeer::lookupKey);
  }
  ~OpenDkimPeer() {
    if (library_ != nullptr) dkim_close(library_);
  }
  OpenDkimPeer(const OpenDkimPeer&) = delete;
  OpenDkimPeer& operator=(const OpenDkimPeer&) = delete;

  bool ready() const { return library_ != nullptr; }

  // TXT records by owner name ("sel._domainkey.example.com"), what DNS would answer.
  std::map<std::string, std::string, std::less<>> records;

  // The DKIM-Signature field, CRLF-terminated, for `message` (CRLF line endings), or the library's
  // complaint in `error`. `private_key` is PEM text.
  std::optional<std::string> sign(std::string_view message, const std::string& private_key,
                                  const std::string& domain, const std::string& selector,
                                  Algorithm algorithm, bool relaxed_header, bool relaxed_body,
                                  std::string& error) {
    DKIM_STAT status = DKIM_STAT_OK;
    DKIM* handle = dkim_sign(library_, reinterpret_cast<const unsigned char*>("sign"), nullptr,
                             reinterpret_cast<dkim_sigkey_t>(const_cast<char*>(private_key.c_str())),
                             reinterpret_cast<const unsigned char*>(selector.c_str()),
                             reinterpret_cast<const unsigned char*>(domain.c_str()),
                             relaxed_header ? DKIM_CANON_RELAXED : DKIM_CANON_SIMPLE,
                             relaxed_body ? DKIM_CANON_RELAXED : DKIM_CANON_SIMPLE,
                             algorithm == Algorithm::rsa_sha256 ? DKIM_SIGN_RSASHA256
                                                                : DKIM_SIGN_ED25519SHA256,
                             -1, &status);
    if (handle == nullptr) {
      error = std::string("dkim_sign: ") + dkim_getresultstr(status);
      return std::nullopt;
    }
    std::optional<std::string> field;
    status = feed(handle, message);
    if (status == DKIM_STAT_OK) status = dkim_eom(handle, nullptr);
    unsigned char* text = nullptr;
    std::size_t length = 0;
    constexpr std::string_view kName = "DKIM-Signature: ";
    if (status == DKIM_STAT_OK) status = dkim_getsighdr_d(handle, kName.size(), &text, &length);
    if (status == DKIM_STAT_OK) {
      // The library folds with CRLF when it saw CRLF lines, otherwise with bare LF; the message
      // uses CRLF.
      std::string result(kName);
      for (std::size_t index = 0; index < length; ++index) {
        if (text[index] == '\n' && (index == 0 || text[index - 1] != '\r')) result += '\r';
        result += static_cast<char>(text[index]);
      }
      result += "\r\n";
      field = std::move(result);
    } else {
      error = describe(handle, status);
    }
    dkim_free(handle);
    return field;
  }

  // One verdict per DKIM-Signature the library looked at, in its order; `error` is set when the
  // library could not run at all (not for a failed signature).
  std::vector<OpenDkimVerdict> verify(std::string_view message, std::string& error) {
    std::vector<OpenDkimVerdict> verdicts;
    DKIM_STAT status = DKIM_STAT_OK;
    DKIM* handle = dkim_verify(library_, reinterpret_cast<const unsigned char*>("verify"),
                               nullptr, &status);
    if (handle == nullptr) {
      error = std::string("dkim_verify: ") + dkim_getresultstr(status);
      return verdicts;
    }
    dkim_set_user_context(handle, this);
    status = feed(handle, message);
    DKIM_STAT outcome = status == DKIM_STAT_OK ? dkim_eom(handle, nullptr) : status;
    DKIM_SIGINFO** signatures = nullptr;
    int count = 0;
    if (dkim_getsiglist(handle, &signatures, &count) == DKIM_STAT_OK) {
      for (int index = 0; index < count; ++index) {
        DKIM_SIGINFO* signature = signatures[index];
        OpenDkimVerdict verdict;
        if (const unsigned char* domain = dkim_sig_getdomain(signature))
          verdict.domain = reinterpret_cast<const char*>(domain);
        if (const unsigned char* selector = dkim_sig_getselector(signature))
          verdict.selector = reinterpret_cast<const char*>(selector);
        verdict.passed = DKIM_SIG_CHECK(signature);
        if (!verdict.passed) {
          int code = dkim_sig_geterror(signature);
          if (code != DKIM_SIGERROR_OK) {
            verdict.reason = dkim_sig_geterrorstr(code);
          } else if (dkim_sig_getbh(signature) != DKIM_SIGBH_MATCH) {
            verdict.reason = "body hash mismatch";
          } else {
            verdict.reason = describe(handle, outcome);
          }
        }
        verdicts.push_back(std::move(verdict));
      }
    } else if (outcome != DKIM_STAT_NOSIG) {
      error = describe(handle, outcome);
    }
    dkim_free(handle);
    return verdicts;
  }

 private:
  static DKIM_STAT feed(DKIM* handle, std::string_view message) {
    // dkim_chunk takes the message as it arrives (CRLF lines), the way a filter would.
    DKIM_STAT status = dkim_chunk(
        handle, reinterpret_cast<unsigned char*>(const_cast<char*>(message.data())),
        message.size());
    if (status != DKIM_STAT_OK) return status;
    return dkim_chunk(handle, nullptr, 0);
  }

  static std::string describe(DKIM* handle, DKIM_STAT status) {
    std::string text = dkim_getresultstr(status);
    if (const char* detail = dkim_geterror(handle); detail != nullptr && *detail != '\0')
      text += std::string(": ") + detail;
    return text;
  }

  static DKIM_CBSTAT lookupKey(DKIM* handle, DKIM_SIGINFO* signature, unsigned char* buffer,
                               std::size_t size) {
    auto* peer = static_cast<OpenDkimPeer*>(dkim_get_user_context(handle));
    if (peer == nullptr) return DKIM_CBSTAT_ERROR;
    std::string name = reinterpret_cast<const char*>(dkim_sig_getselector(signature));
    name += "._domainkey.";
    name += reinterpret_cast<const char*>(dkim_sig_getdomain(signature));
    auto found = peer->records.find(name);
    if (found == peer->records.end()) return DKIM_CBSTAT_NOTFOUND;
    if (found->second.size() + 1 > size) return DKIM_CBSTAT_ERROR;
    std::memcpy(buffer, found->second.c_str(), found->second.size() + 1);
    return DKIM_CBSTAT_CONTINUE;
  }

  DKIM_LIB* library_;
};

}  // namespace bulwark::testing
