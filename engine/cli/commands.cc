#include "engine/cli/commands.h"

#include <algorithm>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "common/version/version.h"
#include "engine/cli/container_commands.h"
#include "engine/cli/registry_commands.h"

namespace berth::cli {

std::vector<std::unique_ptr<Command>> AllCommands() {
  std::vector<std::unique_ptr<Command>> cmds;
  AddImageCommands(&cmds);
  AddContainerCommands(&cmds);
  AddRegistryCommands(&cmds);
  cmds.push_back(NewEventsCommand());
  cmds.push_back(NewInfoCommand());
  cmds.push_back(NewVersionCommand());
  std::sort(cmds.begin(), cmds.end(), [](const auto& a, const auto& b) { return a->Name() < b->Name(); });
  return cmds;
}

namespace {

void PrintMainUsage(std::ostream& os, const std::vector<std::unique_ptr<Command>>& cmds) {
  os << "\nUsage:  berth [OPTIONS] COMMAND\n\n"
        "A container engine: berth talks to berthd over gRPC.\n\n"
        "Options:\n"
        "  -H, --host string   Daemon socket to connect to (default $BERTH_HOST or "
     << kDefaultHost
     << ")\n"
        "  -v, --version       Print version information and quit\n"
        "  -h, --help          Print usage\n\n"
        "Commands:\n";
  for (const auto& c : cmds) {
    std::string name = c->Name();
    name.resize(std::max<size_t>(name.size() + 2, 12), ' ');
    os << "  " << name << c->Summary() << "\n";
  }
  os << "\nRun 'berth COMMAND --help' for more information on a command.\n";
}

}  // namespace

int RunCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string host;
  if (const char* env = std::getenv("BERTH_HOST"); env != nullptr && *env != '\0') host = env;
  bool show_version = false, help = false;
  FlagSet global;
  global.AddString(&host, "host", 'H', "Daemon socket to connect to");
  global.AddBool(&show_version, "version", 'v', "Print version information and quit");
  global.AddBool(&help, "help", 'h', "Print usage");
  auto rest = global.Parse(args, /*interspersed=*/false);
  auto cmds = AllCommands();
  if (!rest.ok()) {
    err << rest.status().message() << "\nSee 'berth --help'.\n";
    return kExitUsage;
  }
  if (host.empty()) host = kDefaultHost;
  if (show_version) {
    out << "berth version " << kVersion << ", API " << kApiVersion << "\n";
    return kExitOk;
  }
  if (help || rest->empty() || (*rest)[0] == "help") {
    PrintMainUsage(out, cmds);
    return kExitOk;
  }
  const std::string& name = (*rest)[0];
  for (auto& c : cmds) {
    if (c->Name() != name) continue;
    return RunCommand(*c, name, std::vector<std::string>(rest->begin() + 1, rest->end()), host,
                      out, err);
  }
  err << "berth: '" << name << "' is not a berth command.\nSee 'berth --help'\n";
  return kExitUsage;
}

int RunCommand(Command& c, const std::string& path, const std::vector<std::string>& args,
               const std::string& host, std::ostream& out, std::ostream& err) {
  FlagSet flags;
  bool cmd_help = false;
  c.DefineFlags(flags);
  flags.AddBool(&cmd_help, "help", 0, "Print usage");
  auto pos = flags.Parse(args, !c.StopAtFirstArg());
  if (!pos.ok()) {
    err << pos.status().message() << "\nSee 'berth " << path << " --help'.\n";
    return kExitUsage;
  }
  if (cmd_help) {
    out << "\nUsage:  " << c.UsageLine() << "\n\n" << c.Summary() << "\n\n" << flags.Usage();
    return kExitOk;
  }
  Cli cli(host, out, err);
  return c.Run(cli, *pos);
}

std::string GroupCommand::UsageLine() const {
  std::string s = absl::StrCat("berth ", name_, " COMMAND\n\nCommands:");
  for (const auto& sub : subs_) {
    std::string n = sub.command->Name();
    n.resize(std::max<size_t>(n.size() + 2, 12), ' ');
    absl::StrAppend(&s, "\n  ", n, sub.command->Summary());
  }
  return s;
}

int GroupCommand::Run(Cli& cli, const std::vector<std::string>& args) {
  if (args.empty()) {
    cli.out() << "\nUsage:  " << UsageLine() << "\n";
    return kExitOk;
  }
  for (auto& sub : subs_) {
    bool match = sub.command->Name() == args[0];
    for (const auto& a : sub.aliases) match = match || a == args[0];
    if (!match) continue;
    return RunCommand(*sub.command, absl::StrCat(name_, " ", args[0]),
                      std::vector<std::string>(args.begin() + 1, args.end()), cli.host(),
                      cli.out(), cli.err());
  }
  cli.err() << "berth: '" << args[0] << "' is not a berth " << name_
            << " command.\nSee 'berth " << name_ << " --help'\n";
  return kExitUsage;
}

}  // namespace berth::cli
