#include "common/spec/model_manifest.h"

#include <memory>
#include <string>
#include <variant>

#include "common/spec/space_from_proto.h"
#include "common/spec/spec_yaml.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nas::spec {
namespace {

using ::testing::HasSubstr;

nas::v1::Search DemoSearch() {
  absl::StatusOr<nas::v1::SearchSpec> spec = ParseSearchSpecFile(
      NAS_EXAMPLES_DIR "/demo_fashion_mnist_from_scratch.yaml");
  EXPECT_TRUE(spec.ok()) << spec.status();
  nas::v1::Search search;
  search.set_id(4);
  *search.mutable_spec() = *spec;
  return search;
}

// One option index per decision of the search's space, all `option`.
std::vector<int> AllOptions(const nas::v1::Search& search, int option) {
  absl::StatusOr<std::unique_ptr<space::SearchSpace>> space =
      MakeSearchSpace(search.spec().space());
  EXPECT_TRUE(space.ok()) << space.status();
  return std::vector<int>((*space)->decisions().size(), option);
}

nas::v1::Trial Trained(std::vector<int> choices) {
  nas::v1::Trial trial;
  trial.set_number(12);
  trial.set_kind(nas::v1::TRIAL_KIND_RETRAIN);
  for (int c : choices) trial.mutable_architecture()->add_choices(c);
  trial.mutable_metrics()->set_test_accuracy(0.91);
  return trial;
}

TEST(ModelManifestTest, BuildsTheNetworkTheWorkerTrainsAndRoundTrips) {
  const nas::v1::Search search = DemoSearch();
  absl::StatusOr<std::unique_ptr<space::SearchSpace>> space =
      MakeSearchSpace(search.spec().space());
  ASSERT_TRUE(space.ok());
  const std::vector<int> choices = AllOptions(search, 1);
  absl::StatusOr<nas::v1::ModelManifest> m =
      BuildModelManifest(search, Trained(choices), 1234, "ab12");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->format(), "nas-model/1");
  EXPECT_EQ(m->search_id(), 4);
  EXPECT_EQ(m->trial_number(), 12);
  EXPECT_EQ(m->input().channels(), 1);
  EXPECT_EQ(m->input().height(), 28);
  EXPECT_FLOAT_EQ(m->input().mean(0), 0.2860f);
  EXPECT_EQ(m->class_names_size(), 10);
  EXPECT_EQ(m->class_names(9), "Ankle boot");
  EXPECT_EQ(m->weights().file(), "weights.nastensor");
  EXPECT_EQ(m->weights().size(), 1234);
  EXPECT_EQ(m->architecture().text(), (*space)->Render(choices));
  EXPECT_DOUBLE_EQ(m->metrics().test_accuracy(), 0.91);

  absl::StatusOr<nas::v1::ModelManifest> back =
      ManifestFromJson(ManifestToJson(*m));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->SerializeAsString(), m->SerializeAsString());
  absl::StatusOr<space::NetworkSpec> network = NetworkOfManifest(*back);
  ASSERT_TRUE(network.ok()) << network.status();
  const space::NetworkSpec expected =
      (*space)->Network(choices, space::InputShape{1, 28, 28, 10});
  const auto& got = std::get<space::ChainNetwork>(network->body);
  const auto& want = std::get<space::ChainNetwork>(expected.body);
  ASSERT_EQ(got.layers.size(), want.layers.size());
  for (size_t i = 0; i < got.layers.size(); ++i) {
    EXPECT_EQ(got.layers[i].op, want.layers[i].op);
    EXPECT_EQ(got.layers[i].out_channels, want.layers[i].out_channels);
    EXPECT_EQ(got.layers[i].stride, want.layers[i].stride);
  }
  EXPECT_EQ(got.stem_channels, want.stem_channels);
  EXPECT_EQ(got.stem_stride, want.stem_stride);
  EXPECT_EQ(got.head_channels, want.head_channels);
}

TEST(ModelManifestTest, AnArchitectureOutsideTheSpaceIsRefused) {
  absl::StatusOr<nas::v1::ModelManifest> m =
      BuildModelManifest(DemoSearch(), Trained({99}), 1, "x");
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(m.status().message(), HasSubstr("trial 12's architecture"));
}

TEST(ModelManifestTest, ReadersRefuseOtherFormatsAndBadJson) {
  absl::StatusOr<nas::v1::ModelManifest> other =
      ManifestFromJson(R"({"format": "nas-model/2"})");
  EXPECT_EQ(other.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(other.status().message(), HasSubstr("is not nas-model/1"));
  EXPECT_THAT(ManifestFromJson("{not json").status().message(),
              HasSubstr("not a model manifest"));
}

TEST(ModelManifestTest, DamagedNetworksAreRefusedNamingTheField) {
  const nas::v1::Search search = DemoSearch();
  absl::StatusOr<nas::v1::ModelManifest> good =
      BuildModelManifest(search, Trained(AllOptions(search, 0)), 1, "x");
  ASSERT_TRUE(good.ok()) << good.status();
  ASSERT_TRUE(NetworkOfManifest(*good).ok());
  auto refusal = [&](auto edit) {
    nas::v1::ModelManifest m = *good;
    edit(m);
    return std::string(NetworkOfManifest(m).status().message());
  };
  EXPECT_THAT(
      refusal([](auto& m) {
        m.mutable_network()->mutable_chain()->mutable_layers(0)->set_stride(3);
      }),
      HasSubstr("network.chain.layers[0].stride: must be 1 or 2"));
  EXPECT_THAT(refusal([](auto& m) {
                m.mutable_network()->mutable_chain()->mutable_layers(0)->set_op(
                    "conv9x9");
              }),
              HasSubstr("network.chain.layers[0].op: unknown op \"conv9x9\""));
  EXPECT_THAT(refusal([](auto& m) { m.mutable_input()->add_mean(0.5f); }),
              HasSubstr("one mean and one std per channel"));
  EXPECT_THAT(refusal([](auto& m) { m.mutable_input()->set_std(0, 0); }),
              HasSubstr("input.std[0]: must be positive"));
  EXPECT_THAT(refusal([](auto& m) { m.mutable_input()->set_height(0); }),
              HasSubstr("input.height"));
  EXPECT_THAT(refusal([](auto& m) { m.add_class_names("extra"); }),
              HasSubstr("11 names for 10 classes"));
  EXPECT_THAT(refusal([](auto& m) { m.mutable_network()->clear_body(); }),
              HasSubstr("network: needs cell or chain"));
}

TEST(ModelManifestTest, CellNetworksNeedSixKnownOps) {
  nas::v1::ModelManifest m;
  m.set_format(kModelFormat);
  nas::v1::ModelInput* input = m.mutable_input();
  input->set_channels(3);
  input->set_height(32);
  input->set_width(32);
  input->set_num_classes(10);
  for (int c = 0; c < 3; ++c) {
    input->add_mean(0.5f);
    input->add_std(0.25f);
  }
  nas::v1::CellNetworkDef* cell = m.mutable_network()->mutable_cell();
  cell->set_channels(16);
  cell->set_cells_per_stage(5);
  cell->set_stem_stride(1);
  for (const char* op : {"nor_conv_3x3", "skip_connect", "none", "avg_pool_3x3",
                         "nor_conv_1x1", "none"}) {
    cell->add_edge_ops(op);
  }
  absl::StatusOr<space::NetworkSpec> network = NetworkOfManifest(m);
  ASSERT_TRUE(network.ok()) << network.status();
  EXPECT_EQ(std::get<space::CellNetwork>(network->body).edge_ops[3],
            "avg_pool_3x3");
  cell->set_edge_ops(2, "conv7x7");
  EXPECT_THAT(std::string(NetworkOfManifest(m).status().message()),
              HasSubstr("network.cell.edge_ops[2]: unknown op"));
  cell->mutable_edge_ops()->RemoveLast();
  EXPECT_THAT(std::string(NetworkOfManifest(m).status().message()),
              HasSubstr("needs 6 ops, got 5"));
}

}  // namespace
}  // namespace nas::spec
