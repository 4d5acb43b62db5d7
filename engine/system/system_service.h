// gRPC adapter for berth.engine.v1.System: ping, versions of berthd and the berth-containerd
// behind it, host/engine facts for `berth info`, and the event stream of `berth events` (read
// from the EventJournal).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/time/time.h"
#include "berth/containerd/version/v1/version.grpc.pb.h"
#include "berth/engine/v1/system.grpc.pb.h"
#include "engine/events/event_journal.h"
#include "engine/system/host_info.h"

namespace berth::engine::system {

class SystemService final : public ::berth::engine::v1::System::CallbackService {
 public:
  struct Options {
    std::string root_dir;
    std::string exec_root;
    // Stable id of this berthd installation (kept under root_dir).
    std::string daemon_id;
    // Address of berth-containerd, as passed to --containerd (shown on errors).
    std::string containerd_address;
    // How long Version/Info wait for berth-containerd before reporting it unreachable.
    absl::Duration containerd_timeout = absl::Seconds(2);
    // Source of Events (not owned, outlives the service); Events is UNAVAILABLE without one.
    events::EventJournal* events = nullptr;
    // Fills Info's object counts (containers by state, images) from berthd's stores; counts
    // stay 0 without it.
    std::function<void(v1::InfoResponse*)> fill_counts;
  };

  // `containerd` is the (lazily connecting) channel to berth-containerd.
  SystemService(Options options, std::shared_ptr<::grpc::Channel> containerd);

  ::grpc::ServerUnaryReactor* Ping(::grpc::CallbackServerContext* ctx,
                                   const v1::PingRequest* req, v1::PingResponse* resp) override;
  ::grpc::ServerUnaryReactor* Version(::grpc::CallbackServerContext* ctx,
                                      const v1::VersionRequest* req,
                                      v1::VersionResponse* resp) override;
  ::grpc::ServerUnaryReactor* Info(::grpc::CallbackServerContext* ctx,
                                   const v1::InfoRequest* req, v1::InfoResponse* resp) override;
  // Replays the journal from `since`, then streams live events; ends with OK once `until`
  // passes, INVALID_ARGUMENT for a bad filter or since > until, RESOURCE_EXHAUSTED when the
  // client does not keep up.
  ::grpc::ServerWriteReactor<v1::Event>* Events(::grpc::CallbackServerContext* ctx,
                                                const v1::EventsRequest* req) override;

 private:
  // Asks berth-containerd for its version without blocking a server thread, fills `out`
  // (or out->error), then calls `done`.
  void FetchContainerdVersion(v1::ComponentVersion* out, std::function<void()> done);
  void FillEngineVersion(v1::ComponentVersion* out) const;

  const Options options_;
  const HostInfo host_;
  std::unique_ptr<::berth::containerd::version::v1::Version::Stub> containerd_;
};

}  // namespace berth::engine::system
