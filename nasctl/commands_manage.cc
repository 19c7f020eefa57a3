// nasctl commands that manage a submitted search: extend, delete, archive,
// unarchive, enqueue. Each takes the search as an id or a unique name.
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "grpcpp/client_context.h"
#include "nasctl/command_util.h"
#include "nasctl/commands.h"
#include "nasctl/format.h"

namespace nas::cli {
namespace {

// "3,0,1" (option indexes) rather than the space's text.
bool IsChoiceList(absl::string_view text) {
  if (text.empty()) return false;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    int value;
    if (!absl::SimpleAtoi(part, &value) || value < 0) return false;
  }
  return true;
}

nas::v1::Architecture ArchitectureArg(absl::string_view text) {
  nas::v1::Architecture arch;
  if (IsChoiceList(text)) {
    for (absl::string_view part : absl::StrSplit(text, ',')) {
      int value = 0;
      (void)absl::SimpleAtoi(part, &value);
      arch.add_choices(value);
    }
  } else {
    arch.set_text(std::string(text));
  }
  return arch;
}

// One architecture per line of `in`; blank lines and lines starting with
// '#' are skipped.
std::vector<nas::v1::Architecture> ReadArchitectures(std::istream& in) {
  std::vector<nas::v1::Architecture> archs;
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view text = absl::StripAsciiWhitespace(line);
    if (text.empty() || text[0] == '#') continue;
    archs.push_back(ArchitectureArg(text));
  }
  return archs;
}

}  // namespace

int ResolveSearchId(Context& ctx, const std::string& arg, int64_t* id) {
  if (absl::SimpleAtoi(arg, id)) {
    if (*id > 0) return 0;
    return Usage(
        ctx, "SEARCH: a positive id or a search's name, not \"" + arg + "\"");
  }
  // The server narrows by substring (archived searches too); the exact
  // name is matched here.
  std::vector<int64_t> matches;
  nas::v1::ListSearchesRequest request;
  request.set_page_size(1000);
  request.set_include_archived(true);
  request.set_name(arg);
  do {
    nas::v1::ListSearchesResponse response;
    grpc::ClientContext context;
    SetDeadline(&context);
    grpc::Status status = ctx.stub->ListSearches(&context, request, &response);
    if (!status.ok()) return Fail(ctx, status);
    for (const nas::v1::Search& s : response.searches()) {
      if (s.spec().name() == arg) matches.push_back(s.id());
    }
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  if (matches.empty()) {
    *ctx.err << "error: no search is named \"" << arg
             << "\"; see nasctl searches\n";
    return 1;
  }
  if (matches.size() > 1) {
    *ctx.err << "error: " << matches.size() << " searches are named \"" << arg
             << "\" (ids " << absl::StrJoin(matches, ", ")
             << "); give the id instead\n";
    return 2;
  }
  *id = matches[0];
  return 0;
}

int Extend(Context& ctx, const Args& args) {
  const char* usage = "usage: nasctl extend SEARCH --max_trials N";
  if (args.positional.size() != 1 || !args.Get("max_trials")) {
    return Usage(ctx, usage);
  }
  absl::StatusOr<int> max_trials = args.GetInt("max_trials", 0, 1, 1 << 30);
  if (!max_trials.ok()) {
    return Usage(ctx, std::string(max_trials.status().message()));
  }
  nas::v1::ExtendSearchRequest request;
  int64_t id;
  if (int rc = ResolveSearchId(ctx, args.positional[0], &id); rc != 0) {
    return rc;
  }
  request.set_search_id(id);
  request.set_max_trials(*max_trials);
  nas::v1::Search search;
  grpc::ClientContext context;
  SetDeadline(&context);
  grpc::Status status = ctx.stub->ExtendSearch(&context, request, &search);
  if (!status.ok()) return Fail(ctx, status);
  if (ctx.json) {
    PrintJson(search, *ctx.out);
  } else {
    *ctx.out << "search " << id << " " << StateName(search.state())
             << ", max_trials " << search.spec().budget().max_trials() << "\n";
  }
  return 0;
}

int Delete(Context& ctx, const Args& args) {
  if (args.positional.size() != 1) {
    return Usage(ctx, "usage: nasctl delete SEARCH [--force]");
  }
  nas::v1::DeleteSearchRequest request;
  int64_t id;
  if (int rc = ResolveSearchId(ctx, args.positional[0], &id); rc != 0) {
    return rc;
  }
  request.set_search_id(id);
  request.set_force(args.Get("force").has_value());
  nas::v1::DeleteSearchResponse response;
  grpc::ClientContext context;
  SetDeadline(&context);
  grpc::Status status = ctx.stub->DeleteSearch(&context, request, &response);
  if (!status.ok()) return Fail(ctx, status);
  if (ctx.json) {
    PrintJson(response, *ctx.out);
  } else {
    *ctx.out << "deleted search " << id << " and its "
             << response.deleted_trials() << " trials\n";
  }
  return 0;
}

namespace {

int SetArchived(Context& ctx, const Args& args, bool archived) {
  if (args.positional.size() != 1) {
    return Usage(ctx, std::string("usage: nasctl ") + args.command + " SEARCH");
  }
  nas::v1::ArchiveSearchRequest request;
  int64_t id;
  if (int rc = ResolveSearchId(ctx, args.positional[0], &id); rc != 0) {
    return rc;
  }
  request.set_search_id(id);
  request.set_archived(archived);
  nas::v1::Search search;
  grpc::ClientContext context;
  SetDeadline(&context);
  grpc::Status status = ctx.stub->ArchiveSearch(&context, request, &search);
  if (!status.ok()) return Fail(ctx, status);
  if (ctx.json) {
    PrintJson(search, *ctx.out);
  } else {
    *ctx.out << "search " << id << (archived ? " archived" : " unarchived")
             << "\n";
  }
  return 0;
}

}  // namespace

int Archive(Context& ctx, const Args& args) {
  return SetArchived(ctx, args, true);
}

int Unarchive(Context& ctx, const Args& args) {
  return SetArchived(ctx, args, false);
}

int Enqueue(Context& ctx, const Args& args) {
  const char* usage =
      "usage: nasctl enqueue SEARCH ARCH... | --file FILE  (ARCH: the "
      "space's text, quoted, or choices like 3,0,1,2,0,4)";
  const std::optional<std::string> file = args.Get("file");
  if (args.positional.empty() || (args.positional.size() == 1) != !!file) {
    return Usage(ctx, usage);
  }
  nas::v1::EnqueueTrialsRequest request;
  if (file) {
    std::vector<nas::v1::Architecture> archs;
    if (*file == "-") {
      archs = ReadArchitectures(*ctx.in);
    } else {
      std::ifstream in(*file);
      if (!in) return Usage(ctx, "--file: cannot read " + *file);
      archs = ReadArchitectures(in);
    }
    if (archs.empty())
      return Usage(ctx, "--file: no architectures in " + *file);
    for (nas::v1::Architecture& a : archs) {
      *request.add_architectures() = std::move(a);
    }
  } else {
    for (size_t i = 1; i < args.positional.size(); ++i) {
      *request.add_architectures() = ArchitectureArg(args.positional[i]);
    }
  }
  int64_t id;
  if (int rc = ResolveSearchId(ctx, args.positional[0], &id); rc != 0) {
    return rc;
  }
  request.set_search_id(id);
  nas::v1::EnqueueTrialsResponse response;
  grpc::ClientContext context;
  SetDeadline(&context);
  grpc::Status status = ctx.stub->EnqueueTrials(&context, request, &response);
  if (!status.ok()) return Fail(ctx, status);
  if (ctx.json) {
    PrintJson(response, *ctx.out);
  } else {
    for (const nas::v1::Trial& t : response.trials()) {
      *ctx.out << "trial #" << t.number()
               << " pending: " << t.architecture().text() << "\n";
    }
  }
  return 0;
}

}  // namespace nas::cli
