// The action vocabulary of [rule.then] (docs/rule-reference.md). An action only records its
// effect into MessageChanges and says what it does; the rules stage applies the changes. New
// actions of later issues (S/MIME, rights protection) are further Action subclasses with their
// own MessageChanges fields. Action values are the administrator's, validated at load with the
// checks below (no CR/LF in header values, RFC 5322 field names, RFC 3463 status classes).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mime/mime_edit.h"
#include "policy/rule.h"

namespace bulwark::policy {

enum class RecipientField { to, cc, bcc };

std::unique_ptr<Action> makeRequireTlsAction();
std::unique_ptr<Action> makeRejectAction(Rejection rejection);
std::unique_ptr<Action> makeDeleteAction();
std::unique_ptr<Action> makeQuarantineAction(std::string reason);
std::unique_ptr<Action> makeRedirectAction(std::vector<std::string> addresses);
std::unique_ptr<Action> makeAddRecipientsAction(RecipientField field,
                                                std::vector<std::string> addresses);
// One action for all edits of a key (add_header, set_header, remove_header).
std::unique_ptr<Action> makeHeaderEditAction(HeaderEdit::Kind kind, std::vector<HeaderEdit> edits);
std::unique_ptr<Action> makePrependSubjectAction(std::string prefix);
std::unique_ptr<Action> makeDisclaimerAction(mime::Disclaimer disclaimer);
std::unique_ptr<Action> makeSetClassificationAction(std::string classification);
std::unique_ptr<Action> makeRouteViaAction(std::string connector);
std::unique_ptr<Action> makeSetSpamAction(bool spam);

// Validation, each returning what is wrong (for a load problem) or nothing.
// RFC 5322 3.6.8: field names are printable ASCII except ':' (33-126), at least one.
std::optional<std::string> checkHeaderName(std::string_view name);
// No CR, LF or NUL (header injection), at most 998 bytes (RFC 5322 2.1.1).
std::optional<std::string> checkHeaderValue(std::string_view value);
// code 4xx/5xx; enhanced "class.subject.detail" whose class equals the code's first digit
// (RFC 3463 2, RFC 2034); text printable, no CR/LF.
std::optional<std::string> checkRejection(const Rejection& rejection);
// An RFC 5321 mailbox (SMTPUTF8 allowed), as smtp::parseMailbox reads it.
std::optional<std::string> checkAddress(std::string_view address);

}  // namespace bulwark::policy
