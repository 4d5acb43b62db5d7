// A client of berth-containerd for berthd and berth-ctr: one channel, stubs of every service, and
// contexts that carry the namespace (gRPC metadata `berth-namespace`).
#pragma once

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "berth/containerd/containers/v1/containers.grpc.pb.h"
#include "berth/containerd/content/v1/content.grpc.pb.h"
#include "berth/containerd/diff/v1/diff.grpc.pb.h"
#include "berth/containerd/events/v1/events.grpc.pb.h"
#include "berth/containerd/images/v1/images.grpc.pb.h"
#include "berth/containerd/leases/v1/leases.grpc.pb.h"
#include "berth/containerd/snapshots/v1/snapshots.grpc.pb.h"
#include "berth/containerd/tasks/v1/tasks.grpc.pb.h"
#include "berth/containerd/version/v1/version.grpc.pb.h"

namespace berth::containerd_client {

namespace containers = ::berth::containerd::containers;
namespace content = ::berth::containerd::content;
namespace diff = ::berth::containerd::diff;
namespace events = ::berth::containerd::events;
namespace images = ::berth::containerd::images;
namespace leases = ::berth::containerd::leases;
namespace snapshots = ::berth::containerd::snapshots;
namespace tasks = ::berth::containerd::tasks;
namespace version = ::berth::containerd::version;

class Client {
 public:
  // Dials `address` ("unix:///path" or a path); fails only on a malformed address (the
  // connection itself is made by the first call).
  static absl::StatusOr<std::unique_ptr<Client>> Dial(const std::string& address,
                                                      std::string ns);

  // A context for one call: namespace metadata and a deadline (infinite when `timeout` is
  // absl::InfiniteDuration()). With `wait_for_ready`, a call made while berth-containerd is
  // unreachable (restarting) waits for it until the deadline instead of failing at once with
  // UNAVAILABLE: for operations that must happen (stop, start, remove), not for status queries
  // that should report the outage.
  std::unique_ptr<::grpc::ClientContext> Context(absl::Duration timeout = absl::Seconds(60),
                                                 bool wait_for_ready = false) const;

  const std::string& ns() const { return ns_; }
  const std::string& address() const { return address_; }

  containers::v1::Containers::Stub& containers() { return *containers_; }
  content::v1::Content::Stub& content() { return *content_; }
  diff::v1::Diff::Stub& diff() { return *diff_; }
  events::v1::Events::Stub& events() { return *events_; }
  images::v1::Images::Stub& images() { return *images_; }
  leases::v1::Leases::Stub& leases() { return *leases_; }
  snapshots::v1::Snapshots::Stub& snapshots() { return *snapshots_; }
  tasks::v1::Tasks::Stub& tasks() { return *tasks_; }
  version::v1::Version::Stub& version() { return *version_; }

 private:
  Client() = default;

  std::string address_;
  std::string ns_;
  std::shared_ptr<::grpc::Channel> channel_;
  std::unique_ptr<containers::v1::Containers::Stub> containers_;
  std::unique_ptr<content::v1::Content::Stub> content_;
  std::unique_ptr<diff::v1::Diff::Stub> diff_;
  std::unique_ptr<events::v1::Events::Stub> events_;
  std::unique_ptr<images::v1::Images::Stub> images_;
  std::unique_ptr<leases::v1::Leases::Stub> leases_;
  std::unique_ptr<snapshots::v1::Snapshots::Stub> snapshots_;
  std::unique_ptr<tasks::v1::Tasks::Stub> tasks_;
  std::unique_ptr<version::v1::Version::Stub> version_;
};

}  // namespace berth::containerd_client
