// Every trial kind's names, in one table: the text stored in trials.kind and
// at the end of capability tokens ("SUPERNET_SHARD"), nasctl's short column
// text ("shard"), and the words messages use for its work ("supernet
// shards"). Adding a kind means adding a row here (and to the CHECK on
// trials.kind in controller/store/migrations.cc).
#ifndef NAS_COMMON_SPEC_TRIAL_KINDS_H_
#define NAS_COMMON_SPEC_TRIAL_KINDS_H_

#include <array>

#include "absl/strings/string_view.h"
#include "nas/v1/search.pb.h"

namespace nas::spec {

struct TrialKindNames {
  nas::v1::TrialKind kind;
  const char* stored;  // trials.kind, capability tokens
  const char* short_name;  // nasctl's KIND column; "" for plain training
  const char* work;  // what trials of the kind produce, in messages
};

// In TrialKind number order. TRIAL_KIND_UNSPECIFIED is not listed: callers
// before weight sharing left the kind unset, and it means TRAIN.
inline constexpr std::array<TrialKindNames, 5> kTrialKinds = {{
    {nas::v1::TRIAL_KIND_TRAIN, "TRAIN", "", "training"},
    {nas::v1::TRIAL_KIND_SUPERNET_SHARD, "SUPERNET_SHARD", "shard",
     "supernet shards"},
    {nas::v1::TRIAL_KIND_SCORE_INHERITED, "SCORE_INHERITED", "score",
     "inherited-weight scores"},
    {nas::v1::TRIAL_KIND_RETRAIN, "RETRAIN", "retrain", "retrains"},
    {nas::v1::TRIAL_KIND_ZERO_COST, "ZERO_COST", "zc", "zero-cost scores"},
}};

// The row of `kind`; TRAIN's for TRIAL_KIND_UNSPECIFIED and unknown values.
inline const TrialKindNames& NamesOf(nas::v1::TrialKind kind) {
  for (const TrialKindNames& names : kTrialKinds) {
    if (names.kind == kind) return names;
  }
  return kTrialKinds[0];
}

// The kind stored as `stored`, or TRIAL_KIND_UNSPECIFIED.
inline nas::v1::TrialKind KindFromStored(absl::string_view stored) {
  for (const TrialKindNames& names : kTrialKinds) {
    if (stored == names.stored) return names.kind;
  }
  return nas::v1::TRIAL_KIND_UNSPECIFIED;
}

// True for the kinds whose metrics are real results of a stand-alone
// trained candidate (TRAIN, RETRAIN; unspecified means TRAIN): only these
// rank among a search's best trials (GetBestTrials, the dashboard's best).
inline bool IsRankedKind(nas::v1::TrialKind kind) {
  return kind == nas::v1::TRIAL_KIND_TRAIN ||
         kind == nas::v1::TRIAL_KIND_RETRAIN ||
         kind == nas::v1::TRIAL_KIND_UNSPECIFIED;
}

}  // namespace nas::spec

#endif  // NAS_COMMON_SPEC_TRIAL_KINDS_H_
