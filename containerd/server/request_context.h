// What every namespaced berth-containerd service reads from a call before doing anything: the
// namespace (gRPC metadata `berth-namespace`, "default" when absent) and the lease
// (`berth-lease`), validated, plus the one-line reply helper the unary handlers share. The
// contract is in the service comments of proto/berth/containerd/*/v1/*.proto.
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/executor/blocking_executor.h"

namespace berth::containerd::server {

// gRPC metadata keys (lower case: gRPC lower-cases keys on the wire).
inline constexpr char kNamespaceKey[] = "berth-namespace";
inline constexpr char kLeaseKey[] = "berth-lease";

using ClientMetadata = std::multimap<::grpc::string_ref, ::grpc::string_ref>;

// The call's namespace: the value of `berth-namespace`, or "default" when the key is absent.
// InvalidArgument when the name is not valid (metadata::ValidateNamespaceName) or the key is
// given more than once with different values (which one was meant is anybody's guess).
absl::StatusOr<std::string> NamespaceFromMetadata(const ClientMetadata& metadata);
absl::StatusOr<std::string> RequestNamespace(const ::grpc::ServerContextBase& ctx);

// The call's lease id from `berth-lease`, nullopt when absent. Only its syntax is checked here
// (InvalidArgument for an empty value or repeated, different values); whether the lease exists
// is checked where the lease is used, with NotFound.
absl::StatusOr<std::optional<std::string>> LeaseFromMetadata(const ClientMetadata& metadata);
absl::StatusOr<std::optional<std::string>> RequestLease(const ::grpc::ServerContextBase& ctx);

// Finishes a unary callback call with `status` converted by ToGrpcStatus (the edge where absl
// codes become gRPC codes), logging one VLOG(1) line naming `rpc`, and returns the reactor the
// handler must return.
::grpc::ServerUnaryReactor* Reply(::grpc::CallbackServerContext* ctx, absl::string_view rpc,
                                  const absl::Status& status);

// Like Reply, but runs `handler` on a thread of `executor` and finishes the call from there.
// For handlers that block on the disk or on other processes (fsync'd metadata commits, snapshot
// directories created or deleted, layers applied, synchronous garbage collection): gRPC runs
// every callback handler of the process on a fixed pool of "nexting" threads (two on a 2-CPU
// host), so one handler that blocks holds up every other call, and 20 concurrent container
// activations queue behind each other's commits. Quick reads stay on Reply.
// `handler` may use the call's request, response and context until it returns: they live until
// the call is finished. `rpc` must outlive the call (a string literal).
::grpc::ServerUnaryReactor* ReplyOffThread(::grpc::CallbackServerContext* ctx,
                                           absl::string_view rpc,
                                           executor::BlockingExecutor& executor,
                                           std::function<absl::Status()> handler);

}  // namespace berth::containerd::server
