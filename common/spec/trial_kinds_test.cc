#include "common/spec/trial_kinds.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace nas::spec {
namespace {

TEST(TrialKindsTest, EveryKindOfTheProtoHasOneRowWithDistinctNames) {
  const google::protobuf::EnumDescriptor* kinds =
      nas::v1::TrialKind_descriptor();
  std::set<std::string> stored, short_names;
  for (int i = 0; i < kinds->value_count(); ++i) {
    const auto kind = static_cast<nas::v1::TrialKind>(kinds->value(i)->number());
    if (kind == nas::v1::TRIAL_KIND_UNSPECIFIED) continue;
    const TrialKindNames& names = NamesOf(kind);
    EXPECT_EQ(names.kind, kind) << kinds->value(i)->name() << " has no row";
    // The stored text is the enum name without its prefix.
    EXPECT_EQ(std::string("TRIAL_KIND_") + names.stored,
              kinds->value(i)->name());
    EXPECT_EQ(KindFromStored(names.stored), kind);
    EXPECT_TRUE(stored.insert(names.stored).second);
    EXPECT_TRUE(short_names.insert(names.short_name).second);
    EXPECT_STRNE(names.work, "");
  }
  EXPECT_EQ(stored.size(), kTrialKinds.size());
}

TEST(TrialKindsTest, UnspecifiedMeansTrainAndUnknownTextIsUnspecified) {
  EXPECT_STREQ(NamesOf(nas::v1::TRIAL_KIND_UNSPECIFIED).stored, "TRAIN");
  EXPECT_EQ(KindFromStored("train"), nas::v1::TRIAL_KIND_UNSPECIFIED);
  EXPECT_EQ(KindFromStored(""), nas::v1::TRIAL_KIND_UNSPECIFIED);
}

}  // namespace
}  // namespace nas::spec
