// `bulwark serve`: loads the configuration (or the embedded default), prepares the data directory
// (spool recovery, trace store, certificate), and runs the SMTP listeners and the queue manager
// until SIGTERM or SIGINT. SIGHUP reloads: the file is checked first, then the program stops as on
// SIGTERM and starts itself again with the same arguments (the file is read anew).
#include "app/account_authenticator.h"
#include "app/commands.h"
#include "app/configured_rules.h"
#include "app/dmarc_reporter.h"
#include "app/message_intake.h"
#include "pipeline/authentication_stage.h"
#include "pipeline/rules_stage.h"
#include "pipeline/signing_stage.h"
#include "common/config_loader.h"
#include "common/log.h"
#include "dns/resolver.h"
#include "queue/queue_manager.h"
#include "net/self_signed.h"
#include "pki/domain_secure_files.h"
#include "smtp/server/smtp_server.h"
#include "sts/cache.h"
#include "sts/discovery.h"
#include "store/dmarc_report_store.h"
#include "sts/fetch.h"

#include <CLI/CLI.hpp>
#include <signal.h>

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <thread>
#include <vector>

namespace bulwark::app {
namespace {

struct ServeOptions {
  std::string config_file;
  unsigned threads = 0;
};

// serve() returns this after a SIGHUP whose configuration is good: the caller starts again.
constexpr int kReload = -1;

// The reload is a restart of the same program with the same arguments, once every object of the
// old run is gone (listeners closed, queue manager stopped, stores and resolver closed). Every
// setting then applies the same way as at start; accepted messages are already in the spool and
// are picked up again by recovery. Linux: the arguments come from /proc/self/cmdline.
int restartSelf() {
  std::ifstream file("/proc/self/cmdline", std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  std::vector<std::string> words;
  std::string word;
  for (char c : text) {
    if (c == '\0') {
      words.push_back(std::move(word));
      word.clear();
    } else {
      word += c;
    }
  }
  if (words.empty()) {
    log::error("reload: cannot read this program's arguments; stopped instead");
    return 1;
  }
  std::vector<char*> arguments;
  for (auto& argument : words) arguments.push_back(argument.data());
  arguments.push_back(nullptr);
  std::fflush(stdout);
  ::execv("/proc/self/exe", arguments.data());
  log::error("reload: cannot start again: {}; stopped instead", std::strerror(errno));
  return 1;
}

int serve(const ServeOptions& options) {
  ConfigLoad load = options.config_file.empty()
                        ? loadConfigText(kEmbeddedDefaultConfig, "<embedded default>")
                        : loadConfigFile(options.config_file);
  if (!load.ok()) {
    std::cerr << formatProblems(options.config_file.empty() ? "<embedded default>"
                                                            : options.config_file,
                                load.problems);
    return 1;
  }
  // Not const: the Domain Security files are resolved below, once the server certificate is known.
  Config& config = load.config;
  // Transport rules (docs/rules.md): a rule file with problems stops the start like a bad
  // configuration, with every problem and where it is.
  policy::RuleLoad rules = loadConfiguredRules(config);
  if (!rules.ok()) {
    std::cerr << policy::formatRuleProblems(rules.problems);
    return 1;
  }
  log::Level level = log::Level::info;
  log::parseLevel(config.log_level, level);
  log::setLevel(level);

  // Signals are taken by sigwait below; every thread started after this inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  std::error_code error;
  for (const auto& directory : {config.data_dir, config.storeDirectory(), config.mailDirectory()}) {
    std::filesystem::create_directories(directory, error);
    if (error) {
      log::error("cannot create {}: {}", directory.string(), error.message());
      return 1;
    }
  }

  smtp::ServerCertificate certificate{config.tls_certificate, config.tls_private_key};
  if (config.tls_certificate.empty()) {
    auto generated = net::ensureSelfSignedCertificate(config.tlsDirectory(), config.hostname);
    if (!generated) {
      log::error("cannot prepare the self-signed certificate: {}", generated.error().message);
      return 1;
    }
    if (generated->generated) {
      log::info("generated a self-signed certificate for {} in {}", config.hostname,
                generated->certificate.string());
    }
    certificate = {generated->certificate, generated->private_key};
  }
  if (auto resolved = pki::resolveDomainSecureFiles(config, certificate.certificate,
                                                    certificate.private_key);
      !resolved) {
    log::error("{}", resolved.error().message);
    return 1;
  }
  if (!config.domain_secure.send.empty() || !config.domain_secure.receive.empty()) {
    log::info("domain security: {} send domain(s), {} receive domain(s), client certificate {}, "
              "{} partner CA file(s)",
              config.domain_secure.send.size(), config.domain_secure.receive.size(),
              config.domain_secure.resolved_client_certificate.string(),
              config.domain_secure.resolved_trust_files.size());
  }

  auto spool = queue::openFileSpool(config.queueDirectory());
  if (!spool) {
    log::error("cannot open the queue in {}: {}", config.queueDirectory().string(),
               spool.error().message);
    return 1;
  }
  auto trace = store::openSqliteTraceStore(config.storeDirectory() / "trace.sqlite");
  if (!trace) {
    log::error("cannot open the trace store: {}", trace.error().message);
    return 1;
  }
  auto users = store::openSqliteUserStore(config.storeDirectory() / "users.sqlite");
  if (!users) {
    log::error("cannot open the user store: {}", users.error().message);
    return 1;
  }
  auto recovered = (*spool)->recover();
  if (!recovered) {
    log::error("queue recovery failed: {}", recovered.error().message);
    return 1;
  }
  log::info("queue: {} message(s) to deliver, {} damaged moved to corrupt/, {} unacknowledged "
            "removed", recovered->active.size(), recovered->corrupt.size(),
            recovered->discarded.size());

  dns::ResolverOptions resolver_options;
  resolver_options.forwarders = config.delivery.dns_forwarders;
  resolver_options.trust_anchor_file = config.delivery.dns_trust_anchor;
  resolver_options.local_records = config.delivery.dns_records;
  resolver_options.zone_files = config.delivery.dns_zone_files;
  auto resolver = dns::openUnboundResolver(resolver_options);
  if (!resolver) {
    log::error("cannot start the DNS resolver: {}", resolver.error().message);
    return 1;
  }
  SystemClock clock;
  queue::SmtpTransport transport;
  queue::QueueManagerOptions queue_options;
  // MTA-STS (RFC 8461): policies fetched over HTTPS through the same resolver, cached in the store.
  std::unique_ptr<sts::PolicyCache> sts_cache;
  std::unique_ptr<sts::HttpsPolicyFetcher> sts_fetcher;
  std::unique_ptr<sts::PolicyDiscovery> sts_discovery;
  if (config.delivery.mta_sts) {
    auto cache = sts::openSqlitePolicyCache(config.storeDirectory() / "mta-sts.sqlite");
    if (!cache) {
      log::error("cannot open the MTA-STS policy cache: {}", cache.error().message);
      return 1;
    }
    sts_cache = std::move(*cache);
    sts::FetchOptions fetch_options;
    fetch_options.port = config.delivery.mta_sts_port;
    fetch_options.max_policy_size = config.delivery.mta_sts_max_policy_size;
    fetch_options.timeout = std::chrono::seconds(config.delivery.mta_sts_timeout_seconds);
    fetch_options.ca_file = config.delivery.ca_file;
    sts_fetcher = std::make_unique<sts::HttpsPolicyFetcher>(**resolver, fetch_options);
    sts_discovery = std::make_unique<sts::PolicyDiscovery>(**resolver, *sts_fetcher, *sts_cache,
                                                           clock);
    queue_options.mta_sts = sts_discovery.get();
  }
  queue::QueueManager manager(config, **spool, **trace, **resolver, transport, clock,
                              queue_options);
  // The inbound pipeline (docs/authentication.md): authenticate, then sign last.
  std::shared_ptr<const auth::PublicSuffixList> suffixes;
  if (config.authentication.verify) {
    auto loaded = auth::PublicSuffixList::load(config.authentication.public_suffix_list);
    if (!loaded) {
      log::error("{}; install the publicsuffix package, set [authentication] public_suffix_list, "
                 "or set [authentication] verify = false", loaded.error().message);
      return 1;
    }
    suffixes = std::make_shared<const auth::PublicSuffixList>(std::move(*loaded));
  }
  auto keyring = std::make_shared<auth::DkimKeyring>(config.dkimDirectory());
  pipeline::Pipeline pipeline;
  // DMARC aggregate reports (docs/dmarc-reports.md): the authentication stage records every
  // evaluation of a domain with rua=, the reporter's thread counts and sends.
  std::unique_ptr<store::DmarcReportStore> dmarc_report_store;
  std::unique_ptr<DmarcReporter> dmarc_reporter;
  pipeline::DmarcRecorder dmarc_recorder;
  if (config.dmarc_reports.enabled) {
    store::DmarcReportStoreLimits limits;
    limits.max_rows_per_report = config.dmarc_reports.max_rows_per_report;
    auto opened = store::openSqliteDmarcReportStore(
        config.storeDirectory() / "dmarc-reports.sqlite", limits);
    if (!opened) {
      log::error("cannot open the DMARC report store: {}", opened.error().message);
      return 1;
    }
    dmarc_report_store = std::move(*opened);
    OrganizationalDomain organizational_domain;
    if (suffixes) {
      organizational_domain = [suffixes](std::string_view domain) {
        return suffixes->organizationalDomain(domain);
      };
    } else {
      log::warning("dmarc reports: [authentication] verify is off, so there is nothing to report");
    }
    auto queue_report = [&manager, &config, keyring](queue::Envelope envelope, std::string text,
                                                     std::string detail) {
      // Our own mail, signed like our users' (receivers weigh unauthenticated reports less).
      if (config.authentication.dkim_sign) {
        auto signatures = pipeline::SigningStage::signaturesFor(*keyring, text);
        if (!signatures.fields.empty()) {
          text.insert(0, signatures.fields);
          detail += ", dkim_signed=" + signatures.domain;
        }
      }
      return manager.queueGenerated(std::move(envelope), std::move(text), std::move(detail));
    };
    dmarc_reporter = std::make_unique<DmarcReporter>(config, *dmarc_report_store, **resolver,
                                                     organizational_domain, clock, queue_report);
    dmarc_reporter->start();
    dmarc_recorder = [reporter = dmarc_reporter.get()](const auth::DmarcEvaluation& evaluation) {
      reporter->record(evaluation);
    };
  }
  pipeline.add(std::make_unique<pipeline::AuthenticationStage>(config, **resolver, suffixes,
                                                                dmarc_recorder));
  // Rules after authentication (they read its results) and before signing (the signature and
  // the ARC seal cover what the rules changed).
  if (!rules.rules->empty()) {
    log::info("transport rules: {} loaded", rules.rules->rules().size());
    pipeline.add(std::make_unique<pipeline::RulesStage>(config, rules.rules,
                                                        organisationOf(config)));
  }
  pipeline.add(std::make_unique<pipeline::SigningStage>(config, **resolver, keyring));
  MessageIntake intake(config, **spool, **trace, manager, pipeline, **resolver);
  AccountAuthenticator authenticator(config, **users);
  smtp::SmtpServer server(config, certificate, intake, authenticator);
  unsigned threads = options.threads ? options.threads : std::max(2u, std::thread::hardware_concurrency());
  auto started = server.start(threads);
  if (!started) {
    log::error("{}", started.error().message);
    return 1;
  }
  for (const auto& queue_id : recovered->active) manager.resume(queue_id);

  auto ports = server.boundPorts();
  for (size_t index = 0; index < ports.size(); ++index) {
    // One line per connector on stdout, for scripts and tests that listen on port 0.
    std::printf("ready smtp %s port %u\n", config.receive_connectors[index].name.c_str(),
                static_cast<unsigned>(ports[index]));
  }
  std::fflush(stdout);

  bool reload = false;
  while (true) {
    int received = 0;
    sigwait(&signals, &received);
    if (received == SIGHUP) {
      if (options.config_file.empty()) {
        log::info("SIGHUP: running the embedded default, nothing to reload");
        continue;
      }
      // A broken file must not take the server down: check it before stopping anything.
      ConfigLoad candidate = loadConfigFile(options.config_file);
      if (!candidate.ok()) {
        log::error("SIGHUP: {} has problems; the running configuration stays:\n{}",
                   options.config_file, formatProblems(options.config_file, candidate.problems));
        continue;
      }
      // The rules too: a rule file with problems is refused like a bad configuration.
      policy::RuleLoad candidate_rules = loadConfiguredRules(candidate.config);
      if (!candidate_rules.ok()) {
        log::error("SIGHUP: the transport rules of {} have problems; the running configuration "
                   "stays:\n{}",
                   options.config_file, policy::formatRuleProblems(candidate_rules.problems));
        continue;
      }
      log::info("SIGHUP: reloading {}", options.config_file);
      reload = true;
      break;
    }
    log::info("signal {}: shutting down", received);
    break;
  }
  server.stop();
  intake.drain();
  // Before the queue stops: what was recorded is counted; a report due now waits for the next run.
  if (dmarc_reporter) dmarc_reporter->stop();
  manager.stop();
  (*trace)->flush();
  if (reload) {
    log::info("stopped for the reload");
  } else {
    log::info("stopped");
  }
  return reload ? kReload : 0;
}

}  // namespace

void addServeCommand(CLI::App& app, Action& action) {
  auto options = std::make_shared<ServeOptions>();
  auto* command = app.add_subcommand("serve", "Run the SMTP listeners and the queue");
  command->add_option("-c,--config", options->config_file,
                      "Configuration file (TOML); without it the embedded default is used");
  command->add_option("--threads", options->threads, "I/O threads (default: number of cores)");
  command->callback([&action, options] { action = [options] {
    int status = serve(*options);
    return status == kReload ? restartSelf() : status;
  }; });
}

}  // namespace bulwark::app
