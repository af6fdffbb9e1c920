// The signing stage, last in the pipeline (after every other change to the message): DKIM
// signatures (RFC 6376 5) for our own users' mail whose From domain has keys, and an ARC set
// (RFC 8617 5.1) on mail from outside that we pass on to other domains. The message is untrusted;
// the keys are local files (auth::DkimKeyring).
#pragma once

#include "auth/dkim.h"
#include "common/config.h"
#include "dns/resolver.h"
#include "pipeline/stage.h"

#include <memory>

namespace bulwark::pipeline {

class SigningStage final : public Stage {
 public:
  SigningStage(const Config& config, dns::Resolver& resolver,
               std::shared_ptr<auth::DkimKeyring> keyring);
  std::string_view name() const override { return "signing"; }
  // Never stops a message: a signing problem is logged and the message goes on unsigned (an
  // unsigned message is still deliverable; refusing our users' mail for it would not help).
  Verdict process(MessageContext& context) override;

  // The DKIM-Signature fields for `message` with every key of its From domain (the d= a
  // recipient's client displays, so DMARC aligns: RFC 7489 3.1.1), and that domain; empty when
  // the author is not one domain or the domain has no key. Also for mail the server writes
  // itself (DMARC reports), which does not pass through the pipeline.
  struct Signatures {
    std::string fields;
    std::string domain;
  };
  static Signatures signaturesFor(auth::DkimKeyring& keyring, std::string_view message);

 private:
  void sign(MessageContext& context);
  void seal(MessageContext& context);

  const Config& config_;
  dns::Resolver& resolver_;
  std::shared_ptr<auth::DkimKeyring> keyring_;
};

}  // namespace bulwark::pipeline
