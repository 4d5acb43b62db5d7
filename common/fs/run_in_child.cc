#include "common/fs/run_in_child.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace berth::fs::testing {

absl::StatusOr<std::string> RunInChild(const std::function<std::string()>& body) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, "pipe");
  const pid_t pid = fork();
  if (pid < 0) {
    const int err = errno;
    close(fds[0]);
    close(fds[1]);
    return absl::ErrnoToStatus(err, "fork");
  }
  if (pid == 0) {
    close(fds[0]);
    const std::string result = body();
    size_t off = 0;
    while (off < result.size()) {
      const ssize_t n = write(fds[1], result.data() + off, result.size() - off);
      if (n <= 0) _exit(2);
      off += static_cast<size_t>(n);
    }
    _exit(0);  // no atexit handlers or gtest teardown in the child
  }
  close(fds[1]);
  std::string out;
  char buf[4096];
  while (true) {
    const ssize_t n = read(fds[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return absl::ErrnoToStatus(errno, "waitpid");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(
        absl::StrCat("child did not finish (wait status ", status, "); output so far: ", out));
  }
  return out;
}

}  // namespace berth::fs::testing
