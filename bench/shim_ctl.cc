// shim_ctl: the few berth.shim.task.v1.Task calls bench/shim_mem.py needs to drive shims that
// it started with `berth-shim start` (Python has no gRPC module on this machine).
//   shim_ctl run      --address=unix://... --id=ID --bundle=DIR   Create + Start; prints the pid
//   shim_ctl shutdown --address=unix://... --id=ID                Shutdown(NOW)
#include <chrono>
#include <iostream>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "berth/shim/task/v1/task.grpc.pb.h"
#include "common/grpc/address.h"

ABSL_FLAG(std::string, address, "", "the shim's unix:// address");
ABSL_FLAG(std::string, id, "", "container id");
ABSL_FLAG(std::string, bundle, "", "bundle directory (run)");

namespace {

namespace v1 = ::berth::shim::task::v1;

std::unique_ptr<::grpc::ClientContext> Ctx() {
  auto c = std::make_unique<::grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return c;
}

int Fail(const char* what, const ::grpc::Status& s) {
  std::cerr << "shim_ctl " << what << ": " << s.error_message() << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() != 2) {
    std::cerr << "usage: shim_ctl run|shutdown --address=unix://... --id=ID [--bundle=DIR]\n";
    return 2;
  }
  auto path = berth::grpc_util::ParseUnixAddress(absl::GetFlag(FLAGS_address));
  if (!path.ok()) {
    std::cerr << "shim_ctl: " << path.status().message() << "\n";
    return 2;
  }
  auto stub = v1::Task::NewStub(::grpc::CreateChannel(berth::grpc_util::UnixTarget(*path),
                                                      ::grpc::InsecureChannelCredentials()));
  const std::string command = args[1];
  const std::string id = absl::GetFlag(FLAGS_id);
  if (command == "run") {
    v1::CreateRequest create;
    create.set_container_id(id);
    create.set_bundle(absl::GetFlag(FLAGS_bundle));
    v1::CreateResponse created;
    if (auto s = stub->Create(Ctx().get(), create, &created); !s.ok()) return Fail("create", s);
    v1::StartRequest start;
    start.set_container_id(id);
    v1::StartResponse started;
    if (auto s = stub->Start(Ctx().get(), start, &started); !s.ok()) return Fail("start", s);
    std::cout << started.pid() << "\n";
    return 0;
  }
  if (command == "shutdown") {
    v1::ShutdownRequest req;
    req.set_container_id(id);
    req.set_mode(v1::SHUTDOWN_MODE_NOW);
    v1::ShutdownResponse resp;
    if (auto s = stub->Shutdown(Ctx().get(), req, &resp); !s.ok()) return Fail("shutdown", s);
    return 0;
  }
  std::cerr << "shim_ctl: unknown command " << command << "\n";
  return 2;
}
