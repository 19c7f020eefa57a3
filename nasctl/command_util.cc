#include "nasctl/command_util.h"

#include <chrono>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/spec/spec_yaml.h"
#include "nasctl/format.h"

namespace nas::cli {

void SetDeadline(grpc::ClientContext* context) {
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(30));
}

int Fail(Context& ctx, const grpc::Status& status) {
  *ctx.err << ErrorLine(status.error_code(), status.error_message()) << "\n";
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    *ctx.err << "is nas-controller running? set --controller or "
                "NAS_CONTROLLER; TLS or --plaintext as the controller "
                "serves?\n";
  } else if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
    *ctx.err << "set --token_file or NAS_TOKEN to a client token\n";
  }
  return 1;
}

int Usage(Context& ctx, absl::string_view message) {
  *ctx.err << message << "\n";
  return 2;
}

grpc::Status GetSearch(Context& ctx, int64_t id, nas::v1::Search* search) {
  nas::v1::GetSearchRequest request;
  request.set_search_id(id);
  grpc::ClientContext context;
  SetDeadline(&context);
  return ctx.stub->GetSearch(&context, request, search);
}

grpc::Status ListTrialPages(Context& ctx, nas::v1::ListTrialsRequest request,
                            bool one_page, std::vector<nas::v1::Trial>* trials,
                            std::string* next_page_token) {
  nas::v1::ListTrialsResponse response;
  do {
    if (!response.next_page_token().empty()) {
      request.set_page_token(response.next_page_token());
    }
    response.Clear();
    grpc::ClientContext context;
    SetDeadline(&context);
    grpc::Status status = ctx.stub->ListTrials(&context, request, &response);
    if (!status.ok()) return status;
    trials->insert(trials->end(), response.trials().begin(),
                   response.trials().end());
  } while (!one_page && !response.next_page_token().empty());
  *next_page_token = one_page ? response.next_page_token() : "";
  return grpc::Status::OK;
}

bool SearchIdArg(Context& ctx, const Args& args, int64_t* id) {
  if (args.positional.size() != 1 ||
      !absl::SimpleAtoi(args.positional[0], id) || *id <= 0) {
    *ctx.err << "usage: nasctl " << args.command
             << " SEARCH_ID  (a positive integer; see nasctl searches)\n";
    return false;
  }
  return true;
}

absl::StatusOr<nas::v1::SearchSpec> ReadSpec(const std::string& path,
                                             std::istream& in) {
  if (path != "-") return spec::ParseSearchSpecFile(path);
  // Read one byte past the limit, so that a larger input is refused without
  // being held whole.
  std::string text;
  char buffer[65536];
  while (text.size() <= spec::kMaxSpecBytes &&
         in.read(buffer, sizeof(buffer)).gcount() > 0) {
    text.append(buffer, in.gcount());
  }
  if (text.size() > spec::kMaxSpecBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("<stdin>: larger than ", spec::kMaxSpecBytes,
                     " bytes; is it a search spec?"));
  }
  absl::StatusOr<nas::v1::SearchSpec> spec = spec::ParseSearchSpecYaml(text);
  if (!spec.ok()) {
    return absl::Status(spec.status().code(),
                        absl::StrCat("<stdin>: ", spec.status().message()));
  }
  return spec;
}

}  // namespace nas::cli
