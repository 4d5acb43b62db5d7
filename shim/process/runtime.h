// Runtime is the shim's client of an OCI runtime's command line (berth-runc, runc, or any
// runtime with runc's CLI): it runs one short-lived runtime command per call, with the
// runtime's global flags `--root <root> --log <log> --log-format json`, and turns a failure into
// an absl::Status that carries the runtime's own last error message from that log.
//
// The container's stdio: `create` and `exec` give the runtime the caller's fds as its stdin,
// stdout and stderr; the runtime passes them on to the container's process, so its output
// never comes back here. Every other command's output is captured.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace berth::shim::process {

struct RuntimeOptions {
  // The runtime binary: a path, or a name looked up in $PATH.
  std::string binary = "berth-runc";
  // The runtime's --root (its state directory).
  std::string root;
  // --log: the runtime's JSON log; the shim uses `<bundle>/log.json`.
  std::string log_path;
  // Pass --systemd-cgroup.
  bool systemd_cgroup = false;
  // Waits for the runtime process `pid` (a child of this process) and returns its wait status.
  // Empty means waitpid(pid). The shim, a subreaper that reaps every child in one place, plugs
  // its reaper in here so the runtime's status is not lost to it.
  std::function<absl::StatusOr<int>(pid_t)> wait;
};

// The stdio a `create` or `exec` hands to the runtime and so to the container's process.
// -1 means /dev/null. The fds stay owned by the caller (the child gets copies).
struct RuntimeStdio {
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
};

struct CreateOptions {
  // Absolute bundle directory (holds config.json).
  std::string bundle;
  // Where the runtime writes the init process's pid (ReadPidFile).
  std::string pid_file;
  // Unix socket that receives the pty master when the spec asks for a terminal; else empty.
  std::string console_socket;
  bool no_pivot = false;
  bool no_new_keyring = false;
  RuntimeStdio stdio;
};

struct ExecOptions {
  // An OCI runtime-spec `process` object in a file (`exec --process`).
  std::string process_file;
  std::string pid_file;
  std::string console_socket;
  // `--detach`: the runtime returns once the process runs (the shim's way); without it the
  // runtime waits for the process and Exec returns after it exited.
  bool detach = true;
  RuntimeStdio stdio;
};

// The OCI runtime spec's state (runtime-spec "State"): what `state <id>` prints.
struct OciState {
  std::string oci_version;
  std::string id;
  // "creating", "created", "running", "stopped" (and runc's "paused").
  std::string status;
  pid_t pid = 0;
  std::string bundle;
  std::map<std::string, std::string> annotations;
};

// Parses the JSON `state` prints. InvalidArgument when it is not a state object.
absl::StatusOr<OciState> ParseOciState(const std::string& json_text);

// Reads a pid file the runtime wrote. NotFound when missing, InvalidArgument when malformed.
absl::StatusOr<pid_t> ReadPidFile(const std::string& path);

class Runtime {
 public:
  // NotFound when the binary is not found (in $PATH, for a bare name); InvalidArgument for an
  // empty root or log path.
  static absl::StatusOr<Runtime> Create(RuntimeOptions options);

  // Each call runs one runtime command and returns once it has exited. Errors: NotFound when
  // the runtime says the container does not exist; Internal otherwise, with the runtime's last
  // error message: "berth-runc create c1: <message>". Thread-safe (no shared mutable state;
  // the runtime serializes concurrent commands on one container itself).

  // `create --bundle <bundle> --pid-file <pid_file> [--console-socket ..] [--no-pivot]
  // [--no-new-keyring] <id>`.
  absl::Status Create(const std::string& id, const CreateOptions& options) const;
  // `start <id>`.
  absl::Status Start(const std::string& id) const;
  // `state <id>`, parsed.
  absl::StatusOr<OciState> State(const std::string& id) const;
  // `kill [--all] <id> <signal>`.
  absl::Status Kill(const std::string& id, int signal, bool all) const;
  // `delete [--force] <id>`.
  absl::Status Delete(const std::string& id, bool force) const;
  // `exec --process <file> [--detach] --pid-file <file> [--console-socket ..] <id>`.
  absl::Status Exec(const std::string& id, const ExecOptions& options) const;
  // `ps --format json <id>`: the pids of every process in the container.
  absl::StatusOr<std::vector<pid_t>> Ps(const std::string& id) const;
  // `pause <id>` / `resume <id>`.
  absl::Status Pause(const std::string& id) const;
  absl::Status Resume(const std::string& id) const;
  // `update --resources <file> <id>`; the file holds an OCI `linux.resources` object.
  absl::Status Update(const std::string& id, const std::string& resources_file) const;
  // `checkpoint --image-path <dir> [--parent-path ..] [args...] <id>`.
  absl::Status Checkpoint(const std::string& id, const std::string& image_path,
                          const std::string& parent_path,
                          const std::vector<std::string>& args) const;

  const std::string& binary() const { return binary_path_; }

 private:
  struct Result {
    int wait_status = 0;
    std::string output;  // stdout, when captured
    std::string errors;  // stderr, when captured
  };

  Runtime(RuntimeOptions options, std::string binary_path)
      : options_(std::move(options)), binary_path_(std::move(binary_path)) {}

  // Runs the runtime with the global flags plus `args`. `stdio` null: capture stdout/stderr.
  // Fails only when the runtime could not be run; a non-zero exit is mapped by CheckResult.
  absl::StatusOr<Result> Run(const std::vector<std::string>& args, const RuntimeStdio* stdio) const;
  // OK for exit 0; otherwise the error described above. `log_offset` is the log's size before
  // the command ran: only what it appended is searched.
  absl::Status CheckResult(const std::string& command, const std::string& id, const Result& result,
                           off_t log_offset) const;
  absl::Status RunChecked(const std::string& command, const std::string& id,
                          const std::vector<std::string>& args, const RuntimeStdio* stdio,
                          std::string* output) const;

  RuntimeOptions options_;
  std::string binary_path_;
};

}  // namespace berth::shim::process
