// berth-runc: an OCI runtime with runc's command line. Each invocation does one thing and
// exits; containers are remembered in --root (see runc/state).
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/cli/flags.h"
#include "common/fs/fs.h"
#include "common/status/status_macros.h"
#include "common/version/version.h"
#include "runc/commands.h"

namespace {

using berth::cli::FlagSet;
using berth::runc::Globals;

constexpr char kUsage[] =
    "berth-runc: an OCI container runtime (runc-compatible command line)\n\n"
    "Usage: berth-runc [global options] COMMAND [options] ARGS\n\n"
    "Commands:\n"
    "  spec      create a new specification file (config.json)\n"
    "  create    create a container\n"
    "  start     start a created container\n"
    "  run       create and start a container\n"
    "  exec      run a new process inside a container\n"
    "  state     output the state of a container\n"
    "  list      list containers started by berth-runc with the given --root\n"
    "  ps        list processes running inside a container\n"
    "  kill      send a signal to a container's init (or all) process(es)\n"
    "  delete    delete a container and its resources\n"
    "  pause     suspend all processes inside a container\n"
    "  resume    resume all processes that were suspended\n"
    "  update    update container resource constraints\n"
    "  events    display container statistics (--stats)\n"
    "  features  show the enabled features\n\n"
    "Global options:\n"
    "  --root value        root directory for container state (default \"/run/berth-runc\")\n"
    "  --log value         log file for errors and debug output (default: stderr)\n"
    "  --log-format value  \"text\" or \"json\" (default \"text\")\n"
    "  --debug             debug logging\n"
    "  --version, -v       print the version\n";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  Globals g;
  bool show_version = false, help = false, systemd_cgroup = false;
  std::string rootless = "auto", criu;
  FlagSet global;
  global.AddString(&g.root, "root", 0, "root directory for container state");
  global.AddString(&g.log, "log", 0, "log file");
  global.AddString(&g.log_format, "log-format", 0, "text or json");
  global.AddBool(&g.debug, "debug", 0, "debug logging");
  global.AddBool(&systemd_cgroup, "systemd-cgroup", 0, "use systemd's cgroup driver");
  global.AddString(&rootless, "rootless", 0, "ignored: berth-runc runs as root");
  global.AddString(&criu, "criu", 0, "ignored: checkpointing is not supported");
  global.AddBool(&show_version, "version", 'v', "print the version");
  global.AddBool(&help, "help", 'h', "show help");
  auto rest = global.Parse(args, /*interspersed=*/false);
  if (!rest.ok()) {
    std::cerr << "berth-runc: " << rest.status().message() << "\n";
    return 1;
  }
  if (show_version) {
    std::cout << "berth-runc version " << berth::kVersion << "\nspec: 1.1.0\n";
    return 0;
  }
  if (help || rest->empty()) {
    std::cout << kUsage;
    return help ? 0 : 1;
  }
  if (g.log_format != "text" && g.log_format != "json") {
    std::cerr << "berth-runc: --log-format: want text or json, got \"" << g.log_format << "\"\n";
    return 1;
  }
  if (systemd_cgroup) {
    berth::runc::LogError(g, "--systemd-cgroup: the systemd cgroup driver is not supported; "
                             "berth-runc manages cgroupfs directly");
    return 1;
  }
  const std::string cmd = (*rest)[0];
  std::vector<std::string> cmd_args(rest->begin() + 1, rest->end());
  return berth::runc::RunCommand(g, cmd, cmd_args);
}
