// The nasctl commands. Each returns the process exit code: 0 on success,
// 1 when the controller refused or failed (or `validate` found the spec
// invalid), 2 for a usage error.
#ifndef NAS_NASCTL_COMMANDS_H_
#define NAS_NASCTL_COMMANDS_H_

#include <istream>
#include <memory>
#include <ostream>
#include <string>

#include "nas/v1/search_service.grpc.pb.h"
#include "nasctl/args.h"
#include "nasctl/format.h"

namespace nas::cli {

struct Context {
  std::unique_ptr<nas::v1::SearchService::Stub> stub;
  bool json = false;  // output == kJson
  OutputFormat output = OutputFormat::kTable;
  std::istream* in = nullptr;  // for `submit -` and `validate -`
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
};

// commands.cc: one search at a time.
int Submit(Context& ctx, const Args& args);
int Validate(Context& ctx, const Args& args);
int Describe(Context& ctx, const Args& args);
int Watch(Context& ctx, const Args& args);
int Cancel(Context& ctx, const Args& args);

// commands_list.cc: listings, with paging, filters and sorting.
int Searches(Context& ctx, const Args& args);
int Trials(Context& ctx, const Args& args);
int Best(Context& ctx, const Args& args);

// commands_plot.cc: charts as SVG or PNG files.
int Plot(Context& ctx, const Args& args);

// commands_export.cc: a trained model as a folder.
int Export(Context& ctx, const Args& args);

// Managing searches (commands_manage.cc). SEARCH is an id or a unique name.
int Extend(Context& ctx, const Args& args);
int Delete(Context& ctx, const Args& args);
int Archive(Context& ctx, const Args& args);
int Unarchive(Context& ctx, const Args& args);
int Enqueue(Context& ctx, const Args& args);
// Sets *id from `arg`: a positive id, or the name of exactly one search the
// caller can see. Returns 0, or the exit code after printing why not.
int ResolveSearchId(Context& ctx, const std::string& arg, int64_t* id);

}  // namespace nas::cli

#endif  // NAS_NASCTL_COMMANDS_H_
