// Where a received message goes: the TransactionHandler the SMTP server calls at the end of
// DATA/BDAT. It turns the SMTP transaction into a queue envelope, commits it durably to the spool
// (on blocking threads), answers 250 only after the commit, records the trace event and hands the
// message to the queue manager.
#pragma once

#include "common/config.h"
#include "common/thread_pool.h"
#include "queue/queue_manager.h"
#include "queue/spool.h"
#include "smtp/server/transaction.h"
#include "store/trace_store.h"

namespace bulwark::app {

class MessageIntake final : public smtp::TransactionHandler {
 public:
  MessageIntake(const Config& config, queue::Spool& spool, store::TraceStore& trace,
                queue::QueueManager& manager);
  ~MessageIntake() override;

  void accept(smtp::Transaction transaction, std::function<void(smtp::Reply)> done) override;
  void rejected(const smtp::Transaction& transaction, const smtp::Reply& reply) override;
  bool hasStorageRoom() override;

  // Finishes every commit in progress (their replies are still delivered).
  void drain();

 private:
  const Config& config_;
  queue::Spool& spool_;
  store::TraceStore& trace_;
  queue::QueueManager& manager_;
  // fsync-bound: many threads let concurrent commits share journal flushes.
  ThreadPool committers_{16};
};

}  // namespace bulwark::app
