// The accounts SMTP AUTH accepts: the configuration's [[user]] entries first, then the user store
// (`bulwark user add`). An unknown name costs the same PBKDF2 work as a known one, so timing does
// not tell which accounts exist.
#pragma once

#include "common/config.h"
#include "smtp/server/authenticator.h"
#include "store/user_store.h"

namespace bulwark::app {

class AccountAuthenticator final : public smtp::Authenticator {
 public:
  AccountAuthenticator(const Config& config, store::UserStore& users);
  smtp::Authentication authenticate(std::string_view user, std::string_view password) override;

 private:
  const Config& config_;
  store::UserStore& users_;
  std::string decoy_hash_;
};

}  // namespace bulwark::app
