// A queue::RemoteTransport that records every attempt and answers from a script: a function of
// the endpoint and message, so a test decides per host and per recipient.
#pragma once

#include "queue/queue_manager.h"

#include <functional>
#include <mutex>
#include <vector>

namespace bulwark::testing {

struct RecordedAttempt {
  smtp::ClientEndpoint endpoint;
  smtp::ClientSettings settings;
  std::string sender;
  std::vector<std::string> recipients;
  std::string data;
};

class FakeTransport final : public queue::RemoteTransport {
 public:
  using Script = std::function<smtp::AttemptResult(const smtp::ClientEndpoint&,
                                                   const smtp::OutboundMessage&)>;
  Script script;

  smtp::AttemptResult attempt(const smtp::ClientEndpoint& endpoint,
                              const smtp::ClientSettings& settings,
                              const smtp::OutboundMessage& message) override {
    RecordedAttempt recorded{endpoint, settings, message.sender, {}, std::string(message.data)};
    for (const auto& recipient : message.recipients) recorded.recipients.push_back(recipient.address);
    {
      std::lock_guard lock(mutex_);
      attempts_.push_back(recorded);
    }
    auto result = script(endpoint, message);
    result.evidence.host = endpoint.host;
    result.evidence.address = endpoint.address;
    result.evidence.port = endpoint.port;
    result.evidence.required = settings.tls;
    return result;
  }

  std::vector<RecordedAttempt> attempts() {
    std::lock_guard lock(mutex_);
    return attempts_;
  }

  // Every recipient gets `reply` (a 2xx/5xx final answer), or the session fails with it (4xx).
  static smtp::AttemptResult answer(const smtp::OutboundMessage& message, smtp::Reply reply) {
    smtp::AttemptResult result;
    if (reply.code >= 400 && reply.code < 500) {
      result.session = reply;
      return result;
    }
    result.session = smtp::Reply{250, "2.0.0", {"OK"}};
    result.recipients.assign(message.recipients.size(), reply);
    return result;
  }

 private:
  std::mutex mutex_;
  std::vector<RecordedAttempt> attempts_;
};

}  // namespace bulwark::testing
