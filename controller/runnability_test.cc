#include "controller/runnability.h"

#include "absl/strings/match.h"
#include "controller/store/capability_tokens.h"
#include "gtest/gtest.h"

namespace nas::controller {
namespace {

nas::v1::SearchSpec ChainOnMnist() {
  nas::v1::SearchSpec spec;
  spec.mutable_dataset()->set_name(nas::v1::DATASET_NAME_MNIST);
  spec.mutable_space()->mutable_chain();
  return spec;
}

LiveWorker Tabular(const std::string& id) {
  nas::v1::Capabilities caps;
  caps.set_estimator("tabular");
  caps.add_can_run()->set_space(nas::v1::SPACE_KIND_NB201);
  return LiveWorker{id, id, "tabular", CapabilityTokens(caps)};
}

LiveWorker Torch(const std::string& id, nas::v1::DatasetName dataset) {
  nas::v1::Capabilities caps;
  for (auto space : {nas::v1::SPACE_KIND_NB201, nas::v1::SPACE_KIND_CHAIN}) {
    nas::v1::Capability* c = caps.add_can_run();
    c->set_space(space);
    c->add_datasets(dataset);
  }
  return LiveWorker{id, id, "torch", CapabilityTokens(caps)};
}

TEST(CapabilityTokens, NeedAndTokensMatchBySpaceAndDataset) {
  EXPECT_EQ(NeedToken(ChainOnMnist()), "chain:DATASET_NAME_MNIST");
  EXPECT_EQ(*Tabular("w").capabilities, std::vector<std::string>{"nb201:*"});
  EXPECT_TRUE(CanRun({"chain:DATASET_NAME_MNIST"}, "chain:DATASET_NAME_MNIST"));
  EXPECT_TRUE(CanRun({"chain:*"}, "chain:DATASET_NAME_MNIST"));
  EXPECT_FALSE(CanRun({"nb201:*"}, "chain:DATASET_NAME_MNIST"));
  EXPECT_FALSE(
      CanRun({"chain:DATASET_NAME_CIFAR10"}, "chain:DATASET_NAME_MNIST"));
  EXPECT_FALSE(CanRun({}, "chain:DATASET_NAME_MNIST"));
}

TEST(UnrunnableReason, TabularFleetCannotRunAChainSearch) {
  const std::string reason =
      UnrunnableReason(ChainOnMnist(), {Tabular("w-1"), Tabular("w-2")});
  EXPECT_EQ(reason,
            "no connected worker can run this search: it needs a worker for "
            "the chain space on MNIST; connected: 2 tabular (nb201)");
}

TEST(UnrunnableReason, EmptyWhenOneWorkerCanRunIt) {
  EXPECT_EQ(UnrunnableReason(
                ChainOnMnist(),
                {Tabular("w-1"), Torch("w-2", nas::v1::DATASET_NAME_MNIST)}),
            "");
  // An older worker declared nothing: it is offered everything.
  EXPECT_EQ(UnrunnableReason(ChainOnMnist(),
                             {LiveWorker{"w-3", "w-3", "", std::nullopt}}),
            "");
}

TEST(UnrunnableReason, NamesWhatConnectedWorkersHave) {
  const std::string reason = UnrunnableReason(
      ChainOnMnist(), {Torch("w-1", nas::v1::DATASET_NAME_CIFAR10)});
  EXPECT_TRUE(absl::StartsWith(reason, kUnrunnablePrefix)) << reason;
  EXPECT_TRUE(absl::StrContains(
      reason, "connected: 1 torch (chain/CIFAR10, nb201/CIFAR10)"))
      << reason;
  EXPECT_TRUE(absl::StrContains(UnrunnableReason(ChainOnMnist(), {}),
                                "connected: none"));
}

TEST(FailureWindow, FirstFiveOrAllTrials) {
  nas::v1::SearchBudget budget;
  budget.set_max_trials(100);
  EXPECT_EQ(FailureWindow(budget), 5);
  budget.set_max_trials(2);
  EXPECT_EQ(FailureWindow(budget), 2);
}

}  // namespace
}  // namespace nas::controller
