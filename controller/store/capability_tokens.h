// Capabilities as the store matches them: a worker's capabilities become a
// list of tokens "<space>:<dataset>" (or "<space>:*" for any data set), and a
// search needs one token, derived from its spec. The SQL of LeaseTrial
// derives the same token from the stored spec (kNeedTokenSql), so both sides
// must change together.
#ifndef NAS_CONTROLLER_STORE_CAPABILITY_TOKENS_H_
#define NAS_CONTROLLER_STORE_CAPABILITY_TOKENS_H_

#include <string>
#include <vector>

#include "nas/v1/search.pb.h"
#include "nas/v1/worker_service.pb.h"

namespace nas::controller {

// "nb201", "chain", or "" for an unset space.
std::string SpaceToken(const nas::v1::SearchSpace& space);
// e.g. "chain:DATASET_NAME_MNIST": the space kind and the data set's enum
// name.
std::string NeedToken(const nas::v1::SearchSpec& spec);
// One token per (space, data set) pair; "<space>:*" when a capability names
// no data set. Capabilities with an unspecified space are skipped.
std::vector<std::string> CapabilityTokens(const nas::v1::Capabilities& caps);
// True when one of `tokens` satisfies `need`.
bool CanRun(const std::vector<std::string>& tokens, const std::string& need);

// NeedToken in SQL, over a searches row aliased `s`.
inline constexpr char kNeedTokenSql[] =
    "((CASE WHEN s.spec->'space' ? 'nb201' THEN 'nb201' "
    "WHEN s.spec->'space' ? 'chain' THEN 'chain' ELSE '' END) || ':' || "
    "coalesce(s.spec->'dataset'->>'name', 'DATASET_NAME_UNSPECIFIED'))";

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_STORE_CAPABILITY_TOKENS_H_
