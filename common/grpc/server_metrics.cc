#include "common/grpc/server_metrics.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/grpc/status_mapping.h"

namespace berth::grpc_util {
namespace {

using ::grpc::experimental::InterceptionHookPoints;

// Lives for the duration of one call; records it when the call is destroyed so cancelled
// calls (no status sent) are counted too.
class MetricsInterceptor : public ::grpc::experimental::Interceptor {
 public:
  MetricsInterceptor(::grpc::experimental::ServerRpcInfo* info, GrpcServerMetrics* metrics)
      : method_(info->method()), metrics_(metrics), start_(absl::Now()) {}

  ~MetricsInterceptor() override {
    metrics_->Record(method_, code_, absl::ToDoubleSeconds(absl::Now() - start_));
  }

  void Intercept(::grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      code_ = methods->GetSendStatus().error_code();
    }
    methods->Proceed();
  }

 private:
  const char* method_;
  GrpcServerMetrics* metrics_;
  absl::Time start_;
  ::grpc::StatusCode code_ = ::grpc::StatusCode::CANCELLED;
};

class MetricsInterceptorFactory
    : public ::grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsInterceptorFactory(GrpcServerMetrics* metrics) : metrics_(metrics) {}
  ::grpc::experimental::Interceptor* CreateServerInterceptor(
      ::grpc::experimental::ServerRpcInfo* info) override {
    return new MetricsInterceptor(info, metrics_);
  }

 private:
  GrpcServerMetrics* metrics_;
};

const char* CodeName(::grpc::StatusCode code) {
  switch (code) {
    case ::grpc::StatusCode::OK: return "OK";
    case ::grpc::StatusCode::CANCELLED: return "CANCELLED";
    case ::grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case ::grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case ::grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case ::grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case ::grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case ::grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case ::grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case ::grpc::StatusCode::ABORTED: return "ABORTED";
    case ::grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case ::grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case ::grpc::StatusCode::INTERNAL: return "INTERNAL";
    case ::grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case ::grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case ::grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN";
  }
}

}  // namespace

GrpcServerMetrics::GrpcServerMetrics(prometheus::Family<prometheus::Counter>& requests,
                                     prometheus::Family<prometheus::Histogram>& durations)
    : requests_(requests), durations_(durations) {}

std::unique_ptr<GrpcServerMetrics> GrpcServerMetrics::Register(prometheus::Registry& registry,
                                                             absl::string_view daemon) {
  auto& requests = prometheus::BuildCounter()
                       .Name(absl::StrCat("berth_", daemon, "_grpc_requests_total"))
                       .Help("gRPC calls finished, by full method name and status code.")
                       .Register(registry);
  auto& durations = prometheus::BuildHistogram()
                        .Name(absl::StrCat("berth_", daemon, "_grpc_request_duration_seconds"))
                        .Help("Time from receiving a gRPC call to its end, by method.")
                        .Register(registry);
  return std::make_unique<GrpcServerMetrics>(requests, durations);
}

std::unique_ptr<::grpc::experimental::ServerInterceptorFactoryInterface>
GrpcServerMetrics::NewInterceptorFactory() {
  return std::make_unique<MetricsInterceptorFactory>(this);
}

void GrpcServerMetrics::Record(const char* method, ::grpc::StatusCode code, double seconds) {
  const std::string m = method != nullptr ? method : "unknown";
  requests_.Add({{"method", m}, {"code", CodeName(code)}}).Increment();
  static const auto* kBuckets = new prometheus::Histogram::BucketBoundaries{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
  durations_.Add({{"method", m}}, *kBuckets).Observe(seconds);
}

}  // namespace berth::grpc_util
