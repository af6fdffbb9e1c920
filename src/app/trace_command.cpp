// `bulwark trace`: searches the message trace store (docs/trace.md) while the server may be
// writing it, and prints a table or JSON. Untrusted: the command-line arguments (validated here,
// exit 2 when wrong) and every stored string (came from the network; escaped by trace_format).
#include <CLI/CLI.hpp>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <tuple>
#include <utility>

#include "app/commands.h"
#include "app/tool_config.h"
#include "store/trace_format.h"
#include "store/trace_store.h"

namespace bulwark::app {
namespace {

constexpr int kExitSuccess = 0;
constexpr int kExitFailure = 1;
constexpr int kExitBadArguments = 2;

// Every value is kept as text and checked in runTrace, so that a wrong value is reported in our
// words and exits 2, as docs/trace.md promises.
struct TraceOptions {
  std::string config_file;
  std::string data_dir;
  std::optional<std::string> sender;
  std::optional<std::string> recipient;
  std::optional<std::string> message_id;
  std::optional<std::string> queue_id;
  std::optional<std::string> status;
  std::optional<std::string> since;
  std::optional<std::string> until;
  std::string limit = "1000";
  bool json = false;
};

bool isKnownStatus(const std::string& status) {
  for (const char* known :
       {"received", "attempt", "delivered", "deferred", "bounced", "rejected",
        "quarantined", "discarded"}) {
    if (status == known) return true;
  }
  return false;
}

// The store `bulwark serve` writes, found as tool_config.h says.
std::optional<std::filesystem::path> storePath(const TraceOptions& options) {
  auto config = configForTool(options.config_file, options.data_dir, "trace");
  if (!config) return std::nullopt;
  return config->storeDirectory() / "trace.sqlite";
}

int runTrace(const TraceOptions& options) {
  auto now = std::chrono::system_clock::now();
  store::TraceQuery query;
  query.sender = options.sender;
  query.recipient = options.recipient;
  query.message_id = options.message_id;
  query.queue_id = options.queue_id;
  if (options.status) {
    if (!isKnownStatus(*options.status)) {
      std::cerr << "bulwark trace: --status must be one of received, delivered, deferred, "
                   "bounced, rejected, attempt\n";
      return kExitBadArguments;
    }
    query.status = options.status;
  }
  for (auto [text, target, flag] : {std::tuple{&options.since, &query.since, "--since"},
                                    std::tuple{&options.until, &query.until, "--until"}}) {
    if (!*text) continue;
    auto parsed = store::parseTraceTime(**text, now);
    if (!parsed) {
      std::cerr << "bulwark trace: " << flag << ": " << parsed.error().message << "\n";
      return kExitBadArguments;
    }
    *target = *parsed;
  }
  if (query.since && query.until && *query.until <= *query.since) {
    std::cerr << "bulwark trace: --until must be later than --since\n";
    return kExitBadArguments;
  }
  std::size_t limit = 0;
  const std::string& limit_text = options.limit;
  auto [end, error] =
      std::from_chars(limit_text.data(), limit_text.data() + limit_text.size(), limit);
  if (limit_text.empty() || error != std::errc() || end != limit_text.data() + limit_text.size()) {
    std::cerr << "bulwark trace: --limit must be a whole number (0 for no limit)\n";
    return kExitBadArguments;
  }
  query.limit = limit;

  auto path = storePath(options);
  if (!path) return kExitBadArguments;
  std::error_code exists_error;
  if (!std::filesystem::exists(*path, exists_error)) {
    // Opening would create an empty store, hiding a mistyped --data-dir.
    std::cerr << "bulwark trace: no trace store at " << path->string()
              << " (wrong --data-dir or --config, or the server has not run there yet)\n";
    return kExitFailure;
  }
  auto store = store::openSqliteTraceStore(*path);
  if (!store) {
    std::cerr << "bulwark trace: " << store.error().message << "\n";
    return kExitFailure;
  }
  auto events = (*store)->search(query);
  if (!events) {
    std::cerr << "bulwark trace: " << events.error().message << "\n";
    return kExitFailure;
  }
  if (options.json) {
    std::cout << store::formatTraceJson(*events);
  } else if (events->empty()) {
    std::cout << "no matching messages\n";
  } else {
    std::cout << store::formatTraceTable(*events);
  }
  if (limit != 0 && events->size() == limit) {
    std::cerr << "bulwark trace: showing the newest " << limit
              << " events; narrow the search or raise --limit to see more\n";
  }
  std::cout.flush();
  return std::cout ? kExitSuccess : kExitFailure;
}

}  // namespace

void addTraceCommand(CLI::App& app, Action& action) {
  auto options = std::make_shared<TraceOptions>();
  CLI::App* command = app.add_subcommand(
      "trace", "Search the message trace (works while the server runs); newest first");
  addDataLocationOptions(command, options->config_file, options->data_dir, "the trace store");
  command
      ->add_option("--sender", options->sender,
                   "Envelope sender, case-insensitive; '*' is a wildcard; '<>' for bounces")
      ->type_name("ADDRESS");
  command
      ->add_option("--recipient", options->recipient,
                   "Envelope recipient, case-insensitive; '*' is a wildcard")
      ->type_name("ADDRESS");
  command
      ->add_option("--message-id", options->message_id,
                   "Message-ID header, with or without angle brackets")
      ->type_name("ID");
  command->add_option("--queue-id", options->queue_id, "Queue id")->type_name("ID");
  command
      ->add_option("--status", options->status,
                   "received, attempt, delivered, deferred, bounced or rejected")
      ->type_name("STATUS");
  command
      ->add_option("--since", options->since,
                   "From this time: 2026-11-24T10:00:00Z, '2026-11-24 10:00', 2026-11-24, "
                   "-1h, -30m, -2d")
      ->type_name("TIME");
  command->add_option("--until", options->until, "Before this time; same forms as --since")
      ->type_name("TIME");
  command->add_option("--limit", options->limit, "At most N events, 0 for all (default 1000)")
      ->type_name("N");
  command->add_flag("--json", options->json, "One JSON array with every field");
  command->callback([options, &action] { action = [options] { return runTrace(*options); }; });
}

}  // namespace bulwark::app
