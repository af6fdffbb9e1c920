// The rule actions; see actions.h.
#include "policy/actions.h"

#include <functional>

#include "policy/conditions.h"
#include "smtp/proto/address.h"

namespace bulwark::policy {
namespace {

using Applier = std::function<std::string(MessageChanges&)>;

class FunctionAction final : public Action {
 public:
  FunctionAction(std::string_view name, Applier applier)
      : name_(name), applier_(std::move(applier)) {}
  std::string_view name() const override { return name_; }
  std::string apply(MessageChanges& changes) const override { return applier_(changes); }

 private:
  std::string_view name_;  // always a string literal
  Applier applier_;
};

std::unique_ptr<Action> makeAction(std::string_view name, Applier applier) {
  return std::make_unique<FunctionAction>(name, std::move(applier));
}

std::string joinQuoted(const std::vector<std::string>& values) {
  std::string out;
  for (const std::string& value : values) {
    if (!out.empty()) out += ", ";
    out += quoteForReason(value);
  }
  return out;
}

}  // namespace

std::unique_ptr<Action> makeRequireTlsAction() {
  return makeAction("require_tls", [](MessageChanges& changes) {
    changes.require_tls = true;
    return std::string("require TLS for outbound delivery");
  });
}

std::unique_ptr<Action> makeRejectAction(Rejection rejection) {
  return makeAction("reject", [rejection = std::move(rejection)](MessageChanges& changes) {
    changes.reject = rejection;
    return "reject with " + std::to_string(rejection.code) + " " + rejection.enhanced + " " +
           rejection.text;
  });
}

std::unique_ptr<Action> makeDeleteAction() {
  return makeAction("delete", [](MessageChanges& changes) {
    changes.discard = true;
    return std::string("delete the message silently");
  });
}

std::unique_ptr<Action> makeQuarantineAction(std::string reason) {
  return makeAction("quarantine", [reason = std::move(reason)](MessageChanges& changes) {
    changes.quarantine = reason;
    return "quarantine (" + reason + ")";
  });
}

std::unique_ptr<Action> makeRedirectAction(std::vector<std::string> addresses) {
  return makeAction("redirect_to", [addresses = std::move(addresses)](MessageChanges& changes) {
    changes.redirect_to.insert(changes.redirect_to.end(), addresses.begin(), addresses.end());
    return "redirect to " + joinQuoted(addresses) + " instead of the recipients";
  });
}

std::unique_ptr<Action> makeAddRecipientsAction(RecipientField field,
                                                std::vector<std::string> addresses) {
  const std::string_view name = field == RecipientField::to   ? "add_to"
                                : field == RecipientField::cc ? "add_cc"
                                                              : "add_bcc";
  return makeAction(name, [field, addresses = std::move(addresses)](MessageChanges& changes) {
    std::vector<std::string>& target = field == RecipientField::to   ? changes.add_to
                                       : field == RecipientField::cc ? changes.add_cc
                                                                     : changes.add_bcc;
    target.insert(target.end(), addresses.begin(), addresses.end());
    const std::string_view how = field == RecipientField::to   ? "add To recipient "
                                 : field == RecipientField::cc ? "add Cc recipient "
                                                               : "add Bcc recipient ";
    return std::string(how) + joinQuoted(addresses);
  });
}

std::unique_ptr<Action> makeHeaderEditAction(HeaderEdit::Kind kind, std::vector<HeaderEdit> edits) {
  const std::string_view name = kind == HeaderEdit::Kind::add   ? "add_header"
                                : kind == HeaderEdit::Kind::set ? "set_header"
                                                                : "remove_header";
  return makeAction(name, [kind, edits = std::move(edits)](MessageChanges& changes) {
    std::string description;
    for (HeaderEdit edit : edits) {
      edit.kind = kind;
      if (!description.empty()) description += "; ";
      if (kind == HeaderEdit::Kind::remove) {
        description += "remove header " + edit.name;
      } else {
        description += std::string(kind == HeaderEdit::Kind::add ? "add" : "set") + " header " +
                       edit.name + ": " + quoteForReason(edit.value);
      }
      changes.header_edits.push_back(std::move(edit));
    }
    return description;
  });
}

std::unique_ptr<Action> makePrependSubjectAction(std::string prefix) {
  return makeAction("prepend_subject", [prefix = std::move(prefix)](MessageChanges& changes) {
    changes.subject_prefix += prefix;
    return "prepend " + quoteForReason(prefix) + " to the subject";
  });
}

std::unique_ptr<Action> makeDisclaimerAction(mime::Disclaimer disclaimer) {
  return makeAction("disclaimer", [disclaimer = std::move(disclaimer)](MessageChanges& changes) {
    changes.disclaimer = disclaimer;
    return std::string("append a disclaimer (signed messages: ") +
           (disclaimer.signed_content == mime::Disclaimer::SignedContent::wrap ? "wrap" : "skip") +
           ")";
  });
}

std::unique_ptr<Action> makeSetClassificationAction(std::string classification) {
  return makeAction("set_classification",
                    [classification = std::move(classification)](MessageChanges& changes) {
                      changes.classification = classification;
                      return "set classification " + quoteForReason(classification);
                    });
}

std::unique_ptr<Action> makeRouteViaAction(std::string connector) {
  return makeAction("route_via", [connector = std::move(connector)](MessageChanges& changes) {
    changes.route_connector = connector;
    return "route through send connector " + quoteForReason(connector);
  });
}

std::unique_ptr<Action> makeSetSpamAction(bool spam) {
  return makeAction("set_spam", [spam](MessageChanges& changes) {
    changes.spam = spam;
    return std::string(spam ? "mark as spam" : "mark as not spam");
  });
}

std::optional<std::string> checkHeaderName(std::string_view name) {
  if (name.empty()) return std::string("a header name cannot be empty");
  for (char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 33 || byte > 126 || c == ':') {
      return "header name " + quoteForReason(name) +
             " may hold only printable ASCII without spaces or ':' (RFC 5322 3.6.8)";
    }
  }
  return std::nullopt;
}

std::optional<std::string> checkHeaderValue(std::string_view value) {
  if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
    return std::string("a header value cannot contain CR, LF or NUL; write it on one line");
  }
  if (value.size() > 998) {
    return "a header value of " + std::to_string(value.size()) +
           " bytes is too long; keep it under 998 (RFC 5322 2.1.1)";
  }
  return std::nullopt;
}

std::optional<std::string> checkRejection(const Rejection& rejection) {
  if (rejection.code < 400 || rejection.code > 599) {
    return "reply code " + std::to_string(rejection.code) +
           " is not a refusal; use 5xx (permanent, e.g. 550) or 4xx (temporary, e.g. 450)";
  }
  const std::string& status = rejection.enhanced;
  // class "." subject (1-3 digits) "." detail (1-3 digits), RFC 3463 2.
  bool well_formed =
      status.size() >= 5 && (status[0] == '4' || status[0] == '5') && status[1] == '.';
  std::size_t dots = 0;
  std::size_t digits = 0;
  for (std::size_t index = 2; well_formed && index < status.size(); ++index) {
    if (status[index] == '.') {
      well_formed = digits >= 1 && digits <= 3 && ++dots == 1;
      digits = 0;
    } else if (status[index] >= '0' && status[index] <= '9') {
      ++digits;
    } else {
      well_formed = false;
    }
  }
  well_formed = well_formed && dots == 1 && digits >= 1 && digits <= 3;
  if (!well_formed) {
    return "enhanced status " + quoteForReason(status) +
           " is not class.subject.detail with class 4 or 5 (RFC 3463), e.g. \"5.7.1\"";
  }
  if (status[0] - '0' != rejection.code / 100) {
    return "enhanced status " + quoteForReason(status) + " does not match reply code " +
           std::to_string(rejection.code) + ": both must be 5 (permanent) or both 4 (temporary)";
  }
  for (char c : rejection.text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte > 0x7E) {
      return std::string(
          "the reject text must be printable ASCII on one line (it is sent in "
          "the SMTP reply)");
    }
  }
  return std::nullopt;
}

std::optional<std::string> checkAddress(std::string_view address) {
  if (!smtp::parseMailbox(address, true)) {
    return quoteForReason(address) + " is not an email address (local-part@domain)";
  }
  return std::nullopt;
}

}  // namespace bulwark::policy
