// berth-ctr's subcommands. Each takes the parsed global options and its own arguments and
// returns the process exit code; errors are printed as one line on stderr.
#pragma once

#include <string>
#include <vector>

#include "common/containerd/client.h"

namespace berth::containerd::ctr {

using Client = ::berth::containerd_client::Client;

// `run [OPTIONS] ID [COMMAND [ARG...]]`: container record + task, attached unless -d.
int RunCommand(Client& client, const std::vector<std::string>& args);
// `tasks ls|kill|delete|ps|exec|pause|resume|metrics ...`.
int TasksCommand(Client& client, const std::vector<std::string>& args);
// `containers ls|rm ...`.
int ContainersCommand(Client& client, const std::vector<std::string>& args);
// `snapshots unpack|ls|rm ...`.
int SnapshotsCommand(Client& client, const std::vector<std::string>& args);
// `events [FILTER...]`: prints every event until interrupted.
int EventsCommand(Client& client, const std::vector<std::string>& args);
// `version`.
int VersionCommand(Client& client, const std::vector<std::string>& args);

// Prints "berth-ctr: <what>: <message>" for a failed call and returns 1.
int Fail(const std::string& what, const ::grpc::Status& status);
int Fail(const std::string& what, const absl::Status& status);

}  // namespace berth::containerd::ctr
