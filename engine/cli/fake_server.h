// The fixture of the CLI's command tests: fake services (FakeContainersService,
// FakeImagesService, ...) served on a unix socket in a temp dir of their own, and the CLI run
// in-process (RunCli) against that socket with its stdout and stderr captured apart.
// Test-only.
#pragma once

#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/grpc/server.h"
#include "common/testing/temp_dir.h"
#include "engine/cli/cli.h"

namespace berth::cli::testing {

// What one CLI run returned and printed.
struct CliResult {
  int rc;
  std::string out, err;
};

class FakeServer {
 public:
  FakeServer() = default;
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;
  ~FakeServer() { Shutdown(); }

  // Serves `services` (not owned: they must outlive this object) on <dir>/berthd.sock.
  absl::Status Start(const std::vector<::grpc::Service*>& services) {
    absl::StatusOr<berth::testing::TempDir> dir = berth::testing::TempDir::Create();
    if (!dir.ok()) return dir.status();
    dir_.emplace(std::move(*dir));
    grpc_util::UnixServerOptions o;
    o.address = "unix://" + dir_->Sub("berthd.sock");
    o.drain_timeout = absl::Seconds(1);
    auto server = grpc_util::UnixGrpcServer::Start(o, services);
    if (!server.ok()) return server.status();
    server_ = std::move(*server);
    host_ = o.address;
    return absl::OkStatus();
  }

  // Stops serving (idempotent).
  void Shutdown() {
    if (server_ != nullptr) server_->Shutdown();
    server_.reset();
  }

  const berth::testing::TempDir& dir() const { return *dir_; }
  // "unix://<dir>/berthd.sock", for -H.
  const std::string& host() const { return host_; }

  // `berth -H <host> args...`, in-process.
  CliResult Run(std::vector<std::string> args) const {
    args.insert(args.begin(), {"-H", host_});
    std::ostringstream out, err;
    int rc = RunCli(args, out, err);
    return {rc, out.str(), err.str()};
  }

 private:
  std::optional<berth::testing::TempDir> dir_;
  std::unique_ptr<grpc_util::UnixGrpcServer> server_;
  std::string host_;
};

}  // namespace berth::cli::testing
