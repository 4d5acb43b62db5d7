// berthd: berth's user-facing daemon (like dockerd). The berth CLI and other gRPC clients talk
// to it; it reaches containers and images only through berth-containerd. This binary wires
// flags to services and serves them on a unix socket until SIGTERM.
#include <map>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/daemon/daemon.h"
#include "common/fs/atomic_file.h"
#include "common/fs/fs.h"
#include "common/grpc/server.h"
#include "common/id/id.h"
#include "common/init/init.h"
#include "common/status/status_macros.h"
#include "common/containerd/client.h"
#include "engine/containers/adapters.h"
#include "engine/containers/containers_service.h"
#include "engine/containers/store.h"
#include "engine/events/event_journal.h"
#include "engine/images/grpc_backend.h"
#include "engine/images/image_store.h"
#include "engine/images/images_service.h"
#include "engine/system/system_service.h"
#include "glog/logging.h"

ABSL_FLAG(std::string, root, "/var/lib/berth",
          "directory for persistent data: container configs, volumes, engine state");
ABSL_FLAG(std::string, exec_root, "/run/berth", "directory for runtime state");
ABSL_FLAG(std::string, host, "unix:///run/berth/berthd.sock", "gRPC socket to serve on");
ABSL_FLAG(std::string, containerd, "unix:///run/berth-containerd/containerd.sock",
          "berth-containerd's gRPC socket");
ABSL_FLAG(std::string, metrics_addr, "127.0.0.1:9323",
          "host:port for the Prometheus /metrics endpoint (port 0 picks a free port)");
ABSL_FLAG(std::string, cgroup_parent, "/berth",
          "cgroup under which each container gets its own (<parent>/<id>), like dockerd's "
          "--cgroup-parent; a container's HostConfig cgroup_parent overrides it");
ABSL_FLAG(std::string, group, "berth",
          "group that owns the API socket (mode 0660), if it exists; others are refused");

namespace {

// The engine id survives restarts (like dockerd's engine-id file), so `berth info` shows
// the same id for the same installation.
absl::StatusOr<std::string> LoadOrCreateEngineId(const std::string& root) {
  const std::string path = absl::StrCat(root, "/engine-id");
  absl::StatusOr<std::string> existing = berth::fs::ReadFile(path);
  if (existing.ok()) {
    std::string id(absl::StripAsciiWhitespace(*existing));
    if (berth::id::IsValidId(id)) return id;
    LOG(WARNING) << "replacing malformed engine id path=" << path;
  } else if (!absl::IsNotFound(existing.status())) {
    return existing.status();
  }
  BERTH_ASSIGN_OR_RETURN(std::string id, berth::id::GenerateId());
  BERTH_RETURN_IF_ERROR(berth::fs::WriteFileAtomically(path, id + "\n", 0600));
  return id;
}

absl::Status Run() {
  const std::string root = absl::GetFlag(FLAGS_root);
  const std::string exec_root = absl::GetFlag(FLAGS_exec_root);
  BERTH_RETURN_IF_ERROR(berth::fs::MakeDirs(root, 0710), "create --root");
  BERTH_RETURN_IF_ERROR(berth::fs::MakeDirs(exec_root, 0700), "create --exec-root");
  BERTH_ASSIGN_OR_RETURN(std::string engine_id, LoadOrCreateEngineId(root), "engine id");

  const std::string containerd_address = absl::GetFlag(FLAGS_containerd);
  BERTH_ASSIGN_OR_RETURN(auto containerd, berth::grpc_util::DialUnix(containerd_address),
                         "--containerd");

  berth::daemon::GrpcDaemon daemon("engine");
  // The event journal (`berth events`) comes first: everything built below publishes to it.
  namespace bev = berth::engine::events;
  bev::JournalOptions journal_options;
  journal_options.path = root + "/events.log";
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<bev::EventJournal> journal,
                         bev::EventJournal::Open(journal_options), "open event journal");

  berth::engine::system::SystemService::Options sys;
  sys.root_dir = root;
  sys.exec_root = exec_root;
  sys.daemon_id = engine_id;
  sys.containerd_address = containerd_address;
  sys.events = journal.get();
  // The stores are made below; Info only runs once the server serves, after they exist.
  berth::engine::containers::ContainerStore* count_containers = nullptr;
  berth::engine::images::ImageStore* count_images = nullptr;
  sys.fill_counts = [&count_containers, &count_images](berth::engine::v1::InfoResponse* r) {
    if (count_containers != nullptr) {
      for (const auto& c : count_containers->List()) {
        r->set_containers(r->containers() + 1);
        switch (c.container().state().status()) {
          case berth::engine::v1::CONTAINER_STATUS_RUNNING:
            r->set_containers_running(r->containers_running() + 1);
            break;
          case berth::engine::v1::CONTAINER_STATUS_PAUSED:
            r->set_containers_paused(r->containers_paused() + 1);
            break;
          default:
            r->set_containers_stopped(r->containers_stopped() + 1);
        }
      }
    }
    if (count_images != nullptr) {
      if (auto images = count_images->List(); images.ok()) r->set_images(images->size());
    }
  };
  berth::engine::system::SystemService system(sys, containerd);

  // Images live in berth-containerd (namespace "berth"); berthd keeps only caches of them.
  berth::engine::images::GrpcBackend image_backend(containerd);
  berth::engine::images::ImageStore image_store(image_backend.backend(),
                                                berth::engine::images::ImageStoreOptions());
  berth::engine::images::ImagesService images(
      &image_store, [j = journal.get()](const std::string& action, const std::string& id,
                                        std::map<std::string, std::string> attributes) {
        j->Publish(berth::engine::v1::EVENT_TYPE_IMAGE, action, id, std::move(attributes));
      });

  // Containers: berthd's records under <root>/containers; rootfs, tasks and logs through
  // berth-containerd (same namespace as the images).
  namespace ec = berth::engine::containers;
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<ec::ContainerStore> container_store,
                         ec::ContainerStore::Open(root + "/containers"), "open container store");
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<berth::containerd_client::Client> containerd_client,
                         berth::containerd_client::Client::Dial(containerd_address, "berth"),
                         "--containerd");
  ec::StoreImageResolver image_resolver(&image_store);
  count_containers = container_store.get();
  count_images = &image_store;
  ec::ManagerOptions manager_options;
  manager_options.cgroup_parent = absl::GetFlag(FLAGS_cgroup_parent);
  manager_options.events = [j = journal.get()](const std::string& action, const std::string& id,
                                               std::map<std::string, std::string> attributes) {
    j->Publish(berth::engine::v1::EVENT_TYPE_CONTAINER, action, id, std::move(attributes));
  };
  ec::ContainerManager manager(manager_options, container_store.get(), containerd_client.get(),
                               &image_resolver,
                               ec::OciSpecBuilder(manager_options.cgroup_parent));
  manager.Start();
  ec::ContainersService containers(&manager);

  berth::grpc_util::UnixServerOptions server;
  server.address = absl::GetFlag(FLAGS_host);
  server.socket_group = absl::GetFlag(FLAGS_group);
  LOG(INFO) << "berthd starting root=" << root << " exec_root=" << exec_root
            << " containerd=" << containerd_address;
  return daemon.ServeUntilSignal(absl::GetFlag(FLAGS_metrics_addr), server,
                                 {&system, &images, &containers});
}

}  // namespace

int main(int argc, char** argv) {
  berth::InitProcess(argc, argv,
                     "berthd: berth's container engine daemon.\n"
                     "Usage: berthd [--root DIR] [--exec-root DIR] [--host unix://PATH]"
                     " [--containerd unix://PATH] [--metrics-addr HOST:PORT]");
  absl::Status s = Run();
  if (!s.ok()) {
    LOG(ERROR) << "berthd: " << s.message();
    return 1;
  }
  LOG(INFO) << "berthd stopped";
  return 0;
}
