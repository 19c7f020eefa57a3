// Helpers every nasctl command shares: deadlines, error and usage lines,
// argument checks, reading a spec from a file or standard input.
#ifndef NAS_NASCTL_COMMAND_UTIL_H_
#define NAS_NASCTL_COMMAND_UTIL_H_

#include <cstdint>
#include <istream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"
#include "nas/v1/search.pb.h"
#include "nasctl/commands.h"

namespace nas::cli {

// The most trials or searches one List call returns (the controller's
// limit).
inline constexpr int kMaxPageSize = 1000;

// Every call but WatchSearch gives up after 30 s.
void SetDeadline(grpc::ClientContext* context);

// Prints "CODE_NAME: message" (plus a hint for UNAVAILABLE and
// UNAUTHENTICATED) to ctx.err; returns 1, the exit code of a refusal.
int Fail(Context& ctx, const grpc::Status& status);

// Prints `message` to ctx.err; returns 2, the exit code of a usage error.
int Usage(Context& ctx, absl::string_view message);

// The single positional search id of commands like `best 3`; false (after
// printing the usage) when it is missing or not a positive integer.
bool SearchIdArg(Context& ctx, const Args& args, int64_t* id);

// GetSearch with the default deadline.
grpc::Status GetSearch(Context& ctx, int64_t id, nas::v1::Search* search);

// ListTrials from `request`'s page on, appending to *trials: one page when
// `one_page` (*next_page_token then continues it), else every page.
grpc::Status ListTrialPages(Context& ctx, nas::v1::ListTrialsRequest request,
                            bool one_page, std::vector<nas::v1::Trial>* trials,
                            std::string* next_page_token);

// The spec in YAML file `path`, or in standard input (`in`) when `path` is
// "-"; parsed, defaulted and validated as spec_yaml.h says. Every error
// message starts with the path, or "<stdin>".
absl::StatusOr<nas::v1::SearchSpec> ReadSpec(const std::string& path,
                                             std::istream& in);

}  // namespace nas::cli

#endif  // NAS_NASCTL_COMMAND_UTIL_H_
