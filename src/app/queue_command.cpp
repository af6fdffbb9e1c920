// `bulwark queue`: look at and act on the spool (docs/operations.md "The queue"): list, show,
// hold, release, retry and delete. It works beside a running server: state changes are the same
// durable renames the server makes, a released or retried message is picked up by the server's
// periodic scan of active/, and reading uses Spool::inspect, which never repairs a file the server
// may be appending to. Untrusted: queue files (parsed by the spool) and the addresses, replies and
// message headers in them, which are printed with control characters replaced so that a message
// cannot drive the operator's terminal. Ids from the command line are checked by the spool.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/json.hpp>
#include <ctime>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "app/commands.h"
#include "app/tool_config.h"
#include "queue/spool.h"

namespace bulwark::app {
namespace {

constexpr int kExitSuccess = 0;
constexpr int kExitFailure = 1;  // an id was not found, or the spool could not be read
constexpr int kExitUsage = 2;

using queue::QueuedMessage;
using queue::QueueState;
using queue::RecipientStatus;
using Clock = std::chrono::system_clock;

struct QueueOptions {
  std::string config_file;
  std::string data_dir;
  std::vector<std::string> ids;
  bool json = false;
  bool body = false;
  bool all = false;
};

const char* stateName(QueueState state) {
  switch (state) {
    case QueueState::deferred: return "deferred";
    case QueueState::hold: return "hold";
    case QueueState::active: break;
  }
  return "active";
}

const char* statusName(RecipientStatus status) {
  switch (status) {
    case RecipientStatus::delivered: return "delivered";
    case RecipientStatus::failed: return "failed";
    case RecipientStatus::pending: break;
  }
  return "pending";
}

// Text from a queue file, safe to print: control characters (escape sequences, line breaks)
// become '?'. Bytes from 0x80 up are left alone (UTF-8 addresses, SMTPUTF8).
std::string printable(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte < 0x20 && c != '\t') || byte == 0x7F) c = '?';
  }
  return out;
}

std::string formatTime(Clock::time_point when, bool utc) {
  const std::time_t seconds = Clock::to_time_t(when);
  std::tm parts{};
  if (utc) {
    gmtime_r(&seconds, &parts);
  } else {
    localtime_r(&seconds, &parts);
  }
  char text[32];
  std::strftime(text, sizeof text, utc ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%d %H:%M:%S", &parts);
  return text;
}

std::string notifyText(std::uint8_t notify) {
  if (notify == 0) return "(default)";
  if ((notify & notify_never) != 0) return "NEVER";
  std::string out;
  for (auto [bit, name] :
       {std::pair{notify_success, "SUCCESS"}, std::pair{notify_failure, "FAILURE"},
        std::pair{notify_delay, "DELAY"}}) {
    if ((notify & bit) == 0) continue;
    if (!out.empty()) out += ",";
    out += name;
  }
  return out;
}

std::size_t pendingCount(const QueuedMessage& message) {
  return static_cast<std::size_t>(std::count_if(
      message.envelope.recipients.begin(), message.envelope.recipients.end(),
      [](const auto& recipient) { return recipient.status == RecipientStatus::pending; }));
}

// When the next delivery attempt happens, in words for the table.
std::string nextAttemptText(const QueuedMessage& message) {
  if (message.state == QueueState::hold) return "held";
  if (message.state == QueueState::active) return "now";
  return formatTime(message.next_attempt, false);
}

// The spool of the data directory the options name; nullptr (after saying why) when there is
// none. A missing queue directory is not created: that would hide a mistyped --data-dir.
std::unique_ptr<queue::Spool> openSpool(const QueueOptions& options, std::string_view command) {
  auto config = configForTool(options.config_file, options.data_dir, "queue");
  if (!config) return nullptr;
  const std::filesystem::path root = config->queueDirectory();
  std::error_code error;
  if (!std::filesystem::is_directory(root / "active", error)) {
    std::cerr << "bulwark queue " << command << ": no queue at " << root.string()
              << " (wrong --data-dir or --config, or the server has not run there yet)\n";
    return nullptr;
  }
  auto spool = queue::openFileSpool(root);
  if (!spool) {
    std::cerr << "bulwark queue " << command << ": " << spool.error().message << "\n";
    return nullptr;
  }
  return std::move(*spool);
}

// Every message in active, deferred and hold, oldest first. A message that moves between
// states while we list is shown once, in the state it was read in; one delivered meanwhile is
// left out. A damaged file is reported on stderr and skipped.
std::vector<QueuedMessage> allMessages(queue::Spool& spool, bool& failed) {
  std::vector<QueuedMessage> messages;
  std::set<std::string> seen;
  for (QueueState state : {QueueState::active, QueueState::deferred, QueueState::hold}) {
    auto ids = spool.list(state);
    if (!ids) {
      std::cerr << "bulwark queue list: " << ids.error().message << "\n";
      failed = true;
      continue;
    }
    for (const std::string& id : *ids) {
      if (seen.contains(id)) continue;
      auto message = spool.inspect(id, nullptr);
      if (!message) {
        if (message.error().code != "not_found") {
          std::cerr << "bulwark queue list: " << message.error().message << "\n";
          failed = true;
        }
        continue;
      }
      seen.insert(id);
      messages.push_back(std::move(*message));
    }
  }
  std::stable_sort(messages.begin(), messages.end(), [](const auto& left, const auto& right) {
    return left.envelope.received_at < right.envelope.received_at;
  });
  return messages;
}

std::string listJson(const std::vector<QueuedMessage>& messages) {
  boost::json::array array;
  for (const QueuedMessage& message : messages) {
    const queue::Envelope& envelope = message.envelope;
    boost::json::object object;
    object["queue_id"] = envelope.queue_id;
    object["state"] = stateName(message.state);
    object["arrived"] = formatTime(envelope.received_at, true);
    object["size"] = envelope.size;
    object["sender"] = envelope.sender;
    object["recipients_pending"] = pendingCount(message);
    object["recipients_total"] = envelope.recipients.size();
    object["attempts"] = message.attempts;
    if (message.state == QueueState::deferred) {
      object["next_attempt"] = formatTime(message.next_attempt, true);
    } else {
      object["next_attempt"] = nullptr;
    }
    object["last_reason"] = message.last_reason;
    array.push_back(std::move(object));
  }
  return boost::json::serialize(array) + "\n";
}

std::string listTable(const std::vector<QueuedMessage>& messages) {
  const std::vector<std::string> headings = {"QUEUE ID", "STATE",        "ARRIVED",
                                             "SIZE",     "SENDER",       "RCPT",
                                             "ATTEMPTS", "NEXT ATTEMPT", "LAST REASON"};
  std::vector<std::vector<std::string>> rows;
  for (const QueuedMessage& message : messages) {
    const queue::Envelope& envelope = message.envelope;
    rows.push_back(
        {envelope.queue_id, stateName(message.state), formatTime(envelope.received_at, false),
         std::to_string(envelope.size), "<" + printable(envelope.sender) + ">",
         std::to_string(pendingCount(message)) + "/" + std::to_string(envelope.recipients.size()),
         std::to_string(message.attempts), nextAttemptText(message),
         printable(message.last_reason)});
  }
  std::vector<std::size_t> widths(headings.size());
  for (std::size_t column = 0; column < headings.size(); ++column) {
    widths[column] = headings[column].size();
    for (const auto& row : rows) widths[column] = std::max(widths[column], row[column].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (std::size_t column = 0; column < cells.size(); ++column) {
      out += cells[column];
      // The last column is not padded: reasons are long, and trailing blanks help nobody.
      if (column + 1 < cells.size())
        out += std::string(widths[column] - cells[column].size() + 2, ' ');
    }
    return out + "\n";
  };
  std::string out = line(headings);
  for (const auto& row : rows) out += line(row);
  return out;
}

int listCommand(const QueueOptions& options) {
  auto spool = openSpool(options, "list");
  if (!spool) return kExitFailure;
  bool failed = false;
  const std::vector<QueuedMessage> messages = allMessages(*spool, failed);
  if (options.json) {
    std::cout << listJson(messages);
  } else if (messages.empty()) {
    std::cout << "the queue is empty\n";
  } else {
    std::cout << listTable(messages);
  }
  std::cout.flush();
  return failed || !std::cout ? kExitFailure : kExitSuccess;
}

// Prints the failure of `command` on one id; returns the exit code it stands for.
int reportFailure(std::string_view command, const std::string& id, const Error& error) {
  if (error.code == "not_found") {
    std::cerr << "bulwark queue " << command << ": no message " << printable(id)
              << " in the queue (active, deferred or hold)\n";
  } else {
    std::cerr << "bulwark queue " << command << ": " << printable(id) << ": " << error.message
              << "\n";
  }
  return kExitFailure;
}

int showCommand(const QueueOptions& options) {
  if (options.ids.size() != 1) {
    std::cerr << "bulwark queue show: give exactly one queue id\n";
    return kExitUsage;
  }
  auto spool = openSpool(options, "show");
  if (!spool) return kExitFailure;
  const std::string& id = options.ids.front();
  std::string data;
  auto message = spool->inspect(id, &data);
  if (!message) return reportFailure("show", id, message.error());
  if (options.body) {
    // The message exactly as queued (and as it will be delivered), for saving or piping.
    std::cout << data;
    std::cout.flush();
    return std::cout ? kExitSuccess : kExitFailure;
  }
  const queue::Envelope& envelope = message->envelope;
  auto field = [](std::string_view name, const std::string& value) {
    std::cout << name << std::string(name.size() < 17 ? 17 - name.size() : 1, ' ')
              << (value.empty() ? "-" : value) << "\n";
  };
  auto yesNo = [](bool value) { return std::string(value ? "yes" : "no"); };
  field("queue id:", envelope.queue_id);
  field("state:", stateName(message->state));
  field("arrived:", formatTime(envelope.received_at, false));
  field("size:", std::to_string(envelope.size) + " bytes");
  field("sender:", "<" + printable(envelope.sender) + ">");
  field("message id:", printable(envelope.message_id));
  field("body type:", printable(envelope.body_type));
  field("smtputf8:", yesNo(envelope.smtputf8));
  field("requiretls:", yesNo(envelope.require_tls));
  field("rule requires tls:", yesNo(envelope.rule_requires_tls));
  field("dsn ret:", printable(envelope.dsn_return));
  field("dsn envid:", printable(envelope.dsn_envelope_id));
  field("client:", printable(envelope.client_address));
  field("helo:", printable(envelope.helo));
  field("tls:",
        printable(envelope.tls_version.empty() ? std::string()
                                               : envelope.tls_version + " " + envelope.tls_cipher));
  field("auth user:", printable(envelope.auth_user));
  field("connector:", printable(envelope.connector));
  field("route via:", printable(envelope.route_connector));
  field("attempts:", std::to_string(message->attempts));
  field("next attempt:", nextAttemptText(*message));
  field("last reason:", printable(message->last_reason));
  std::cout << "recipients:      " << pendingCount(*message) << " pending of "
            << envelope.recipients.size() << "\n";
  std::size_t number = 0;
  for (const queue::Recipient& recipient : envelope.recipients) {
    std::cout << "  " << ++number << ". <" << printable(recipient.address) << "> "
              << statusName(recipient.status) << ", notify " << notifyText(recipient.notify);
    if (!recipient.original.empty()) std::cout << ", orcpt " << printable(recipient.original);
    std::cout << "\n";
    if (!recipient.last_reply.empty()) {
      std::cout << "     last reply: " << printable(recipient.last_reply) << "\n";
    }
  }
  std::cout << "\n";
  // The header section: up to the first empty line (RFC 5322 2.1).
  std::string_view rest = data;
  while (!rest.empty()) {
    const std::size_t end = rest.find('\n');
    std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;
    std::cout << printable(line) << "\n";
  }
  std::cout.flush();
  return std::cout ? kExitSuccess : kExitFailure;
}

// What hold, release, retry and delete do to one message; prints the outcome.
enum class Change { hold, release, retry, remove };

int changeOne(queue::Spool& spool, Change change, const std::string& id) {
  const char* command = change == Change::hold      ? "hold"
                        : change == Change::release ? "release"
                        : change == Change::retry   ? "retry"
                                                    : "delete";
  if (change == Change::remove) {
    auto removed = spool.remove(id);
    if (!removed) return reportFailure(command, id, removed.error());
    std::cout << id << ": deleted\n";
    return kExitSuccess;
  }
  if (change == Change::hold) {
    auto held = spool.hold(id);
    if (!held) return reportFailure(command, id, held.error());
    std::cout << id << ": held\n";
    return kExitSuccess;
  }
  // Release and retry only move the message they are about: a retry does not release a message
  // an operator held, and a release is not a way to skip the retry schedule.
  auto message = spool.inspect(id, nullptr);
  if (!message) return reportFailure(command, id, message.error());
  const QueueState wanted = change == Change::release ? QueueState::hold : QueueState::deferred;
  if (message->state != wanted) {
    std::cout << id << ": " << stateName(message->state) << ", not " << stateName(wanted)
              << "; nothing done"
              << (message->state == QueueState::hold ? " (release it to deliver it)" : "") << "\n";
    return kExitSuccess;
  }
  auto activated = spool.activate(id);
  if (!activated) return reportFailure(command, id, activated.error());
  std::cout << id << ": " << (change == Change::release ? "released" : "queued for retry now")
            << "\n";
  return kExitSuccess;
}

int changeCommand(const QueueOptions& options, Change change, std::string_view command) {
  std::vector<std::string> ids = options.ids;
  if (options.all && !ids.empty()) {
    std::cerr << "bulwark queue " << command << ": give queue ids or --all, not both\n";
    return kExitUsage;
  }
  if (!options.all && ids.empty()) {
    std::cerr << "bulwark queue " << command << ": give at least one queue id"
              << (change == Change::retry ? " (or --all)" : "") << "\n";
    return kExitUsage;
  }
  auto spool = openSpool(options, command);
  if (!spool) return kExitFailure;
  if (options.all) {
    auto deferred = spool->list(QueueState::deferred);
    if (!deferred) {
      std::cerr << "bulwark queue " << command << ": " << deferred.error().message << "\n";
      return kExitFailure;
    }
    ids = std::move(*deferred);
    if (ids.empty()) std::cout << "no deferred messages\n";
  }
  int result = kExitSuccess;
  for (const std::string& id : ids) {
    if (changeOne(*spool, change, id) != kExitSuccess) result = kExitFailure;
  }
  std::cout.flush();
  return result;
}

}  // namespace

void addQueueCommand(CLI::App& app, Action& action) {
  auto options = std::make_shared<QueueOptions>();
  auto* queue = app.add_subcommand("queue",
                                   "Inspect and manage the message queue (also while "
                                   "the server runs)");
  queue->require_subcommand(1);

  auto* list = queue->add_subcommand("list", "List every queued message, oldest first");
  list->add_flag("--json", options->json, "One JSON array with every field");
  addDataLocationOptions(list, options->config_file, options->data_dir, "the queue");
  list->callback([&action, options] { action = [options] { return listCommand(*options); }; });

  auto* show = queue->add_subcommand("show", "Show a message's envelope, state and headers");
  show->add_option("id", options->ids, "Queue id")->required()->expected(1);
  show->add_flag("--body", options->body, "Print the whole message as queued instead");
  addDataLocationOptions(show, options->config_file, options->data_dir, "the queue");
  show->callback([&action, options] { action = [options] { return showCommand(*options); }; });

  struct ChangeCommand {
    const char* name;
    const char* description;
    Change change;
  };
  for (const ChangeCommand& spec :
       {ChangeCommand{"hold", "Keep messages from delivery until released", Change::hold},
        ChangeCommand{"release", "Release held messages for delivery", Change::release},
        ChangeCommand{"retry", "Retry deferred messages now", Change::retry},
        ChangeCommand{"delete", "Delete messages from the queue (no bounce is sent)",
                      Change::remove}}) {
    auto* command = queue->add_subcommand(spec.name, spec.description);
    command->add_option("ids", options->ids, "Queue ids");
    if (spec.change == Change::retry) {
      command->add_flag("--all", options->all, "Every deferred message");
    }
    addDataLocationOptions(command, options->config_file, options->data_dir, "the queue");
    const Change change = spec.change;
    const std::string name = spec.name;
    command->callback([&action, options, change, name] {
      action = [options, change, name] { return changeCommand(*options, change, name); };
    });
  }
}

}  // namespace bulwark::app
