// Process identity and state from /proc/<pid>/stat (proc(5)).
//
// berth never identifies a process by pid alone (DESIGN.md): once a process is reaped its pid
// is free for reuse, so a shim or daemon that kept only a pid across a restart could signal or
// wait for a stranger. A pid plus the process's start time (field 22 of /proc/<pid>/stat, in
// clock ticks after boot) names one process: a reused pid would need a new process started
// within the same tick (10 ms) as the old one, after the pid counter wrapped all the way round.
// Start times are only comparable on one boot, so identities are not kept across reboots.
//
// Everything reads the /proc mounted at /proc, so pids are those of that procfs's pid
// namespace (the caller's, on a normal host).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::proc {

// The fields of /proc/<pid>/stat that berth uses.
struct ProcStat {
  pid_t pid = 0;            // field 1
  std::string comm;         // field 2, without its parentheses; may itself contain ')', ' '
  char state = '?';         // field 3: R running, S sleeping, D disk wait, Z zombie, T stopped, ...
  pid_t ppid = 0;           // field 4
  uint64_t start_time = 0;  // field 22: clock ticks (sysconf(_SC_CLK_TCK)) after boot
};

// Parses the text of a /proc/<pid>/stat file. The command name is whatever lies between the
// first '(' and the *last* ')': it is chosen by the process (prctl(PR_SET_NAME), the name of
// the executable) and may contain spaces and parentheses, so a naive split on spaces would
// read the wrong fields. InvalidArgument saying what is malformed.
absl::StatusOr<ProcStat> ParseProcStat(absl::string_view text);

// Reads and parses /proc/<pid>/stat. NotFound if there is no such process (any more);
// InvalidArgument if pid <= 0; Internal if the kernel's text does not parse.
absl::StatusOr<ProcStat> ReadProcStat(pid_t pid);

// The start time of process `pid` (field 22), as ReadProcStat.
absl::StatusOr<uint64_t> ProcessStartTime(pid_t pid);

// The state letter of process `pid` (field 3), as ReadProcStat.
absl::StatusOr<char> ProcessState(pid_t pid);

// One process, robust to pid reuse. A plain value: copyable, comparable, hashable; persisted
// by callers as its two numbers.
struct ProcessIdentity {
  pid_t pid = 0;
  uint64_t start_time = 0;

  // The identity of whatever process has `pid` now. Errors as ReadProcStat.
  static absl::StatusOr<ProcessIdentity> Current(pid_t pid);

  // Whether `pid` still names this process: true while it runs and while it is a zombie
  // (an unreaped zombie keeps its pid, so nobody else can have it yet); false once it was
  // reaped or the pid was reused by a process with another start time. Errors other than
  // "no such process" (e.g. /proc not mounted) are returned, not reported as false: a caller
  // deciding whether to kill must not mistake "cannot tell" for "gone".
  absl::StatusOr<bool> IsSameProcess() const;

  // Like IsSameProcess, but a zombie (state 'Z', or the transient 'X') is not alive: it has
  // exited and runs no code; only its exit status waits to be collected. This is the answer
  // to "is the container's process still running?".
  absl::StatusOr<bool> IsAlive() const;

  // "pid 812 (start time 123456)", for logs and messages.
  std::string ToString() const;

  friend bool operator==(const ProcessIdentity& a, const ProcessIdentity& b) {
    return a.pid == b.pid && a.start_time == b.start_time;
  }
  friend bool operator!=(const ProcessIdentity& a, const ProcessIdentity& b) { return !(a == b); }
  template <typename H>
  friend H AbslHashValue(H h, const ProcessIdentity& p) {
    return H::combine(std::move(h), p.pid, p.start_time);
  }
};

}  // namespace berth::proc
