// How nasctl shows searches and trials to people and scripts.
#ifndef NAS_NASCTL_FORMAT_H_
#define NAS_NASCTL_FORMAT_H_

#include <ostream>
#include <string>
#include <vector>

#include "google/protobuf/message.h"
#include "nas/v1/search.pb.h"
#include "nas/v1/search_service.pb.h"

namespace nas::cli {

std::string StateName(nas::v1::SearchState state);
std::string StateName(nas::v1::TrialState state);
// 12345678 -> "12.3M"
std::string HumanCount(int64_t n);
std::string Percent(double fraction);

void PrintSearches(const std::vector<nas::v1::Search>& searches,
                   std::ostream& out);
void PrintTrials(const std::vector<nas::v1::Trial>& trials, std::ostream& out);
// `nasctl best`: with one objective the trials table; with several (the
// response is a Pareto front) a line naming the objectives and
// constraints, then one column per objective, in spec order.
void PrintBestTrials(const nas::v1::SearchSpec& spec,
                     const nas::v1::GetBestTrialsResponse& best,
                     std::ostream& out);
// One line of JSON per message (protobuf's JSON mapping).
void PrintJson(const google::protobuf::Message& message, std::ostream& out);

}  // namespace nas::cli

#endif  // NAS_NASCTL_FORMAT_H_
