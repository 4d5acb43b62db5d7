// berth-containerd: the container manager daemon (content, images, snapshots, containers,
// tasks via shims, events). berthd is its main client. This binary wires flags to services
// and serves them on a unix socket until SIGTERM.
#include <unistd.h>

#include <memory>
#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/synchronization/mutex.h"
#include "common/daemon/memory.h"
#include "common/daemon/daemon.h"
#include "common/fs/fs.h"
#include "common/init/init.h"
#include "common/status/status_macros.h"
#include "containerd/containers/containers_service.h"
#include "containerd/content/content_service.h"
#include "containerd/content/local_store.h"
#include "containerd/content/namespaced_store.h"
#include "containerd/diff/diff_service.h"
#include "containerd/events/events_service.h"
#include "containerd/events/exchange.h"
#include "containerd/gc/scheduler.h"
#include "containerd/gc/store_collector.h"
#include "containerd/gc/triggering_publisher.h"
#include "containerd/images/images_service.h"
#include "containerd/leases/leases_service.h"
#include "containerd/metadata/store.h"
#include "containerd/metrics/metrics.h"
#include "containerd/namespaces/namespaces_service.h"
#include "containerd/snapshots/overlay_snapshotter.h"
#include "containerd/snapshots/snapshots_service.h"
#include "containerd/tasks/berth_shim_manager.h"
#include "containerd/tasks/command.h"
#include "containerd/tasks/tasks_service.h"
#include "containerd/version/version_service.h"
#include "glog/logging.h"

ABSL_FLAG(std::string, root, "/var/lib/berth-containerd",
          "directory for persistent data: content store, metadata database, snapshots");
ABSL_FLAG(std::string, state, "/run/berth-containerd",
          "directory for runtime state: task bundles, shim sockets, exit-status files");
ABSL_FLAG(std::string, address, "unix:///run/berth-containerd/containerd.sock",
          "gRPC socket to serve on");
ABSL_FLAG(std::string, metrics_addr, "127.0.0.1:1338",
          "host:port for the Prometheus /metrics endpoint (port 0 picks a free port)");
ABSL_FLAG(std::string, group, "berth", "group that owns the gRPC socket, if it exists");
ABSL_FLAG(std::string, runtime_root, "/run/berth-runc",
          "base of the OCI runtime's --root: each namespace gets <runtime_root>/<namespace> "
          "(a container's RuntimeOptions.root overrides it)");
ABSL_FLAG(std::string, shim, "berth-shim",
          "the berth-shim binary: an absolute path, or a name looked up next to this binary, "
          "then in PATH (the OCI runtimes are looked up the same way)");

namespace {

// The directory holding this binary, where its companion binaries are looked for first.
std::string OwnDir() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "";
  const std::string exe(buf, static_cast<size_t>(n));
  return exe.substr(0, exe.rfind('/'));
}

absl::Status Run() {
  const std::string root = absl::GetFlag(FLAGS_root);
  const std::string state = absl::GetFlag(FLAGS_state);
  BERTH_RETURN_IF_ERROR(berth::fs::MakeDirs(root, 0700), "create --root");
  BERTH_RETURN_IF_ERROR(berth::fs::MakeDirs(state, 0700), "create --state");

  namespace cd = berth::containerd;
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<cd::metadata::Store> metadata,
                         cd::metadata::Store::Open(root), "open metadata store");
  cd::content::LocalStoreOptions blob_options;
  blob_options.dir = root + "/content";
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<cd::content::LocalStore> blobs,
                         cd::content::LocalStore::Create(std::move(blob_options)),
                         "open content store");
  cd::content::NamespacedStore content_store(metadata.get(), blobs.get());
  cd::snapshots::OverlaySnapshotterOptions overlay_options;
  overlay_options.root = root;
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<cd::snapshots::OverlaySnapshotter> overlay,
                         cd::snapshots::OverlaySnapshotter::Create(metadata.get(), overlay_options),
                         "open overlayfs snapshotter");
  // Data of snapshots removed while the daemon was down (or mid-removal when it died).
  if (absl::Status s = overlay->Cleanup(); !s.ok()) {
    LOG(WARNING) << "snapshotter cleanup error=\"" << s.message() << "\"";
  }
  berth::daemon::GrpcDaemon daemon("containerd");
  cd::metrics::ContainerdMetrics metrics(daemon.registry());
  cd::events::ExchangeOptions exchange_options;
  exchange_options.metrics = &metrics;
  cd::events::Exchange exchange(std::move(exchange_options));
  // The collector publishes straight to the exchange; the services publish through `events`,
  // which also asks for a collection after deletions (gc/triggering_publisher.h).
  cd::gc::StoreCollector collector(metadata.get(), &content_store, blobs.get(),
                                   {{cd::snapshots::OverlaySnapshotter::kName, overlay.get()}},
                                   &exchange, &metrics);
  cd::gc::Scheduler gc(&collector, cd::gc::SchedulerOptions());
  cd::gc::TriggeringPublisher events(&exchange, &gc);
  auto collect_garbage = [&gc] { return gc.CollectNow(); };
  cd::events::EventsService events_service(&exchange);
  cd::version::VersionService version(root, state);
  cd::content::ContentService content(&content_store, &events);
  cd::images::ImagesServiceOptions images_options;
  images_options.publisher = &events;
  images_options.collect_garbage = collect_garbage;
  cd::images::ImagesService images(metadata.get(), std::move(images_options));
  cd::namespaces::NamespacesService namespaces(metadata.get(), &events);
  cd::leases::LeasesServiceOptions leases_options;
  leases_options.collect_garbage = collect_garbage;
  cd::leases::LeasesService leases(metadata.get(), std::move(leases_options));
  cd::snapshots::SnapshotsService snapshots(metadata.get(), {overlay.get()}, &events);
  cd::diff::DiffServiceOptions diff_options;
  diff_options.scratch_dir = state + "/diff";
  cd::diff::DiffService diff(&content_store, std::move(diff_options));
  cd::tasks::BerthShimManagerOptions shim_options;
  // Without a shim the daemon still serves everything but tasks (Create fails clearly).
  absl::StatusOr<std::string> shim_binary =
      cd::tasks::FindExecutableInPath(absl::GetFlag(FLAGS_shim), {OwnDir()});
  if (shim_binary.ok()) {
    shim_options.shim_binary = *shim_binary;
  } else {
    LOG(WARNING) << "no shim binary, tasks cannot run error=\"" << shim_binary.status().message()
                 << "\"";
  }
  shim_options.state_dir = state;
  shim_options.containerd_address = absl::GetFlag(FLAGS_address);
  cd::tasks::BerthShimManager shims(std::move(shim_options));
  cd::tasks::TasksServiceOptions tasks_options;
  tasks_options.state_dir = state;
  tasks_options.shims = &shims;
  tasks_options.publisher = &events;
  tasks_options.runtime_search_dirs = {OwnDir()};
  tasks_options.runtime_root_base = absl::GetFlag(FLAGS_runtime_root);
  // Reconnects to the shims of running tasks (and cleans up after dead ones) before serving.
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<cd::tasks::TasksService> tasks,
                         cd::tasks::TasksService::Create(metadata.get(), std::move(tasks_options)),
                         "recover tasks");
  cd::containers::ContainersServiceOptions containers_options;
  containers_options.publisher = &events;
  containers_options.has_task = [&tasks](absl::string_view ns, absl::string_view id) {
    return tasks->HasTask(ns, id);
  };
  cd::containers::ContainersService containers(metadata.get(), std::move(containers_options));

  berth::grpc_util::UnixServerOptions server;
  server.address = absl::GetFlag(FLAGS_address);
  server.socket_group = absl::GetFlag(FLAGS_group);
  LOG(INFO) << "berth-containerd starting root=" << root << " state=" << state;
  return daemon.ServeUntilSignal(
      absl::GetFlag(FLAGS_metrics_addr), server,
      {&version, &content, &images, &namespaces, &leases, &snapshots, &diff, &containers,
       &events_service, tasks.get()});
}

}  // namespace

int main(int argc, char** argv) {
  berth::InitProcess(argc, argv,
                     "berth-containerd: berth's container manager daemon.\n"
                     "Usage: berth-containerd [--root DIR] [--state DIR] [--address unix://PATH]"
                     " [--metrics-addr HOST:PORT]");
  // Debian builds Abseil without NDEBUG, which leaves Mutex deadlock detection on: every lock
  // and unlock then updates a process-wide lock graph under a global spinlock (GraphCycles was
  // a visible share of the daemon's CPU under 20 concurrent activations). Tests keep it on.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  berth::daemon::TuneMallocForStreaming();
  absl::Status s = Run();
  if (!s.ok()) {
    LOG(ERROR) << "berth-containerd: " << s.message();
    return 1;
  }
  LOG(INFO) << "berth-containerd stopped";
  return 0;
}
