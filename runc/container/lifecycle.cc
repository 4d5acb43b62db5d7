#include "runc/container/lifecycle.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/proc/proc.h"
#include "common/status/status_macros.h"
#include "runc/container/create.h"
#include "runc/container/hooks.h"

namespace berth::runc::container {
namespace {

using state::Status;

std::string HookState(const state::ContainerState& s, const char* status) {
  spec::Spec spec;
  spec.oci_version = s.oci_version;
  spec.annotations = s.annotations;
  return HookStateJson(spec, s.id, s.bundle, s.pid, status);
}

bool InitAlive(const state::ContainerState& s) {
  absl::StatusOr<bool> alive = proc::ProcessIdentity{s.pid, s.pid_start_time}.IsAlive();
  return alive.ok() && *alive;
}

}  // namespace

absl::StatusOr<Loaded> Load(const state::Store& store, const std::string& id) {
  Loaded l;
  BERTH_ASSIGN_OR_RETURN(l.state, store.Load(id));
  BERTH_ASSIGN_OR_RETURN(l.cgroup, cgroups::LoadManager(l.state.cgroup));
  bool frozen = false;
  if (absl::StatusOr<bool> f = l.cgroup->IsFrozen(); f.ok()) frozen = *f;
  l.status = state::CurrentStatus(l.state, store.FifoPath(id), frozen);
  return l;
}

absl::Status Start(state::Store& store, const std::string& id,
                   std::vector<std::string>* warnings) {
  BERTH_ASSIGN_OR_RETURN(Loaded c, Load(store, id));
  if (c.status == Status::kStopped) {
    return absl::FailedPreconditionError("cannot start a container that has stopped");
  }
  if (c.status != Status::kCreated) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot start an already ", state::StatusName(c.status), " container"));
  }
  const std::string fifo = store.FifoPath(id);
  // Non-blocking, so a dead init cannot hang us; the init's blocked open(O_WRONLY) returns as
  // soon as this reader exists and it writes one byte.
  int fd = open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, "open exec fifo");
  bool started = false;
  while (!started) {
    pollfd p = {fd, POLLIN, 0};
    int r = poll(&p, 1, 100);
    if (r > 0 && (p.revents & POLLIN)) {
      char b;
      started = read(fd, &b, 1) == 1;
      if (started) break;
    }
    if (r < 0 && errno != EINTR) {
      close(fd);
      return absl::ErrnoToStatus(errno, "poll exec fifo");
    }
    if (!InitAlive(c.state)) {
      close(fd);
      return absl::FailedPreconditionError("container init exited before start");
    }
  }
  // The init keeps its end open (close-on-exec) until it has run the startContainer hooks
  // and exec'd the user program: EOF means the program runs (or the init died), and only then
  // may the poststart hooks run (runtime spec runtime.md "Lifecycle" steps 8-9).
  for (;;) {
    pollfd p = {fd, POLLIN, 0};
    int r = poll(&p, 1, 100);
    if (r < 0 && errno != EINTR) {
      close(fd);
      return absl::ErrnoToStatus(errno, "poll exec fifo");
    }
    if (r > 0 && (p.revents & (POLLIN | POLLHUP))) {
      char b;
      ssize_t n = read(fd, &b, 1);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) break;
    }
    if (!InitAlive(c.state)) break;
  }
  close(fd);
  unlink(fifo.c_str());
  for (const absl::Status& s :
       RunAllHooks(c.state.poststart, "poststart", HookState(c.state, "running"))) {
    warnings->push_back(std::string(s.message()));
  }
  return absl::OkStatus();
}

absl::Status Kill(const state::Store& store, const std::string& id, int signal, bool all) {
  BERTH_ASSIGN_OR_RETURN(Loaded c, Load(store, id));
  if (c.status == Status::kStopped) {
    return absl::FailedPreconditionError("container not running");
  }
  if (all) return c.cgroup->Kill(signal);
  if (kill(c.state.pid, signal) != 0) return absl::ErrnoToStatus(errno, "kill");
  return absl::OkStatus();
}

absl::Status Delete(state::Store& store, const std::string& id, bool force,
                    std::vector<std::string>* warnings) {
  absl::StatusOr<Loaded> loaded = Load(store, id);
  if (absl::IsDataLoss(loaded.status())) {
    // A state file torn by a crash: nothing to signal; remove what is there.
    return store.Remove(id);
  }
  if (!loaded.ok()) return loaded.status();
  Loaded& c = *loaded;
  if (c.status != Status::kStopped) {
    if (!force) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot delete container ", id, " that is not stopped: ",
                       state::StatusName(c.status), " (use --force)"));
    }
    if (c.status == Status::kPaused) (void)c.cgroup->Thaw();
    absl::Status k = c.cgroup->Kill(SIGKILL);
    if (!k.ok()) kill(c.state.pid, SIGKILL);
    absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (InitAlive(c.state) && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(2));
    if (InitAlive(c.state)) {
      return absl::DeadlineExceededError(absl::StrCat("container ", id, " did not die"));
    }
  }
  // Processes that outlived the init (in a shared pid namespace) go too.
  if (absl::StatusOr<std::vector<pid_t>> pids = c.cgroup->Pids(); pids.ok() && !pids->empty()) {
    (void)c.cgroup->Kill(SIGKILL);
  }
  BERTH_RETURN_IF_ERROR(c.cgroup->Destroy(), "remove cgroup");
  BERTH_RETURN_IF_ERROR(store.Remove(id));
  for (const absl::Status& s :
       RunAllHooks(c.state.poststop, "poststop", HookState(c.state, "stopped"))) {
    warnings->push_back(std::string(s.message()));
  }
  return absl::OkStatus();
}

absl::Status Pause(const state::Store& store, const std::string& id) {
  BERTH_ASSIGN_OR_RETURN(Loaded c, Load(store, id));
  if (c.status != Status::kRunning && c.status != Status::kCreated) {
    return absl::FailedPreconditionError(
        absl::StrCat("container ", id, " is ", state::StatusName(c.status), ", not running"));
  }
  return c.cgroup->Freeze();
}

absl::Status Resume(const state::Store& store, const std::string& id) {
  BERTH_ASSIGN_OR_RETURN(Loaded c, Load(store, id));
  if (c.status != Status::kPaused) {
    return absl::FailedPreconditionError(absl::StrCat("container ", id, " is not paused"));
  }
  return c.cgroup->Thaw();
}

absl::StatusOr<int> ParseSignal(const std::string& s) {
  int n = 0;
  if (absl::SimpleAtoi(s, &n)) {
    if (n <= 0 || n >= NSIG) return absl::InvalidArgumentError(absl::StrCat("invalid signal ", s));
    return n;
  }
  std::string name = absl::AsciiStrToUpper(s);
  absl::string_view v = name;
  absl::ConsumePrefix(&v, "SIG");
  for (int i = 1; i < NSIG; ++i) {
    const char* abbrev = sigabbrev_np(i);
    if (abbrev != nullptr && v == abbrev) return i;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown signal \"", s, "\""));
}

}  // namespace berth::runc::container
