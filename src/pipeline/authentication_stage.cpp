// The authentication stage; see authentication_stage.h and docs/authentication.md.
#include "pipeline/authentication_stage.h"

#include "auth/authentication_results.h"
#include "common/log.h"
#include "common/strings.h"

#include <fmt/format.h>

#include <random>

namespace bulwark::pipeline {
namespace {

std::string domainOf(std::string_view address) {
  const std::size_t at = address.rfind('@');
  return at == std::string_view::npos ? std::string() : asciiLower(address.substr(at + 1));
}

std::string_view actionName(AuthenticationAction action) {
  switch (action) {
    case AuthenticationAction::none: return "none";
    case AuthenticationAction::spam: return "spam";
    case AuthenticationAction::quarantine: return "quarantine";
    case AuthenticationAction::reject: return "reject";
  }
  return "none";
}

auth::MethodResult spfMethod(const auth::SpfOutcome& spf) {
  auth::MethodResult method;
  method.method = "spf";
  method.result = std::string(auth::spfResultName(spf.result));
  method.reason = spf.problem;
  if (spf.identity == "helo") {
    method.properties.push_back({"smtp", "helo", spf.domain});
  } else {
    method.properties.push_back({"smtp", "mailfrom", spf.sender});
  }
  return method;
}

auth::MethodResult dkimMethod(const auth::DkimSignatureResult& signature) {
  auth::MethodResult method;
  method.method = "dkim";
  method.result = std::string(auth::dkimResultName(signature.result));
  method.reason = signature.reason;
  if (signature.body_length_limited) {
    method.comment = fmt::format("l= leaves {} body bytes unsigned", signature.unsigned_body_bytes);
  }
  if (!signature.domain.empty()) method.properties.push_back({"header", "d", signature.domain});
  if (!signature.selector.empty()) {
    method.properties.push_back({"header", "s", signature.selector});
  }
  if (!signature.algorithm.empty()) {
    method.properties.push_back({"header", "a", signature.algorithm});
  }
  if (!signature.signature_prefix.empty()) {
    method.properties.push_back({"header", "b", signature.signature_prefix});
  }
  return method;
}

// Reasons go into a header field and an SMTP reply, and may quote the message (a From domain):
// one printable ASCII line without quotes, whatever the sender wrote.
std::string printable(std::string_view text) {
  std::string line;
  line.reserve(text.size());
  for (char character : text) {
    const auto byte = static_cast<unsigned char>(character);
    line += (byte < 0x20 || byte >= 0x7F || character == '"' || character == '\\') ? '?' : character;
  }
  return line;
}

// The `sample` DMARC's pct= compares with (RFC 7489 6.6.4).
unsigned percentSample() {
  thread_local std::mt19937 generator{std::random_device{}()};
  return std::uniform_int_distribution<unsigned>(0, 99)(generator);
}

}  // namespace

AuthenticationStage::AuthenticationStage(const Config& config, dns::Resolver& resolver,
                                         std::shared_ptr<const auth::PublicSuffixList> suffixes,
                                         DmarcRecorder recorder)
    : config_(config),
      resolver_(resolver),
      suffixes_(std::move(suffixes)),
      recorder_(std::move(recorder)) {}

auth::SpfOutcome AuthenticationStage::checkSpf(dns::Resolver& resolver, const Config& config,
                                               const MessageContext& context) {
  auth::SpfRequest request;
  request.client_address = context.client_address;
  request.helo = context.helo;
  request.sender = context.sender;
  request.receiver = config.hostname;
  return auth::checkSender(resolver, request);
}

Verdict AuthenticationStage::process(MessageContext& context) {
  // Nobody may hand us results under our name, not even our own users (RFC 8601 5).
  if (auto removed = auth::removeOurAuthenticationResults(context.data, config_.authservId());
      removed > 0) {
    log::info("{}: removed {} Authentication-Results field(s) claiming {}", context.queue_id,
              removed, config_.authservId());
  }
  if (!config_.authentication.verify || context.fromOurUsers()) return Verdict::proceed();

  if (!context.spf) context.spf = checkSpf(resolver_, config_, context);
  context.dkim = auth::verifyDkim(resolver_, context.data);
  context.arc = auth::validateArc(resolver_, context.data);
  context.author = auth::authorDomain(context.data);

  auth::DmarcInput input;
  input.author = context.author;
  input.spf = context.spf->result;
  input.spf_domain = context.spf->domain;
  input.dkim = context.dkim;
  auth::DmarcOptions dmarc_options;
  dmarc_options.sample = percentSample;
  context.dmarc = auth::evaluateDmarc(resolver_, *suffixes_, input, dmarc_options);
  const auth::DmarcOutcome& dmarc = *context.dmarc;

  // One Authentication-Results field with everything (RFC 8601 2.2).
  auth::AuthenticationResults results;
  results.authserv_id = config_.authservId();
  results.results.push_back(spfMethod(*context.spf));
  if (context.dkim.empty()) {
    results.results.push_back({"dkim", "none", "", {}, ""});
  }
  for (const auto& signature : context.dkim) results.results.push_back(dkimMethod(signature));
  auth::MethodResult arc_method{"arc", std::string(auth::arcResultName(context.arc->result)),
                                context.arc->reason, {}, ""};
  results.results.push_back(std::move(arc_method));
  auth::MethodResult dmarc_method;
  dmarc_method.method = "dmarc";
  dmarc_method.result = std::string(auth::dmarcResultName(dmarc.result));
  dmarc_method.reason = dmarc.reason;
  if (dmarc.record) {
    dmarc_method.comment = fmt::format("p={} dis={}", auth::dmarcPolicyName(dmarc.policy),
                                       auth::dmarcPolicyName(dmarc.disposition));
  }
  if (!dmarc.domain.empty()) dmarc_method.properties.push_back({"header", "from", dmarc.domain});
  results.results.push_back(std::move(dmarc_method));

  std::string value = auth::renderResultsValue(results);
  const std::size_t separator = value.find(';');
  context.authentication_results =
      separator == std::string::npos ? std::string() : std::string(trim(value.substr(separator + 1)));
  context.prependHeader("Authentication-Results: " + value + "\r\n");

  std::string dkim_summary = "none";
  if (!context.dkim.empty()) {
    dkim_summary.clear();
    for (const auto& signature : context.dkim) {
      if (!dkim_summary.empty()) dkim_summary += ',';
      dkim_summary += std::string(auth::dkimResultName(signature.result)) + "/" + signature.domain;
    }
  }
  context.note(fmt::format("spf={} dkim={} arc={} dmarc={}", auth::spfResultName(context.spf->result),
                           dkim_summary, auth::arcResultName(context.arc->result),
                           auth::dmarcResultName(dmarc.result)));

  if (recorder_ && dmarc.record && !dmarc.record->aggregate_addresses.empty()) {
    auth::DmarcEvaluation evaluation;
    evaluation.time = std::chrono::system_clock::now();
    evaluation.source_ip = context.client_address;
    evaluation.header_from = dmarc.domain;
    evaluation.envelope_from = context.spf->domain;
    evaluation.null_sender = context.sender.empty();  // SPF scope "helo" in the report
    evaluation.envelope_to = context.recipients.empty() ? "" : domainOf(context.recipients[0]);
    evaluation.outcome = dmarc;
    evaluation.spf = context.spf->result;
    evaluation.spf_domain = context.spf->domain;
    evaluation.dkim = context.dkim;
    recorder_(evaluation);
  }

  // The action: the author first (a message whose author cannot be told is refused by default),
  // then DMARC, then SPF on its own.
  const AuthenticationSettings& settings = config_.authentication;
  if (context.author.status == auth::AuthorDomain::Status::ambiguous) {
    return act(context, settings.ambiguous_from_action,
               "ambiguous From: " + context.author.reason);
  }
  if (dmarc.result == auth::DmarcResult::fail) {
    if (const DmarcOverride* entry = settings.overrideFor(dmarc.domain)) {
      return act(context, entry->action,
                 "dmarc=fail for " + dmarc.domain + ", local override (dmarc_override)");
    }
    if (context.arc->result == auth::ArcResult::pass && !context.arc->sealers.empty()) {
      for (const auto& trusted : settings.trusted_arc_sealers) {
        if (equalsIgnoreCase(trusted, context.arc->sealers.front())) {
          context.note("dmarc_override=arc:" + trusted);
          return Verdict::proceed();  // RFC 8617 7.2: the trusted intermediary vouches
        }
      }
    }
    AuthenticationAction action = settings.dmarc_none_action;
    if (dmarc.disposition == auth::DmarcPolicy::reject) action = settings.dmarc_reject_action;
    if (dmarc.disposition == auth::DmarcPolicy::quarantine) {
      action = settings.dmarc_quarantine_action;
    }
    return act(context, action,
               fmt::format("dmarc=fail for {} (p={} dis={})", dmarc.domain,
                           auth::dmarcPolicyName(dmarc.policy),
                           auth::dmarcPolicyName(dmarc.disposition)));
  }
  if (context.spf->result == auth::SpfResult::fail) {
    // RFC 7208 8.4: the domain's explanation belongs in the refusal.
    std::string reason = "spf=fail for " + context.spf->domain;
    if (!context.spf->explanation.empty()) reason += ": " + context.spf->explanation;
    return act(context, settings.spf_fail_action, reason);
  }
  return Verdict::proceed();
}

Verdict AuthenticationStage::act(MessageContext& context, AuthenticationAction action,
                                 const std::string& untrusted_reason) {
  const std::string reason = printable(untrusted_reason);
  if (action != AuthenticationAction::none) {
    context.note(fmt::format("action={}", actionName(action)));
  }
  switch (action) {
    case AuthenticationAction::none:
      return Verdict::proceed();
    case AuthenticationAction::spam:
      context.spam = true;
      context.spam_reason = reason;
      // X-Bulwark- fields from outside were removed on arrival: this one is ours.
      context.prependHeader("X-Bulwark-Spam: yes; reason=\"" + reason + "\"\r\n");
      return Verdict::proceed();
    case AuthenticationAction::quarantine:
      return Verdict::quarantine(reason);
    case AuthenticationAction::reject:
      return Verdict::reject(
          smtp::makeReply(smtp::ReplyKind::sender_authentication_failed,
                          "Message refused: " + reason),
          reason);
  }
  return Verdict::proceed();
}

}  // namespace bulwark::pipeline
