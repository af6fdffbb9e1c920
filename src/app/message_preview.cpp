// previewMessageChanges; see message_preview.h.
#include "app/message_preview.h"

#include "common/strings.h"
#include "mime/header_fields.h"
#include "mime/mime_edit.h"

#include <algorithm>

namespace bulwark::app {
namespace {

void addRecipient(std::vector<std::string>& recipients, const std::string& address) {
  const bool known = std::any_of(recipients.begin(), recipients.end(), [&](const auto& other) {
    return equalsIgnoreCase(other, address);
  });
  if (!known) recipients.push_back(address);
}

// The unfolded value of the first field named `name`, or "" when there is none.
std::string fieldValue(std::string_view message, std::string_view name) {
  for (const mime::HeaderField& field : mime::headerFields(message)) {
    if (equalsIgnoreCase(field.name, name)) return mime::unfold(field.value);
  }
  return "";
}

// Appends addresses to the To or Cc field (creating it), as the rules stage does for add_to and
// add_cc, so that the recipients see who else got the message.
void addToAddressField(std::string& message, std::string_view name,
                       const std::vector<std::string>& addresses, MessagePreview& preview) {
  if (addresses.empty()) return;
  std::string value = fieldValue(message, name);
  for (const std::string& address : addresses) {
    if (!value.empty()) value += ", ";
    value += address;
  }
  if (auto set = mime::setHeader(message, name, value); !set) {
    preview.problems.push_back(std::string(name) + ": " + set.error().message);
    return;
  }
  preview.edits.push_back(std::string(name) + " field: added " + std::to_string(addresses.size()) +
                          " address(es)");
}

}  // namespace

MessagePreview previewMessageChanges(std::string_view message,
                                     const std::vector<std::string>& recipients,
                                     const policy::MessageChanges& changes,
                                     const mime::MimeLimits& limits) {
  MessagePreview preview;
  preview.require_tls = changes.require_tls;
  for (const std::string& recipient :
       changes.redirect_to.empty() ? recipients : changes.redirect_to) {
    addRecipient(preview.recipients, recipient);
  }
  for (const auto* list : {&changes.add_to, &changes.add_cc, &changes.add_bcc}) {
    for (const std::string& address : *list) addRecipient(preview.recipients, address);
  }

  preview.message.assign(message);
  std::string& edited = preview.message;
  for (const policy::HeaderEdit& edit : changes.header_edits) {
    switch (edit.kind) {
      case policy::HeaderEdit::Kind::add:
        if (auto added = mime::addHeader(edited, edit.name, edit.value); !added) {
          preview.problems.push_back(edit.name + ": " + added.error().message);
        } else {
          preview.edits.push_back("header " + edit.name + " added");
        }
        break;
      case policy::HeaderEdit::Kind::set:
        if (auto set = mime::setHeader(edited, edit.name, edit.value); !set) {
          preview.problems.push_back(edit.name + ": " + set.error().message);
        } else {
          preview.edits.push_back("header " + edit.name + " set");
        }
        break;
      case policy::HeaderEdit::Kind::remove: {
        const std::size_t removed = mime::removeHeader(edited, edit.name);
        if (removed > 0) {
          preview.edits.push_back("header " + edit.name + " removed (" +
                                  std::to_string(removed) + ")");
        }
        break;
      }
    }
  }
  addToAddressField(edited, "To", changes.add_to, preview);
  addToAddressField(edited, "Cc", changes.add_cc, preview);
  if (changes.classification) {
    if (auto set = mime::setHeader(edited, "X-Bulwark-Classification", *changes.classification);
        !set) {
      preview.problems.push_back("X-Bulwark-Classification: " + set.error().message);
    } else {
      preview.edits.push_back("classification " + *changes.classification);
    }
  }
  if (changes.spam) {
    if (auto set = mime::setHeader(edited, "X-Bulwark-Spam", *changes.spam ? "yes" : "no");
        !set) {
      preview.problems.push_back("X-Bulwark-Spam: " + set.error().message);
    } else {
      preview.edits.push_back(std::string("spam verdict ") + (*changes.spam ? "yes" : "no"));
    }
  }
  if (!changes.subject_prefix.empty()) {
    const std::string before = edited;
    if (auto prefixed = mime::prependSubject(edited, changes.subject_prefix); !prefixed) {
      preview.problems.push_back("subject: " + prefixed.error().message);
    } else if (edited != before) {
      preview.edits.push_back("subject prefixed with \"" + changes.subject_prefix + "\"");
    }
  }
  if (changes.disclaimer) {
    auto outcome = mime::appendDisclaimer(edited, *changes.disclaimer, limits);
    if (!outcome) {
      preview.problems.push_back("disclaimer: " + outcome.error().message);
    } else {
      preview.edits.push_back("disclaimer: " + outcome->how);
    }
  }
  preview.message_changed = preview.message != message;
  return preview;
}

}  // namespace bulwark::app
