#include "runc/container/create.h"

#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/fs/atomic_file.h"
#include "common/proc/proc.h"
#include "common/status/status_macros.h"
#include "runc/cgroups/manager.h"
#include "runc/container/console.h"
#include "runc/container/hooks.h"
#include "runc/container/process_setup.h"
#include "runc/container/sync.h"
#include "runc/linux/rootfs.h"
#include "runc/seccomp/bpf_cache.h"
#include "runc/seccomp/seccomp.h"
#include "runc/spec/names.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace berth::runc::container {
namespace {

using spec::NamespaceType;


absl::Status JoinNamespace(const spec::Namespace& ns) {
  int fd = open(ns.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::ErrnoToStatus(
        errno, absl::StrCat("linux.namespaces (", spec::NamespaceTypeName(ns.type), "): open ", ns.path));
  }
  int rc = setns(fd, spec::NamespaceCloneFlag(ns.type));
  int err = errno;
  close(fd);
  if (rc != 0) {
    return absl::ErrnoToStatus(
        err, absl::StrCat("linux.namespaces (", spec::NamespaceTypeName(ns.type), "): setns ", ns.path));
  }
  return absl::OkStatus();
}

absl::Status WriteProcFile(const std::string& path, const std::string& content) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
  ssize_t n = write(fd, content.data(), content.size());
  int err = errno;
  close(fd);
  if (n != static_cast<ssize_t>(content.size())) {
    return absl::ErrnoToStatus(err, absl::StrCat("write ", path));
  }
  return absl::OkStatus();
}

std::string MapText(const std::vector<spec::IdMapping>& maps) {
  std::string out;
  for (const auto& m : maps) absl::StrAppend(&out, m.container_id, " ", m.host_id, " ", m.size, "\n");
  return out;
}

// Brings "lo" up in a new network namespace, as runc does, so loopback works out of the box.
void LoopbackUp() {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return;
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    ioctl(s, SIOCSIFFLAGS, &ifr);
  }
  close(s);
}

struct InitContext {
  const spec::Spec* spec;
  const CreateOptions* options;
  int sync_fd;
  int fifo_fd;            // O_PATH to the exec FIFO, opened before pivot_root
  std::string seccomp_bpf;  // compiled in the parent; empty when no seccomp
  uint32_t seccomp_flags = 0;
};

// Everything the init does, in order. Returns only on error; on success it execs.
absl::Status InitContainer(const InitContext& ctx) {
  const spec::Spec& spec = *ctx.spec;
  const spec::Process& process = *spec.process;
  BERTH_ASSIGN_OR_RETURN(SyncMessage go, ReceiveSync(ctx.sync_fd));
  if (go.type != SyncType::kMapsDone) return absl::InternalError("unexpected sync message");
  const pid_t host_pid = std::atoi(go.payload.c_str());

  // Join namespaces given by path: the user namespace first, so the others are entered with
  // its privileges.
  if (const auto* user = spec.FindNamespace(NamespaceType::kUser); user && !user->path.empty()) {
    BERTH_RETURN_IF_ERROR(JoinNamespace(*user));
  }
  for (const auto& ns : spec.linux.namespaces) {
    if (ns.path.empty() || ns.type == NamespaceType::kUser || ns.type == NamespaceType::kPid ||
        ns.type == NamespaceType::kTime) {
      continue;  // pid and time namespaces were entered by the parent before the clone
    }
    BERTH_RETURN_IF_ERROR(JoinNamespace(ns));
  }
  // In a user namespace our credentials are still the host's root, which the namespace may
  // not map: become the namespace's root, so files we create (mount points, device nodes)
  // get ids the namespace knows (else the kernel refuses with EOVERFLOW).
  if (spec.HasNamespace(NamespaceType::kUser)) {
    if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0) {
      return absl::ErrnoToStatus(errno, "linux.uidMappings: become root in the user namespace");
    }
    setgroups(0, nullptr);
  }
  // A new cgroup namespace is made only now, after the parent put us in our cgroup, so the
  // container sees its own cgroup as the root.
  if (const auto* cg = spec.FindNamespace(NamespaceType::kCgroup); cg && cg->path.empty()) {
    if (unshare(CLONE_NEWCGROUP) != 0) {
      return absl::ErrnoToStatus(errno, "linux.namespaces (cgroup): unshare");
    }
  }
  if (const auto* net = spec.FindNamespace(NamespaceType::kNetwork); net && net->path.empty()) {
    LoopbackUp();
  }
  BERTH_RETURN_IF_ERROR(SendSync(ctx.sync_fd, SyncType::kNsReady));
  BERTH_ASSIGN_OR_RETURN(SyncMessage cont, ReceiveSync(ctx.sync_fd));
  if (cont.type != SyncType::kContinue) return absl::InternalError("unexpected sync message");

  const bool uts = spec.HasNamespace(NamespaceType::kUts);
  if (!spec.hostname.empty()) {
    if (!uts) return absl::InvalidArgumentError("hostname: needs a new uts namespace");
    if (sethostname(spec.hostname.data(), spec.hostname.size()) != 0) {
      return absl::ErrnoToStatus(errno, "hostname: sethostname");
    }
  }
  if (!spec.domainname.empty()) {
    if (!uts) return absl::InvalidArgumentError("domainname: needs a new uts namespace");
    if (setdomainname(spec.domainname.data(), spec.domainname.size()) != 0) {
      return absl::ErrnoToStatus(errno, "domainname: setdomainname");
    }
  }

  int console_fd = -1;
  if (process.terminal) {
    if (ctx.options->console_socket.empty()) {
      return absl::InvalidArgumentError(
          "process.terminal is true but no --console-socket was given");
    }
    BERTH_ASSIGN_OR_RETURN(console_fd, ConnectConsoleSocket(ctx.options->console_socket));
  }

  linux::RootfsOptions ropts;
  ropts.bundle = ctx.options->bundle;
  ropts.no_pivot = ctx.options->no_pivot;
  ropts.in_user_namespace = spec.HasNamespace(NamespaceType::kUser);
  // Without a mount namespace in the spec the container inherits the runtime's (runtime spec
  // config-linux.md "Namespaces": a type not listed is inherited), as runc and crun allow: the
  // rootfs and the spec's mounts are set up in the caller's namespace and entered with chroot
  // (linux/rootfs.h never changes the propagation of the caller's mounts).
  BERTH_RETURN_IF_ERROR(linux::PrepareRootfs(spec, ropts));
  if (spec.hooks && !spec.hooks->create_container.empty()) {
    BERTH_RETURN_IF_ERROR(RunHooks(spec.hooks->create_container, "createContainer",
                                   HookStateJson(spec, ctx.options->id, ctx.options->bundle,
                                                 host_pid, "created")));
  }
  BERTH_RETURN_IF_ERROR(linux::EnterRootfs(spec, ropts));
  BERTH_RETURN_IF_ERROR(linux::FinalizeRootfs(spec, ropts));

  BERTH_RETURN_IF_ERROR(ApplyRlimits(process.rlimits));
  if (process.oom_score_adj) BERTH_RETURN_IF_ERROR(ApplyOomScoreAdj(*process.oom_score_adj));
  if (spec.linux.personality) BERTH_RETURN_IF_ERROR(ApplyPersonality(*spec.linux.personality));
  if (process.terminal) BERTH_RETURN_IF_ERROR(SetupConsole(console_fd, process.console_size));

  // Without no_new_privs the filter must go in while we still hold CAP_SYS_ADMIN.
  if (!ctx.seccomp_bpf.empty() && !process.no_new_privileges) {
    BERTH_RETURN_IF_ERROR(seccomp::InstallBpf(ctx.seccomp_bpf, ctx.seccomp_flags));
  }
  bool cwd_done = chdir(process.cwd.c_str()) == 0;
  const bool setgroups_allowed = true;
  BERTH_RETURN_IF_ERROR(ApplyUserAndCapabilities(process, setgroups_allowed));
  if (!cwd_done && chdir(process.cwd.c_str()) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("process.cwd: chdir ", process.cwd));
  }
  BERTH_ASSIGN_OR_RETURN(std::string exe, LookPath(process.args[0], process.env));
  if (process.no_new_privileges) BERTH_RETURN_IF_ERROR(SetNoNewPrivileges());

  // Everything above --preserve-fds is closed at exec; our own fds are close-on-exec already.
  syscall(SYS_close_range, 3 + ctx.options->preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC);

  BERTH_RETURN_IF_ERROR(SendSync(ctx.sync_fd, SyncType::kReady));
  close(ctx.sync_fd);

  // Block until `start` opens the FIFO for reading (like runc's exec.fifo).
  const std::string fifo = absl::StrCat("/proc/self/fd/", ctx.fifo_fd);
  int wfd = open(fifo.c_str(), O_WRONLY | O_CLOEXEC);
  if (wfd < 0) return absl::ErrnoToStatus(errno, "open exec fifo");
  char zero = 0;
  if (write(wfd, &zero, 1) != 1) return absl::ErrnoToStatus(errno, "write exec fifo");
  // wfd stays open (close-on-exec) until execve succeeds, or we die: `start` waits for that
  // EOF, so the poststart hooks run only after the user program was executed (runtime spec
  // runtime.md "Lifecycle" steps 8-9), and `start` returns with the program running.
  close(ctx.fifo_fd);

  if (spec.hooks && !spec.hooks->start_container.empty()) {
    BERTH_RETURN_IF_ERROR(RunHooks(spec.hooks->start_container, "startContainer",
                                   HookStateJson(spec, ctx.options->id, ctx.options->bundle,
                                                 host_pid, "running")));
  }
  if (!ctx.seccomp_bpf.empty() && process.no_new_privileges) {
    BERTH_RETURN_IF_ERROR(seccomp::InstallBpf(ctx.seccomp_bpf, ctx.seccomp_flags));
  }
  std::vector<char*> argv, envp;
  for (const auto& a : process.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : process.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  execve(exe.c_str(), argv.data(), envp.data());
  return absl::ErrnoToStatus(errno, absl::StrCat("exec ", exe));
}

[[noreturn]] void RunInit(const InitContext& ctx) {
  absl::Status s = InitContainer(ctx);
  // Before `ready` the parent reports this; after it, stderr is the container's stderr.
  if (SendSync(ctx.sync_fd, SyncType::kError, std::string(s.message())).ok()) _exit(1);
  const std::string msg = absl::StrCat("berth-runc init: ", s.message(), "\n");
  (void)!write(2, msg.data(), msg.size());
  _exit(s.code() == absl::StatusCode::kNotFound ? 127 : 126);
}

// The device cgroup rules a container gets: config.json's own, then an allow rule for each
// linux.devices entry, then the devices every container needs (/dev/null, zero, full, random,
// urandom, tty, console, ptmx, pts and tun, plus mknod of any device), as runc adds them.
spec::Resources WithDefaultDeviceRules(const spec::Spec& spec) {
  spec::Resources r = spec.linux.resources ? *spec.linux.resources : spec::Resources();
  if (r.devices.empty() && spec.linux.devices.empty()) {
    // No rules at all: a deny-all first, so the defaults below are the whole list.
    r.devices.push_back({false, "a", std::nullopt, std::nullopt, "rwm"});
  }
  for (const auto& d : spec.linux.devices) {
    // A fifo ("p") is not a device node: the devices cgroup has no rule type for it and
    // needs none to open it (runc skips them too).
    if (d.type == 'p') continue;
    r.devices.push_back({true, std::string(1, d.type == 'u' ? 'c' : d.type), d.major, d.minor,
                         "rwm"});
  }
  struct Default {
    const char* type;
    std::optional<int64_t> major, minor;
    const char* access;
  };
  static const Default kDefaults[] = {
      {"c", std::nullopt, std::nullopt, "m"}, {"b", std::nullopt, std::nullopt, "m"},
      {"c", 1, 3, "rwm"},   {"c", 1, 8, "rwm"},   {"c", 1, 7, "rwm"},
      {"c", 5, 0, "rwm"},   {"c", 1, 5, "rwm"},   {"c", 1, 9, "rwm"},
      {"c", 5, 1, "rwm"},   {"c", 136, std::nullopt, "rwm"}, {"c", 5, 2, "rwm"},
      {"c", 10, 200, "rwm"},
  };
  for (const auto& d : kDefaults) r.devices.push_back({true, d.type, d.major, d.minor, d.access});
  return r;
}

absl::Status CheckUnsupported(const spec::Spec& spec) {
  if (!spec.process) return absl::InvalidArgumentError("process: required by create");
  if (!spec.process->apparmor_profile.empty()) {
    return absl::FailedPreconditionError(
        "process.apparmorProfile: AppArmor is not enabled on this host");
  }
  // berth-runc cannot apply SELinux labels, so on a host where SELinux is on they are refused.
  // Where it is off (no selinuxfs) a label has no meaning and nothing could enforce it: it is
  // ignored, as crun and libselinux-based tools do, so one config works on both kinds of host.
  if ((!spec.process->selinux_label.empty() || !spec.linux.mount_label.empty()) &&
      access("/sys/fs/selinux/enforce", F_OK) == 0) {
    return absl::FailedPreconditionError(
        "process.selinuxLabel/linux.mountLabel: berth-runc cannot apply SELinux labels and "
        "SELinux is enabled on this host");
  }
  if (spec.linux.has_intel_rdt) {
    return absl::FailedPreconditionError("linux.intelRdt: resctrl is not available on this host");
  }
  return absl::OkStatus();
}

}  // namespace

std::string HookStateJson(const spec::Spec& spec, const std::string& id,
                          const std::string& bundle, pid_t pid, const char* status) {
  nlohmann::json j = {{"ociVersion", spec.oci_version}, {"id", id}, {"status", status},
                      {"pid", pid},                     {"bundle", bundle}};
  if (!spec.annotations.empty()) j["annotations"] = spec.annotations;
  return j.dump();
}

absl::Status WritePidFile(const std::string& path, pid_t pid) {
  if (path.empty()) return absl::OkStatus();
  return fs::WriteFileAtomically(path, std::to_string(pid), 0644, {.durable = false});
}

absl::StatusOr<Created> CreateContainer(state::Store& store, const spec::Spec& spec,
                                        const CreateOptions& options) {
  BERTH_RETURN_IF_ERROR(CheckUnsupported(spec));
  seccomp::Program seccomp_program;
  if (spec.linux.seccomp && seccomp::Enabled(*spec.linux.seccomp)) {
    // Compiled (or taken from the cache) before anything exists, so a bad profile leaves
    // nothing behind, and the init only installs ready BPF.
    seccomp::BpfCacheOptions cache;
    cache.dir = store.root() + "/.cache/seccomp";
    cache.warn = options.warn;
    BERTH_ASSIGN_OR_RETURN(seccomp_program, seccomp::CompileCached(*spec.linux.seccomp, cache));
  }

  BERTH_RETURN_IF_ERROR(store.CreateDir(options.id));
  absl::Cleanup remove_dir = [&] { (void)store.Remove(options.id); };
  const std::string fifo = store.FifoPath(options.id);
  if (mkfifo(fifo.c_str(), 0600) != 0) return absl::ErrnoToStatus(errno, "mkfifo exec.fifo");
  // The init opens it for writing after switching to the container's user. Others may write
  // but not read, and only a reader (`start`) lets the init go on; the state directory is
  // 0700 anyway.
  if (chmod(fifo.c_str(), 0622) != 0) return absl::ErrnoToStatus(errno, "chmod exec.fifo");
  int fifo_fd = open(fifo.c_str(), O_PATH | O_CLOEXEC);
  if (fifo_fd < 0) return absl::ErrnoToStatus(errno, "open exec.fifo");
  absl::Cleanup close_fifo = [fifo_fd] { close(fifo_fd); };

  cgroups::Config cg_config;
  cg_config.cgroups_path = spec.linux.cgroups_path;
  cg_config.container_id = options.id;
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<cgroups::Manager> cgroup,
                         cgroups::NewManager(cg_config));
  BERTH_RETURN_IF_ERROR(cgroup->Create());
  absl::Cleanup destroy_cgroup = [&] { (void)cgroup->Destroy(); };
  BERTH_RETURN_IF_ERROR(cgroup->Apply(WithDefaultDeviceRules(spec)));

  // The pid and time namespaces of a process are those its children get, so they are entered
  // (or made) here, in berth-runc itself, which exits right after.
  if (const auto* pid_ns = spec.FindNamespace(NamespaceType::kPid);
      pid_ns && !pid_ns->path.empty()) {
    BERTH_RETURN_IF_ERROR(JoinNamespace(*pid_ns));
  }
  if (const auto* time_ns = spec.FindNamespace(NamespaceType::kTime)) {
    if (!time_ns->path.empty()) {
      BERTH_RETURN_IF_ERROR(JoinNamespace(*time_ns));
    } else {
      if (unshare(CLONE_NEWTIME) != 0) {
        return absl::ErrnoToStatus(errno, "linux.namespaces (time): unshare");
      }
      std::string offsets;
      for (const auto& [clock, off] : spec.linux.time_offsets) {
        absl::StrAppend(&offsets, clock, " ", off.first, " ", off.second, "\n");
      }
      if (!offsets.empty()) {
        BERTH_RETURN_IF_ERROR(WriteProcFile("/proc/self/timens_offsets", offsets),
                              "linux.timeOffsets");
      }
    }
  }

  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    return absl::ErrnoToStatus(errno, "socketpair");
  }
  unsigned long flags = SIGCHLD;
  for (const auto& ns : spec.linux.namespaces) {
    if (ns.path.empty() && ns.type != NamespaceType::kCgroup && ns.type != NamespaceType::kTime) {
      flags |= spec::NamespaceCloneFlag(ns.type);
    }
  }
  // fork-like clone: the child gets a copy of our memory, so it reads `spec` directly; no
  // re-exec and no second JSON parse.
  pid_t pid = static_cast<pid_t>(syscall(SYS_clone, flags, nullptr, nullptr, nullptr, 0));
  if (pid < 0) {
    int err = errno;
    close(sv[0]);
    close(sv[1]);
    return absl::ErrnoToStatus(err, "clone container init");
  }
  if (pid == 0) {
    close(sv[0]);
    InitContext ctx{&spec, &options, sv[1], fifo_fd, seccomp_program.bpf,
                    seccomp_program.flags};
    RunInit(ctx);
  }
  close(sv[1]);
  const int sync = sv[0];
  absl::Cleanup kill_init = [pid, sync] {
    close(sync);
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  };
  auto init_error = [&](absl::Status s) -> absl::Status {
    // Prefer the init's own account of what went wrong.
    absl::StatusOr<SyncMessage> m = ReceiveSync(sync);
    if (m.ok() && m->type == SyncType::kError) return absl::InvalidArgumentError(m->payload);
    return s;
  };

  if (flags & CLONE_NEWUSER) {
    BERTH_RETURN_IF_ERROR(WriteProcFile(absl::StrCat("/proc/", pid, "/uid_map"),
                                        MapText(spec.linux.uid_mappings)),
                          "linux.uidMappings");
    BERTH_RETURN_IF_ERROR(WriteProcFile(absl::StrCat("/proc/", pid, "/gid_map"),
                                        MapText(spec.linux.gid_mappings)),
                          "linux.gidMappings");
  }
  BERTH_RETURN_IF_ERROR(cgroup->AddProcess(pid));
  BERTH_RETURN_IF_ERROR(SendSync(sync, SyncType::kMapsDone, std::to_string(pid)));
  absl::StatusOr<SyncMessage> m = ReceiveSync(sync);
  if (!m.ok()) return m.status();
  if (m->type == SyncType::kError) return absl::InvalidArgumentError(m->payload);

  const bool has_hooks = spec.hooks.has_value();
  auto run_poststop = [&] {
    if (has_hooks) {
      (void)RunAllHooks(spec.hooks->poststop, "poststop",
                        HookStateJson(spec, options.id, options.bundle, pid, "stopped"));
    }
  };
  if (has_hooks) {
    // "created", not "creating": these hooks run after the runtime environment exists
    // (runtime spec runtime.md "Lifecycle", steps 3-4 come after step 2, the "creating"
    // state), and the runtime-tools suite (hooks_stdin) checks for it, as crun does.
    const std::string hook_state = HookStateJson(spec, options.id, options.bundle, pid, "created");
    absl::Status s = RunHooks(spec.hooks->prestart, "prestart", hook_state);
    if (s.ok()) s = RunHooks(spec.hooks->create_runtime, "createRuntime", hook_state);
    if (!s.ok()) {
      run_poststop();
      return s;
    }
  }
  BERTH_RETURN_IF_ERROR(SendSync(sync, SyncType::kContinue));
  m = ReceiveSync(sync);
  if (!m.ok()) return init_error(m.status());
  if (m->type != SyncType::kReady) {
    run_poststop();
    return absl::InvalidArgumentError(m->payload);
  }

  Created created;
  created.pid = pid;
  state::ContainerState& st = created.state;
  st.id = options.id;
  st.oci_version = spec.oci_version;
  st.pid = pid;
  BERTH_ASSIGN_OR_RETURN(st.pid_start_time, proc::ProcessStartTime(pid));
  st.bundle = options.bundle;
  st.rootfs = spec.root.path;
  st.created = absl::Now();
  st.annotations = spec.annotations;
  st.cgroup = cgroup->Serialize();
  st.terminal = spec.process->terminal;
  if (has_hooks) {
    st.poststart = spec.hooks->poststart;
    st.poststop = spec.hooks->poststop;
  }
  BERTH_RETURN_IF_ERROR(store.Save(st));
  BERTH_RETURN_IF_ERROR(WritePidFile(options.pid_file, pid), "--pid-file");

  std::move(kill_init).Cancel();
  close(sync);
  std::move(destroy_cgroup).Cancel();
  std::move(remove_dir).Cancel();
  return created;
}

}  // namespace berth::runc::container
