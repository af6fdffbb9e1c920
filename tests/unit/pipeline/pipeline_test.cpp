// The pipeline runner: stages in order, the first verdict other than proceed ends the run and
// names its stage.
#include "pipeline/stage.h"
#include "support/fake_stage.h"

#include <gtest/gtest.h>

namespace bulwark::pipeline {
namespace {

using testing::FakeStage;

TEST(Pipeline, RunsEveryStageInOrderWhenAllProceed) {
  std::vector<std::string> calls;
  Pipeline pipeline;
  auto first = std::make_unique<FakeStage>("first", Verdict::proceed(), &calls);
  first->addsHeader("X-First: 1\r\n");
  auto second = std::make_unique<FakeStage>("second", Verdict::proceed(), &calls);
  second->addsHeader("X-Second: 2\r\n");
  pipeline.add(std::move(first));
  pipeline.add(std::move(second));
  MessageContext context;
  context.data = "Subject: x\r\n\r\nbody\r\n";
  Verdict verdict = pipeline.run(context);
  EXPECT_EQ(verdict.kind, Verdict::Kind::proceed);
  EXPECT_EQ(calls, (std::vector<std::string>{"first", "second"}));
  EXPECT_EQ(context.data, "X-Second: 2\r\nX-First: 1\r\nSubject: x\r\n\r\nbody\r\n")
      << "each stage prepends above what came before";
}

TEST(Pipeline, FirstNonProceedVerdictStopsTheRunAndNamesItsStage) {
  std::vector<std::string> calls;
  Pipeline pipeline;
  pipeline.add(std::make_unique<FakeStage>("first", Verdict::proceed(), &calls));
  pipeline.add(std::make_unique<FakeStage>("judge", Verdict::quarantine("looks odd"), &calls));
  pipeline.add(std::make_unique<FakeStage>("never", Verdict::proceed(), &calls));
  MessageContext context;
  Verdict verdict = pipeline.run(context);
  EXPECT_EQ(verdict.kind, Verdict::Kind::quarantine);
  EXPECT_EQ(verdict.reason, "looks odd");
  EXPECT_EQ(verdict.stage, "judge");
  EXPECT_EQ(calls, (std::vector<std::string>{"first", "judge"}));
}

TEST(Pipeline, RejectWithATransientReplyIsADefer) {
  Verdict permanent =
      Verdict::reject(smtp::makeReply(smtp::ReplyKind::sender_authentication_failed), "no");
  EXPECT_EQ(permanent.kind, Verdict::Kind::reject);
  EXPECT_EQ(permanent.reply.code, 550);
  EXPECT_EQ(permanent.reply.enhanced, "5.7.1");
  Verdict transient = Verdict::reject(smtp::makeReply(smtp::ReplyKind::local_error), "later");
  EXPECT_EQ(transient.kind, Verdict::Kind::defer);
}

TEST(Pipeline, EmptyPipelineProceeds) {
  Pipeline pipeline;
  MessageContext context;
  EXPECT_TRUE(pipeline.empty());
  EXPECT_EQ(pipeline.run(context).kind, Verdict::Kind::proceed);
}

}  // namespace
}  // namespace bulwark::pipeline
