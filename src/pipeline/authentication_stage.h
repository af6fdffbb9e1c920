// The authentication stage (MISSION.md 4, DESIGN.md pipeline "authenticate"): DKIM (RFC 6376) and
// ARC (RFC 8617) verification, DMARC (RFC 7489) evaluation with the SPF result taken at MAIL
// FROM, one Authentication-Results field (RFC 8601) after removing any that claim our
// authserv-id, and the configured action. Fails open: DNS trouble gives temperror results and
// the message goes on, marked. The message and every DNS answer are untrusted.
#pragma once

#include "auth/dmarc_report.h"
#include "auth/public_suffix.h"
#include "common/config.h"
#include "dns/resolver.h"
#include "pipeline/stage.h"

#include <functional>
#include <memory>

namespace bulwark::pipeline {

// Where each DMARC evaluation of a domain that asks for aggregate reports goes (rua=).
using DmarcRecorder = std::function<void(const auth::DmarcEvaluation&)>;

class AuthenticationStage final : public Stage {
 public:
  AuthenticationStage(const Config& config, dns::Resolver& resolver,
                      std::shared_ptr<const auth::PublicSuffixList> suffixes,
                      DmarcRecorder recorder = {});
  std::string_view name() const override { return "authentication"; }
  Verdict process(MessageContext& context) override;

  // The SPF check of the MAIL FROM identity (RFC 7208 2.4) the way this stage wants it; the
  // intake starts it at MAIL FROM so DNS runs while the client sends the data.
  static auth::SpfOutcome checkSpf(dns::Resolver& resolver, const Config& config,
                                   const MessageContext& context);

 private:
  Verdict act(MessageContext& context, AuthenticationAction action, const std::string& reason);

  const Config& config_;
  dns::Resolver& resolver_;
  std::shared_ptr<const auth::PublicSuffixList> suffixes_;
  DmarcRecorder recorder_;
};

}  // namespace bulwark::pipeline
