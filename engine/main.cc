// berthd: berth's user-facing daemon (like dockerd). The berth CLI and other gRPC clients talk
// to it; it reaches containers and images only through berth-containerd. This binary wires
// flags to services and serves them on a unix socket until SIGTERM.
#include <map>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "common/daemon/memory.h"
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
#include "engine/distribution/registry_distribution.h"
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
ABSL_FLAG(std::vector<std::string>, insecure_registry, {},
          "registries (host[:port]) that may be reached over plain HTTP, like dockerd's "
          "--insecure-registry; repeat the flag or give a comma-separated list. Loopback "
          "registries are always allowed");
ABSL_FLAG(std::string, certs_dir, "/etc/berth/certs.d",
          "per-registry TLS files, Docker's certs.d layout: <dir>/<host[:port]>/*.crt (CA roots), "
          "*.cert + *.key (client certificate)");
ABSL_FLAG(int, max_concurrent_downloads, 3, "layers downloaded in parallel per pull");
ABSL_FLAG(int, max_concurrent_uploads, 5, "layers uploaded in parallel per push");

namespace {

// absl keeps only the last value of a repeated flag; dockerd's --insecure-registry may be
// repeated. Folds every --insecure_registry (spelled with '_' or '-', "=V" or " V") into one
// comma-separated occurrence, keeping the other arguments in order.
std::vector<std::string> FoldRepeatedRegistryFlags(int argc, char** argv) {
  std::vector<std::string> out;
  std::vector<std::string> values;
  size_t first = 0;
  bool at_end = false;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (i == 0 || at_end) {
      out.push_back(a);
      continue;
    }
    if (a == "--") at_end = true;
    std::string name = a.substr(0, a.find('='));
    const size_t dashes = name.find_first_not_of('-');
    if (dashes == 0 || dashes == std::string::npos) {
      out.push_back(a);
      continue;
    }
    name = name.substr(dashes);
    for (char& c : name) c = c == '-' ? '_' : c;
    if (name == "insecure_registry") {
      if (values.empty()) first = out.size();
      if (a.find('=') != std::string::npos) {
        values.push_back(a.substr(a.find('=') + 1));
      } else if (i + 1 < argc) {
        values.push_back(argv[++i]);
      }
      continue;
    }
    out.push_back(a);
  }
  if (!values.empty()) {
    out.insert(out.begin() + static_cast<long>(first),
               "--insecure_registry=" + absl::StrJoin(values, ","));
  }
  return out;
}

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
  // Pull, push and login go to registries through the distribution client.
  berth::engine::distribution::Options dist;
  for (const std::string& r : absl::GetFlag(FLAGS_insecure_registry)) {
    if (!r.empty()) dist.insecure_registries.push_back(r);
  }
  dist.certs_dir = absl::GetFlag(FLAGS_certs_dir);
  dist.max_concurrent_downloads = absl::GetFlag(FLAGS_max_concurrent_downloads);
  dist.max_concurrent_uploads = absl::GetFlag(FLAGS_max_concurrent_uploads);
  if (dist.max_concurrent_downloads < 1 || dist.max_concurrent_uploads < 1) {
    return absl::InvalidArgumentError(
        "--max_concurrent_downloads and --max_concurrent_uploads must be at least 1");
  }
  std::unique_ptr<berth::engine::images::Distribution> distribution =
      berth::engine::distribution::NewRegistryDistribution(dist, &image_store);
  berth::engine::images::ImagesService images(
      &image_store,
      [j = journal.get()](const std::string& action, const std::string& id,
                          std::map<std::string, std::string> attributes) {
        j->Publish(berth::engine::v1::EVENT_TYPE_IMAGE, action, id, std::move(attributes));
      },
      distribution.get());

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
            << " containerd=" << containerd_address
            << " insecure_registries=" << absl::StrJoin(dist.insecure_registries, ",")
            << " certs_dir=" << dist.certs_dir;
  return daemon.ServeUntilSignal(absl::GetFlag(FLAGS_metrics_addr), server,
                                 {&system, &images, &containers});
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args = FoldRepeatedRegistryFlags(argc, argv);
  std::vector<char*> arg_ptrs;
  for (auto& a : args) arg_ptrs.push_back(a.data());
  arg_ptrs.push_back(nullptr);
  argc = static_cast<int>(args.size());
  argv = arg_ptrs.data();
  berth::InitProcess(argc, argv,
                     "berthd: berth's container engine daemon.\n"
                     "Usage: berthd [--root DIR] [--exec-root DIR] [--host unix://PATH]"
                     " [--containerd unix://PATH] [--metrics-addr HOST:PORT]"
                     " [--insecure-registry HOST[:PORT]]... [--certs-dir DIR]");
  // Debian builds Abseil without NDEBUG, which leaves Mutex deadlock detection on: every lock
  // and unlock then updates a process-wide lock graph under a global spinlock (GraphCycles was
  // a visible share of the daemon's CPU under 20 concurrent activations). Tests keep it on.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  berth::daemon::TuneMallocForStreaming();
  absl::Status s = Run();
  if (!s.ok()) {
    LOG(ERROR) << "berthd: " << s.message();
    return 1;
  }
  LOG(INFO) << "berthd stopped";
  return 0;
}
