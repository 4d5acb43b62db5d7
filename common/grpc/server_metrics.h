// Per-RPC Prometheus metrics for a gRPC server, recorded by a server interceptor so services
// need no code of their own: a counter of finished calls by method and status code and a
// latency histogram by method.
#pragma once

#include <memory>

#include <grpcpp/support/server_interceptor.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "absl/strings/string_view.h"

namespace berth::grpc_util {

class GrpcServerMetrics {
 public:
  // Families are owned by the daemon's registry (see each daemon's metrics.h). Expected
  // names: berth_<daemon>_grpc_requests_total and berth_<daemon>_grpc_request_duration_seconds.
  GrpcServerMetrics(prometheus::Family<prometheus::Counter>& requests,
                    prometheus::Family<prometheus::Histogram>& durations);

  // Registers berth_<daemon>_grpc_requests_total and
  // berth_<daemon>_grpc_request_duration_seconds in `registry` and returns metrics over them.
  static std::unique_ptr<GrpcServerMetrics> Register(prometheus::Registry& registry,
                                                     absl::string_view daemon);

  std::unique_ptr<::grpc::experimental::ServerInterceptorFactoryInterface>
  NewInterceptorFactory();

  // Records one finished call. Thread-safe.
  void Record(const char* method, ::grpc::StatusCode code, double seconds);

 private:
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& durations_;
};

}  // namespace berth::grpc_util
