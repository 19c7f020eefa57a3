#include "nasctl/commands.h"

#include <unistd.h>

#include <algorithm>
#include <iostream>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/spec/spec_validation.h"
#include "grpcpp/client_context.h"
#include "nasctl/command_util.h"
#include "nasctl/format.h"

namespace nas::cli {
namespace {

std::string ProgressBar(const nas::v1::Search& search, int width) {
  const nas::v1::TrialCounts& c = search.counts();
  const int done = c.completed() + c.failed() + c.stopped() + c.cancelled();
  const int total = std::max(1, PlannedTrials(search));
  const int filled = std::min(width, done * width / total);
  return "[" + std::string(filled, '#') + std::string(width - filled, '-') +
         "] " + absl::StrFormat("%d/%d", done, total);
}

// " [shard]" etc. for the kinds of weight sharing; "" for TRAIN.
std::string KindTag(nas::v1::TrialKind kind) {
  const std::string name = KindName(kind);
  return name.empty() ? "" : " [" + name + "]";
}

// " (why)" when the search has a state_reason, else "".
std::string ReasonSuffix(const nas::v1::Search& search) {
  return search.state_reason().empty() ? ""
                                       : " (" + search.state_reason() + ")";
}

}  // namespace

int Submit(Context& ctx, const Args& args) {
  if (args.positional.size() != 1) {
    return Usage(ctx, "usage: nasctl submit SPEC.yaml|- [--watch]");
  }
  absl::StatusOr<nas::v1::SearchSpec> spec =
      ReadSpec(args.positional[0], *ctx.in);
  if (!spec.ok()) {
    // The message already starts with the file's path.
    return Usage(ctx, spec.status().message());
  }
  nas::v1::CreateSearchRequest request;
  *request.mutable_spec() = *spec;
  nas::v1::Search search;
  grpc::ClientContext context;
  SetDeadline(&context);
  grpc::Status status = ctx.stub->CreateSearch(&context, request, &search);
  if (!status.ok()) return Fail(ctx, status);
  // On stderr, so that -o json stays parseable (the JSON has them too).
  for (const std::string& warning : search.warnings()) {
    *ctx.err << "warning: " << warning << "\n";
  }
  if (ctx.json) {
    PrintJson(search, *ctx.out);
  } else {
    *ctx.out << "created search " << search.id() << " (" << search.spec().name()
             << ")" << std::endl;
  }
  if (args.Get("watch")) {
    Args watch = args;
    watch.command = "watch";
    watch.positional = {std::to_string(search.id())};
    return Watch(ctx, watch);
  }
  return 0;
}

int Validate(Context& ctx, const Args& args) {
  if (args.positional.size() != 1) {
    return Usage(ctx, "usage: nasctl validate SPEC.yaml|-");
  }
  const std::string& path = args.positional[0];
  // The local parse knows the YAML's line numbers; the controller then runs
  // the checks only it can (search space, strategy options).
  absl::StatusOr<nas::v1::SearchSpec> spec = ReadSpec(path, *ctx.in);
  if (!spec.ok()) {
    *ctx.err << spec.status().message() << "\n";
    return 1;
  }
  nas::v1::ValidateSearchRequest request;
  *request.mutable_spec() = *spec;
  nas::v1::ValidateSearchResponse response;
  grpc::ClientContext context;
  SetDeadline(&context);
  grpc::Status status = ctx.stub->ValidateSearch(&context, request, &response);
  if (!status.ok()) return Fail(ctx, status);
  if (ctx.json) {
    PrintJson(response, *ctx.out, /*with_defaults=*/true);
  } else {
    *ctx.out << (path == "-" ? "<stdin>" : path) << ": valid: search \""
             << response.spec().name() << "\", up to "
             << response.spec().budget().max_trials()
             << " trials; nothing was stored\n";
  }
  for (const std::string& warning : response.warnings()) {
    *ctx.err << "warning: " << warning << "\n";
  }
  return 0;
}

int Describe(Context& ctx, const Args& args) {
  int64_t id;
  if (!SearchIdArg(ctx, args, &id)) return 2;
  nas::v1::Search search;
  if (grpc::Status s = GetSearch(ctx, id, &search); !s.ok()) {
    return Fail(ctx, s);
  }
  // The controller stores specs with defaults applied; applying them again
  // (idempotent) also fills in defaults added after the search was made.
  spec::ApplySpecDefaults(search.mutable_spec());
  if (ctx.json) {
    PrintJson(search, *ctx.out, /*with_defaults=*/true);
  } else {
    PrintSearchDetails(search, *ctx.out);
  }
  return 0;
}

int Watch(Context& ctx, const Args& args) {
  int64_t id;
  if (!SearchIdArg(ctx, args, &id)) return 2;
  nas::v1::WatchSearchRequest request;
  request.set_search_id(id);
  grpc::ClientContext context;
  // Several events to a message: a fleet at full speed sends thousands a
  // second.
  auto reader = ctx.stub->WatchSearchBatched(&context, request);
  // On a terminal the progress bar is redrawn in place; into a pipe or a
  // file each event is one line, flushed at once, so `watch | grep` and log
  // files follow the search as it runs.
  const bool live = !ctx.json && ctx.out == &std::cout && isatty(STDOUT_FILENO);
  std::string best_line = "best: -";
  // When the best was last asked for (see below).
  absl::Time best_asked = absl::InfinitePast();
  std::string last_reason;
  auto describe_best = [&](const nas::v1::Trial& t) {
    best_line = absl::StrFormat("best: #%d val %s test %s", t.number(),
                                Percent(t.metrics().val_accuracy()),
                                Percent(t.metrics().test_accuracy()));
  };
  auto show = [&](const nas::v1::SearchEvent& event) {
    if (ctx.json) {
      PrintJson(event, *ctx.out);
      return;
    }
    std::string line;
    switch (event.event_case()) {
      case nas::v1::SearchEvent::kSnapshot:
        if (event.snapshot().has_best_trial()) {
          describe_best(event.snapshot().best_trial());
        }
        line = absl::StrFormat(
            "search %d (%s): %s%s", id, event.search().spec().name(),
            StateName(event.search().state()), ReasonSuffix(event.search()));
        break;
      case nas::v1::SearchEvent::kTrialStarted:
        line = absl::StrFormat("trial #%d%s started: %s",
                               event.trial_started().number(),
                               KindTag(event.trial_started().kind()),
                               TrialSubject(event.trial_started()));
        break;
      case nas::v1::SearchEvent::kEpochReported: {
        const auto& e = event.epoch_reported();
        line = absl::StrFormat("trial #%d epoch %d: val %s loss %.4f (%.1fs)",
                               e.trial_number(), e.metrics().epoch(),
                               Percent(e.metrics().val_accuracy()),
                               e.metrics().train_loss(), e.metrics().seconds());
        if (e.promoted()) {
          line += absl::StrFormat(", promoted past rung %d", e.rung());
        }
        break;
      }
      case nas::v1::SearchEvent::kTrialFinished: {
        line = TrialEndedLine(event.trial_finished());
        break;
      }
      case nas::v1::SearchEvent::kSearchDone:
        if (event.search_done().has_best_trial()) {
          describe_best(event.search_done().best_trial());
        }
        line = absl::StrFormat("search %d %s%s", id,
                               StateName(event.search().state()),
                               ReasonSuffix(event.search()));
        break;
      default:
        break;
    }
    // A reason that appears while the search runs ("no progress: ...")
    // gets a line of its own; snapshot and done lines carry it already.
    const std::string& reason = event.search().state_reason();
    if (reason != last_reason && !event.has_snapshot() &&
        !event.has_search_done() && !reason.empty()) {
      line += absl::StrFormat("\nsearch %d: %s", id, reason);
    }
    last_reason = reason;
    if (event.has_trial_finished() &&
        event.trial_finished().state() == nas::v1::TRIAL_STATE_COMPLETED &&
        absl::Now() - best_asked >= absl::Seconds(1)) {
      // The finished trial may be the new best; the controller's ranking is
      // authoritative, so ask rather than compare here. At most once a
      // second: a fleet at full speed completes hundreds of trials a second,
      // and search_done names the final best anyway.
      best_asked = absl::Now();
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
    const std::string phase = PhaseText(event.search());
    const std::string bar = ProgressBar(event.search(), 30) + "  running " +
                            std::to_string(event.search().counts().running()) +
                            (phase.empty() ? "" : "  " + phase) + "  " +
                            best_line;
    if (live) {
      *ctx.out << "\r\033[K" << line << "\n" << bar << std::flush;
    } else {
      // std::endl flushes: stdout is block-buffered when not a terminal.
      *ctx.out << line << "  |  " << bar << std::endl;
    }
  };
  nas::v1::SearchEventBatch batch;
  // Trial and epoch events carry the search without its spec; the
  // snapshot's is lent to each (swapped in and out, not copied).
  nas::v1::SearchSpec spec;
  while (reader->Read(&batch)) {
    for (nas::v1::SearchEvent& event : *batch.mutable_events()) {
      if (ctx.json || event.search().has_spec()) {
        if (event.search().has_spec()) spec = event.search().spec();
        show(event);
        continue;
      }
      event.mutable_search()->mutable_spec()->Swap(&spec);
      show(event);
      event.mutable_search()->mutable_spec()->Swap(&spec);
    }
  }
  if (live) *ctx.out << "\n";
  grpc::Status status = reader->Finish();
  if (!status.ok()) return Fail(ctx, status);
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
  // On stderr, so that -o json stays parseable (the JSON has them too).
  for (const std::string& warning : search.warnings()) {
    *ctx.err << "warning: " << warning << "\n";
  }
  if (ctx.json) {
    PrintJson(search, *ctx.out);
  } else {
    *ctx.out << "search " << id << " " << StateName(search.state()) << "\n";
  }
  return 0;
}

}  // namespace nas::cli
