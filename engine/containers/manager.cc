#include "engine/containers/manager.h"

#include <signal.h>

#include <nlohmann/json.hpp>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "berth/containerd/events/v1/payloads.pb.h"
#include "common/fs/atomic_file.h"
#include "common/fs/fs.h"
#include "common/grpc/status_mapping.h"
#include "common/id/id.h"
#include "common/status/status_macros.h"
#include "engine/containers/files.h"
#include "engine/containers/filter.h"
#include "engine/containers/manager_internal.h"
#include "glog/logging.h"
#include "common/units/units.h"

namespace berth::engine::containers {
namespace {

namespace cd = ::berth::containerd;
namespace types = ::berth::types::v1;
using grpc_util::FromGrpcStatus;
using internal::FromTs;
using internal::IsRunning;
using internal::SetStatus;
using internal::ShortId;
using internal::Ts;

// The layer directories of an overlay mount, topmost first (upperdir, then lowerdirs), or the
// bind source: where berthd looks up /etc/passwd before the container runs.
std::vector<std::string> LayerDirs(const std::vector<types::Mount>& mounts) {
  std::vector<std::string> dirs;
  for (const auto& m : mounts) {
    if (m.type() == "bind" || m.type() == "rbind") dirs.push_back(m.source());
    for (const auto& o : m.options()) {
      if (absl::StartsWith(o, "upperdir=")) dirs.insert(dirs.begin(), o.substr(9));
      if (absl::StartsWith(o, "lowerdir=")) {
        for (auto d : absl::StrSplit(o.substr(9), ':')) dirs.push_back(std::string(d));
      }
    }
  }
  return dirs;
}

// Docker maps start failures of the user's command to 126/127 (`docker run`'s exit code).
int StartFailureExitCode(absl::string_view message) {
  if (absl::StrContains(message, "executable file not found") ||
      absl::StrContains(message, "no such file or directory")) {
    return 127;
  }
  if (absl::StrContains(message, "permission denied")) return 126;
  return 128;
}

}  // namespace

absl::StatusOr<int> ParseSignal(const std::string& s) {
  static const std::pair<const char*, int> kSignals[] = {
      {"HUP", SIGHUP},   {"INT", SIGINT},       {"QUIT", SIGQUIT}, {"ILL", SIGILL},
      {"TRAP", SIGTRAP}, {"ABRT", SIGABRT},     {"BUS", SIGBUS},   {"FPE", SIGFPE},
      {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV}, {"USR2", SIGUSR2},
      {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM}, {"STKFLT", SIGSTKFLT},
      {"CHLD", SIGCHLD}, {"CONT", SIGCONT},     {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},
      {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},   {"XCPU", SIGXCPU},
      {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH},
      {"IO", SIGIO},     {"PWR", SIGPWR},       {"SYS", SIGSYS}};
  int n = 0;
  if (absl::SimpleAtoi(s, &n)) {
    if (n >= 1 && n <= 64) return n;
  } else {
    std::string name = absl::AsciiStrToUpper(s);
    absl::string_view v = absl::StripPrefix(name, "SIG");
    for (const auto& [sig, num] : kSignals) {
      if (v == sig) return num;
    }
    if (absl::ConsumePrefix(&v, "RTMIN+") && absl::SimpleAtoi(v, &n) && SIGRTMIN + n <= SIGRTMAX) {
      return SIGRTMIN + n;
    }
  }
  return absl::InvalidArgumentError(absl::StrCat("Invalid signal: ", s));
}

std::string HumanStatus(const ev1::ContainerState& s, absl::Time now) {
  // docker ps: "Up 3 minutes", "Exited (0) 2 hours ago".
  auto ago = [&](const google::protobuf::Timestamp& ts) {
    return units::HumanDuration(now - FromTs(ts));
  };
  switch (s.status()) {
    case ev1::CONTAINER_STATUS_RUNNING:
      return absl::StrCat("Up ", ago(s.started_at()));
    case ev1::CONTAINER_STATUS_PAUSED:
      return absl::StrCat("Up ", ago(s.started_at()), " (Paused)");
    case ev1::CONTAINER_STATUS_RESTARTING:
      return absl::StrCat("Restarting (", s.exit_code(), ") ", ago(s.finished_at()), " ago");
    case ev1::CONTAINER_STATUS_EXITED:
      if (!s.has_finished_at()) return absl::StrCat("Exited (", s.exit_code(), ")");
      return absl::StrCat("Exited (", s.exit_code(), ") ", ago(s.finished_at()), " ago");
    case ev1::CONTAINER_STATUS_REMOVING:
      return "Removal In Progress";
    case ev1::CONTAINER_STATUS_DEAD:
      return "Dead";
    default:
      return "Created";
  }
}

ContainerManager::ContainerManager(ManagerOptions options, ContainerStore* store,
                                   containerd_client::Client* containerd, ImageResolver* images,
                                   SpecBuilder spec_builder)
    : options_(std::move(options)),
      store_(store),
      containerd_(containerd),
      images_(images),
      spec_builder_(std::move(spec_builder)) {}

ContainerManager::~ContainerManager() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (monitor_ctx_ != nullptr) monitor_ctx_->TryCancel();
  }
  if (monitor_.joinable()) monitor_.join();
  executor_.Shutdown();
}

std::shared_ptr<absl::Mutex> ContainerManager::LockFor(const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto& m = locks_[id];
  if (!m) m = std::make_shared<absl::Mutex>();
  return m;
}

void ContainerManager::Start() {
  monitor_ = std::thread([this] { MonitorLoop(); });
  // Serve with reconciled state when berth-containerd answers; if it does not, serve anyway
  // (the monitor reconciles as soon as it connects).
  if (!first_reconcile_.WaitForNotificationWithTimeout(absl::Seconds(10))) {
    LOG(WARNING) << "berth-containerd not reachable yet; container states are as last recorded";
  }
}

// ---------------------------------------------------------------------------------------------
// Create

absl::StatusOr<ev1::CreateContainerResponse> ContainerManager::Create(
    const ev1::CreateContainerRequest& req) {
  const ev1::ContainerConfig& config = req.config();
  const ev1::HostConfig& host = req.host_config();
  if (config.image().empty()) return absl::InvalidArgumentError("No image specified");
  if (host.auto_remove() && host.restart_policy().name() != ev1::RESTART_POLICY_NAME_NO &&
      host.restart_policy().name() != ev1::RESTART_POLICY_NAME_UNSPECIFIED) {
    return absl::InvalidArgumentError(
        "can't create 'AutoRemove' container with restart policy");
  }
  if (host.restart_policy().maximum_retry_count() < 0) {
    return absl::InvalidArgumentError("maximum retry count cannot be negative");
  }
  if (host.restart_policy().maximum_retry_count() > 0 &&
      host.restart_policy().name() != ev1::RESTART_POLICY_NAME_ON_FAILURE) {
    return absl::InvalidArgumentError(
        "maximum retry count can only be used with 'on-failure'");
  }
  BERTH_ASSIGN_OR_RETURN(ResolvedImage image, images_->Resolve(config.image()));
  BERTH_ASSIGN_OR_RETURN(std::string id, id::GenerateId(), "generate container id");

  std::string name = req.name();
  if (name.empty()) {
    // Generated names can collide; Docker retries with a suffix, berth picks a new one.
    absl::Status s;
    for (int i = 0; i < 10; ++i) {
      name = i < 5 ? GenerateName() : absl::StrCat(GenerateName(), i);
      s = store_->ReserveName(name, id);
      if (s.ok()) break;
    }
    BERTH_RETURN_IF_ERROR(s);
  } else {
    BERTH_RETURN_IF_ERROR(store_->ReserveName(std::string(absl::StripPrefix(name, "/")), id));
    name = std::string(absl::StripPrefix(name, "/"));
  }
  bool added = false;
  absl::Cleanup release_name = [&] {
    if (!added) store_->ReleaseName(name, id);
  };

  // The writable layer. Until the container record references it, a lease keeps garbage
  // collection (which may run at any moment after another container's removal) off it.
  cd::leases::v1::CreateRequest lease_req;
  lease_req.mutable_ttl()->set_seconds(600);
  (*lease_req.mutable_labels())["berth.engine/create"] = id;
  cd::leases::v1::CreateResponse lease_resp;
  BERTH_RETURN_IF_ERROR(
      FromGrpcStatus(containerd_->leases().Create(Ctx().get(), lease_req, &lease_resp)),
      "create lease");
  const std::string lease = lease_resp.lease().id();
  // Once the container record holds the snapshot the lease has no job left. On success it is
  // dropped after the reply, off the create's path (nobody waits for it, and it expires by
  // itself if berthd stops first); on failure last, after the undo steps declared below.
  absl::Cleanup drop_lease = [&] {
    auto drop = [this, lease] {
      cd::leases::v1::DeleteRequest d;
      d.set_id(lease);
      cd::leases::v1::DeleteResponse dr;
      (void)containerd_->leases().Delete(Ctx().get(), d, &dr);
    };
    if (!added || !executor_.Run(drop)) drop();
  };
  cd::snapshots::v1::PrepareRequest prep;
  prep.set_snapshotter(options_.snapshotter);
  prep.set_key(id);
  prep.set_parent(image.snapshot_parent);
  cd::snapshots::v1::PrepareResponse prep_resp;
  {
    auto ctx = Ctx();
    ctx->AddMetadata("berth-lease", lease);
    BERTH_RETURN_IF_ERROR(
        FromGrpcStatus(containerd_->snapshots().Prepare(ctx.get(), prep, &prep_resp)),
        "prepare rootfs");
  }
  absl::Cleanup remove_snapshot = [&] {
    if (added) return;
    cd::snapshots::v1::RemoveRequest rm;
    rm.set_snapshotter(options_.snapshotter);
    rm.set_key(id);
    cd::snapshots::v1::RemoveResponse rm_resp;
    auto st = containerd_->snapshots().Remove(Ctx().get(), rm, &rm_resp);
    if (!st.ok()) LOG(WARNING) << "undo snapshot id=" << id << " error=" << st.error_message();
  };

  // The container's own files: hostname, hosts, resolv.conf (Docker writes them under its
  // containers dir and bind-mounts them).
  const std::string dir = store_->ContainerDir(id);
  BERTH_RETURN_IF_ERROR(fs::MakeDirs(dir, 0710), "create container dir");
  absl::Cleanup remove_dir = [&] {
    if (!added) (void)fs::RemoveAll(dir);
  };
  const std::string hostname =
      config.hostname().empty() ? ShortId(id) : config.hostname();
  ContainerFiles files;
  BERTH_ASSIGN_OR_RETURN(files, WriteContainerFiles(dir, hostname, config.domainname(), host,
                                                    options_.host_resolv_conf));

  SpecRequest spec_req;
  spec_req.id = id;
  spec_req.config = &config;
  spec_req.host_config = &host;
  spec_req.image = &image;
  std::vector<types::Mount> mounts(prep_resp.mounts().begin(), prep_resp.mounts().end());
  {
    // The first start needs them: asking berth-containerd again would cost a round trip.
    absl::MutexLock ml(&mu_);
    mounts_[id] = mounts;
  }
  absl::Cleanup forget_mounts = [&] {
    if (added) return;
    absl::MutexLock ml(&mu_);
    mounts_.erase(id);
  };
  for (const std::string& layer : LayerDirs(mounts)) {
    if (fs::ReadFile(layer + "/etc/passwd").ok()) {
      spec_req.rootfs_dir = layer;
      break;
    }
  }
  spec_req.hostname_path = files.hostname_path;
  spec_req.hosts_path = files.hosts_path;
  spec_req.resolv_conf_path = files.resolv_conf_path;
  spec_req.cgroups_path = absl::StrCat(
      host.resources().cgroup_parent().empty() ? options_.cgroup_parent
                                               : host.resources().cgroup_parent(),
      "/", id);
  BERTH_ASSIGN_OR_RETURN(std::string spec, spec_builder_(spec_req));
  nlohmann::json spec_json = nlohmann::json::parse(spec, nullptr, /*allow_exceptions=*/false);
  if (spec_json.is_discarded()) return absl::InternalError("spec builder made invalid JSON");

  cd::containers::v1::CreateRequest creq;
  auto* c = creq.mutable_container();
  c->set_id(id);
  c->set_image(image.name.empty() ? image.id : image.name);
  c->mutable_runtime()->set_name(host.runtime().empty() ? options_.default_runtime
                                                        : host.runtime());
  c->set_spec(spec);
  c->set_snapshotter(options_.snapshotter);
  c->set_snapshot_key(id);
  (*c->mutable_labels())["berth.engine.name"] = name;
  cd::containers::v1::CreateResponse cresp;
  BERTH_RETURN_IF_ERROR(
      FromGrpcStatus(containerd_->containers().Create(Ctx().get(), creq, &cresp)),
      "create container record");
  absl::Cleanup delete_record = [&] {
    if (added) return;
    cd::containers::v1::DeleteRequest d;
    d.set_id(id);
    cd::containers::v1::DeleteResponse dr;
    (void)containerd_->containers().Delete(Ctx().get(), d, &dr);
  };

  ContainerRecord record;
  record.set_image_ref(config.image());
  record.set_snapshot_key(id);
  ev1::Container* out = record.mutable_container();
  out->set_id(id);
  out->set_name(name);
  *out->mutable_created() = Ts(absl::Now());
  const auto& args = spec_json["process"]["args"];
  if (args.is_array() && !args.empty()) {
    out->set_path(args[0].get<std::string>());
    for (size_t i = 1; i < args.size(); ++i) out->add_args(args[i].get<std::string>());
  }
  SetStatus(out->mutable_state(), ev1::CONTAINER_STATUS_CREATED);
  out->set_image_id(image.id);
  out->set_resolv_conf_path(files.resolv_conf_path);
  out->set_hostname_path(files.hostname_path);
  out->set_hosts_path(files.hosts_path);
  out->set_log_path(absl::StrCat(dir, "/", id, "-json.log"));
  out->set_driver(options_.snapshotter);
  out->set_platform("linux");
  *out->mutable_host_config() = host;
  *out->mutable_config() = config;
  out->mutable_config()->set_hostname(hostname);
  out->mutable_network_settings();
  BERTH_RETURN_IF_ERROR(store_->Add(record));
  added = true;
  Emit("create", record);
  LOG(INFO) << "container created id=" << ShortId(id) << " name=" << name
            << " image=" << config.image();
  ev1::CreateContainerResponse resp;
  resp.set_id(id);
  return resp;
}

// ---------------------------------------------------------------------------------------------
// Start / stop / kill

absl::StatusOr<ev1::StartContainerResponse> ContainerManager::StartContainer(
    const std::string& ref) {
  BERTH_ASSIGN_OR_RETURN(std::string id, store_->Resolve(ref));
  auto lock = LockFor(id);
  absl::MutexLock l(lock.get());
  BERTH_ASSIGN_OR_RETURN(ContainerRecord r, store_->Get(id));
  ev1::StartContainerResponse resp;
  switch (r.container().state().status()) {
    case ev1::CONTAINER_STATUS_RUNNING:
      resp.set_already_running(true);
      return resp;
    case ev1::CONTAINER_STATUS_PAUSED:
      return absl::FailedPreconditionError(
          "cannot start a paused container, try unpause instead");
    case ev1::CONTAINER_STATUS_REMOVING:
    case ev1::CONTAINER_STATUS_DEAD:
      return absl::FailedPreconditionError(
          absl::StrCat("container is marked for removal and cannot be started"));
    default:
      break;
  }
  {
    absl::MutexLock ml(&mu_);
    restarts_.erase(id);  // a user start resets the backoff
  }
  BERTH_RETURN_IF_ERROR(StartLocked(id, /*by_policy=*/false));
  return resp;
}

absl::Status ContainerManager::StartLocked(const std::string& id, bool by_policy) {
  BERTH_ASSIGN_OR_RETURN(ContainerRecord r, store_->Get(id));
  const ev1::ContainerConfig& config = r.container().config();
  const ev1::HostConfig& host = r.container().host_config();

  cd::tasks::v1::CreateRequest treq;
  treq.set_container_id(id);
  {
    // An active snapshot's mounts never change while it exists (its directories are named by
    // its id, its parents are fixed): Create's answer is reused, berth-containerd is asked only
    // after a berthd restart.
    absl::MutexLock ml(&mu_);
    if (auto it = mounts_.find(id); it != mounts_.end()) {
      treq.mutable_rootfs_mounts()->Add(it->second.begin(), it->second.end());
    }
  }
  if (treq.rootfs_mounts().empty()) {
    cd::snapshots::v1::MountsRequest mreq;
    mreq.set_snapshotter(options_.snapshotter);
    mreq.set_key(r.snapshot_key());
    cd::snapshots::v1::MountsResponse mresp;
    BERTH_RETURN_IF_ERROR(
        FromGrpcStatus(containerd_->snapshots().Mounts(Ctx().get(), mreq, &mresp)),
        "rootfs mounts");
    *treq.mutable_rootfs_mounts() = mresp.mounts();
    absl::MutexLock ml(&mu_);
    mounts_[id].assign(mresp.mounts().begin(), mresp.mounts().end());
  }
  treq.set_terminal(config.tty());
  // Docker closes stdin after the first attach only for containers without a terminal
  // (CloseStdin && !TTY): a `run -it` container detached with Ctrl-P Ctrl-Q keeps its stdin,
  // so `attach` can type into it again.
  treq.set_stdin_mode(!config.open_stdin()                  ? types::STDIN_MODE_NULL
                      : config.stdin_once() && !config.tty() ? types::STDIN_MODE_ONCE
                                                            : types::STDIN_MODE_OPEN);
  auto* log = treq.mutable_log_config();
  const auto& lc = host.log_config();
  if (lc.type() == "none") {
    log->set_driver(types::LOG_DRIVER_NONE);
  } else {
    log->set_driver(types::LOG_DRIVER_JSON_FILE);
    log->set_path(r.container().log_path());
    if (auto it = lc.config().find("max-size"); it != lc.config().end()) {
      // As docker's json-file driver reads it: decimal multiples ("10m" is 10,000,000 bytes).
      BERTH_ASSIGN_OR_RETURN(int64_t size, units::FromHumanSize(it->second), "log-opt max-size");
      log->set_max_size_bytes(static_cast<uint64_t>(size));
    }
    if (auto it = lc.config().find("max-file"); it != lc.config().end()) {
      uint32_t n = 0;
      if (!absl::SimpleAtoi(it->second, &n) || n == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid value for log-opt max-file: ", it->second));
      }
      log->set_max_files(n);
    }
  }
  cd::tasks::v1::CreateResponse tresp;
  ::grpc::Status st = containerd_->tasks().Create(Ctx(absl::Minutes(2)).get(), treq, &tresp);
  if (st.error_code() == ::grpc::StatusCode::ALREADY_EXISTS) {
    // A task left from an earlier run whose exit was not handled yet (or a start interrupted by
    // a crash of berthd): it goes, then the create is tried once more. Rare, so the common
    // start does not pay a Delete round trip up front.
    cd::tasks::v1::DeleteRequest d;
    d.set_container_id(id);
    cd::tasks::v1::DeleteResponse dr;
    (void)containerd_->tasks().Delete(Ctx().get(), d, &dr);
    st = containerd_->tasks().Create(Ctx(absl::Minutes(2)).get(), treq, &tresp);
  }
  auto fail = [&](const absl::Status& err) {
    int code = StartFailureExitCode(err.message());
    (void)store_->Update(id, [&](ContainerRecord& rec) {
      auto* s = rec.mutable_container()->mutable_state();
      SetStatus(s, rec.has_been_started() || s->has_finished_at() ? ev1::CONTAINER_STATUS_EXITED
                                                                  : ev1::CONTAINER_STATUS_CREATED);
      s->set_error(std::string(err.message()));
      s->set_exit_code(code);
      return absl::OkStatus();
    });
    return err;
  };
  if (!st.ok()) return fail(Annotate(FromGrpcStatus(st), "create task"));
  // Attach clients waiting for this start connect now, before the process runs.
  std::vector<std::pair<uint64_t, std::function<void()>>> hooks;
  {
    absl::MutexLock ml(&mu_);
    if (auto it = start_hooks_.find(id); it != start_hooks_.end()) {
      hooks = std::move(it->second);
      start_hooks_.erase(it);
    }
  }
  for (auto& [token, hook] : hooks) hook();
  cd::tasks::v1::StartRequest sreq;
  sreq.set_container_id(id);
  cd::tasks::v1::StartResponse sresp;
  st = containerd_->tasks().Start(Ctx().get(), sreq, &sresp);
  if (!st.ok()) {
    cd::tasks::v1::KillRequest k;
    k.set_container_id(id);
    k.set_signal(SIGKILL);
    cd::tasks::v1::KillResponse kr;
    (void)containerd_->tasks().Kill(Ctx().get(), k, &kr);
    cd::tasks::v1::DeleteRequest d;
    d.set_container_id(id);
    cd::tasks::v1::DeleteResponse dr;
    (void)containerd_->tasks().Delete(Ctx().get(), d, &dr);
    return fail(Annotate(FromGrpcStatus(st), "start task"));
  }
  {
    absl::MutexLock ml(&mu_);
    oom_.erase(id);
  }
  BERTH_RETURN_IF_ERROR(store_->Update(id, [&](ContainerRecord& rec) {
    auto* s = rec.mutable_container()->mutable_state();
    SetStatus(s, ev1::CONTAINER_STATUS_RUNNING);
    s->set_pid(static_cast<int32_t>(sresp.pid()));
    s->set_exit_code(0);
    s->set_error("");
    s->set_oom_killed(false);
    *s->mutable_started_at() = Ts(absl::Now());
    rec.set_has_been_started(true);
    if (!by_policy) {
      rec.set_manually_stopped(false);
      rec.mutable_container()->set_restart_count(0);
    }
    return absl::OkStatus();
  }));
  Emit("start", id);
  LOG(INFO) << "container started id=" << ShortId(id) << " pid=" << sresp.pid()
            << (by_policy ? " by=restart-policy" : "");
  return absl::OkStatus();
}

absl::StatusOr<bool> ContainerManager::WaitStopped(const std::string& id,
                                                   absl::Duration timeout) {
  cd::tasks::v1::WaitRequest w;
  w.set_container_id(id);
  cd::tasks::v1::WaitResponse wr;
  ::grpc::Status st = containerd_->tasks().Wait(Ctx(timeout).get(), w, &wr);
  if (st.error_code() == ::grpc::StatusCode::DEADLINE_EXCEEDED) return false;
  if (st.error_code() == ::grpc::StatusCode::NOT_FOUND) return true;
  if (!st.ok()) return FromGrpcStatus(st);
  return true;
}

absl::Status ContainerManager::StopLocked(const std::string& id, const std::string& signal,
                                          std::optional<absl::Duration> timeout, bool manual) {
  BERTH_ASSIGN_OR_RETURN(ContainerRecord r, store_->Get(id));
  const ev1::ContainerConfig& config = r.container().config();
  std::string sig_name = signal.empty() ? config.stop_signal() : signal;
  if (sig_name.empty()) sig_name = "SIGTERM";
  BERTH_ASSIGN_OR_RETURN(int sig, ParseSignal(sig_name));
  absl::Duration grace = absl::Seconds(10);
  if (timeout.has_value()) {
    grace = *timeout;
  } else if (config.has_stop_timeout()) {
    grace = absl::Seconds(config.stop_timeout().seconds()) +
            absl::Nanoseconds(config.stop_timeout().nanos());
  }
  if (manual) {
    BERTH_RETURN_IF_ERROR(store_->Update(id, [](ContainerRecord& rec) {
      rec.set_manually_stopped(true);
      return absl::OkStatus();
    }));
  }
  const bool paused = r.container().state().status() == ev1::CONTAINER_STATUS_PAUSED;
  cd::tasks::v1::KillRequest k;
  k.set_container_id(id);
  k.set_signal(static_cast<uint32_t>(sig));
  cd::tasks::v1::KillResponse kr;
  ::grpc::Status st = containerd_->tasks().Kill(Ctx().get(), k, &kr);
  if (!st.ok() && st.error_code() != ::grpc::StatusCode::FAILED_PRECONDITION &&
      st.error_code() != ::grpc::StatusCode::NOT_FOUND) {
    // Exited just now ("container not running")? Then there is nothing to stop.
    BERTH_ASSIGN_OR_RETURN(bool gone, WaitStopped(id, absl::Milliseconds(500)));
    if (!gone) return Annotate(FromGrpcStatus(st), "send stop signal");
  }
  if (paused) {
    // A frozen process cannot act on the signal: thaw it (Docker does the same).
    cd::tasks::v1::ResumeRequest rs;
    rs.set_container_id(id);
    cd::tasks::v1::ResumeResponse rsr;
    (void)containerd_->tasks().Resume(Ctx().get(), rs, &rsr);
  }
  bool stopped = false;
  if (grace < absl::ZeroDuration()) {
    BERTH_ASSIGN_OR_RETURN(stopped, WaitStopped(id, absl::InfiniteDuration()));
  } else if (grace > absl::ZeroDuration()) {
    BERTH_ASSIGN_OR_RETURN(stopped, WaitStopped(id, grace));
  }
  if (!stopped) {
    LOG(INFO) << "container did not stop in time, killing id=" << ShortId(id)
              << " grace=" << grace;
    k.set_signal(SIGKILL);
    k.set_all(true);
    st = containerd_->tasks().Kill(Ctx().get(), k, &kr);
    // The process may have died between the first signal and this one; then the runtime
    // answers "container not running" (as Internal from some runtimes). Only a container that
    // is still running after the kill is an error.
    BERTH_ASSIGN_OR_RETURN(stopped, WaitStopped(id, st.ok() ? absl::Seconds(30)
                                                            : absl::Seconds(2)));
    if (!stopped && !st.ok()) return Annotate(FromGrpcStatus(st), "kill");
    if (!stopped) return absl::DeadlineExceededError("container did not exit after SIGKILL");
  }
  HandleExitLocked(id, /*apply_policy=*/!manual);
  return absl::OkStatus();
}

absl::StatusOr<ev1::StopContainerResponse> ContainerManager::Stop(
    const ev1::StopContainerRequest& req) {
  BERTH_ASSIGN_OR_RETURN(std::string id, store_->Resolve(req.id()));
  auto lock = LockFor(id);
  absl::MutexLock l(lock.get());
  BERTH_ASSIGN_OR_RETURN(ContainerRecord r, store_->Get(id));
  ev1::StopContainerResponse resp;
  {
    absl::MutexLock ml(&mu_);
    restarts_.erase(id);
  }
  if (!IsRunning(r.container().state())) {
    if (r.container().state().status() == ev1::CONTAINER_STATUS_RESTARTING) {
      // Cancel the pending restart: the scheduled start checks manually_stopped.
      BERTH_RETURN_IF_ERROR(store_->Update(id, [](ContainerRecord& rec) {
        rec.set_manually_stopped(true);
        SetStatus(rec.mutable_container()->mutable_state(), ev1::CONTAINER_STATUS_EXITED);
        return absl::OkStatus();
      }));
    }
    resp.set_already_stopped(true);
    return resp;
  }
  std::optional<absl::Duration> timeout;
  if (req.has_timeout()) {
    timeout = absl::Seconds(req.timeout().seconds()) + absl::Nanoseconds(req.timeout().nanos());
  }
  BERTH_RETURN_IF_ERROR(StopLocked(id, req.signal(), timeout, /*manual=*/true));
  Emit("stop", id);
  return resp;
}

absl::Status ContainerManager::Restart(const ev1::RestartContainerRequest& req) {
  BERTH_ASSIGN_OR_RETURN(std::string id, store_->Resolve(req.id()));
  auto lock = LockFor(id);
  absl::MutexLock l(lock.get());
  BERTH_ASSIGN_OR_RETURN(ContainerRecord r, store_->Get(id));
  if (IsRunning(r.container().state())) {
    std::optional<absl::Duration> timeout;
    if (req.has_timeout()) {
      timeout =
          absl::Seconds(req.timeout().seconds()) + absl::Nanoseconds(req.timeout().nanos());
    }
    BERTH_RETURN_IF_ERROR(StopLocked(id, req.signal(), timeout, /*manual=*/true));
  }
  {
    absl::MutexLock ml(&mu_);
    restarts_.erase(id);
  }
  BERTH_RETURN_IF_ERROR(StartLocked(id, /*by_policy=*/false));
  Emit("restart", id);
  return absl::OkStatus();
}

absl::Status ContainerManager::Kill(const std::string& ref, const std::string& signal) {
  BERTH_ASSIGN_OR_RETURN(std::string id, store_->Resolve(ref));
  BERTH_ASSIGN_OR_RETURN(int sig, ParseSignal(signal.empty() ? "KILL" : signal));
  auto lock = LockFor(id);
  absl::MutexLock l(lock.get());
  BERTH_ASSIGN_OR_RETURN(ContainerRecord r, store_->Get(id));
  if (!IsRunning(r.container().state())) {
    return absl::FailedPreconditionError(
        absl::StrCat("Container ", id, " is not running"));
  }
  // Killing with the stop signal or SIGKILL is a manual stop: restart policies stay off
  // (Docker cancels its restart manager the same way).
  if (sig == SIGKILL || sig == SIGTERM) {
    BERTH_RETURN_IF_ERROR(store_->Update(id, [](ContainerRecord& rec) {
      rec.set_manually_stopped(true);
      return absl::OkStatus();
    }));
  }
  cd::tasks::v1::KillRequest k;
  k.set_container_id(id);
  k.set_signal(static_cast<uint32_t>(sig));
  cd::tasks::v1::KillResponse kr;
  ::grpc::Status st = containerd_->tasks().Kill(Ctx().get(), k, &kr);
  if (st.error_code() == ::grpc::StatusCode::FAILED_PRECONDITION ||
      st.error_code() == ::grpc::StatusCode::NOT_FOUND) {
    return absl::FailedPreconditionError(absl::StrCat("Container ", id, " is not running"));
  }
  BERTH_RETURN_IF_ERROR(FromGrpcStatus(st));
  Emit("kill", id, {{"signal", absl::StrCat(sig)}});
  return absl::OkStatus();
}

absl::Status ContainerManager::Pause(const std::string& ref) {
  BERTH_ASSIGN_OR_RETURN(std::string id, store_->Resolve(ref));
  auto lock = LockFor(id);
  absl::MutexLock l(lock.get());
  BERTH_ASSIGN_OR_RETURN(ContainerRecord r, store_->Get(id));
  const auto status = r.container().state().status();
  if (status == ev1::CONTAINER_STATUS_PAUSED) {
    return absl::FailedPreconditionError(absl::StrCat("Container ", id, " is already paused"));
  }
  if (status != ev1::CONTAINER_STATUS_RUNNING) {
    return absl::FailedPreconditionError(absl::StrCat("Container ", id, " is not running"));
  }
  cd::tasks::v1::PauseRequest p;
  p.set_container_id(id);
  cd::tasks::v1::PauseResponse pr;
  BERTH_RETURN_IF_ERROR(FromGrpcStatus(containerd_->tasks().Pause(Ctx().get(), p, &pr)),
                        "pause");
  BERTH_RETURN_IF_ERROR(store_->Update(id, [](ContainerRecord& rec) {
    SetStatus(rec.mutable_container()->mutable_state(), ev1::CONTAINER_STATUS_PAUSED);
    return absl::OkStatus();
  }));
  Emit("pause", id);
  return absl::OkStatus();
}

absl::Status ContainerManager::Unpause(const std::string& ref) {
  BERTH_ASSIGN_OR_RETURN(std::string id, store_->Resolve(ref));
  auto lock = LockFor(id);
  absl::MutexLock l(lock.get());
  BERTH_ASSIGN_OR_RETURN(ContainerRecord r, store_->Get(id));
  if (r.container().state().status() != ev1::CONTAINER_STATUS_PAUSED) {
    return absl::FailedPreconditionError(absl::StrCat("Container ", id, " is not paused"));
  }
  cd::tasks::v1::ResumeRequest p;
  p.set_container_id(id);
  cd::tasks::v1::ResumeResponse pr;
  BERTH_RETURN_IF_ERROR(FromGrpcStatus(containerd_->tasks().Resume(Ctx().get(), p, &pr)),
                        "unpause");
  BERTH_RETURN_IF_ERROR(store_->Update(id, [](ContainerRecord& rec) {
    SetStatus(rec.mutable_container()->mutable_state(), ev1::CONTAINER_STATUS_RUNNING);
    return absl::OkStatus();
  }));
  Emit("unpause", id);
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Remove, rename, update

absl::Status ContainerManager::Remove(const ev1::RemoveContainerRequest& req) {
  BERTH_ASSIGN_OR_RETURN(std::string id, store_->Resolve(req.id()));
  absl::Status s;
  {
    auto lock = LockFor(id);
    absl::MutexLock l(lock.get());
    s = RemoveLocked(id, req.force());
  }
  if (s.ok()) {
    ev1::ExitStatus gone;
    NotifyWaiters(id, gone, /*removed=*/true);
    absl::MutexLock ml(&mu_);
    locks_.erase(id);
  }
  return s;
}

absl::Status ContainerManager::RemoveLocked(const std::string& id, bool force,
                                           bool task_deleted) {
  BERTH_ASSIGN_OR_RETURN(ContainerRecord r, store_->Get(id));
  const auto status = r.container().state().status();
  if (status == ev1::CONTAINER_STATUS_RUNNING || status == ev1::CONTAINER_STATUS_PAUSED) {
    if (!force) {
      return absl::FailedPreconditionError(absl::StrCat(
          "You cannot remove a ", status == ev1::CONTAINER_STATUS_PAUSED ? "paused" : "running",
          " container ", id, ". Stop the container before attempting removal or force remove"));
    }
    // A manual stop: StopLocked records manually_stopped first, so no restart policy fires.
    BERTH_RETURN_IF_ERROR(StopLocked(id, "SIGKILL", absl::ZeroDuration(), /*manual=*/true));
    // Its exit handling deleted the task (or found it gone): no second Delete below.
    task_deleted = true;
  }
  {
    absl::MutexLock ml(&mu_);
    restarts_.erase(id);
  }
  (void)store_->Update(id, [](ContainerRecord& rec) {
    rec.set_manually_stopped(true);
    SetStatus(rec.mutable_container()->mutable_state(), ev1::CONTAINER_STATUS_REMOVING);
    return absl::OkStatus();
  });
  // Task (if an exit was never handled), container record, snapshot: each NotFound is fine,
  // so a removal that failed half-way can be repeated.
  ::grpc::Status st;
  if (!task_deleted) {
    cd::tasks::v1::DeleteRequest td;
    td.set_container_id(id);
    cd::tasks::v1::DeleteResponse tdr;
    st = containerd_->tasks().Delete(Ctx().get(), td, &tdr);
    if (!st.ok() && st.error_code() != ::grpc::StatusCode::NOT_FOUND) {
      return Annotate(FromGrpcStatus(st), "delete task");
    }
  }
  cd::containers::v1::DeleteRequest cdel;
  cdel.set_id(id);
  cd::containers::v1::DeleteResponse cdr;
  st = containerd_->containers().Delete(Ctx().get(), cdel, &cdr);
  if (!st.ok() && st.error_code() != ::grpc::StatusCode::NOT_FOUND) {
    return Annotate(FromGrpcStatus(st), "delete container record");
  }
  cd::snapshots::v1::RemoveRequest srm;
  srm.set_snapshotter(options_.snapshotter);
  srm.set_key(r.snapshot_key());
  cd::snapshots::v1::RemoveResponse srr;
  st = containerd_->snapshots().Remove(Ctx().get(), srm, &srr);
  if (!st.ok() && st.error_code() != ::grpc::StatusCode::NOT_FOUND) {
    return Annotate(FromGrpcStatus(st), "remove rootfs");
  }
  BERTH_RETURN_IF_ERROR(store_->Remove(id));
  Emit("destroy", r);
  {
    absl::MutexLock ml(&mu_);
    mounts_.erase(id);
    for (auto it = execs_.begin(); it != execs_.end();) {
      if (it->second == id) {
        execs_.erase(it++);
      } else {
        ++it;
      }
    }
  }
  LOG(INFO) << "container removed id=" << ShortId(id);
  return absl::OkStatus();
}

absl::Status ContainerManager::Rename(const std::string& ref, const std::string& new_name) {
  BERTH_ASSIGN_OR_RETURN(std::string id, store_->Resolve(ref));
  std::string name(absl::StripPrefix(new_name, "/"));
  if (name.empty()) return absl::InvalidArgumentError("Neither old nor new names may be empty");
  BERTH_ASSIGN_OR_RETURN(ContainerRecord before, store_->Get(id));
  BERTH_RETURN_IF_ERROR(store_->Rename(id, name));
  Emit("rename", id, {{"oldName", "/" + before.container().name()}});
  return absl::OkStatus();
}

absl::StatusOr<ev1::UpdateContainerResponse> ContainerManager::Update(
    const ev1::UpdateContainerRequest& req) {
  BERTH_ASSIGN_OR_RETURN(std::string id, store_->Resolve(req.id()));
  auto lock = LockFor(id);
  absl::MutexLock l(lock.get());
  BERTH_ASSIGN_OR_RETURN(ContainerRecord r, store_->Get(id));
  ev1::HostConfig host = r.container().host_config();
  const ev1::Resources& in = req.resources();
  ev1::Resources* res = host.mutable_resources();
  nlohmann::json linux_res = nlohmann::json::object();
  if (in.memory() != 0) {
    res->set_memory(in.memory());
    linux_res["memory"]["limit"] = in.memory();
  }
  if (in.memory_swap() != 0) {
    res->set_memory_swap(in.memory_swap());
    linux_res["memory"]["swap"] = in.memory_swap();
  }
  if (in.nano_cpus() != 0) {
    res->set_nano_cpus(in.nano_cpus());
    linux_res["cpu"]["period"] = 100000;
    linux_res["cpu"]["quota"] = in.nano_cpus() / 10000;  // 1e9 nano-CPUs = 100000us/100000us
  }
  if (in.cpu_shares() != 0) {
    res->set_cpu_shares(in.cpu_shares());
    linux_res["cpu"]["shares"] = in.cpu_shares();
  }
  if (in.has_pids_limit()) {
    res->set_pids_limit(in.pids_limit());
    linux_res["pids"]["limit"] = in.pids_limit();
  }
  if (!in.cpuset_cpus().empty()) {
    res->set_cpuset_cpus(in.cpuset_cpus());
    linux_res["cpu"]["cpus"] = in.cpuset_cpus();
  }
  if (req.has_restart_policy()) {
    if (host.auto_remove() && req.restart_policy().name() != ev1::RESTART_POLICY_NAME_NO) {
      return absl::InvalidArgumentError(
          "Restart policy cannot be updated because AutoRemove is enabled for the container");
    }
    *host.mutable_restart_policy() = req.restart_policy();
  }
  if (IsRunning(r.container().state()) && !linux_res.empty()) {
    cd::tasks::v1::UpdateRequest u;
    u.set_container_id(id);
    u.set_resources(linux_res.dump());
    cd::tasks::v1::UpdateResponse ur;
    BERTH_RETURN_IF_ERROR(FromGrpcStatus(containerd_->tasks().Update(Ctx().get(), u, &ur)),
                          "update resources");
  }
  BERTH_RETURN_IF_ERROR(store_->Update(id, [&](ContainerRecord& rec) {
    *rec.mutable_container()->mutable_host_config() = host;
    return absl::OkStatus();
  }));
  Emit("update", id);
  return ev1::UpdateContainerResponse();
}

// ---------------------------------------------------------------------------------------------
// Reading

absl::StatusOr<ev1::Container> ContainerManager::Inspect(const std::string& ref) {
  BERTH_ASSIGN_OR_RETURN(std::string id, store_->Resolve(ref));
  BERTH_ASSIGN_OR_RETURN(ContainerRecord r, store_->Get(id));
  ev1::Container c = r.container();
  for (const auto& [exec_id, e] : r.execs()) c.add_exec_ids(exec_id);
  return c;
}

absl::StatusOr<ev1::ListContainersResponse> ContainerManager::List(
    const ev1::ListContainersRequest& req) {
  BERTH_ASSIGN_OR_RETURN(ContainerFilter filter, ContainerFilter::Parse(req.filters(), *store_));
  std::vector<ContainerRecord> all = store_->List();
  ev1::ListContainersResponse resp;
  const absl::Time now = absl::Now();
  int count = 0;
  for (auto it = all.rbegin(); it != all.rend(); ++it) {  // newest first
    const ev1::Container& c = it->container();
    if (!req.all() && req.limit() <= 0 && !IsRunning(c.state()) &&
        !filter.HasStatusFilter()) {
      continue;
    }
    if (!filter.Matches(*it)) continue;
    if (req.limit() > 0 && count >= req.limit()) break;
    ++count;
    ev1::ContainerSummary* s = resp.add_containers();
    s->set_id(c.id());
    s->set_name(c.name());
    s->set_image(it->image_ref());
    s->set_image_id(c.image_id());
    std::vector<std::string> cmd = {c.path()};
    cmd.insert(cmd.end(), c.args().begin(), c.args().end());
    s->set_command(absl::StrJoin(cmd, " "));
    *s->mutable_created() = c.created();
    *s->mutable_labels() = c.config().labels();
    s->set_state(c.state().status());
    s->set_status(HumanStatus(c.state(), now));
    s->set_network_mode(c.host_config().network_mode().empty() ? "default"
                                                               : c.host_config().network_mode());
    *s->mutable_mounts() = c.mounts();
  }
  return resp;
}

absl::StatusOr<ev1::ContainerTopResponse> ContainerManager::Top(const std::string& ref) {
  BERTH_ASSIGN_OR_RETURN(std::string id, store_->Resolve(ref));
  BERTH_ASSIGN_OR_RETURN(ContainerRecord r, store_->Get(id));
  if (!IsRunning(r.container().state())) {
    return absl::FailedPreconditionError(absl::StrCat("Container ", id, " is not running"));
  }
  cd::tasks::v1::ListPidsRequest lp;
  lp.set_container_id(id);
  cd::tasks::v1::ListPidsResponse lpr;
  BERTH_RETURN_IF_ERROR(FromGrpcStatus(containerd_->tasks().ListPids(Ctx().get(), lp, &lpr)),
                        "list processes");
  std::vector<int> pids;
  for (const auto& p : lpr.processes()) pids.push_back(static_cast<int>(p.pid()));
  return TopFromProc(pids);
}

absl::StatusOr<ev1::PruneContainersResponse> ContainerManager::Prune(
    const ev1::PruneContainersRequest& req) {
  BERTH_ASSIGN_OR_RETURN(ContainerFilter filter,
                         ContainerFilter::Parse(req.filters(), *store_, /*prune=*/true));
  ev1::PruneContainersResponse resp;
  for (const ContainerRecord& r : store_->List()) {
    const auto status = r.container().state().status();
    if (status != ev1::CONTAINER_STATUS_EXITED && status != ev1::CONTAINER_STATUS_CREATED &&
        status != ev1::CONTAINER_STATUS_DEAD) {
      continue;
    }
    if (!filter.Matches(r)) continue;
    ev1::RemoveContainerRequest rm;
    rm.set_id(r.container().id());
    if (Remove(rm).ok()) resp.add_deleted_ids(r.container().id());
  }
  return resp;
}

bool ContainerManager::AddStartHook(const std::string& id, std::function<void()> hook,
                                    uint64_t* token) {
  auto lock = LockFor(id);
  absl::MutexLock l(lock.get());
  absl::StatusOr<ContainerRecord> r = store_->Get(id);
  if (!r.ok() || IsRunning(r->container().state())) return false;
  absl::MutexLock ml(&mu_);
  *token = next_hook_token_++;
  start_hooks_[id].emplace_back(*token, std::move(hook));
  return true;
}

void ContainerManager::RemoveStartHook(const std::string& id, uint64_t token) {
  absl::MutexLock ml(&mu_);
  auto it = start_hooks_.find(id);
  if (it == start_hooks_.end()) return;
  auto& v = it->second;
  v.erase(std::remove_if(v.begin(), v.end(), [&](const auto& h) { return h.first == token; }),
          v.end());
  if (v.empty()) start_hooks_.erase(it);
}

void ContainerManager::Emit(const std::string& action, const ContainerRecord& r,
                            std::map<std::string, std::string> extra) {
  if (!options_.events) return;
  for (const auto& [k, v] : r.container().config().labels()) extra.emplace(k, v);
  extra["name"] = r.container().name();
  extra["image"] = r.image_ref();
  options_.events(action, r.container().id(), std::move(extra));
}

void ContainerManager::Emit(const std::string& action, const std::string& id,
                            std::map<std::string, std::string> extra) {
  if (!options_.events) return;
  absl::StatusOr<ContainerRecord> r = store_->Get(id);
  if (r.ok()) Emit(action, *r, std::move(extra));
}

// ---------------------------------------------------------------------------------------------
// Exec bookkeeping

absl::StatusOr<std::string> ContainerManager::NewExec(const std::string& id,
                                                      const ev1::ExecConfig& config) {
  BERTH_ASSIGN_OR_RETURN(ContainerRecord r, store_->Get(id));
  const auto status = r.container().state().status();
  if (status == ev1::CONTAINER_STATUS_PAUSED) {
    return absl::FailedPreconditionError(
        absl::StrCat("Container ", id, " is paused, unpause the container before exec"));
  }
  if (status != ev1::CONTAINER_STATUS_RUNNING) {
    return absl::FailedPreconditionError(absl::StrCat("Container ", id, " is not running"));
  }
  if (config.cmd().empty()) return absl::InvalidArgumentError("No exec command specified");
  BERTH_ASSIGN_OR_RETURN(std::string exec_id, id::GenerateId());
  BERTH_RETURN_IF_ERROR(store_->Update(id, [&](ContainerRecord& rec) {
    auto& e = (*rec.mutable_execs())[exec_id];
    e.set_id(exec_id);
    e.mutable_cmd()->CopyFrom(config.cmd());
    e.set_tty(config.tty());
    return absl::OkStatus();
  }));
  {
    absl::MutexLock ml(&mu_);
    execs_[exec_id] = id;
  }
  Emit("exec_create", id, {{"execID", exec_id}});
  return exec_id;
}

void ContainerManager::ExecStarted(const std::string& id, const std::string& exec_id, int pid) {
  (void)store_->Update(id, [&](ContainerRecord& rec) {
    auto it = rec.mutable_execs()->find(exec_id);
    if (it != rec.mutable_execs()->end()) {
      it->second.set_running(true);
      it->second.set_pid(pid);
    }
    return absl::OkStatus();
  });
  Emit("exec_start", id, {{"execID", exec_id}});
}

void ContainerManager::ExecExited(const std::string& id, const std::string& exec_id,
                                  int exit_code) {
  (void)store_->Update(id, [&](ContainerRecord& rec) {
    auto it = rec.mutable_execs()->find(exec_id);
    if (it != rec.mutable_execs()->end()) {
      it->second.set_running(false);
      it->second.set_exit_code(exit_code);
      it->second.set_has_exit_code(true);
    }
    return absl::OkStatus();
  });
  Emit("exec_die", id, {{"execID", exec_id}, {"exitCode", absl::StrCat(exit_code)}});
}

absl::StatusOr<ev1::ExecInfo> ContainerManager::InspectExec(const std::string& exec_id) {
  std::string id;
  {
    absl::MutexLock ml(&mu_);
    auto it = execs_.find(exec_id);
    if (it == execs_.end()) {
      return absl::NotFoundError(absl::StrCat("No such exec instance: ", exec_id));
    }
    id = it->second;
  }
  BERTH_ASSIGN_OR_RETURN(ContainerRecord r, store_->Get(id));
  auto it = r.execs().find(exec_id);
  if (it == r.execs().end()) {
    return absl::NotFoundError(absl::StrCat("No such exec instance: ", exec_id));
  }
  ev1::ExecInfo info;
  info.set_exec_id(exec_id);
  info.set_container_id(id);
  info.set_running(it->second.running());
  if (it->second.has_exit_code()) info.set_exit_code(it->second.exit_code());
  info.set_pid(it->second.pid());
  info.mutable_config()->mutable_cmd()->CopyFrom(it->second.cmd());
  info.mutable_config()->set_tty(it->second.tty());
  return info;
}

}  // namespace berth::engine::containers
