// A gRPC server interceptor that times every call and counts it by status
// code, under the series names of go-grpc-prometheus
// (grpc_server_handling_seconds, grpc_server_handled_total), so existing
// Grafana dashboards for gRPC servers read them as they are.
#ifndef NAS_CONTROLLER_METRICS_RPC_METRICS_H_
#define NAS_CONTROLLER_METRICS_RPC_METRICS_H_

#include <memory>

#include "common/metrics/metrics.h"
#include "grpcpp/support/server_interceptor.h"

namespace nas::controller {

// For ServerBuilder::experimental().SetInterceptorCreators. `registry` must
// outlive the server.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeRpcMetricsInterceptorFactory(metrics::Registry* registry);

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_METRICS_RPC_METRICS_H_
