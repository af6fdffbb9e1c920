// The signing stage; see signing_stage.h and docs/authentication.md.
#include "pipeline/signing_stage.h"

#include "auth/arc.h"
#include "auth/dmarc.h"
#include "common/log.h"

namespace bulwark::pipeline {

SigningStage::SigningStage(const Config& config, dns::Resolver& resolver,
                           std::shared_ptr<auth::DkimKeyring> keyring)
    : config_(config), resolver_(resolver), keyring_(std::move(keyring)) {}

Verdict SigningStage::process(MessageContext& context) {
  if (context.fromOurUsers()) {
    if (config_.authentication.dkim_sign) sign(context);
  } else if (!config_.authentication.arc_seal_domain.empty() && context.forwarded) {
    seal(context);
  }
  return Verdict::proceed();
}

SigningStage::Signatures SigningStage::signaturesFor(auth::DkimKeyring& keyring,
                                                     std::string_view message) {
  auth::AuthorDomain author = auth::authorDomain(message);
  if (author.status != auth::AuthorDomain::Status::single) return {};
  Signatures signatures{keyring.sign(author.domain, message), author.domain};
  if (signatures.fields.empty()) return {};
  return signatures;
}

void SigningStage::sign(MessageContext& context) {
  Signatures signatures = signaturesFor(*keyring_, context.data);
  if (signatures.fields.empty()) return;
  context.prependHeader(signatures.fields);
  context.note("dkim_signed=" + signatures.domain);
}

void SigningStage::seal(MessageContext& context) {
  const AuthenticationSettings& settings = config_.authentication;
  const auth::DkimKey* key = nullptr;
  std::vector<auth::DkimKey> keys = keyring_->keysFor(settings.arc_seal_domain);
  for (const auto& candidate : keys) {
    if (candidate.selector() == settings.arc_seal_selector) key = &candidate;
  }
  if (key == nullptr) {
    log::warning("{}: not ARC-sealed: no key {}/{}.key in {}", context.queue_id,
                 settings.arc_seal_domain, settings.arc_seal_selector,
                 config_.dkimDirectory().string());
    return;
  }
  if (!context.arc) context.arc = auth::validateArc(resolver_, context.data);
  auth::ArcSealOptions options;
  options.authserv_id = config_.authservId();
  options.authentication_results =
      context.authentication_results.empty() ? "none" : context.authentication_results;
  auto sealed = auth::sealArc(context.data, *context.arc, *key, options);
  if (!sealed) {
    log::warning("{}: not ARC-sealed: {}", context.queue_id, sealed.error().message);
    return;
  }
  context.prependHeader(*sealed);
  context.note("arc_sealed=" + settings.arc_seal_domain);
}

}  // namespace bulwark::pipeline
