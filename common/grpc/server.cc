#include "common/grpc/server.h"

#include <errno.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/strings/str_cat.h"
#include "common/grpc/address.h"
#include "common/grpc/server_metrics.h"
#include "common/status/status_macros.h"
#include "glog/logging.h"

namespace berth::grpc_util {
namespace {

absl::Status MakeDirs(const std::string& dir) {
  if (dir.empty() || dir == "/") return absl::OkStatus();
  struct stat st;
  if (stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrCat(dir, " exists and is not a directory"));
  }
  BERTH_RETURN_IF_ERROR(MakeDirs(dir.substr(0, dir.rfind('/'))));
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::ErrnoToStatus(errno, absl::StrCat("mkdir ", dir));
  }
  return absl::OkStatus();
}

// Removes a socket left behind by a daemon that died, refusing to touch a live one or a file
// that is not a socket.
absl::Status RemoveStaleSocket(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return absl::ErrnoToStatus(errno, absl::StrCat("stat ", path));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(path, " exists and is not a socket"));
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::ErrnoToStatus(errno, "socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  int rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  int err = errno;
  close(fd);
  if (rc == 0) {
    return absl::AlreadyExistsError(
        absl::StrCat("another process is serving on ", path, "; is the daemon already running?"));
  }
  if (err != ECONNREFUSED && err != ENOENT) {
    return absl::ErrnoToStatus(err, absl::StrCat("probe ", path));
  }
  LOG(INFO) << "removing stale socket path=" << path;
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::ErrnoToStatus(errno, absl::StrCat("unlink ", path));
  }
  return absl::OkStatus();
}

absl::Status SetSocketOwnership(const std::string& path, mode_t mode, const std::string& group) {
  if (!group.empty()) {
    struct group grp;
    struct group* found = nullptr;
    char buf[4096];
    if (getgrnam_r(group.c_str(), &grp, buf, sizeof(buf), &found) == 0 && found != nullptr) {
      if (chown(path.c_str(), -1, found->gr_gid) != 0) {
        return absl::ErrnoToStatus(errno, absl::StrCat("chown ", path, " to group ", group));
      }
    }
  }
  if (chmod(path.c_str(), mode) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("chmod ", path));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<UnixGrpcServer>> UnixGrpcServer::Start(
    const UnixServerOptions& options, const std::vector<::grpc::Service*>& services) {
  BERTH_ASSIGN_OR_RETURN(std::string path, ParseUnixAddress(options.address));
  BERTH_RETURN_IF_ERROR(MakeDirs(path.substr(0, path.rfind('/'))));
  BERTH_RETURN_IF_ERROR(RemoveStaleSocket(path));

  ::grpc::EnableDefaultHealthCheckService(true);
  ::grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  ::grpc::ServerBuilder builder;
  builder.AddListeningPort(UnixTarget(path), ::grpc::InsecureServerCredentials());
  builder.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  for (::grpc::Service* s : services) builder.RegisterService(s);
  if (options.metrics != nullptr) {
    std::vector<std::unique_ptr<::grpc::experimental::ServerInterceptorFactoryInterface>> f;
    f.push_back(options.metrics->NewInterceptorFactory());
    builder.experimental().SetInterceptorCreators(std::move(f));
  }

  // The socket is created by bind(2) with mode 0777 & ~umask: narrow the umask so it is never
  // reachable with wider permissions than asked for, even for a moment.
  mode_t old_umask = umask(~options.socket_mode & 0777);
  std::unique_ptr<::grpc::Server> server = builder.BuildAndStart();
  umask(old_umask);
  if (server == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", path));
  }
  auto result = std::unique_ptr<UnixGrpcServer>(
      new UnixGrpcServer(std::move(server), path, options.drain_timeout));
  BERTH_RETURN_IF_ERROR(SetSocketOwnership(path, options.socket_mode, options.socket_group));
  result->server_->GetHealthCheckService()->SetServingStatus(true);
  LOG(INFO) << "grpc serving socket=" << path;
  return result;
}

UnixGrpcServer::UnixGrpcServer(std::unique_ptr<::grpc::Server> server, std::string socket_path,
                               absl::Duration drain_timeout)
    : server_(std::move(server)),
      socket_path_(std::move(socket_path)),
      drain_timeout_(drain_timeout) {}

UnixGrpcServer::~UnixGrpcServer() { Shutdown(); }

void UnixGrpcServer::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  server_->GetHealthCheckService()->SetServingStatus(false);
  server_->Shutdown(absl::ToChronoTime(absl::Now() + drain_timeout_));
  server_->Wait();
  if (unlink(socket_path_.c_str()) != 0 && errno != ENOENT) {
    PLOG(WARNING) << "unlink " << socket_path_;
  }
  LOG(INFO) << "grpc stopped socket=" << socket_path_;
}


}  // namespace berth::grpc_util
