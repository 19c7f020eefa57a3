#include "controller/metrics/rpc_metrics.h"

#include <chrono>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace nas::controller {
namespace {

using grpc::experimental::InterceptionHookPoints;

struct RpcFamilies {
  metrics::Family<metrics::Histogram>& seconds;
  metrics::Family<metrics::Counter>& handled;
};

// "/nas.v1.WorkerService/AcquireTrial" -> {"nas.v1.WorkerService",
// "AcquireTrial"}.
std::pair<std::string, std::string> SplitMethod(absl::string_view full) {
  if (!full.empty() && full.front() == '/') full.remove_prefix(1);
  const size_t slash = full.rfind('/');
  if (slash == absl::string_view::npos) return {"", std::string(full)};
  return {std::string(full.substr(0, slash)),
          std::string(full.substr(slash + 1))};
}

class RpcMetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  RpcMetricsInterceptor(RpcFamilies* families, const char* method)
      : families_(families),
        method_(SplitMethod(method == nullptr ? "" : method)),
        start_(std::chrono::steady_clock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_STATUS)) {
      const double seconds = std::chrono::duration<double>(
                                 std::chrono::steady_clock::now() - start_)
                                 .count();
      const grpc::Status status = methods->GetSendStatus();
      families_->seconds.With({method_.first, method_.second})
          .Observe(seconds);
      // gRPC and absl number their codes alike.
      families_->handled
          .With({method_.first, method_.second,
                 absl::StatusCodeToString(
                     static_cast<absl::StatusCode>(status.error_code()))})
          .Increment();
    }
    methods->Proceed();
  }

 private:
  RpcFamilies* families_;
  const std::pair<std::string, std::string> method_;
  const std::chrono::steady_clock::time_point start_;
};

class RpcMetricsFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcMetricsFactory(metrics::Registry* registry)
      : families_{registry->AddHistogram(
                      "grpc_server_handling_seconds",
                      "Time from the start of a call to its status, by "
                      "method (AcquireTrial includes its wait for work).",
                      {"grpc_service", "grpc_method"},
                      metrics::LatencyBuckets()),
                  registry->AddCounter(
                      "grpc_server_handled_total",
                      "Calls completed, by method and status code.",
                      {"grpc_service", "grpc_method", "grpc_code"})} {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new RpcMetricsInterceptor(&families_, info->method());
  }

 private:
  RpcFamilies families_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeRpcMetricsInterceptorFactory(metrics::Registry* registry) {
  return std::make_unique<RpcMetricsFactory>(registry);
}

}  // namespace nas::controller
