// Verdict helpers and the Pipeline runner; see stage.h.
#include "pipeline/stage.h"

namespace bulwark::pipeline {

Verdict Verdict::reject(smtp::Reply reply, std::string reason) {
  Verdict verdict;
  verdict.kind = reply.isTransient() ? Kind::defer : Kind::reject;
  verdict.reply = std::move(reply);
  verdict.reason = std::move(reason);
  return verdict;
}

Verdict Verdict::quarantine(std::string reason) {
  Verdict verdict;
  verdict.kind = Kind::quarantine;
  verdict.reason = std::move(reason);
  return verdict;
}

void Pipeline::add(std::unique_ptr<Stage> stage) { stages_.push_back(std::move(stage)); }

Verdict Pipeline::run(MessageContext& context) const {
  for (const auto& stage : stages_) {
    Verdict verdict = stage->process(context);
    if (verdict.kind != Verdict::Kind::proceed) {
      verdict.stage = std::string(stage->name());
      return verdict;
    }
  }
  return Verdict::proceed();
}

}  // namespace bulwark::pipeline
