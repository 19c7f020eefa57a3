// The nasctl commands. Each returns the process exit code: 0 on success,
// 1 when the controller refused or failed, 2 for a usage error.
#ifndef NAS_NASCTL_COMMANDS_H_
#define NAS_NASCTL_COMMANDS_H_

#include <memory>
#include <ostream>

#include "nas/v1/search_service.grpc.pb.h"
#include "nasctl/args.h"

namespace nas::cli {

struct Context {
  std::unique_ptr<nas::v1::SearchService::Stub> stub;
  bool json = false;
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
};

int Submit(Context& ctx, const Args& args);
int Watch(Context& ctx, const Args& args);
int Searches(Context& ctx, const Args& args);
int Trials(Context& ctx, const Args& args);
int Best(Context& ctx, const Args& args);
int Cancel(Context& ctx, const Args& args);

}  // namespace nas::cli

#endif  // NAS_NASCTL_COMMANDS_H_
