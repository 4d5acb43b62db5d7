// Turning the current process into the container's process as config.json's `process` says:
// rlimits, oom score, personality, user and groups, capabilities, no_new_privs, working
// directory and the executable's path. Used by the container's init and by `exec`, in the
// process that will execve the user's program.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runc/spec/spec.h"

namespace berth::runc::container {

// setrlimit for each entry; errors name the entry ("process.rlimits[0] (RLIMIT_NOFILE)").
absl::Status ApplyRlimits(const std::vector<spec::Rlimit>& rlimits);

// Writes /proc/self/oom_score_adj.
absl::Status ApplyOomScoreAdj(int adj);

// personality(2) for linux.personality (LINUX / LINUX32).
absl::Status ApplyPersonality(const spec::Personality& p);

// Drops the bounding set, switches to the process user (groups, gid, uid) while keeping the
// capabilities the spec grants, then sets effective/permitted/inheritable and ambient sets.
// `setgroups_allowed` is false in a user namespace whose setgroups is "deny".
absl::Status ApplyUserAndCapabilities(const spec::Process& p, bool setgroups_allowed);

absl::Status SetNoNewPrivileges();

// Resolves args[0] against PATH from `env` (default PATH when unset) the way execvp would,
// inside the current root. NotFound: `exec: "foo": executable file not found in $PATH`;
// FailedPrecondition when the file exists but is not executable.
absl::StatusOr<std::string> LookPath(const std::string& file, const std::vector<std::string>& env);

// Waits for `pid` (our child: the init of a foreground `run`, or a foreground `exec`), passing
// on every signal we receive to it, as a terminal or supervisor expects; returns its exit code
// the way a shell reports it (128 + signal when killed).
int WaitForeground(pid_t pid);

}  // namespace berth::runc::container
