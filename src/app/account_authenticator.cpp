// AccountAuthenticator; see account_authenticator.h.
#include "app/account_authenticator.h"

#include "common/log.h"
#include "common/strings.h"
#include "net/password.h"

namespace bulwark::app {

AccountAuthenticator::AccountAuthenticator(const Config& config, store::UserStore& users)
    : config_(config), users_(users), decoy_hash_(net::hashPassword("decoy")) {}

smtp::Authentication AccountAuthenticator::authenticate(std::string_view user,
                                                        std::string_view password) {
  using Outcome = smtp::Authentication::Outcome;
  for (const auto& account : config_.users) {
    if (equalsIgnoreCase(account.name, user)) {
      if (net::verifyPassword(password, account.password_hash)) {
        return {Outcome::accepted, account.name};
      }
      return {Outcome::rejected, {}};
    }
  }
  auto stored = users_.find(user);
  if (!stored) {
    log::error("user store lookup failed: {}", stored.error().message);
    return {Outcome::unavailable, {}};
  }
  if (!*stored) {
    net::verifyPassword(password, decoy_hash_);
    return {Outcome::rejected, {}};
  }
  if (net::verifyPassword(password, (*stored)->password_hash)) {
    return {Outcome::accepted, (*stored)->name};
  }
  return {Outcome::rejected, {}};
}

}  // namespace bulwark::app
