// The container commands of the berth CLI (run, create, start, stop, ps, logs, exec, ...) and
// helpers they share. Each command is a client of berthd's berth.engine.v1.Containers service.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "berth/engine/v1/containers.grpc.pb.h"
#include "engine/cli/cli.h"
#include "engine/cli/commands.h"

namespace berth::cli {

// Appends the top-level container commands and the `container` group to `cmds`.
void AddContainerCommands(std::vector<std::unique_ptr<Command>>* cmds);

// Factories, one per command (container_commands.cc, run_command.cc, query_commands.cc).
std::unique_ptr<Command> NewRunCommand();
std::unique_ptr<Command> NewCreateCommand();
std::unique_ptr<Command> NewExecCommand();
std::unique_ptr<Command> NewAttachCommand();
std::unique_ptr<Command> NewStartCommand();
std::unique_ptr<Command> NewPsCommand(std::string name);
// `inspect` looks for a container, then an image (like docker's); `container inspect`
// (`containers_only`) for a container alone.
std::unique_ptr<Command> NewInspectCommand(bool containers_only = false);
std::unique_ptr<Command> NewLogsCommand();
std::unique_ptr<Command> NewTopCommand();
std::unique_ptr<Command> NewStatsCommand();

// The Containers stub for cli's daemon; prints the reason and returns null when the host
// address is unusable.
std::unique_ptr<engine::v1::Containers::Stub> ContainersStub(Cli& cli);

// The exit code docker gives when a container (or exec) could not be started, from the
// daemon's message: 127 when the command was not found, 126 when it could not be executed,
// `otherwise` else.
int StartFailureExitCode(const std::string& message, int otherwise);

// Runs `call` on each container reference, printing the reference on success (docker's
// stop/start/kill/rm output) and the error on failure; 1 if any failed.
int ForEachContainer(Cli& cli, const std::vector<std::string>& refs,
                     const std::function<::grpc::Status(const std::string&)>& call);

// Attaches to a container and relays its I/O until it exits or the user detaches; used by
// run, start -a and attach. `start` (may be empty) runs once the attachment is in place; a
// non-zero return aborts with that exit code.
struct AttachPlan {
  std::string id;
  bool stdin = false;
  bool tty = false;
  bool sig_proxy = true;
  std::string detach_keys;
  std::function<int()> start;
};
struct AttachOutcome {
  // Exit code of the command (the container's when it exited).
  int exit_code = 0;
  bool exited = false;
  bool detached = false;
};
AttachOutcome AttachAndRelay(Cli& cli, engine::v1::Containers::Stub& stub,
                             const AttachPlan& plan);

// Prints docker's message for a wrong number of arguments ("\"berth stop\" requires at least 1
// argument.", the hint and the usage line) and returns 1, docker's exit code for it.
int ArgsError(Cli& cli, const std::string& path, const std::string& usage, const std::string& msg);

}  // namespace berth::cli
