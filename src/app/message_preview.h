// What `bulwark rules test` shows of a rule evaluation's effects (docs/rules.md): the envelope
// after redirect / add recipients, the TLS requirement, and the message after header, subject,
// classification and disclaimer edits, made with the mime_edit functions the server's rules
// stage uses. The message is untrusted; the edits come from the administrator's rules.
#pragma once

#include "mime/mime_message.h"
#include "policy/rule.h"

#include <string>
#include <string_view>
#include <vector>

namespace bulwark::app {

struct MessagePreview {
  std::string message;                  // after the edits
  bool message_changed = false;
  std::vector<std::string> recipients;  // envelope recipients after redirect and additions
  bool require_tls = false;
  std::vector<std::string> edits;       // what changed in the message, in words, in order
  std::vector<std::string> problems;    // edits refused (a value the header rules forbid, ...)
};

MessagePreview previewMessageChanges(std::string_view message,
                                     const std::vector<std::string>& recipients,
                                     const policy::MessageChanges& changes,
                                     const mime::MimeLimits& limits);

}  // namespace bulwark::app
