// The pipeline seam (DESIGN.md "Seams"): a Stage looks at one message and decides whether it goes
// on; a Pipeline runs stages in order until one says otherwise. Stages run before the 250 reply,
// on the intake's blocking threads (they wait on DNS through dns::Resolver, which blocks, as the
// SMTP client does on delivery threads), never on an I/O thread.
#pragma once

#include "pipeline/message_context.h"
#include "smtp/proto/reply.h"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace bulwark::pipeline {

struct Verdict {
  enum class Kind {
    proceed,     // on to the next stage, then the spool
    reject,      // refuse at the end of DATA with `reply` (5xx)
    defer,       // refuse for now with `reply` (4xx)
    quarantine,  // accept (250) into hold/: kept, never delivered until released
    discard,     // accept (250) and drop
  };
  Kind kind = Kind::proceed;
  smtp::Reply reply;   // reject, defer
  std::string reason;  // quarantine, discard, and the trace
  std::string stage;   // which stage decided (set by Pipeline)

  static Verdict proceed() { return {}; }
  static Verdict reject(smtp::Reply reply, std::string reason);
  static Verdict quarantine(std::string reason);
};

class Stage {
 public:
  virtual ~Stage() = default;
  virtual std::string_view name() const = 0;
  // Blocking. A stage whose dependency is down (DNS) decides by its own documented rule: the
  // authentication stage fails open (temperror results, mail accepted and marked).
  virtual Verdict process(MessageContext& context) = 0;
};

class Pipeline {
 public:
  void add(std::unique_ptr<Stage> stage);
  // Runs each stage in order; the first verdict other than proceed ends the run.
  Verdict run(MessageContext& context) const;
  bool empty() const { return stages_.empty(); }

 private:
  std::vector<std::unique_ptr<Stage>> stages_;
};

}  // namespace bulwark::pipeline
