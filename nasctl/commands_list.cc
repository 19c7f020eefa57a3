// nasctl searches, trials and best: listings with paging, filters, sorting
// and the three output formats.
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "grpcpp/client_context.h"
#include "nasctl/command_util.h"
#include "nasctl/commands.h"
#include "nasctl/format.h"
#include "nasctl/trial_sort.h"

namespace nas::cli {
namespace {


// "--state running,failed" -> {RUNNING, FAILED} for an enum whose values are
// PREFIX + NAME (SEARCH_STATE_RUNNING, TRIAL_STATE_FAILED).
template <typename State>
absl::StatusOr<std::vector<State>> ParseStates(
    const std::string& text, const std::string& prefix,
    bool (*parse)(const std::string&, State*),
    const std::vector<std::string>& names) {
  std::vector<State> states;
  for (absl::string_view word : absl::StrSplit(text, ',')) {
    State state;
    const std::string name = absl::AsciiStrToUpper(word);
    if (!parse(prefix + name, &state) || static_cast<int>(state) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--state: expected ", absl::StrJoin(names, ", "),
                       " (several separated by commas), got \"", word, "\""));
    }
    states.push_back(state);
  }
  return states;
}

// Tells people (on stderr, so that -o csv stays one table) how to get the
// next page.
void PrintNextPageHint(Context& ctx, const std::string& token) {
  if (token.empty() || ctx.json) return;
  *ctx.err << "more: add --page_token " << token << " for the next page\n";
}

}  // namespace

int Searches(Context& ctx, const Args& args) {
  if (!args.positional.empty()) {
    return Usage(ctx,
                 "usage: nasctl searches [--state S[,S...]] [--name "
                 "TEXT] [--limit N] [--page_token T] [--all]");
  }
  absl::StatusOr<int> limit = args.GetInt("limit", 50, 1, kMaxPageSize);
  if (!limit.ok()) return Usage(ctx, limit.status().message());
  nas::v1::ListSearchesRequest request;
  request.set_page_size(*limit);
  request.set_include_archived(args.Get("all").has_value());
  request.set_page_token(args.Get("page_token").value_or(""));
  request.set_name(args.Get("name").value_or(""));
  if (auto text = args.Get("state")) {
    auto states = ParseStates<nas::v1::SearchState>(
        *text, "SEARCH_STATE_", nas::v1::SearchState_Parse,
        {"running", "completed", "cancelled", "failed"});
    if (!states.ok()) return Usage(ctx, states.status().message());
    for (nas::v1::SearchState state : *states) request.add_states(state);
  }
  nas::v1::ListSearchesResponse response;
  grpc::ClientContext context;
  SetDeadline(&context);
  grpc::Status status = ctx.stub->ListSearches(&context, request, &response);
  if (!status.ok()) return Fail(ctx, status);
  if (ctx.json) {
    PrintJson(response, *ctx.out);
  } else {
    PrintSearches({response.searches().begin(), response.searches().end()},
                  *ctx.out, ctx.output);
  }
  PrintNextPageHint(ctx, response.next_page_token());
  return 0;
}

int Trials(Context& ctx, const Args& args) {
  int64_t id;
  if (!SearchIdArg(ctx, args, &id)) return 2;
  nas::v1::ListTrialsRequest request;
  request.set_search_id(id);
  if (auto text = args.Get("state")) {
    auto states = ParseStates<nas::v1::TrialState>(
        *text, "TRIAL_STATE_", nas::v1::TrialState_Parse,
        {"pending", "running", "completed", "failed", "stopped", "cancelled"});
    if (!states.ok()) return Usage(ctx, states.status().message());
    for (nas::v1::TrialState state : *states) request.add_states(state);
  }
  absl::StatusOr<int> limit = args.GetInt("limit", 0, 1, kMaxPageSize);
  if (!limit.ok()) return Usage(ctx, limit.status().message());
  std::optional<TrialOrder> order;
  if (auto text = args.Get("sort")) {
    absl::StatusOr<TrialOrder> parsed = ParseTrialOrder(*text);
    if (!parsed.ok()) return Usage(ctx, parsed.status().message());
    order = *parsed;
    if (args.Get("page_token")) {
      return Usage(ctx,
                   "--sort orders all the search's trials, so it does not "
                   "page: drop --page_token (--limit N keeps the first N)");
    }
  }
  // One page when asked for a page (and not sorting, which needs them all);
  // otherwise every page.
  const bool one_page = (*limit > 0 || args.Get("page_token")) && !order;
  request.set_page_size(one_page && *limit > 0 ? *limit : kMaxPageSize);
  request.set_page_token(args.Get("page_token").value_or(""));
  std::vector<nas::v1::Trial> trials;
  std::string next_page_token;
  if (grpc::Status s =
          ListTrialPages(ctx, request, one_page, &trials, &next_page_token);
      !s.ok()) {
    return Fail(ctx, s);
  }
  if (order) {
    SortTrials(*order, &trials);
    if (*limit > 0 && static_cast<int>(trials.size()) > *limit) {
      trials.resize(*limit);
    }
  }
  if (ctx.json) {
    nas::v1::ListTrialsResponse all;
    for (auto& t : trials) *all.add_trials() = t;
    all.set_next_page_token(next_page_token);
    PrintJson(all, *ctx.out);
  } else {
    PrintTrials(trials, *ctx.out, ctx.output);
  }
  PrintNextPageHint(ctx, next_page_token);
  return 0;
}

int Best(Context& ctx, const Args& args) {
  int64_t id;
  if (!SearchIdArg(ctx, args, &id)) return 2;
  absl::StatusOr<int> k = args.GetInt("k", 5, 1, kMaxPageSize);
  if (!k.ok()) return Usage(ctx, k.status().message());
  nas::v1::GetBestTrialsRequest request;
  request.set_search_id(id);
  request.set_k(*k);
  nas::v1::GetBestTrialsResponse response;
  grpc::ClientContext context;
  SetDeadline(&context);
  grpc::Status status = ctx.stub->GetBestTrials(&context, request, &response);
  if (!status.ok()) return Fail(ctx, status);
  if (ctx.json) {
    PrintJson(response, *ctx.out);
    return 0;
  }
  // The columns of a front name the search's objectives.
  nas::v1::SearchSpec spec;
  if (response.pareto_front() && ctx.output == OutputFormat::kTable) {
    nas::v1::Search search;
    if (grpc::Status s = GetSearch(ctx, id, &search); !s.ok()) {
      return Fail(ctx, s);
    }
    spec = search.spec();
  }
  PrintBestTrials(spec, response, *ctx.out, ctx.output);
  return 0;
}

}  // namespace nas::cli
