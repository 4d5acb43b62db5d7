// berth-ctr's inspection and housekeeping subcommands: tasks, containers, snapshots, events,
// version. Output is plain tab-separated tables like ctr's.
#include "containerd/ctr/commands.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <iostream>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/cli/flags.h"
#include "common/digest/hasher.h"
#include "common/grpc/status_mapping.h"

namespace berth::containerd::ctr {
namespace {

namespace tv1 = ::berth::containerd::tasks::v1;
namespace types = ::berth::types::v1;

constexpr char kSnapshotter[] = "overlayfs";

const char* StatusName(types::ProcessStatus s) {
  switch (s) {
    case types::PROCESS_STATUS_CREATED: return "CREATED";
    case types::PROCESS_STATUS_RUNNING: return "RUNNING";
    case types::PROCESS_STATUS_STOPPED: return "STOPPED";
    case types::PROCESS_STATUS_PAUSED: return "PAUSED";
    case types::PROCESS_STATUS_PAUSING: return "PAUSING";
    default: return "UNKNOWN";
  }
}

int Usage(const std::string& text) {
  std::cerr << "berth-ctr: usage: " << text << "\n";
  return 1;
}

int NeedOne(const std::vector<std::string>& args, const std::string& usage) {
  return args.size() == 2 ? 0 : Usage(usage);
}

// Writes the file at `path` into the content store and returns its descriptor; the blob is
// held by the caller's lease (metadata in `lease`).
absl::StatusOr<types::Descriptor> WriteBlob(Client& client, const std::string& lease,
                                            const std::string& path,
                                            const std::string& media_type) {
  auto digest = digest::DigestFile(path);
  if (!digest.ok()) return digest.status();
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
  absl::Cleanup close_fd = [fd] { close(fd); };
  off_t size = lseek(fd, 0, SEEK_END);
  lseek(fd, 0, SEEK_SET);

  auto ctx = client.Context(absl::Minutes(30));
  ctx->AddMetadata("berth-lease", lease);
  auto stream = client.content().Write(ctx.get());
  content::v1::WriteRequest req;
  content::v1::WriteResponse resp;
  req.set_ref(absl::StrCat("berth-ctr-", digest->hex()));
  req.set_expected(digest->ToString());
  req.set_total(size);
  int64_t offset = 0;
  std::string buf(1 << 20, '\0');
  for (;;) {
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, absl::StrCat("read ", path));
    const bool last = offset + n >= size;
    req.set_action(last ? content::v1::WRITE_ACTION_COMMIT : content::v1::WRITE_ACTION_WRITE);
    req.set_offset(offset);
    req.set_data(buf.data(), static_cast<size_t>(n));
    if (!stream->Write(req) || !stream->Read(&resp)) break;
    offset += n;
    req.clear_ref();
    req.clear_expected();
    req.clear_total();
    if (last) break;
  }
  stream->WritesDone();
  ::grpc::Status st = stream->Finish();
  if (!st.ok() && st.error_code() != ::grpc::StatusCode::ALREADY_EXISTS) {
    return grpc_util::FromGrpcStatus(st);
  }
  types::Descriptor d;
  d.set_media_type(media_type);
  d.set_digest(digest->ToString());
  d.set_size(size);
  return d;
}

// A layer's media type from its first bytes: gzip and zstd are recognised by their magic.
std::string LayerMediaType(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  unsigned char m[4] = {0, 0, 0, 0};
  in.read(reinterpret_cast<char*>(m), 4);
  if (m[0] == 0x1f && m[1] == 0x8b) return "application/vnd.oci.image.layer.v1.tar+gzip";
  if (m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd) {
    return "application/vnd.oci.image.layer.v1.tar+zstd";
  }
  return "application/vnd.oci.image.layer.v1.tar";
}

// snapshots unpack [--parent P] NAME LAYER.tar: the layer becomes committed snapshot NAME.
int Unpack(Client& client, const std::vector<std::string>& argv) {
  cli::FlagSet flags;
  std::string parent;
  flags.AddString(&parent, "parent", 0, "Committed snapshot the layer applies on");
  auto pos = flags.Parse(argv);
  if (!pos.ok()) return Fail("snapshots unpack", pos.status());
  if (pos->size() != 2) return Usage("snapshots unpack [--parent P] NAME LAYER.tar");
  const std::string& name = (*pos)[0];
  const std::string& layer = (*pos)[1];

  // A lease keeps the blob and the half-made snapshot from garbage collection meanwhile.
  leases::v1::CreateRequest lreq;
  lreq.mutable_ttl()->set_seconds(3600);
  leases::v1::CreateResponse lresp;
  auto st = client.leases().Create(client.Context().get(), lreq, &lresp);
  if (!st.ok()) return Fail("create lease", st);
  const std::string lease = lresp.lease().id();
  absl::Cleanup drop_lease = [&] {
    leases::v1::DeleteRequest req;
    req.set_id(lease);
    leases::v1::DeleteResponse resp;
    client.leases().Delete(client.Context().get(), req, &resp);
  };
  auto leased = [&](absl::Duration timeout = absl::Minutes(30)) {
    auto ctx = client.Context(timeout);
    ctx->AddMetadata("berth-lease", lease);
    return ctx;
  };

  auto desc = WriteBlob(client, lease, layer, LayerMediaType(layer));
  if (!desc.ok()) return Fail("write layer", desc.status());

  const std::string key = absl::StrCat(name, "-extract-", getpid());
  snapshots::v1::PrepareRequest preq;
  preq.set_snapshotter(kSnapshotter);
  preq.set_key(key);
  preq.set_parent(parent);
  snapshots::v1::PrepareResponse presp;
  st = client.snapshots().Prepare(leased().get(), preq, &presp);
  if (!st.ok()) return Fail("prepare snapshot", st);
  bool committed = false;
  absl::Cleanup remove_key = [&] {
    if (committed) return;
    snapshots::v1::RemoveRequest req;
    req.set_snapshotter(kSnapshotter);
    req.set_key(key);
    snapshots::v1::RemoveResponse resp;
    client.snapshots().Remove(client.Context().get(), req, &resp);
  };

  diff::v1::ApplyRequest areq;
  *areq.mutable_diff() = *desc;
  *areq.mutable_mounts() = presp.mounts();
  diff::v1::ApplyResponse aresp;
  st = client.diff().Apply(leased().get(), areq, &aresp);
  if (!st.ok()) return Fail("apply layer", st);

  snapshots::v1::CommitRequest creq;
  creq.set_snapshotter(kSnapshotter);
  creq.set_name(name);
  creq.set_key(key);
  // Nothing (no image) references the snapshot: without a root label garbage collection
  // would take it as soon as the lease is gone.
  (*creq.mutable_labels())["berth.io/gc.root"] =
      absl::FormatTime(absl::RFC3339_full, absl::Now(), absl::UTCTimeZone());
  snapshots::v1::CommitResponse cresp;
  st = client.snapshots().Commit(leased().get(), creq, &cresp);
  if (!st.ok()) return Fail("commit snapshot", st);
  committed = true;
  std::cout << name << "\t" << aresp.applied().digest() << "\n";
  return 0;
}

}  // namespace

int Fail(const std::string& what, const ::grpc::Status& status) {
  return Fail(what, grpc_util::FromGrpcStatus(status));
}

int Fail(const std::string& what, const absl::Status& status) {
  std::cerr << "berth-ctr: " << what << ": " << status.message() << "\n";
  return 1;
}

int TasksCommand(Client& client, const std::vector<std::string>& args) {
  const std::string usage = "tasks ls | kill [-s SIGNAL] [--all] ID | delete ID | ps ID | "
                            "pause ID | resume ID | metrics ID | wait ID";
  if (args.empty()) return Usage(usage);
  const std::string& sub = args[0];
  if (sub == "ls" || sub == "list") {
    tv1::ListRequest req;
    tv1::ListResponse resp;
    auto st = client.tasks().List(client.Context().get(), req, &resp);
    if (!st.ok()) return Fail("list tasks", st);
    std::cout << "TASK\tPID\tSTATUS\n";
    for (const auto& t : resp.tasks()) {
      std::cout << t.container_id() << "\t" << t.pid() << "\t" << StatusName(t.status()) << "\n";
    }
    return 0;
  }
  if (sub == "kill") {
    cli::FlagSet flags;
    std::string signal = "15";
    bool all = false;
    flags.AddString(&signal, "signal", 's', "Signal number");
    flags.AddBool(&all, "all", 'a', "Signal every process in the container");
    auto pos = flags.Parse(std::vector<std::string>(args.begin() + 1, args.end()));
    if (!pos.ok()) return Fail("tasks kill", pos.status());
    uint32_t sig = 0;
    if (pos->size() != 1 || !absl::SimpleAtoi(signal, &sig)) return Usage(usage);
    tv1::KillRequest req;
    req.set_container_id((*pos)[0]);
    req.set_signal(sig);
    req.set_all(all);
    tv1::KillResponse resp;
    auto st = client.tasks().Kill(client.Context().get(), req, &resp);
    return st.ok() ? 0 : Fail("kill task", st);
  }
  if (NeedOne(args, usage) != 0) return 1;
  const std::string& id = args[1];
  if (sub == "delete" || sub == "rm") {
    tv1::DeleteRequest req;
    req.set_container_id(id);
    tv1::DeleteResponse resp;
    auto st = client.tasks().Delete(client.Context().get(), req, &resp);
    if (!st.ok()) return Fail("delete task", st);
    std::cout << id << "\t" << resp.exit_status() << "\n";
    return 0;
  }
  if (sub == "wait") {
    tv1::WaitRequest req;
    req.set_container_id(id);
    tv1::WaitResponse resp;
    auto st = client.tasks().Wait(client.Context(absl::InfiniteDuration()).get(), req, &resp);
    if (!st.ok()) return Fail("wait", st);
    std::cout << resp.exit_status() << "\n";
    return 0;
  }
  if (sub == "ps") {
    tv1::ListPidsRequest req;
    req.set_container_id(id);
    tv1::ListPidsResponse resp;
    auto st = client.tasks().ListPids(client.Context().get(), req, &resp);
    if (!st.ok()) return Fail("list pids", st);
    std::cout << "PID\tEXEC\n";
    for (const auto& p : resp.processes()) std::cout << p.pid() << "\t" << p.exec_id() << "\n";
    return 0;
  }
  if (sub == "pause" || sub == "resume") {
    ::grpc::Status st;
    if (sub == "pause") {
      tv1::PauseRequest req;
      req.set_container_id(id);
      tv1::PauseResponse resp;
      st = client.tasks().Pause(client.Context().get(), req, &resp);
    } else {
      tv1::ResumeRequest req;
      req.set_container_id(id);
      tv1::ResumeResponse resp;
      st = client.tasks().Resume(client.Context().get(), req, &resp);
    }
    return st.ok() ? 0 : Fail(sub, st);
  }
  if (sub == "metrics") {
    tv1::MetricsRequest req;
    req.add_filters(absl::StrCat("container_id==", id));
    tv1::MetricsResponse resp;
    auto st = client.tasks().Metrics(client.Context().get(), req, &resp);
    if (!st.ok()) return Fail("metrics", st);
    for (const auto& m : resp.metrics()) std::cout << m.DebugString();
    return 0;
  }
  return Usage(usage);
}

int ContainersCommand(Client& client, const std::vector<std::string>& args) {
  const std::string usage = "containers ls | rm ID...";
  if (args.empty()) return Usage(usage);
  if (args[0] == "ls" || args[0] == "list") {
    containers::v1::ListRequest req;
    containers::v1::ListResponse resp;
    auto st = client.containers().List(client.Context().get(), req, &resp);
    if (!st.ok()) return Fail("list containers", st);
    std::cout << "CONTAINER\tIMAGE\tRUNTIME\n";
    for (const auto& c : resp.containers()) {
      std::cout << c.id() << "\t" << (c.image().empty() ? "-" : c.image()) << "\t"
                << (c.runtime().name().empty() ? "berth-runc" : c.runtime().name()) << "\n";
    }
    return 0;
  }
  if (args[0] == "rm" || args[0] == "delete") {
    if (args.size() < 2) return Usage(usage);
    int rc = 0;
    for (size_t i = 1; i < args.size(); ++i) {
      containers::v1::DeleteRequest req;
      req.set_id(args[i]);
      containers::v1::DeleteResponse resp;
      auto st = client.containers().Delete(client.Context().get(), req, &resp);
      if (!st.ok()) rc = Fail(absl::StrCat("delete container ", args[i]), st);
    }
    return rc;
  }
  return Usage(usage);
}

int SnapshotsCommand(Client& client, const std::vector<std::string>& args) {
  const std::string usage = "snapshots unpack [--parent P] NAME LAYER.tar | ls | rm KEY...";
  if (args.empty()) return Usage(usage);
  if (args[0] == "unpack") {
    return Unpack(client, std::vector<std::string>(args.begin() + 1, args.end()));
  }
  if (args[0] == "ls" || args[0] == "list") {
    snapshots::v1::ListRequest req;
    req.set_snapshotter(kSnapshotter);
    auto ctx = client.Context();
    auto reader = client.snapshots().List(ctx.get(), req);
    snapshots::v1::ListResponse resp;
    std::cout << "KEY\tPARENT\tKIND\n";
    while (reader->Read(&resp)) {
      for (const auto& i : resp.infos()) {
        std::cout << i.name() << "\t" << i.parent() << "\t" << snapshots::v1::Kind_Name(i.kind())
                  << "\n";
      }
    }
    auto st = reader->Finish();
    return st.ok() ? 0 : Fail("list snapshots", st);
  }
  if (args[0] == "rm" || args[0] == "remove") {
    if (args.size() < 2) return Usage(usage);
    int rc = 0;
    for (size_t i = 1; i < args.size(); ++i) {
      snapshots::v1::RemoveRequest req;
      req.set_snapshotter(kSnapshotter);
      req.set_key(args[i]);
      snapshots::v1::RemoveResponse resp;
      auto st = client.snapshots().Remove(client.Context().get(), req, &resp);
      if (!st.ok()) rc = Fail(absl::StrCat("remove snapshot ", args[i]), st);
    }
    return rc;
  }
  return Usage(usage);
}

int EventsCommand(Client& client, const std::vector<std::string>& args) {
  events::v1::SubscribeRequest req;
  for (const auto& f : args) req.add_filters(f);
  auto ctx = client.Context(absl::InfiniteDuration());
  auto reader = client.events().Subscribe(ctx.get(), req);
  events::v1::SubscribeResponse resp;
  while (reader->Read(&resp)) {
    const auto& e = resp.envelope();
    absl::Time t = absl::FromUnixSeconds(e.timestamp().seconds()) +
                   absl::Nanoseconds(e.timestamp().nanos());
    std::cout << absl::FormatTime(absl::RFC3339_full, t, absl::UTCTimeZone()) << " "
              << e.namespace_() << " " << e.topic() << " " << e.event().ShortDebugString()
              << std::endl;
  }
  auto st = reader->Finish();
  return st.ok() ? 0 : Fail("events", st);
}

int VersionCommand(Client& client, const std::vector<std::string>&) {
  version::v1::VersionRequest req;
  version::v1::VersionResponse resp;
  auto st = client.version().Version(client.Context().get(), req, &resp);
  if (!st.ok()) return Fail("version", st);
  std::cout << "Server:\n  Version:  " << resp.version() << "\n  Revision: " << resp.revision()
            << "\n";
  return 0;
}

}  // namespace berth::containerd::ctr
