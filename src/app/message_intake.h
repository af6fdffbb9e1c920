// Where a received message goes: the TransactionHandler the SMTP server calls at the end of
// DATA/BDAT. It runs the inbound pipeline (sender authentication, transport rules, signing) on
// blocking threads, turns the transaction as the pipeline left it (recipients, TLS requirement
// and route a rule may have changed) into a queue envelope, commits it durably to the spool
// (hold/ when the pipeline quarantines it), answers 250 only after the commit, records the trace
// event and hands the message to the queue manager. At MAIL FROM it starts the SPF check.
#pragma once

#include "common/config.h"
#include "common/thread_pool.h"
#include "dns/resolver.h"
#include "pipeline/stage.h"
#include "queue/queue_manager.h"
#include "queue/spool.h"
#include "smtp/server/transaction.h"
#include "store/trace_store.h"

namespace bulwark::app {

class MessageIntake final : public smtp::TransactionHandler {
 public:
  MessageIntake(const Config& config, queue::Spool& spool, store::TraceStore& trace,
                queue::QueueManager& manager, const pipeline::Pipeline& pipeline,
                dns::Resolver& resolver);
  ~MessageIntake() override;

  void accept(smtp::Transaction transaction, std::function<void(smtp::Reply)> done) override;
  std::shared_ptr<smtp::SenderChecks> senderAccepted(
      const smtp::Transaction& transaction) override;
  void rejected(const smtp::Transaction& transaction, const smtp::Reply& reply) override;
  bool hasStorageRoom() override;

  // Finishes every commit in progress (their replies are still delivered).
  void drain();

 private:
  const Config& config_;
  queue::Spool& spool_;
  store::TraceStore& trace_;
  queue::QueueManager& manager_;
  const pipeline::Pipeline& pipeline_;
  dns::Resolver& resolver_;
  // The pipeline (DNS-bound) and the commit (fsync-bound): many threads let concurrent commits
  // share journal flushes and lookups overlap.
  ThreadPool committers_{32};
  // SPF checks started at MAIL FROM; a separate pool, so a committer waiting for one never
  // holds up the check itself.
  ThreadPool checkers_{8};
};

}  // namespace bulwark::app
