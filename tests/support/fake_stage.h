// A pipeline::Stage that answers a fixed verdict and remembers what it saw, for tests of the
// pipeline runner and of the intake around it.
#pragma once

#include "pipeline/stage.h"

#include <string>
#include <vector>

namespace bulwark::testing {

class FakeStage final : public pipeline::Stage {
 public:
  FakeStage(std::string name, pipeline::Verdict verdict, std::vector<std::string>* calls = nullptr)
      : name_(std::move(name)), verdict_(std::move(verdict)), calls_(calls) {}

  std::string_view name() const override { return name_; }
  pipeline::Verdict process(pipeline::MessageContext& context) override {
    if (calls_ != nullptr) calls_->push_back(name_);
    if (!header_.empty()) context.prependHeader(header_);
    return verdict_;
  }
  // A header field this stage adds to every message it sees.
  void addsHeader(std::string field) { header_ = std::move(field); }

 private:
  std::string name_;
  pipeline::Verdict verdict_;
  std::vector<std::string>* calls_;
  std::string header_;
};

}  // namespace bulwark::testing
