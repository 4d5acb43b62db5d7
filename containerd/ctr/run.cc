// berth-ctr run: the path `ctr run` takes through containerd, here through berth-containerd:
// container record, (optional) rootfs snapshot prepare (in that order: see step 1), task create,
// attach, start, wait, and with --rm the reverse. Every step that fails undoes the ones before it.
#include <poll.h>
#include <unistd.h>

#include <cstring>
#include <optional>

#include <atomic>
#include <iostream>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "common/cli/flags.h"
#include "containerd/ctr/commands.h"
#include "containerd/ctr/spec.h"

namespace berth::containerd::ctr {
namespace {

namespace tv1 = ::berth::containerd::tasks::v1;
namespace types = ::berth::types::v1;

constexpr char kSnapshotter[] = "overlayfs";

bool WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

int RunCommand(Client& client, const std::vector<std::string>& argv) {
  cli::FlagSet flags;
  bool rm = false, detach = false, tty = false, interactive = false, net_host = false,
       read_only = false;
  std::string rootfs, snapshot, runtime, cwd = "/", log_path;
  std::vector<std::string> env;
  flags.AddBool(&rm, "rm", 0, "Remove the container, task and snapshot when it exits");
  flags.AddBool(&detach, "detach", 'd', "Start the task and return");
  flags.AddBool(&tty, "tty", 't', "Allocate a terminal");
  flags.AddBool(&interactive, "interactive", 'i', "Keep stdin open and forward it");
  flags.AddBool(&net_host, "net-host", 0, "Use the host's network namespace");
  flags.AddBool(&read_only, "read-only", 0, "Mount the root filesystem read-only");
  flags.AddString(&rootfs, "rootfs", 0, "Use this directory as the root (no snapshot)");
  flags.AddString(&snapshot, "snapshot", 0,
                  "Committed snapshot to prepare the container's rootfs from");
  flags.AddString(&runtime, "runtime", 0, "OCI runtime binary (default berth-runc)");
  flags.AddString(&cwd, "cwd", 0, "Working directory in the container");
  flags.AddString(&log_path, "log-path", 0, "json-file log of the task (default in the bundle)");
  flags.AddStringList(&env, "env", 0, "Environment variable KEY=VALUE");
  auto pos = flags.Parse(argv, /*interspersed=*/false);
  if (!pos.ok()) return Fail("run", pos.status());
  if (pos->empty()) {
    std::cerr << "berth-ctr: run: usage: run [OPTIONS] ID [COMMAND [ARG...]]\n";
    return 1;
  }
  if (rootfs.empty() == snapshot.empty()) {
    std::cerr << "berth-ctr: run: give exactly one of --rootfs and --snapshot\n";
    return 1;
  }
  const std::string id = (*pos)[0];
  SpecOptions spec;
  spec.id = id;
  spec.ns = client.ns();
  spec.args.assign(pos->begin() + 1, pos->end());
  if (spec.args.empty()) spec.args = {"sh"};
  spec.env = env;
  spec.cwd = cwd;
  spec.terminal = tty;
  spec.read_only = read_only;
  spec.host_network = net_host;
  if (!rootfs.empty()) {
    char* real = realpath(rootfs.c_str(), nullptr);
    if (real == nullptr) {
      std::cerr << "berth-ctr: run: --rootfs " << rootfs << ": " << strerror(errno) << "\n";
      return 1;
    }
    spec.root_path = real;
    free(real);
  }

  // 1. The container record, before its snapshot: berth-containerd's garbage collector keeps
  // an active snapshot only while a container (or a lease) refers to it, and a record that
  // names a snapshot not made yet is allowed. Made the other way round, a collection that runs
  // between the two calls (one follows every delete, so back-to-back runs meet it) takes the
  // new snapshot away. No lease needed, so no extra calls.
  {
    containers::v1::CreateRequest req;
    auto* c = req.mutable_container();
    c->set_id(id);
    c->set_spec(DefaultSpec(spec));
    c->mutable_runtime()->set_name(runtime);
    if (!snapshot.empty()) {
      c->set_snapshotter(kSnapshotter);
      c->set_snapshot_key(id);
    }
    containers::v1::CreateResponse resp;
    auto st = client.containers().Create(client.Context().get(), req, &resp);
    if (!st.ok()) return Fail("create container", st);
  }
  bool have_container = true;
  auto delete_container_now = [&] {
    if (!have_container) return;
    containers::v1::DeleteRequest req;
    req.set_id(id);
    containers::v1::DeleteResponse resp;
    auto st = client.containers().Delete(client.Context().get(), req, &resp);
    if (!st.ok()) Fail("delete container", st);
    have_container = false;
  };
  absl::Cleanup undo_container = [&] { delete_container_now(); };

  // 2. The rootfs snapshot.
  std::vector<types::Mount> mounts;
  bool have_snapshot = false;
  if (!snapshot.empty()) {
    snapshots::v1::PrepareRequest req;
    req.set_snapshotter(kSnapshotter);
    req.set_key(id);
    req.set_parent(snapshot);
    snapshots::v1::PrepareResponse resp;
    auto st = client.snapshots().Prepare(client.Context().get(), req, &resp);
    if (!st.ok()) return Fail("prepare snapshot", st);
    mounts.assign(resp.mounts().begin(), resp.mounts().end());
    have_snapshot = true;
  }
  // Before the container record goes (see 1), and gone already is as good as removed.
  auto remove_snapshot_now = [&] {
    if (!have_snapshot) return;
    snapshots::v1::RemoveRequest req;
    req.set_snapshotter(kSnapshotter);
    req.set_key(id);
    snapshots::v1::RemoveResponse resp;
    auto st = client.snapshots().Remove(client.Context().get(), req, &resp);
    if (!st.ok() && st.error_code() != ::grpc::StatusCode::NOT_FOUND) Fail("remove snapshot", st);
    have_snapshot = false;
  };
  absl::Cleanup undo_snapshot = [&] { remove_snapshot_now(); };

  // 3. The task.
  {
    tv1::CreateRequest req;
    req.set_container_id(id);
    for (const auto& m : mounts) *req.add_rootfs_mounts() = m;
    req.set_terminal(tty);
    req.set_stdin_mode(interactive ? types::STDIN_MODE_ONCE : types::STDIN_MODE_NULL);
    if (!log_path.empty()) req.mutable_log_config()->set_path(log_path);
    tv1::CreateResponse resp;
    auto st = client.tasks().Create(client.Context().get(), req, &resp);
    if (!st.ok()) return Fail("create task", st);
  }
  bool have_task = true;
  auto delete_task_now = [&]() -> std::optional<uint32_t> {
    if (!have_task) return std::nullopt;
    tv1::DeleteRequest req;
    req.set_container_id(id);
    tv1::DeleteResponse resp;
    auto st = client.tasks().Delete(client.Context().get(), req, &resp);
    if (!st.ok()) {
      Fail("delete task", st);
      return std::nullopt;
    }
    have_task = false;
    return resp.exit_status();
  };
  absl::Cleanup undo_task = [&] {
    if (!have_task) return;
    tv1::KillRequest kill;
    kill.set_container_id(id);
    kill.set_signal(9);
    tv1::KillResponse kill_resp;
    client.tasks().Kill(client.Context().get(), kill, &kill_resp);
    delete_task_now();
  };

  if (detach) {
    tv1::StartRequest req;
    req.set_container_id(id);
    tv1::StartResponse resp;
    auto st = client.tasks().Start(client.Context().get(), req, &resp);
    if (!st.ok()) return Fail("start task", st);
    std::move(undo_task).Cancel();
    std::move(undo_container).Cancel();
    std::move(undo_snapshot).Cancel();
    return 0;
  }

  // 4. Attach before Start so no output is missed, then start and relay until the exit frame.
  auto actx = client.Context(absl::InfiniteDuration());
  auto stream = client.tasks().Attach(actx.get());
  {
    tv1::AttachRequest start;
    start.mutable_start()->set_container_id(id);
    if (!stream->Write(start)) return Fail("attach", stream->Finish());
    tv1::AttachResponse first;
    if (!stream->Read(&first) || !first.has_attached()) {
      actx->TryCancel();
      return Fail("attach", stream->Finish());
    }
  }
  {
    tv1::StartRequest req;
    req.set_container_id(id);
    tv1::StartResponse resp;
    auto st = client.tasks().Start(client.Context().get(), req, &resp);
    if (!st.ok()) {
      actx->TryCancel();
      stream->Finish();
      return Fail("start task", st);
    }
  }
  std::thread stdin_pump;
  std::atomic<bool> done{false};
  if (interactive) {
    stdin_pump = std::thread([&] {
      char buf[32 * 1024];
      for (;;) {
        // Poll so the pump notices the exit instead of blocking in read(0) forever.
        pollfd pfd = {STDIN_FILENO, POLLIN, 0};
        int ready = poll(&pfd, 1, 100);
        if (done.load()) return;
        if (ready == 0 || (ready < 0 && errno == EINTR)) continue;
        ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        tv1::AttachRequest req;
        if (n <= 0) {
          req.mutable_close_stdin();
          stream->Write(req);
          return;
        }
        req.set_stdin(std::string(buf, static_cast<size_t>(n)));
        if (!stream->Write(req)) return;
      }
    });
  }
  uint32_t exit_status = 255;
  bool exited = false;
  tv1::AttachResponse msg;
  while (stream->Read(&msg)) {
    if (msg.has_output()) {
      int fd = msg.output().stream() == types::STDIO_STREAM_STDERR ? STDERR_FILENO
                                                                    : STDOUT_FILENO;
      WriteAll(fd, msg.output().data());
    } else if (msg.has_exit()) {
      exit_status = msg.exit().exit_status();
      exited = true;
    }
  }
  done = true;
  if (stdin_pump.joinable()) stdin_pump.join();
  ::grpc::Status attach_status = stream->Finish();
  if (!exited) {
    // The stream broke (berth-containerd restarted?): fall back to Wait.
    tv1::WaitRequest req;
    req.set_container_id(id);
    tv1::WaitResponse resp;
    auto st = client.tasks().Wait(client.Context(absl::InfiniteDuration()).get(), req, &resp);
    if (!st.ok()) {
      Fail("attach", attach_status);
      return Fail("wait", st);
    }
    exit_status = resp.exit_status();
  }
  std::move(undo_task).Cancel();
  delete_task_now();
  std::move(undo_snapshot).Cancel();
  std::move(undo_container).Cancel();
  if (rm) {
    remove_snapshot_now();
    delete_container_now();
  }
  return static_cast<int>(exit_status);
}

}  // namespace berth::containerd::ctr
