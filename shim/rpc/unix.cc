#include "shim/rpc/unix.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include <grpc/grpc.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include "absl/strings/str_cat.h"
#include "common/grpc/address.h"
#include "common/status/status_macros.h"
#include "glog/logging.h"

namespace berth::shim::rpc {
namespace {

// Removes a socket left behind by a shim that died; refuses a live one or a non-socket.
absl::Status RemoveStaleSocket(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return absl::ErrnoToStatus(errno, absl::StrCat("stat ", path));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(path, " exists and is not a socket"));
  }
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::ErrnoToStatus(errno, "socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  const int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  const int err = errno;
  ::close(fd);
  if (rc == 0) return absl::AlreadyExistsError(absl::StrCat("a live shim serves on ", path));
  if (err != ECONNREFUSED && err != ENOENT) {
    return absl::ErrnoToStatus(err, absl::StrCat("probe ", path));
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::ErrnoToStatus(errno, absl::StrCat("unlink ", path));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<UnixServer>> UnixServer::Start(const std::string& path,
                                                               mode_t socket_mode,
                                                               ::grpc::Service* service) {
  BERTH_RETURN_IF_ERROR(RemoveStaleSocket(path));
  ::grpc::ServerBuilder builder;
  builder.AddListeningPort(grpc_util::UnixTarget(path), ::grpc::InsecureServerCredentials());
  // Channelz keeps a trace per channel and server for debugging tools nobody attaches here.
  builder.AddChannelArgument(GRPC_ARG_ENABLE_CHANNELZ, 0);
  builder.RegisterService(service);
  // bind(2) creates the socket with 0777 & ~umask: narrow the umask so it never exists with
  // wider permissions than asked for.
  const mode_t old_umask = ::umask(~socket_mode & 0777);
  std::unique_ptr<::grpc::Server> server = builder.BuildAndStart();
  ::umask(old_umask);
  if (server == nullptr) return absl::UnavailableError(absl::StrCat("cannot listen on ", path));
  return std::unique_ptr<UnixServer>(new UnixServer(std::move(server), path));
}

UnixServer::UnixServer(std::unique_ptr<::grpc::Server> server, std::string path)
    : server_(std::move(server)), path_(std::move(path)) {}

UnixServer::~UnixServer() { Shutdown(absl::ZeroDuration()); }

void UnixServer::Shutdown(absl::Duration drain) {
  if (shut_down_) return;
  shut_down_ = true;
  server_->Shutdown(absl::ToChronoTime(absl::Now() + drain));
  server_->Wait();
  if (::unlink(path_.c_str()) != 0 && errno != ENOENT) PLOG(WARNING) << "unlink " << path_;
}

absl::StatusOr<std::shared_ptr<::grpc::Channel>> DialUnix(const std::string& address) {
  BERTH_ASSIGN_OR_RETURN(std::string path, grpc_util::ParseUnixAddress(address));
  ::grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_ENABLE_CHANNELZ, 0);
  return ::grpc::CreateCustomChannel(grpc_util::UnixTarget(path),
                                     ::grpc::InsecureChannelCredentials(), args);
}

}  // namespace berth::shim::rpc
