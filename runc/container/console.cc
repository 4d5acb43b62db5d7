#include "runc/container/console.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace berth::runc::container {

absl::StatusOr<int> ConnectConsoleSocket(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("--console-socket ", path, ": path too long"));
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::ErrnoToStatus(errno, "--console-socket: socket");
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    close(fd);
    return absl::ErrnoToStatus(err, absl::StrCat("--console-socket: connect ", path));
  }
  return fd;
}

absl::Status SendFd(int socket_fd, int fd, const std::string& name) {
  char cbuf[CMSG_SPACE(sizeof(int))] = {};
  std::string payload = name;
  iovec iov = {payload.data(), payload.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof(cbuf);
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  if (sendmsg(socket_fd, &msg, MSG_NOSIGNAL) < 0) {
    return absl::ErrnoToStatus(errno, "--console-socket: send pty master");
  }
  return absl::OkStatus();
}

absl::Status SetupConsole(int socket_fd, const std::optional<spec::ConsoleSize>& size) {
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) return absl::ErrnoToStatus(errno, "process.terminal: open /dev/ptmx");
  int unlock = 0;
  if (ioctl(master, TIOCSPTLCK, &unlock) != 0) {
    int err = errno;
    close(master);
    return absl::ErrnoToStatus(err, "process.terminal: unlock pty");
  }
  // TIOCGPTPEER opens the slave through the master, with no path lookup that a hostile
  // rootfs could redirect.
  int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
  if (slave < 0) {
    int err = errno;
    close(master);
    return absl::ErrnoToStatus(err, "process.terminal: open pty slave");
  }
  if (size) {
    winsize ws{};
    ws.ws_row = size->height;
    ws.ws_col = size->width;
    ioctl(master, TIOCSWINSZ, &ws);
  }
  char name[64] = "/dev/pts/?";
  ptsname_r(master, name, sizeof(name));
  absl::Status sent = SendFd(socket_fd, master, name);
  close(master);
  close(socket_fd);
  if (!sent.ok()) {
    close(slave);
    return sent;
  }
  if (setsid() < 0 && errno != EPERM) return absl::ErrnoToStatus(errno, "setsid");
  if (ioctl(slave, TIOCSCTTY, 0) != 0) return absl::ErrnoToStatus(errno, "set controlling tty");
  for (int i = 0; i < 3; ++i) {
    if (dup2(slave, i) < 0) return absl::ErrnoToStatus(errno, "dup2 pty slave");
  }
  if (slave > 2) close(slave);
  return absl::OkStatus();
}

}  // namespace berth::runc::container
