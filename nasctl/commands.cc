#include "nasctl/commands.h"

#include <unistd.h>

#include <chrono>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "common/spec/spec_yaml.h"
#include "grpcpp/client_context.h"
#include "nasctl/format.h"

namespace nas::cli {
namespace {

constexpr auto kCallTimeout = std::chrono::seconds(30);

void SetDeadline(grpc::ClientContext* context) {
  context->set_deadline(std::chrono::system_clock::now() + kCallTimeout);
}

int Fail(Context& ctx, const grpc::Status& status) {
  *ctx.err << "error (" << status.error_code() << "): "
           << status.error_message() << "\n";
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    *ctx.err << "is nas-controller running? set --controller or "
                "NAS_CONTROLLER; TLS or --plaintext as the controller "
                "serves?\n";
  } else if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
    *ctx.err << "set --token_file or NAS_TOKEN to a client token\n";
  }
  return 1;
}

int Usage(Context& ctx, const std::string& message) {
  *ctx.err << message << "\n";
  return 2;
}

// The single positional search id of commands like `best 3`.
bool SearchIdArg(Context& ctx, const Args& args, int64_t* id) {
  if (args.positional.size() != 1 ||
      !absl::SimpleAtoi(args.positional[0], id) || *id <= 0) {
    *ctx.err << "usage: nasctl " << args.command
             << " SEARCH_ID  (a positive integer; see nasctl searches)\n";
    return false;
  }
  return true;
}

absl::StatusOr<nas::v1::TrialState> ParseTrialState(std::string name) {
  name = absl::AsciiStrToUpper(name);
  nas::v1::TrialState state;
  if (!nas::v1::TrialState_Parse("TRIAL_STATE_" + name, &state) ||
      state == nas::v1::TRIAL_STATE_UNSPECIFIED) {
    return absl::InvalidArgumentError(
        "--state: expected pending, running, completed, failed, stopped or "
        "cancelled, got \"" + name + "\"");
  }
  return state;
}

std::string ProgressBar(const nas::v1::Search& search, int width) {
  const nas::v1::TrialCounts& c = search.counts();
  const int done = c.completed() + c.failed() + c.stopped() + c.cancelled();
  const int total = std::max(1, search.spec().budget().max_trials());
  const int filled = std::min(width, done * width / total);
  return "[" + std::string(filled, '#') + std::string(width - filled, '-') +
         "] " + absl::StrFormat("%d/%d", done, total);
}

}  // namespace

int Submit(Context& ctx, const Args& args) {
  if (args.positional.size() != 1) {
    return Usage(ctx, "usage: nasctl submit SPEC.yaml [--watch]");
  }
  absl::StatusOr<nas::v1::SearchSpec> spec =
      spec::ParseSearchSpecFile(args.positional[0]);
  if (!spec.ok()) {
    // The message already starts with the file's path.
    *ctx.err << spec.status().message() << "\n";
    return 2;
  }
  nas::v1::CreateSearchRequest request;
  *request.mutable_spec() = *spec;
  nas::v1::Search search;
  grpc::ClientContext context;
  SetDeadline(&context);
  grpc::Status status = ctx.stub->CreateSearch(&context, request, &search);
  if (!status.ok()) return Fail(ctx, status);
  if (ctx.json) {
    PrintJson(search, *ctx.out);
  } else {
    *ctx.out << "created search " << search.id() << " (" << search.spec().name()
             << ")\n";
  }
  if (args.Get("watch")) {
    Args watch = args;
    watch.command = "watch";
    watch.positional = {std::to_string(search.id())};
    return Watch(ctx, watch);
  }
  return 0;
}

int Watch(Context& ctx, const Args& args) {
  int64_t id;
  if (!SearchIdArg(ctx, args, &id)) return 2;
  nas::v1::WatchSearchRequest request;
  request.set_search_id(id);
  grpc::ClientContext context;
  auto reader = ctx.stub->WatchSearch(&context, request);
  const bool live = !ctx.json && isatty(STDOUT_FILENO);
  nas::v1::SearchEvent event;
  std::string best_line = "best: -";
  auto describe_best = [&](const nas::v1::Trial& t) {
    best_line = absl::StrFormat("best: #%d val %s test %s", t.number(),
                                Percent(t.metrics().val_accuracy()),
                                Percent(t.metrics().test_accuracy()));
  };
  nas::v1::Search last;
  while (reader->Read(&event)) {
    last = event.search();
    if (ctx.json) {
      PrintJson(event, *ctx.out);
      continue;
    }
    std::string line;
    switch (event.event_case()) {
      case nas::v1::SearchEvent::kSnapshot:
        if (event.snapshot().has_best_trial()) {
          describe_best(event.snapshot().best_trial());
        }
        line = absl::StrFormat("search %d (%s): %s", id,
                               event.search().spec().name(),
                               StateName(event.search().state()));
        break;
      case nas::v1::SearchEvent::kTrialStarted:
        line = absl::StrFormat("trial #%d started: %s",
                               event.trial_started().number(),
                               event.trial_started().architecture().text());
        break;
      case nas::v1::SearchEvent::kEpochReported: {
        const auto& e = event.epoch_reported();
        line = absl::StrFormat("trial #%d epoch %d: val %s loss %.4f (%.1fs)",
                               e.trial_number(), e.metrics().epoch(),
                               Percent(e.metrics().val_accuracy()),
                               e.metrics().train_loss(), e.metrics().seconds());
        break;
      }
      case nas::v1::SearchEvent::kTrialFinished: {
        const nas::v1::Trial& t = event.trial_finished();
        line = absl::StrFormat(
            "trial #%d %s: val %s test %s params %s", t.number(),
            StateName(t.state()), Percent(t.metrics().val_accuracy()),
            Percent(t.metrics().test_accuracy()),
            HumanCount(t.metrics().params()));
        break;
      }
      case nas::v1::SearchEvent::kSearchDone:
        if (event.search_done().has_best_trial()) {
          describe_best(event.search_done().best_trial());
        }
        line = absl::StrFormat("search %d %s", id,
                               StateName(event.search().state()));
        break;
      default:
        break;
    }
    if (event.has_trial_finished() &&
        event.trial_finished().state() == nas::v1::TRIAL_STATE_COMPLETED) {
      // The finished trial may be the new best; the controller's ranking is
      // authoritative, so ask rather than compare here.
      nas::v1::GetBestTrialsRequest best_request;
      best_request.set_search_id(id);
      best_request.set_k(1);
      nas::v1::GetBestTrialsResponse best;
      grpc::ClientContext best_context;
      SetDeadline(&best_context);
      if (ctx.stub->GetBestTrials(&best_context, best_request, &best).ok() &&
          best.trials_size() > 0) {
        describe_best(best.trials(0));
      }
    }
    const std::string bar = ProgressBar(event.search(), 30) + "  running " +
                            std::to_string(event.search().counts().running()) +
                            "  " + best_line;
    if (live) {
      *ctx.out << "\r\033[K" << line << "\n" << bar << std::flush;
    } else {
      *ctx.out << line << "  |  " << bar << "\n";
    }
  }
  if (live) *ctx.out << "\n";
  grpc::Status status = reader->Finish();
  if (!status.ok()) return Fail(ctx, status);
  return 0;
}

int Searches(Context& ctx, const Args& args) {
  absl::StatusOr<int> limit = args.GetInt("limit", 50, 1, 1000);
  if (!limit.ok()) return Usage(ctx, std::string(limit.status().message()));
  nas::v1::ListSearchesRequest request;
  request.set_page_size(*limit);
  request.set_include_archived(args.Get("all").has_value());
  nas::v1::ListSearchesResponse response;
  grpc::ClientContext context;
  SetDeadline(&context);
  grpc::Status status = ctx.stub->ListSearches(&context, request, &response);
  if (!status.ok()) return Fail(ctx, status);
  if (ctx.json) {
    PrintJson(response, *ctx.out);
  } else {
    PrintSearches({response.searches().begin(), response.searches().end()},
                  *ctx.out);
  }
  return 0;
}

int Trials(Context& ctx, const Args& args) {
  int64_t id;
  if (!SearchIdArg(ctx, args, &id)) return 2;
  nas::v1::ListTrialsRequest request;
  request.set_search_id(id);
  if (auto state_name = args.Get("state")) {
    absl::StatusOr<nas::v1::TrialState> state = ParseTrialState(*state_name);
    if (!state.ok()) return Usage(ctx, std::string(state.status().message()));
    request.add_states(*state);
  }
  request.set_page_size(1000);
  std::vector<nas::v1::Trial> trials;
  nas::v1::ListTrialsResponse response;
  do {
    request.set_page_token(response.next_page_token());
    response.Clear();
    grpc::ClientContext context;
    SetDeadline(&context);
    grpc::Status status = ctx.stub->ListTrials(&context, request, &response);
    if (!status.ok()) return Fail(ctx, status);
    trials.insert(trials.end(), response.trials().begin(),
                  response.trials().end());
  } while (!response.next_page_token().empty());
  if (ctx.json) {
    nas::v1::ListTrialsResponse all;
    for (auto& t : trials) *all.add_trials() = t;
    PrintJson(all, *ctx.out);
  } else {
    PrintTrials(trials, *ctx.out);
  }
  return 0;
}

int Best(Context& ctx, const Args& args) {
  int64_t id;
  if (!SearchIdArg(ctx, args, &id)) return 2;
  absl::StatusOr<int> k = args.GetInt("k", 5, 1, 1000);
  if (!k.ok()) return Usage(ctx, std::string(k.status().message()));
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
  if (response.pareto_front()) {
    nas::v1::GetSearchRequest get;
    get.set_search_id(id);
    nas::v1::Search search;
    grpc::ClientContext get_context;
    SetDeadline(&get_context);
    grpc::Status got = ctx.stub->GetSearch(&get_context, get, &search);
    if (!got.ok()) return Fail(ctx, got);
    spec = search.spec();
  }
  PrintBestTrials(spec, response, *ctx.out);
  return 0;
}

int Cancel(Context& ctx, const Args& args) {
  int64_t id;
  if (!SearchIdArg(ctx, args, &id)) return 2;
  nas::v1::CancelSearchRequest request;
  request.set_search_id(id);
  nas::v1::Search search;
  grpc::ClientContext context;
  SetDeadline(&context);
  grpc::Status status = ctx.stub->CancelSearch(&context, request, &search);
  if (!status.ok()) return Fail(ctx, status);
  if (ctx.json) {
    PrintJson(search, *ctx.out);
  } else {
    *ctx.out << "search " << id << " " << StateName(search.state()) << "\n";
  }
  return 0;
}

}  // namespace nas::cli
