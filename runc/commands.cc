#include "runc/commands.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/cli/flags.h"
#include "common/fs/atomic_file.h"
#include "common/fs/fs.h"
#include "common/status/status_macros.h"
#include "runc/container/create.h"
#include "runc/container/exec.h"
#include "runc/container/lifecycle.h"
#include "runc/container/process_setup.h"
#include "runc/features.h"
#include "runc/spec/default_spec.h"
#include "runc/spec/names.h"
#include "runc/spec/parser.h"

namespace berth::runc {
namespace {

using cli::FlagSet;
using nlohmann::json;

void Log(const Globals& g, absl::string_view level, absl::string_view message) {
  const std::string now =
      absl::FormatTime("%Y-%m-%d%ET%H:%M:%E*SZ", absl::Now(), absl::UTCTimeZone());
  std::string line;
  if (g.log_format == "json") {
    line = json{{"level", level}, {"msg", message}, {"time", now}}.dump() + "\n";
  } else {
    line = absl::StrCat("time=\"", now, "\" level=", level, " msg=\"",
                        json(std::string(message)).dump().substr(1), "\n");
    line.erase(line.size() - 2, 1);  // the JSON string's closing quote doubles as ours
  }
  if (!g.log.empty()) {
    int fd = open(g.log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
      (void)!write(fd, line.data(), line.size());
      close(fd);
    }
  }
  // Like runc: the error also goes to stderr, where a person running the command sees it.
  if (level == "error" || g.log.empty()) std::cerr << "berth-runc: " << message << "\n";
}

// Parses a command's flags; on error logs it and returns nullopt.
std::optional<std::vector<std::string>> ParseFlags(const Globals& g, FlagSet& flags,
                                                   const std::vector<std::string>& args,
                                                   bool interspersed = true) {
  auto pos = flags.Parse(args, interspersed);
  if (!pos.ok()) {
    LogError(g, pos.status().message());
    return std::nullopt;
  }
  return *pos;
}

int Fail(const Globals& g, const absl::Status& s) {
  LogError(g, s.message());
  return 1;
}

absl::StatusOr<std::string> OneId(const std::vector<std::string>& pos, const char* cmd) {
  if (pos.size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", cmd, "\" requires exactly 1 argument: the container id"));
  }
  return pos[0];
}

absl::StatusOr<std::string> AbsoluteBundle(const std::string& bundle) {
  std::string b = bundle.empty() ? "." : bundle;
  char buf[PATH_MAX];
  if (realpath(b.c_str(), buf) == nullptr) {
    return absl::ErrnoToStatus(errno, absl::StrCat("--bundle ", b));
  }
  return std::string(buf);
}

struct CreateFlags {
  std::string bundle, pid_file, console_socket;
  bool no_pivot = false, no_new_keyring = false, detach = false, keep = false;
  int64_t preserve_fds = 0;
  void Bind(FlagSet& f, bool run) {
    f.AddString(&bundle, "bundle", 'b', "path to the bundle (default: current directory)");
    f.AddString(&pid_file, "pid-file", 0, "file to write the init's pid to");
    f.AddString(&console_socket, "console-socket", 0, "unix socket to send the pty master to");
    f.AddBool(&no_pivot, "no-pivot", 0, "do not use pivot_root (for ramdisk rootfs)");
    f.AddBool(&no_new_keyring, "no-new-keyring", 0, "accepted for compatibility");
    f.AddInt(&preserve_fds, "preserve-fds", 0, "pass N extra fds (from 3) to the container");
    if (run) {
      f.AddBool(&detach, "detach", 'd', "detach from the container's process");
      f.AddBool(&keep, "keep", 0, "do not delete the container after it exits");
    }
  }
};

absl::StatusOr<container::Created> DoCreate(const Globals& g, const std::string& id,
                                            const CreateFlags& f) {
  if (f.preserve_fds < 0) return absl::InvalidArgumentError("--preserve-fds must be >= 0");
  BERTH_RETURN_IF_ERROR(state::ValidateId(id));
  BERTH_ASSIGN_OR_RETURN(std::string bundle, AbsoluteBundle(f.bundle));
  BERTH_ASSIGN_OR_RETURN(spec::Spec s, spec::LoadSpec(bundle));
  state::Store store(g.root);
  container::CreateOptions o;
  o.id = id;
  o.bundle = bundle;
  o.pid_file = f.pid_file;
  o.console_socket = f.console_socket;
  o.no_pivot = f.no_pivot;
  o.preserve_fds = static_cast<int>(f.preserve_fds);
  return container::CreateContainer(store, s, o);
}

int CmdCreate(const Globals& g, const std::vector<std::string>& args) {
  CreateFlags f;
  FlagSet flags;
  f.Bind(flags, false);
  auto pos = ParseFlags(g, flags, args);
  if (!pos) return 1;
  auto id = OneId(*pos, "create");
  if (!id.ok()) return Fail(g, id.status());
  auto c = DoCreate(g, *id, f);
  if (!c.ok()) return Fail(g, c.status());
  return 0;
}

int CmdStart(const Globals& g, const std::vector<std::string>& args) {
  FlagSet flags;
  auto pos = ParseFlags(g, flags, args);
  if (!pos) return 1;
  auto id = OneId(*pos, "start");
  if (!id.ok()) return Fail(g, id.status());
  state::Store store(g.root);
  std::vector<std::string> warnings;
  absl::Status s = container::Start(store, *id, &warnings);
  for (const auto& w : warnings) LogWarning(g, w);
  return s.ok() ? 0 : Fail(g, s);
}

int CmdRun(const Globals& g, const std::vector<std::string>& args) {
  CreateFlags f;
  FlagSet flags;
  f.Bind(flags, true);
  auto pos = ParseFlags(g, flags, args);
  if (!pos) return 1;
  auto id = OneId(*pos, "run");
  if (!id.ok()) return Fail(g, id.status());
  auto c = DoCreate(g, *id, f);
  if (!c.ok()) return Fail(g, c.status());
  state::Store store(g.root);
  std::vector<std::string> warnings;
  absl::Status s = container::Start(store, *id, &warnings);
  for (const auto& w : warnings) LogWarning(g, w);
  if (!s.ok()) {
    std::vector<std::string> ignored;
    (void)container::Delete(store, *id, /*force=*/true, &ignored);
    return Fail(g, s);
  }
  if (f.detach) return 0;
  int code = container::WaitForeground(c->pid);
  if (!f.keep) {
    std::vector<std::string> w;
    absl::Status d = container::Delete(store, *id, /*force=*/true, &w);
    // Failed poststop hooks are warnings the runtime spec says to log, as `delete` does.
    for (const auto& warning : w) LogWarning(g, warning);
    if (!d.ok()) LogWarning(g, d.message());
  }
  return code;
}

int CmdState(const Globals& g, const std::vector<std::string>& args) {
  FlagSet flags;
  auto pos = ParseFlags(g, flags, args);
  if (!pos) return 1;
  auto id = OneId(*pos, "state");
  if (!id.ok()) return Fail(g, id.status());
  state::Store store(g.root);
  auto c = container::Load(store, *id);
  if (!c.ok()) return Fail(g, c.status());
  std::cout << state::StateJson(c->state, c->status, /*pretty=*/true) << "\n";
  return 0;
}

int CmdKill(const Globals& g, const std::vector<std::string>& args) {
  bool all = false;
  FlagSet flags;
  flags.AddBool(&all, "all", 'a', "send the signal to all processes in the container");
  auto pos = ParseFlags(g, flags, args);
  if (!pos) return 1;
  if (pos->empty() || pos->size() > 2) {
    return Fail(g, absl::InvalidArgumentError("usage: berth-runc kill [--all] <id> [signal]"));
  }
  auto sig = container::ParseSignal(pos->size() == 2 ? (*pos)[1] : "SIGTERM");
  if (!sig.ok()) return Fail(g, sig.status());
  state::Store store(g.root);
  absl::Status s = container::Kill(store, (*pos)[0], *sig, all);
  return s.ok() ? 0 : Fail(g, s);
}

int CmdDelete(const Globals& g, const std::vector<std::string>& args) {
  bool force = false;
  FlagSet flags;
  flags.AddBool(&force, "force", 'f', "kill the container first if it is running");
  auto pos = ParseFlags(g, flags, args);
  if (!pos) return 1;
  auto id = OneId(*pos, "delete");
  if (!id.ok()) return Fail(g, id.status());
  state::Store store(g.root);
  std::vector<std::string> warnings;
  absl::Status s = container::Delete(store, *id, force, &warnings);
  for (const auto& w : warnings) LogWarning(g, w);
  // Like runc, deleting a container that is already gone is not an error with --force.
  if (absl::IsNotFound(s) && force) return 0;
  return s.ok() ? 0 : Fail(g, s);
}

int CmdPauseResume(const Globals& g, const std::vector<std::string>& args, bool pause) {
  FlagSet flags;
  auto pos = ParseFlags(g, flags, args);
  if (!pos) return 1;
  auto id = OneId(*pos, pause ? "pause" : "resume");
  if (!id.ok()) return Fail(g, id.status());
  state::Store store(g.root);
  absl::Status s = pause ? container::Pause(store, *id) : container::Resume(store, *id);
  return s.ok() ? 0 : Fail(g, s);
}

int CmdList(const Globals& g, const std::vector<std::string>& args) {
  std::string format = "table";
  bool quiet = false;
  FlagSet flags;
  flags.AddString(&format, "format", 'f', "table or json");
  flags.AddBool(&quiet, "quiet", 'q', "display only container ids");
  auto pos = ParseFlags(g, flags, args);
  if (!pos) return 1;
  state::Store store(g.root);
  auto ids = store.List();
  if (!ids.ok()) return Fail(g, ids.status());
  json out = json::array();
  std::string table = "ID          PID         STATUS      BUNDLE      CREATED     OWNER\n";
  for (const auto& id : *ids) {
    auto c = container::Load(store, id);
    if (!c.ok()) continue;  // deleted meanwhile
    if (quiet) {
      std::cout << id << "\n";
      continue;
    }
    json j = json::parse(state::StateJson(c->state, c->status, false));
    out.push_back(j);
    absl::StrAppend(&table, id, "\t", j["pid"].get<int>(), "\t", j["status"].get<std::string>(),
                    "\t", c->state.bundle, "\t", j["created"].get<std::string>(), "\troot\n");
  }
  if (quiet) return 0;
  if (format == "json") {
    std::cout << out.dump() << "\n";
  } else if (format == "table") {
    std::cout << table;
  } else {
    return Fail(g, absl::InvalidArgumentError("--format: want table or json"));
  }
  return 0;
}

int CmdPs(const Globals& g, const std::vector<std::string>& args) {
  std::string format = "table";
  FlagSet flags;
  flags.AddString(&format, "format", 'f', "table or json");
  auto pos = ParseFlags(g, flags, args, /*interspersed=*/false);
  if (!pos) return 1;
  if (pos->empty()) return Fail(g, absl::InvalidArgumentError("\"ps\" requires a container id"));
  state::Store store(g.root);
  auto c = container::Load(store, (*pos)[0]);
  if (!c.ok()) return Fail(g, c.status());
  auto pids = c->cgroup->Pids();
  if (!pids.ok()) return Fail(g, pids.status());
  if (format == "json") {
    std::cout << json(*pids).dump() << "\n";
    return 0;
  }
  // Table: ps(1) with the given options, keeping the header and the container's processes.
  std::vector<std::string> ps_args(pos->begin() + 1, pos->end());
  if (ps_args.empty()) ps_args = {"-ef"};
  std::string cmd = "ps";
  for (const auto& a : ps_args) absl::StrAppend(&cmd, " '", a, "'");
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return Fail(g, absl::ErrnoToStatus(errno, "ps"));
  char line[4096];
  int pid_col = -1;
  bool header = true;
  while (fgets(line, sizeof(line), p) != nullptr) {
    std::vector<std::string> cols = absl::StrSplit(line, ' ', absl::SkipWhitespace());
    if (header) {
      for (size_t i = 0; i < cols.size(); ++i) {
        if (cols[i] == "PID") pid_col = static_cast<int>(i);
      }
      std::cout << line;
      header = false;
      if (pid_col < 0) {
        pclose(p);
        return Fail(g, absl::InvalidArgumentError("ps output has no PID column"));
      }
      continue;
    }
    int pid = 0;
    if (pid_col < static_cast<int>(cols.size()) && absl::SimpleAtoi(cols[pid_col], &pid)) {
      for (pid_t want : *pids) {
        if (want == pid) std::cout << line;
      }
    }
  }
  pclose(p);
  return 0;
}

int CmdSpec(const Globals& g, const std::vector<std::string>& args) {
  std::string bundle;
  bool rootless = false;
  FlagSet flags;
  flags.AddString(&bundle, "bundle", 'b', "path to the bundle");
  flags.AddBool(&rootless, "rootless", 0, "a spec for a rootless container");
  auto pos = ParseFlags(g, flags, args);
  if (!pos) return 1;
  const std::string path = absl::StrCat(bundle.empty() ? "." : bundle, "/config.json");
  if (access(path.c_str(), F_OK) == 0) {
    return Fail(g, absl::AlreadyExistsError(absl::StrCat("File ", path, " exists. Remove it first")));
  }
  absl::Status s = fs::WriteFileAtomically(path, spec::DefaultSpecJson(rootless), 0644);
  return s.ok() ? 0 : Fail(g, s);
}

int CmdUpdate(const Globals& g, const std::vector<std::string>& args) {
  std::string resources_file, cpuset_cpus, cpuset_mems;
  int64_t memory = 0, memory_swap = 0, memory_reservation = 0, cpu_shares = 0, cpu_quota = 0,
          cpu_period = 0, pids_limit = 0;
  FlagSet flags;
  flags.AddString(&resources_file, "resources", 'r',
                  "path to a JSON file of linux.resources (\"-\" for stdin)");
  flags.AddInt(&memory, "memory", 0, "memory limit in bytes");
  flags.AddInt(&memory_swap, "memory-swap", 0, "memory + swap limit in bytes");
  flags.AddInt(&memory_reservation, "memory-reservation", 0, "memory reservation in bytes");
  flags.AddInt(&cpu_shares, "cpu-shares", 0, "relative CPU weight");
  flags.AddInt(&cpu_quota, "cpu-quota", 0, "CPU CFS quota in microseconds");
  flags.AddInt(&cpu_period, "cpu-period", 0, "CPU CFS period in microseconds");
  flags.AddString(&cpuset_cpus, "cpuset-cpus", 0, "CPUs allowed (e.g. 0-1)");
  flags.AddString(&cpuset_mems, "cpuset-mems", 0, "memory nodes allowed");
  flags.AddInt(&pids_limit, "pids-limit", 0, "maximum number of processes");
  auto pos = ParseFlags(g, flags, args);
  if (!pos) return 1;
  auto id = OneId(*pos, "update");
  if (!id.ok()) return Fail(g, id.status());
  spec::Resources r;
  if (!resources_file.empty()) {
    absl::StatusOr<std::string> text;
    if (resources_file == "-") {
      std::string all((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
      text = all;
    } else {
      text = fs::ReadFile(resources_file);
    }
    if (!text.ok()) return Fail(g, text.status());
    auto parsed = spec::ParseResources(*text);
    if (!parsed.ok()) return Fail(g, parsed.status());
    r = *parsed;
  }
  auto mem = [&]() -> spec::MemoryResources& {
    if (!r.memory) r.memory.emplace();
    return *r.memory;
  };
  auto cpu = [&]() -> spec::CpuResources& {
    if (!r.cpu) r.cpu.emplace();
    return *r.cpu;
  };
  if (flags.Changed("memory")) mem().limit = memory;
  if (flags.Changed("memory-swap")) mem().swap = memory_swap;
  if (flags.Changed("memory-reservation")) mem().reservation = memory_reservation;
  if (flags.Changed("cpu-shares")) cpu().shares = cpu_shares;
  if (flags.Changed("cpu-quota")) cpu().quota = cpu_quota;
  if (flags.Changed("cpu-period")) cpu().period = cpu_period;
  if (flags.Changed("cpuset-cpus")) cpu().cpus = cpuset_cpus;
  if (flags.Changed("cpuset-mems")) cpu().mems = cpuset_mems;
  if (flags.Changed("pids-limit")) r.pids_limit = pids_limit;
  state::Store store(g.root);
  auto c = container::Load(store, *id);
  if (!c.ok()) return Fail(g, c.status());
  if (c->status == state::Status::kStopped) {
    return Fail(g, absl::FailedPreconditionError("container not running"));
  }
  absl::Status s = c->cgroup->Apply(r);
  return s.ok() ? 0 : Fail(g, s);
}

int CmdEvents(const Globals& g, const std::vector<std::string>& args) {
  bool stats = false;
  int64_t interval = 5;
  FlagSet flags;
  flags.AddBool(&stats, "stats", 0, "display the container's stats once, then exit");
  flags.AddInt(&interval, "interval", 0, "ignored: only --stats is supported");
  auto pos = ParseFlags(g, flags, args);
  if (!pos) return 1;
  auto id = OneId(*pos, "events");
  if (!id.ok()) return Fail(g, id.status());
  if (!stats) {
    return Fail(g, absl::UnimplementedError(
                       "events: only --stats is supported; OOM notifications come from the shim"));
  }
  state::Store store(g.root);
  auto c = container::Load(store, *id);
  if (!c.ok()) return Fail(g, c.status());
  auto st = c->cgroup->GetStats();
  if (!st.ok()) return Fail(g, st.status());
  std::cout << StatsEventJson(*id, *st) << "\n";
  return 0;
}

int CmdExec(const Globals& g, const std::vector<std::string>& args) {
  std::string process_file, console_socket, pid_file, cwd, user;
  bool tty = false, detach = false, no_new_privs = false;
  int64_t preserve_fds = 0;
  std::vector<std::string> env, caps, additional_gids;
  FlagSet flags;
  flags.AddString(&process_file, "process", 'p', "path to a JSON process object");
  flags.AddBool(&tty, "tty", 't', "allocate a pseudo-TTY");
  flags.AddString(&console_socket, "console-socket", 0, "unix socket to send the pty master to");
  flags.AddBool(&detach, "detach", 'd', "detach from the process");
  flags.AddString(&pid_file, "pid-file", 0, "file to write the process's pid to");
  flags.AddStringList(&env, "env", 'e', "set an environment variable");
  flags.AddString(&cwd, "cwd", 0, "working directory in the container");
  flags.AddString(&user, "user", 'u', "UID[:GID]");
  flags.AddStringList(&additional_gids, "additional-gids", 'g', "additional group ids");
  flags.AddStringList(&caps, "cap", 'c', "add a capability to the bounding set");
  flags.AddBool(&no_new_privs, "no-new-privs", 0, "set no_new_privs");
  flags.AddInt(&preserve_fds, "preserve-fds", 0, "pass N extra fds (from 3) to the process");
  auto pos = ParseFlags(g, flags, args, /*interspersed=*/false);
  if (!pos) return 1;
  if (pos->empty()) return Fail(g, absl::InvalidArgumentError("\"exec\" requires a container id"));
  const std::string id = (*pos)[0];
  spec::Process process;
  if (!process_file.empty()) {
    auto text = fs::ReadFile(process_file);
    if (!text.ok()) return Fail(g, text.status());
    auto p = spec::ParseProcess(*text);
    if (!p.ok()) return Fail(g, p.status());
    process = *std::move(p);
  } else {
    if (pos->size() < 2) {
      return Fail(g, absl::InvalidArgumentError("exec: give a command or --process"));
    }
    state::Store store(g.root);
    auto c = container::Load(store, id);
    if (!c.ok()) return Fail(g, c.status());
    // Like runc: the container's own process settings, with the command and flags on top.
    auto config = spec::LoadSpec(c->state.bundle);
    if (!config.ok()) return Fail(g, config.status());
    if (config->process) process = *config->process;
    process.args.assign(pos->begin() + 1, pos->end());
    process.terminal = tty;
    for (const auto& e : env) process.env.push_back(e);
    if (!cwd.empty()) process.cwd = cwd;
    if (!user.empty()) {
      std::vector<std::string> ug = absl::StrSplit(user, absl::MaxSplits(':', 1));
      if (!absl::SimpleAtoi(ug[0], &process.user.uid) ||
          (ug.size() == 2 && !absl::SimpleAtoi(ug[1], &process.user.gid))) {
        return Fail(g, absl::InvalidArgumentError("--user: want UID[:GID] as numbers"));
      }
    }
    for (const auto& gid : additional_gids) {
      uint32_t v;
      if (!absl::SimpleAtoi(gid, &v)) {
        return Fail(g, absl::InvalidArgumentError("--additional-gids: want numbers"));
      }
      process.user.additional_gids.push_back(v);
    }
    if (!caps.empty()) {
      if (!process.capabilities) process.capabilities.emplace();
      for (const auto& name : caps) {
        std::optional<int> cap = spec::CapabilityFromName(name);
        if (!cap) {
          return Fail(g, absl::InvalidArgumentError(
                             absl::StrCat("--cap: unknown capability \"", name, "\"")));
        }
        for (auto* set : {&process.capabilities->bounding, &process.capabilities->effective,
                          &process.capabilities->permitted}) {
          set->push_back(*cap);
        }
      }
    }
    if (no_new_privs) process.no_new_privileges = true;
  }
  state::Store store(g.root);
  container::ExecOptions o;
  o.id = id;
  o.console_socket = console_socket;
  o.pid_file = pid_file;
  o.detach = detach;
  o.preserve_fds = static_cast<int>(preserve_fds);
  auto code = container::Exec(store, process, o);
  if (!code.ok()) return Fail(g, code.status());
  return *code;
}

}  // namespace

void LogError(const Globals& g, absl::string_view message) { Log(g, "error", message); }
void LogWarning(const Globals& g, absl::string_view message) { Log(g, "warning", message); }

int RunCommand(const Globals& g, const std::string& cmd, const std::vector<std::string>& args) {
  if (cmd == "create") return CmdCreate(g, args);
  if (cmd == "start") return CmdStart(g, args);
  if (cmd == "run") return CmdRun(g, args);
  if (cmd == "exec") return CmdExec(g, args);
  if (cmd == "state") return CmdState(g, args);
  if (cmd == "kill") return CmdKill(g, args);
  if (cmd == "delete") return CmdDelete(g, args);
  if (cmd == "list") return CmdList(g, args);
  if (cmd == "ps") return CmdPs(g, args);
  if (cmd == "pause") return CmdPauseResume(g, args, true);
  if (cmd == "resume") return CmdPauseResume(g, args, false);
  if (cmd == "update") return CmdUpdate(g, args);
  if (cmd == "events") return CmdEvents(g, args);
  if (cmd == "spec") return CmdSpec(g, args);
  if (cmd == "features") return CmdFeatures(g, args);
  LogError(g, absl::StrCat("unknown command \"", cmd, "\" (see berth-runc --help)"));
  return 1;
}

}  // namespace berth::runc
