// Capabilities as the store matches them: a worker's capabilities become a
// list of tokens "<space>:<dataset>:<KIND>" ("<space>:*:<KIND>" for any data
// set; KIND as trials.kind stores it, e.g. SUPERNET_SHARD), and a trial
// needs one token, derived from its search's spec and its own kind. The SQL
// of LeaseTrial derives the same token from the stored rows (kNeedTokenSql),
// so both sides must change together.
#ifndef NAS_CONTROLLER_STORE_CAPABILITY_TOKENS_H_
#define NAS_CONTROLLER_STORE_CAPABILITY_TOKENS_H_

#include <optional>
#include <string>
#include <vector>

#include "nas/v1/search.pb.h"
#include "nas/v1/worker_service.pb.h"

namespace nas::controller {

// "nb201", "chain", or "" for an unset space.
std::string SpaceToken(const nas::v1::SearchSpace& space);
// What a trial of `kind` in a search of `spec` needs, e.g.
// "chain:DATASET_NAME_MNIST:SUPERNET_SHARD". An unspecified kind is TRAIN.
std::string NeedToken(const nas::v1::SearchSpec& spec, nas::v1::TrialKind kind);
// One token per (space, data set, kind) triple, sorted; "<space>:*:<KIND>"
// when a capability names no data set. A capability that names no kinds
// runs TRAIN and RETRAIN (training from scratch: what every worker did
// before weight sharing). Capabilities with an unspecified space, and
// unspecified or unknown kinds, are skipped.
std::vector<std::string> CapabilityTokens(const nas::v1::Capabilities& caps);
// True when one of `tokens` satisfies `need` (a NeedToken): the same token,
// or the same space and kind on any data set.
bool CanRun(const std::vector<std::string>& tokens, const std::string& need);

// A token's parts, for messages: space "chain", dataset "DATASET_NAME_MNIST"
// or "*", kind TRIAL_KIND_TRAIN. nullopt when `token` is not
// "<space>:<dataset>:<KIND>" with a known kind.
struct CapabilityToken {
  std::string space;
  std::string dataset;
  nas::v1::TrialKind kind = nas::v1::TRIAL_KIND_UNSPECIFIED;
};
std::optional<CapabilityToken> ParseCapabilityToken(const std::string& token);

// NeedToken in SQL, over a searches row aliased `s` and one of its trials
// aliased `t`.
inline constexpr char kNeedTokenSql[] =
    "((CASE WHEN s.spec->'space' ? 'nb201' THEN 'nb201' "
    "WHEN s.spec->'space' ? 'chain' THEN 'chain' ELSE '' END) || ':' || "
    "coalesce(s.spec->'dataset'->>'name', 'DATASET_NAME_UNSPECIFIED') || "
    "':' || t.kind)";
// The token that satisfies kNeedTokenSql on any data set, over the same rows.
inline constexpr char kAnyDatasetTokenSql[] =
    "((CASE WHEN s.spec->'space' ? 'nb201' THEN 'nb201' "
    "WHEN s.spec->'space' ? 'chain' THEN 'chain' ELSE '' END) || ':*:' || "
    "t.kind)";

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_STORE_CAPABILITY_TOKENS_H_
