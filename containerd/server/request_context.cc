#include "containerd/server/request_context.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/grpc/status_mapping.h"
#include "containerd/metadata/validation.h"
#include "glog/logging.h"

namespace berth::containerd::server {
namespace {

// The single value of `key`, nullopt when absent. Repeating a key with the same value is
// harmless (a proxy may duplicate headers); different values are ambiguous.
absl::StatusOr<std::optional<std::string>> SingleValue(const ClientMetadata& metadata,
                                                       absl::string_view key) {
  std::optional<std::string> value;
  auto [begin, end] = metadata.equal_range(::grpc::string_ref(key.data(), key.size()));
  for (auto it = begin; it != end; ++it) {
    std::string v(it->second.data(), it->second.size());
    if (value.has_value() && *value != v) {
      return absl::InvalidArgumentError(absl::StrCat("gRPC metadata ", key,
                                                     " is given more than once with different "
                                                     "values"));
    }
    value = std::move(v);
  }
  return value;
}

}  // namespace

absl::StatusOr<std::string> NamespaceFromMetadata(const ClientMetadata& metadata) {
  absl::StatusOr<std::optional<std::string>> value = SingleValue(metadata, kNamespaceKey);
  if (!value.ok()) return value.status();
  if (!value->has_value()) return std::string(metadata::kDefaultNamespace);
  if (absl::Status s = metadata::ValidateNamespaceName(**value); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(kNamespaceKey, ": ", s.message()));
  }
  return std::move(**value);
}

absl::StatusOr<std::string> RequestNamespace(const ::grpc::ServerContextBase& ctx) {
  return NamespaceFromMetadata(ctx.client_metadata());
}

absl::StatusOr<std::optional<std::string>> LeaseFromMetadata(const ClientMetadata& metadata) {
  absl::StatusOr<std::optional<std::string>> value = SingleValue(metadata, kLeaseKey);
  if (!value.ok()) return value.status();
  if (value->has_value() && (*value)->empty()) {
    return absl::InvalidArgumentError(absl::StrCat("gRPC metadata ", kLeaseKey, " is empty"));
  }
  return value;
}

absl::StatusOr<std::optional<std::string>> RequestLease(const ::grpc::ServerContextBase& ctx) {
  return LeaseFromMetadata(ctx.client_metadata());
}

namespace {

void Finish(::grpc::ServerUnaryReactor* reactor, absl::string_view rpc,
            const absl::Status& status) {
  VLOG(1) << "rpc=" << rpc << " code=" << absl::StatusCodeToString(status.code())
          << (status.ok() ? ""
                          : absl::StrCat(" error=\"", absl::CHexEscape(status.message()), "\""));
  reactor->Finish(grpc_util::ToGrpcStatus(status));
}

}  // namespace

::grpc::ServerUnaryReactor* Reply(::grpc::CallbackServerContext* ctx, absl::string_view rpc,
                                  const absl::Status& status) {
  ::grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  Finish(reactor, rpc, status);
  return reactor;
}

::grpc::ServerUnaryReactor* ReplyOffThread(::grpc::CallbackServerContext* ctx,
                                           absl::string_view rpc,
                                           executor::BlockingExecutor& executor,
                                           std::function<absl::Status()> handler) {
  // DefaultReactor constructs the call's reactor anew each time it is called: once per call.
  ::grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  const bool queued = executor.Run(
      [reactor, rpc, handler = std::move(handler)] { Finish(reactor, rpc, handler()); });
  if (!queued) Finish(reactor, rpc, absl::UnavailableError("berth-containerd is shutting down"));
  return reactor;
}

}  // namespace berth::containerd::server
