// Checks SMTP AUTH credentials (RFC 4954) for the session, which does not know where accounts
// live (configuration, store, later LDAP). Called on a worker thread, never an I/O thread, so an
// implementation may block on password hashing or a database.
#pragma once

#include <string>
#include <string_view>

namespace bulwark::smtp {

struct Authentication {
  enum class Outcome {
    accepted,     // 235 2.7.0
    rejected,     // 535 5.7.8: unknown user or wrong password (never says which)
    unavailable,  // 454 4.7.0: the account source failed; the client may retry
  };
  Outcome outcome = Outcome::rejected;
  std::string user;  // the account's own spelling of the name, when accepted
};

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  virtual Authentication authenticate(std::string_view user, std::string_view password) = 0;
};

}  // namespace bulwark::smtp
