// The registry commands of the berth CLI: `pull`, `push`, `login`, `logout` (and `image
// pull|push`), with the docker CLI's flags, output and exit codes, over berthd's Images.Pull,
// Push and Login. Credentials come from the CredentialStore (credentials.h) and go with every
// request for their registry. Also the pull that `run`/`create` do for a missing image.
#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "berth/engine/v1/images.grpc.pb.h"
#include "engine/cli/cli.h"
#include "engine/cli/commands.h"

namespace berth::cli {

// Appends pull, push, login and logout to `cmds`.
void AddRegistryCommands(std::vector<std::unique_ptr<Command>>* cmds);
// `path` is how the command is called, for messages: "pull" or "image pull".
std::unique_ptr<Command> NewPullCommand(std::string path);
std::unique_ptr<Command> NewPushCommand(std::string path);

// Pulls `image` for `run`/`create` (tag defaulted to latest), drawing progress on the CLI's
// stderr (redrawn in place when stderr is a terminal). Returns the call's status; the caller
// reports it.
::grpc::Status PullForRun(Cli& cli, const std::string& image, const std::string& platform);

// Prints a pull/push/login failure as one line: "berth: Error response from daemon: <msg>",
// or the daemon-unreachable message when berthd itself could not be reached.
void ReportRegistryError(Cli& cli, const ::grpc::Status& status);

}  // namespace berth::cli
