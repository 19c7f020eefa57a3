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

nas::v1::SearchSpec WeightSharingChainOnMnist() {
  nas::v1::SearchSpec spec = ChainOnMnist();
  spec.mutable_estimation()->mutable_weight_sharing();
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

TEST(CapabilityTokens, NeedAndTokensMatchBySpaceDatasetAndKind) {
  EXPECT_EQ(NeedToken(ChainOnMnist(), nas::v1::TRIAL_KIND_TRAIN),
            "chain:DATASET_NAME_MNIST:TRAIN");
  EXPECT_EQ(NeedToken(ChainOnMnist(), nas::v1::TRIAL_KIND_SUPERNET_SHARD),
            "chain:DATASET_NAME_MNIST:SUPERNET_SHARD");
  EXPECT_EQ(NeedToken(ChainOnMnist(), nas::v1::TRIAL_KIND_UNSPECIFIED),
            "chain:DATASET_NAME_MNIST:TRAIN");
  // No kinds declared: training from scratch, as before weight sharing.
  EXPECT_EQ(*Tabular("w").capabilities,
            (std::vector<std::string>{"nb201:*:RETRAIN", "nb201:*:TRAIN"}));
  const std::string need = "chain:DATASET_NAME_MNIST:TRAIN";
  EXPECT_TRUE(CanRun({"chain:DATASET_NAME_MNIST:TRAIN"}, need));
  EXPECT_TRUE(CanRun({"chain:*:TRAIN"}, need));
  EXPECT_FALSE(CanRun({"nb201:*:TRAIN"}, need));
  EXPECT_FALSE(CanRun({"chain:DATASET_NAME_CIFAR10:TRAIN"}, need));
  EXPECT_FALSE(CanRun({"chain:DATASET_NAME_MNIST:RETRAIN"}, need));
  EXPECT_FALSE(CanRun({"chain:*:SUPERNET_SHARD"}, need));
  EXPECT_FALSE(CanRun({}, need));
  EXPECT_TRUE(CanRun({"chain:*:SUPERNET_SHARD"},
                     "chain:DATASET_NAME_MNIST:SUPERNET_SHARD"));
}

TEST(CapabilityTokens, DeclaredKindsReplaceTheDefault) {
  nas::v1::Capabilities caps;
  nas::v1::Capability* c = caps.add_can_run();
  c->set_space(nas::v1::SPACE_KIND_CHAIN);
  c->add_datasets(nas::v1::DATASET_NAME_MNIST);
  c->add_kinds(nas::v1::TRIAL_KIND_SUPERNET_SHARD);
  c->add_kinds(nas::v1::TRIAL_KIND_SCORE_INHERITED);
  c->add_kinds(nas::v1::TRIAL_KIND_UNSPECIFIED);      // skipped
  c->add_kinds(static_cast<nas::v1::TrialKind>(99));  // a newer kind: skipped
  EXPECT_EQ(
      CapabilityTokens(caps),
      (std::vector<std::string>{"chain:DATASET_NAME_MNIST:SCORE_INHERITED",
                                "chain:DATASET_NAME_MNIST:SUPERNET_SHARD"}));
}

TEST(CapabilityTokens, ParsesItsOwnTokens) {
  const std::optional<CapabilityToken> token =
      ParseCapabilityToken("chain:DATASET_NAME_MNIST:SCORE_INHERITED");
  ASSERT_TRUE(token.has_value());
  EXPECT_EQ(token->space, "chain");
  EXPECT_EQ(token->dataset, "DATASET_NAME_MNIST");
  EXPECT_EQ(token->kind, nas::v1::TRIAL_KIND_SCORE_INHERITED);
  EXPECT_FALSE(ParseCapabilityToken("chain:DATASET_NAME_MNIST").has_value());
  EXPECT_FALSE(ParseCapabilityToken("chain:*:BOGUS").has_value());
}

TEST(TrialKindsOf, FromScratchTrainsAndWeightSharingRunsThreeKinds) {
  EXPECT_EQ(TrialKindsOf(ChainOnMnist()),
            std::vector<nas::v1::TrialKind>{nas::v1::TRIAL_KIND_TRAIN});
  EXPECT_EQ(
      TrialKindsOf(WeightSharingChainOnMnist()),
      (std::vector<nas::v1::TrialKind>{nas::v1::TRIAL_KIND_SUPERNET_SHARD,
                                       nas::v1::TRIAL_KIND_SCORE_INHERITED,
                                       nas::v1::TRIAL_KIND_RETRAIN}));
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

// A torch worker for chain on MNIST that runs `kinds`.
LiveWorker TorchFor(const std::string& id,
                    std::vector<nas::v1::TrialKind> kinds) {
  nas::v1::Capabilities caps;
  nas::v1::Capability* c = caps.add_can_run();
  c->set_space(nas::v1::SPACE_KIND_CHAIN);
  c->add_datasets(nas::v1::DATASET_NAME_MNIST);
  for (nas::v1::TrialKind kind : kinds) c->add_kinds(kind);
  return LiveWorker{id, id, "torch", CapabilityTokens(caps)};
}

TEST(UnrunnableReason, WeightSharingNamesTheMissingKinds) {
  EXPECT_EQ(UnrunnableReason(WeightSharingChainOnMnist(),
                             {Tabular("w-1"), Tabular("w-2")}),
            "no connected worker can run this search: it needs a worker for "
            "supernet shards, inherited-weight scores and retrains of the "
            "chain space on MNIST; connected: 2 tabular (nb201)");
  // An older torch worker trains and retrains, but runs no supernet.
  EXPECT_EQ(UnrunnableReason(WeightSharingChainOnMnist(),
                             {Torch("w-1", nas::v1::DATASET_NAME_MNIST)}),
            "no connected worker can run this search: it needs a worker for "
            "supernet shards and inherited-weight scores of the chain space "
            "on MNIST; connected: 1 torch (chain/MNIST, nb201/MNIST)");
  EXPECT_EQ(
      UnrunnableReason(WeightSharingChainOnMnist(),
                       {TorchFor("w-1", {nas::v1::TRIAL_KIND_SUPERNET_SHARD,
                                         nas::v1::TRIAL_KIND_RETRAIN})}),
      "no connected worker can run this search: it needs a worker for "
      "inherited-weight scores of the chain space on MNIST; connected: "
      "1 torch (chain/MNIST [supernet shards, retrains])");
}

TEST(UnrunnableReason, WeightSharingKindsMayComeFromDifferentWorkers) {
  const LiveWorker shards =
      TorchFor("w-1", {nas::v1::TRIAL_KIND_SUPERNET_SHARD,
                       nas::v1::TRIAL_KIND_SCORE_INHERITED});
  EXPECT_EQ(
      UnrunnableReason(WeightSharingChainOnMnist(),
                       {shards, Torch("w-2", nas::v1::DATASET_NAME_MNIST)}),
      "");
  EXPECT_EQ(UnrunnableReason(WeightSharingChainOnMnist(),
                             {LiveWorker{"w-3", "w-3", "", std::nullopt}}),
            "");
  // A fleet of shard-only workers cannot run a from-scratch search.
  EXPECT_EQ(UnrunnableReason(ChainOnMnist(), {shards}),
            "no connected worker can run this search: it needs a worker for "
            "the chain space on MNIST; connected: 1 torch (chain/MNIST "
            "[supernet shards, inherited-weight scores])");
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
