#include "containerd/tasks/berth_shim_manager.h"

#include <sys/types.h>

#include <chrono>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "berth/shim/task/v1/task.grpc.pb.h"
#include "common/fs/fs.h"
#include "common/grpc/server.h"
#include "common/grpc/status_mapping.h"
#include "common/proc/proc.h"
#include "common/status/status_macros.h"
#include "containerd/tasks/command.h"
#include "glog/logging.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

namespace berth::containerd::tasks {
namespace {

namespace shimpb = ::berth::shim::task::v1;
using ::google::protobuf::util::TimeUtil;

// The handshake version this daemon speaks (bootstrap.proto,
// BootstrapParams.version).
constexpr uint32_t kHandshakeVersion = 1;

// The JSON line a handshake command printed, parsed into `out` (unknown fields
// ignored, as bootstrap.proto asks).
absl::Status ParseJsonLine(const std::string &stdout_text,
                           google::protobuf::Message *out) {
  for (absl::string_view line :
       absl::StrSplit(stdout_text, '\n', absl::SkipWhitespace())) {
    if (!absl::StartsWith(line, "{"))
      continue;
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = true;
    if (google::protobuf::util::JsonStringToMessage(std::string(line), out,
                                                    options)
            .ok()) {
      return absl::OkStatus();
    }
  }
  return absl::InternalError(
      absl::StrCat("no ", out->GetTypeName(),
                   " JSON line in the shim's output: ", stdout_text));
}

absl::StatusOr<shimpb::BootstrapParams>
ReadBootstrap(const std::string &bundle) {
  BERTH_ASSIGN_OR_RETURN(const std::string text,
                         fs::ReadFile(bundle + "/bootstrap.json"));
  shimpb::BootstrapParams params;
  BERTH_RETURN_IF_ERROR(ParseJsonLine(text, &params), "bootstrap.json");
  return params;
}

} // namespace

BerthShimManager::BerthShimManager(BerthShimManagerOptions options)
    : options_(std::move(options)) {}

absl::Status BerthShimManager::CheckBinary() const {
  if (options_.shim_binary.empty()) {
    return absl::FailedPreconditionError(
        "no berth-shim binary (see berth-containerd --shim)");
  }
  return absl::OkStatus();
}

std::vector<std::string>
BerthShimManager::ShimArgs(const std::string &command,
                           const ShimSpec &spec) const {
  std::vector<std::string> args = {options_.shim_binary,
                                   command,
                                   "--namespace=" + spec.ns,
                                   "--id=" + spec.id,
                                   "--bundle=" + spec.bundle,
                                   "--state_dir=" + options_.state_dir,
                                   "--runtime=" + spec.runtime.binary};
  if (command == "start")
    args.push_back("--address=" + options_.containerd_address);
  if (!spec.runtime.root.empty())
    args.push_back("--runtime_root=" + spec.runtime.root);
  if (spec.runtime.systemd_cgroup)
    args.push_back("--systemd_cgroup");
  if (command == "start" && !spec.runtime.shim_cgroup.empty()) {
    args.push_back("--shim_cgroup=" + spec.runtime.shim_cgroup);
  }
  if (!options_.shim_log_level.empty())
    args.push_back("--log_level=" + options_.shim_log_level);
  return args;
}

absl::StatusOr<ShimConnection>
BerthShimManager::Dial(const ShimSpec &spec,
                       const shimpb::BootstrapParams &params) {
  if (params.protocol() != "grpc") {
    return absl::UnavailableError(
        absl::StrCat("shim protocol ", params.protocol(), " unknown"));
  }
  BERTH_ASSIGN_OR_RETURN(std::shared_ptr<::grpc::Channel> channel,
                         grpc_util::DialUnix(params.address()));
  auto stub = shimpb::Task::NewStub(channel);
  ::grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   absl::ToChronoMilliseconds(options_.connect_timeout));
  shimpb::ConnectRequest req;
  req.set_container_id(spec.id);
  ShimConnection conn;
  const ::grpc::Status s = stub->Connect(&ctx, req, &conn.connect);
  if (!s.ok()) {
    return absl::UnavailableError(
        absl::StrCat("connect to shim: ", s.error_message()));
  }
  if (conn.connect.shim_pid() != params.shim_pid() ||
      conn.connect.shim_start_time() != params.shim_start_time()) {
    return absl::UnavailableError(
        absl::StrCat("socket ", params.address(), " is served by shim pid ",
                     conn.connect.shim_pid(), ", not the task's shim pid ",
                     params.shim_pid()));
  }
  if (conn.connect.namespace_() != spec.ns ||
      conn.connect.bundle() != spec.bundle) {
    return absl::UnavailableError(
        absl::StrCat("shim serves namespace ", conn.connect.namespace_(),
                     " bundle ", conn.connect.bundle()));
  }
  conn.params = params;
  conn.channel = std::move(channel);
  return conn;
}

absl::StatusOr<ShimConnection> BerthShimManager::Start(const ShimSpec &spec) {
  BERTH_RETURN_IF_ERROR(CheckBinary());
  CommandOptions cmd;
  cmd.argv = ShimArgs("start", spec);
  cmd.cwd = spec.bundle;
  cmd.timeout = options_.command_timeout;
  BERTH_ASSIGN_OR_RETURN(CommandResult result, RunCommand(cmd),
                         "berth-shim start");
  if (!result.Succeeded()) {
    return absl::InternalError(
        absl::StrCat("berth-shim start: ", result.ErrorLine()));
  }
  shimpb::BootstrapParams params;
  absl::Status parsed = ParseJsonLine(result.stdout_text, &params);
  auto fail = [&](absl::Status s) -> absl::Status {
    if (absl::StatusOr<TaskExit> c = Cleanup(spec); !c.ok()) {
      LOG(WARNING) << "cleanup of failed shim start id=" << spec.id
                   << " error=\"" << c.status().message() << "\"";
    }
    return s;
  };
  if (!parsed.ok())
    return fail(Annotate(parsed, "berth-shim start"));
  if (params.version() != kHandshakeVersion) {
    return fail(absl::FailedPreconditionError(
        absl::StrCat("berth-shim speaks handshake version ", params.version(),
                     ", not ", kHandshakeVersion)));
  }
  absl::StatusOr<ShimConnection> conn = Dial(spec, params);
  if (!conn.ok())
    return fail(conn.status());
  LOG(INFO) << "shim started ns=" << spec.ns << " id=" << spec.id
            << " pid=" << params.shim_pid();
  return conn;
}

absl::StatusOr<ShimConnection>
BerthShimManager::Reconnect(const ShimSpec &spec) {
  BERTH_ASSIGN_OR_RETURN(const shimpb::BootstrapParams params,
                         ReadBootstrap(spec.bundle));
  BERTH_ASSIGN_OR_RETURN(const bool alive, IsAlive(params));
  if (!alive) {
    return absl::FailedPreconditionError(absl::StrCat(
        "shim pid ", params.shim_pid(), " of task ", spec.id, " is gone"));
  }
  return Dial(spec, params);
}

absl::StatusOr<bool>
BerthShimManager::IsAlive(const shimpb::BootstrapParams &params) {
  proc::ProcessIdentity shim;
  shim.pid = static_cast<pid_t>(params.shim_pid());
  shim.start_time = params.shim_start_time();
  if (shim.pid <= 0)
    return false;
  return shim.IsAlive();
}

absl::StatusOr<TaskExit> BerthShimManager::Cleanup(const ShimSpec &spec) {
  BERTH_RETURN_IF_ERROR(CheckBinary());
  CommandOptions cmd;
  cmd.argv = ShimArgs("delete", spec);
  cmd.cwd = spec.bundle;
  cmd.timeout = options_.command_timeout;
  BERTH_ASSIGN_OR_RETURN(CommandResult result, RunCommand(cmd),
                         "berth-shim delete");
  if (!result.Succeeded()) {
    return absl::InternalError(
        absl::StrCat("berth-shim delete: ", result.ErrorLine()));
  }
  shimpb::CleanupResult cleanup;
  BERTH_RETURN_IF_ERROR(ParseJsonLine(result.stdout_text, &cleanup),
                        "berth-shim delete");
  TaskExit exit;
  exit.pid = cleanup.pid();
  exit.exit_status = cleanup.exit_status();
  exit.exited_at = absl::FromUnixNanos(
      TimeUtil::TimestampToNanoseconds(cleanup.exited_at()));
  LOG(INFO) << "shim cleaned up ns=" << spec.ns << " id=" << spec.id
            << " exit_status=" << exit.exit_status;
  return exit;
}

} // namespace berth::containerd::tasks
