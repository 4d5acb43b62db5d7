#include "common/grpc/probe.h"

#include <grpcpp/client_context.h>
#include <grpcpp/impl/codegen/client_unary_call.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/impl/codegen/rpc_method.h>
#include <grpcpp/impl/codegen/sync_stream.h>

#include "absl/strings/str_cat.h"
#include "berth/internal/probe/v1/probe.pb.h"
#include "common/grpc/status_mapping.h"

namespace berth::grpc_util {
namespace {

namespace probe = ::berth::internal::probe::v1;

constexpr char kHealthCheck[] = "/grpc.health.v1.Health/Check";
constexpr char kReflectionInfo[] =
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";

void SetDeadline(::grpc::ClientContext& ctx, absl::Duration timeout) {
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

}  // namespace

absl::StatusOr<ServingStatus> CheckHealth(const std::shared_ptr<::grpc::Channel>& channel,
                                          const std::string& service, absl::Duration timeout) {
  ::grpc::ClientContext ctx;
  SetDeadline(ctx, timeout);
  probe::HealthCheckRequest req;
  req.set_service(service);
  probe::HealthCheckResponse resp;
  ::grpc::internal::RpcMethod method(kHealthCheck, ::grpc::internal::RpcMethod::NORMAL_RPC);
  ::grpc::Status st = ::grpc::internal::BlockingUnaryCall(channel.get(), method, &ctx, req, &resp);
  if (st.error_code() == ::grpc::StatusCode::NOT_FOUND) return ServingStatus::kServiceUnknown;
  if (!st.ok()) return FromGrpcStatus(st);
  switch (resp.status()) {
    case probe::HealthCheckResponse::SERVING: return ServingStatus::kServing;
    case probe::HealthCheckResponse::NOT_SERVING: return ServingStatus::kNotServing;
    case probe::HealthCheckResponse::SERVICE_UNKNOWN: return ServingStatus::kServiceUnknown;
    default: return ServingStatus::kUnknown;
  }
}

absl::StatusOr<std::vector<std::string>> ListServices(
    const std::shared_ptr<::grpc::Channel>& channel, absl::Duration timeout) {
  ::grpc::ClientContext ctx;
  SetDeadline(ctx, timeout);
  ::grpc::internal::RpcMethod method(kReflectionInfo,
                                     ::grpc::internal::RpcMethod::BIDI_STREAMING);
  std::unique_ptr<::grpc::ClientReaderWriter<probe::ServerReflectionRequest,
                                             probe::ServerReflectionResponse>>
      stream(::grpc::internal::ClientReaderWriterFactory<
             probe::ServerReflectionRequest,
             probe::ServerReflectionResponse>::Create(channel.get(), method, &ctx));
  probe::ServerReflectionRequest req;
  req.set_list_services("*");
  stream->Write(req);
  stream->WritesDone();
  probe::ServerReflectionResponse resp;
  bool got = stream->Read(&resp);
  ::grpc::Status st = stream->Finish();
  if (!st.ok()) return FromGrpcStatus(st);
  if (!got) return absl::UnavailableError("reflection: no response");
  if (resp.has_error_response()) {
    return absl::UnknownError(
        absl::StrCat("reflection: ", resp.error_response().error_message()));
  }
  std::vector<std::string> names;
  for (const auto& s : resp.list_services_response().service()) names.push_back(s.name());
  return names;
}

}  // namespace berth::grpc_util
