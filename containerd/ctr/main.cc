// berth-ctr: a small debugging client of berth-containerd, as `ctr` is for containerd. It talks
// to berth-containerd's gRPC API directly (berthd is not involved), which makes it the tool for
// looking at tasks, containers and snapshots, for watching events, and for the task benchmarks.
#include <iostream>
#include <string>
#include <vector>

#include "common/cli/flags.h"
#include "containerd/ctr/commands.h"

namespace {

constexpr char kUsage[] =
    "Usage: berth-ctr [--address unix://PATH] [--namespace NS] COMMAND ...\n\n"
    "Commands:\n"
    "  run [--rm] [-d] [-t] [-i] (--rootfs DIR | --snapshot NAME) [--runtime R] ID [CMD...]\n"
    "  tasks ls | kill [-s SIG] [--all] ID | delete ID | wait ID | ps ID | pause ID |\n"
    "        resume ID | metrics ID\n"
    "  containers ls | rm ID...\n"
    "  snapshots unpack [--parent P] NAME LAYER.tar | ls | rm KEY...\n"
    "  events [FILTER...]\n"
    "  version\n";

}  // namespace

int main(int argc, char** argv) {
  namespace ctr = berth::containerd::ctr;
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string address = "unix:///run/berth-containerd/containerd.sock";
  std::string ns = "default";
  if (const char* env = std::getenv("BERTH_CONTAINERD_ADDRESS"); env && *env) address = env;
  if (const char* env = std::getenv("BERTH_NAMESPACE"); env && *env) ns = env;
  bool help = false;
  berth::cli::FlagSet global;
  global.AddString(&address, "address", 'a', "berth-containerd's socket");
  global.AddString(&ns, "namespace", 'n', "Namespace");
  global.AddBool(&help, "help", 'h', "Print usage");
  auto rest = global.Parse(args, /*interspersed=*/false);
  if (!rest.ok()) {
    std::cerr << "berth-ctr: " << rest.status().message() << "\n" << kUsage;
    return 1;
  }
  if (help || rest->empty()) {
    std::cout << kUsage;
    return help ? 0 : 1;
  }
  auto client = berth::containerd_client::Client::Dial(address, ns);
  if (!client.ok()) return ctr::Fail("connect", client.status());
  const std::string cmd = (*rest)[0];
  std::vector<std::string> sub(rest->begin() + 1, rest->end());
  if (cmd == "run") return ctr::RunCommand(**client, sub);
  if (cmd == "tasks" || cmd == "t") return ctr::TasksCommand(**client, sub);
  if (cmd == "containers" || cmd == "c") return ctr::ContainersCommand(**client, sub);
  if (cmd == "snapshots") return ctr::SnapshotsCommand(**client, sub);
  if (cmd == "events") return ctr::EventsCommand(**client, sub);
  if (cmd == "version") return ctr::VersionCommand(**client, sub);
  std::cerr << "berth-ctr: unknown command \"" << cmd << "\"\n" << kUsage;
  return 1;
}
