// Container lifecycle commands: start, stop, restart, kill, rm, pause, unpause, rename, update,
// wait, container prune; plus the `container` group and the shared helpers.
#include "engine/cli/container_commands.h"

#include <unistd.h>

#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/cli/format.h"
#include "engine/cli/parse_options.h"
#include "common/units/units.h"

namespace berth::cli {
namespace {

namespace v1 = ::berth::engine::v1;

// Base for commands taking one or more container references.
class ContainerCommand : public Command {
 public:
  ContainerCommand(std::string name, std::string summary, std::string usage, size_t min_args,
                   size_t max_args = SIZE_MAX)
      : name_(std::move(name)), summary_(std::move(summary)), usage_(std::move(usage)),
        min_args_(min_args), max_args_(max_args) {}
  std::string Name() const override { return name_; }
  std::string Summary() const override { return summary_; }
  std::string UsageLine() const override { return absl::StrCat("berth ", name_, " ", usage_); }
  void DefineFlags(FlagSet& f) override {}
  int Run(Cli& cli, const std::vector<std::string>& args) override {
    if (args.size() < min_args_ || args.size() > max_args_) {
      std::string msg =
          min_args_ == max_args_
              ? absl::StrCat("requires exactly ", min_args_, " argument", min_args_ == 1 ? "" : "s")
              : absl::StrCat("requires at least ", min_args_, " argument",
                             min_args_ == 1 ? "" : "s");
      return ArgsError(cli, name_, UsageLine(), msg);
    }
    auto stub = ContainersStub(cli);
    if (stub == nullptr) return kExitFailure;
    return Execute(cli, *stub, args);
  }

 protected:
  virtual int Execute(Cli& cli, v1::Containers::Stub& stub,
                      const std::vector<std::string>& args) = 0;

 private:
  std::string name_, summary_, usage_;
  size_t min_args_, max_args_;
};

class StopCommand : public ContainerCommand {
 public:
  explicit StopCommand(bool restart)
      : ContainerCommand(restart ? "restart" : "stop",
                         restart ? "Restart one or more containers"
                                 : "Stop one or more running containers",
                         "[OPTIONS] CONTAINER [CONTAINER...]", 1),
        restart_(restart) {}
  void DefineFlags(FlagSet& f) override {
    flags_ = &f;
    f.AddInt(&time_, "time", 't', "Seconds to wait before killing the container");
    f.AddString(&signal_, "signal", 's', "Signal to send to the container");
  }

 protected:
  int Execute(Cli& cli, v1::Containers::Stub& stub, const std::vector<std::string>& args) override {
    const bool has_time = flags_->Changed("time");
    // The call outlives the grace period.
    const absl::Duration deadline = absl::Seconds((has_time && time_ >= 0 ? time_ : 10) + 60);
    return ForEachContainer(cli, args, [&](const std::string& id) {
      ::grpc::ClientContext ctx;
      Cli::Prepare(ctx, has_time && time_ < 0 ? absl::Hours(24 * 365) : deadline);
      if (restart_) {
        v1::RestartContainerRequest req;
        req.set_id(id);
        req.set_signal(signal_);
        if (has_time) req.mutable_timeout()->set_seconds(time_);
        v1::RestartContainerResponse resp;
        return stub.Restart(&ctx, req, &resp);
      }
      v1::StopContainerRequest req;
      req.set_id(id);
      req.set_signal(signal_);
      if (has_time) req.mutable_timeout()->set_seconds(time_);
      v1::StopContainerResponse resp;
      return stub.Stop(&ctx, req, &resp);
    });
  }

 private:
  bool restart_;
  const FlagSet* flags_ = nullptr;
  int64_t time_ = 0;
  std::string signal_;
};

class KillCommand : public ContainerCommand {
 public:
  KillCommand()
      : ContainerCommand("kill", "Kill one or more running containers",
                         "[OPTIONS] CONTAINER [CONTAINER...]", 1) {}
  void DefineFlags(FlagSet& f) override {
    f.AddString(&signal_, "signal", 's', "Signal to send to the container");
  }

 protected:
  int Execute(Cli& cli, v1::Containers::Stub& stub, const std::vector<std::string>& args) override {
    return ForEachContainer(cli, args, [&](const std::string& id) {
      ::grpc::ClientContext ctx;
      Cli::Prepare(ctx);
      v1::KillContainerRequest req;
      req.set_id(id);
      req.set_signal(signal_);
      v1::KillContainerResponse resp;
      return stub.Kill(&ctx, req, &resp);
    });
  }

 private:
  std::string signal_;
};

class RemoveCommand : public ContainerCommand {
 public:
  explicit RemoveCommand(std::string name)
      : ContainerCommand(std::move(name), "Remove one or more containers",
                         "[OPTIONS] CONTAINER [CONTAINER...]", 1) {}
  void DefineFlags(FlagSet& f) override {
    f.AddBool(&force_, "force", 'f', "Force the removal of a running container (uses SIGKILL)");
    f.AddBool(&volumes_, "volumes", 'v',
              "Remove anonymous volumes associated with the container");
  }

 protected:
  int Execute(Cli& cli, v1::Containers::Stub& stub, const std::vector<std::string>& args) override {
    return ForEachContainer(cli, args, [&](const std::string& id) {
      ::grpc::ClientContext ctx;
      Cli::Prepare(ctx, absl::Minutes(2));
      v1::RemoveContainerRequest req;
      req.set_id(id);
      req.set_force(force_);
      req.set_remove_volumes(volumes_);
      v1::RemoveContainerResponse resp;
      return stub.Remove(&ctx, req, &resp);
    });
  }

 private:
  bool force_ = false, volumes_ = false;
};

class PauseCommand : public ContainerCommand {
 public:
  explicit PauseCommand(bool pause)
      : ContainerCommand(pause ? "pause" : "unpause",
                         pause ? "Pause all processes within one or more containers"
                               : "Unpause all processes within one or more containers",
                         "CONTAINER [CONTAINER...]", 1),
        pause_(pause) {}

 protected:
  int Execute(Cli& cli, v1::Containers::Stub& stub, const std::vector<std::string>& args) override {
    return ForEachContainer(cli, args, [&](const std::string& id) {
      ::grpc::ClientContext ctx;
      Cli::Prepare(ctx);
      if (pause_) {
        v1::PauseContainerRequest req;
        req.set_id(id);
        v1::PauseContainerResponse resp;
        return stub.Pause(&ctx, req, &resp);
      }
      v1::UnpauseContainerRequest req;
      req.set_id(id);
      v1::UnpauseContainerResponse resp;
      return stub.Unpause(&ctx, req, &resp);
    });
  }

 private:
  bool pause_;
};

class RenameCommand : public ContainerCommand {
 public:
  RenameCommand()
      : ContainerCommand("rename", "Rename a container", "CONTAINER NEW_NAME", 2, 2) {}

 protected:
  int Execute(Cli& cli, v1::Containers::Stub& stub, const std::vector<std::string>& args) override {
    if (absl::StripAsciiWhitespace(args[1]).empty()) {
      cli.err() << "Error: Neither old nor new names may be empty\n";
      return kExitFailure;
    }
    ::grpc::ClientContext ctx;
    Cli::Prepare(ctx);
    v1::RenameContainerRequest req;
    req.set_id(args[0]);
    req.set_new_name(args[1]);
    v1::RenameContainerResponse resp;
    ::grpc::Status st = stub.Rename(&ctx, req, &resp);
    return st.ok() ? kExitOk : cli.ReportError(st);
  }
};

class UpdateCommand : public ContainerCommand {
 public:
  UpdateCommand()
      : ContainerCommand("update", "Update configuration of one or more containers",
                         "[OPTIONS] CONTAINER [CONTAINER...]", 1) {}
  void DefineFlags(FlagSet& f) override {
    flags_ = &f;
    f.AddString(&memory_, "memory", 'm', "Memory limit");
    f.AddString(&memory_swap_, "memory-swap", 0,
                "Swap limit equal to memory plus swap: -1 to enable unlimited swap");
    f.AddString(&memory_reservation_, "memory-reservation", 0, "Memory soft limit");
    f.AddString(&cpus_, "cpus", 0, "Number of CPUs");
    f.AddInt(&cpu_shares_, "cpu-shares", 'c', "CPU shares (relative weight)");
    f.AddString(&cpuset_cpus_, "cpuset-cpus", 0, "CPUs in which to allow execution (0-3, 0,1)");
    f.AddInt(&pids_limit_, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)");
    f.AddString(&restart_, "restart", 0, "Restart policy to apply when a container exits");
  }

 protected:
  int Execute(Cli& cli, v1::Containers::Stub& stub, const std::vector<std::string>& args) override {
    v1::UpdateContainerRequest base;
    v1::Resources& r = *base.mutable_resources();
    bool any = false;
    auto bad = [&](const std::string& v, const std::string& flag, const absl::Status& s) {
      cli.err() << "invalid argument \"" << v << "\" for \"" << flag << "\" flag: " << s.message()
                << "\nSee 'berth update --help'.\n";
      return kExitUsage;
    };
    if (!memory_.empty()) {
      auto m = units::RamInBytes(memory_);
      if (!m.ok()) return bad(memory_, "-m, --memory", m.status());
      r.set_memory(*m);
      any = true;
    }
    if (!memory_swap_.empty()) {
      auto m = memory_swap_ == "-1" ? absl::StatusOr<int64_t>(-1) : units::RamInBytes(memory_swap_);
      if (!m.ok()) return bad(memory_swap_, "--memory-swap", m.status());
      r.set_memory_swap(*m);
      any = true;
    }
    if (!memory_reservation_.empty()) {
      auto m = units::RamInBytes(memory_reservation_);
      if (!m.ok()) return bad(memory_reservation_, "--memory-reservation", m.status());
      r.set_memory_reservation(*m);
      any = true;
    }
    if (!cpus_.empty()) {
      auto n = ParseNanoCpus(cpus_);
      if (!n.ok()) return bad(cpus_, "--cpus", n.status());
      r.set_nano_cpus(*n);
      any = true;
    }
    if (flags_->Changed("cpu-shares")) {
      r.set_cpu_shares(cpu_shares_);
      any = true;
    }
    if (!cpuset_cpus_.empty()) {
      r.set_cpuset_cpus(cpuset_cpus_);
      any = true;
    }
    if (flags_->Changed("pids-limit")) {
      r.set_pids_limit(pids_limit_);
      any = true;
    }
    if (!restart_.empty()) {
      auto p = ParseRestartPolicy(restart_);
      if (!p.ok()) {
        cli.err() << p.status().message() << "\n";
        return kExitFailure;
      }
      *base.mutable_restart_policy() = *p;
      any = true;
    }
    if (!any) {
      cli.err() << "you must provide one or more flags when using this command\n";
      return kExitFailure;
    }
    return ForEachContainer(cli, args, [&](const std::string& id) {
      ::grpc::ClientContext ctx;
      Cli::Prepare(ctx);
      v1::UpdateContainerRequest req = base;
      req.set_id(id);
      v1::UpdateContainerResponse resp;
      ::grpc::Status st = stub.Update(&ctx, req, &resp);
      for (const auto& w : resp.warnings()) cli.err() << "WARNING: " << w << "\n";
      return st;
    });
  }

 private:
  const FlagSet* flags_ = nullptr;
  std::string memory_, memory_swap_, memory_reservation_, cpus_, cpuset_cpus_, restart_;
  int64_t cpu_shares_ = 0, pids_limit_ = 0;
};

class WaitCommand : public ContainerCommand {
 public:
  WaitCommand()
      : ContainerCommand("wait", "Block until one or more containers stop, then print their "
                                 "exit codes",
                         "CONTAINER [CONTAINER...]", 1) {}

 protected:
  int Execute(Cli& cli, v1::Containers::Stub& stub, const std::vector<std::string>& args) override {
    int rc = kExitOk;
    for (const auto& id : args) {
      ::grpc::ClientContext ctx;
      ctx.set_wait_for_ready(false);
      v1::WaitContainerRequest req;
      req.set_id(id);
      req.set_condition(v1::WAIT_CONDITION_NOT_RUNNING);
      auto reader = stub.Wait(&ctx, req);
      v1::WaitContainerResponse resp;
      bool exited = false;
      int code = 0;
      while (reader->Read(&resp)) {
        if (resp.has_exit()) {
          exited = true;
          code = resp.exit().exit_code();
        }
      }
      ::grpc::Status st = reader->Finish();
      if (!st.ok() || !exited) {
        if (st.ok()) st = ::grpc::Status(::grpc::StatusCode::INTERNAL, "wait ended without exit");
        cli.ReportError(st);
        rc = kExitFailure;
        continue;
      }
      cli.out() << code << "\n";
      cli.out().flush();
    }
    return rc;
  }
};

class PruneCommand : public Command {
 public:
  std::string Name() const override { return "prune"; }
  std::string Summary() const override { return "Remove all stopped containers"; }
  std::string UsageLine() const override { return "berth container prune [OPTIONS]"; }
  void DefineFlags(FlagSet& f) override {
    f.AddBool(&force_, "force", 'f', "Do not prompt for confirmation");
    f.AddStringList(&filters_, "filter", 0, "Provide filter values (e.g. \"until=<timestamp>\")");
  }
  int Run(Cli& cli, const std::vector<std::string>& args) override {
    if (!args.empty()) {
      return ArgsError(cli, "container prune", UsageLine(), "accepts no arguments");
    }
    auto filters = ParseFilters(filters_);
    if (!filters.ok()) {
      cli.err() << filters.status().message() << "\n";
      return kExitUsage;
    }
    v1::PruneContainersRequest req;
    for (auto& f : *filters) {
      if (f.key() == "until") {
        // Relative durations become absolute times before the call (types.proto).
        auto t = ParseTimestamp(f.value(), absl::Now());
        if (!t.ok()) {
          cli.err() << t.status().message() << "\n";
          return kExitUsage;
        }
        f.set_value(absl::FormatTime(absl::RFC3339_full, *t, absl::UTCTimeZone()));
      }
      *req.add_filters() = f;
    }
    if (!force_) {
      cli.out() << "WARNING! This will remove all stopped containers.\n"
                   "Are you sure you want to continue? [y/N] ";
      cli.out().flush();
      std::string answer;
      std::getline(std::cin, answer);
      answer = absl::AsciiStrToLower(absl::StripAsciiWhitespace(answer));
      if (answer != "y" && answer != "yes") return kExitOk;
    }
    auto stub = ContainersStub(cli);
    if (stub == nullptr) return kExitFailure;
    ::grpc::ClientContext ctx;
    Cli::Prepare(ctx, absl::Minutes(5));
    v1::PruneContainersResponse resp;
    ::grpc::Status st = stub->Prune(&ctx, req, &resp);
    if (!st.ok()) return cli.ReportError(st);
    if (!resp.deleted_ids().empty()) {
      cli.out() << "Deleted Containers:\n";
      for (const auto& id : resp.deleted_ids()) cli.out() << id << "\n";
      cli.out() << "\n";
    }
    cli.out() << "Total reclaimed space: "
              << HumanSize(static_cast<double>(resp.space_reclaimed())) << "\n";
    return kExitOk;
  }

 private:
  bool force_ = false;
  std::vector<std::string> filters_;
};

}  // namespace

std::unique_ptr<v1::Containers::Stub> ContainersStub(Cli& cli) {
  auto ch = cli.Channel();
  if (!ch.ok()) {
    cli.err() << ch.status().message() << "\n";
    return nullptr;
  }
  return v1::Containers::NewStub(*ch);
}

int StartFailureExitCode(const std::string& message, int otherwise) {
  const std::string m = absl::AsciiStrToLower(message);
  if (absl::StrContains(m, "executable file not found") ||
      absl::StrContains(m, "no such file or directory")) {
    return 127;
  }
  if (absl::StrContains(m, "permission denied") || absl::StrContains(m, "is a directory")) {
    return 126;
  }
  return otherwise;
}

int ForEachContainer(Cli& cli, const std::vector<std::string>& refs,
                     const std::function<::grpc::Status(const std::string&)>& call) {
  int rc = kExitOk;
  for (const auto& ref : refs) {
    ::grpc::Status st = call(ref);
    if (st.ok()) {
      cli.out() << ref << "\n";
      cli.out().flush();
    } else {
      cli.ReportError(st);
      rc = kExitFailure;
    }
  }
  return rc;
}

int ArgsError(Cli& cli, const std::string& path, const std::string& usage,
              const std::string& msg) {
  cli.err() << "\"berth " << path << "\" " << msg << ".\nSee 'berth " << path
            << " --help'.\n\nUsage:  " << usage << "\n";
  return kExitFailure;
}

void AddContainerCommands(std::vector<std::unique_ptr<Command>>* cmds) {
  cmds->push_back(NewAttachCommand());
  cmds->push_back(NewCreateCommand());
  cmds->push_back(NewExecCommand());
  cmds->push_back(NewInspectCommand());
  cmds->push_back(std::make_unique<KillCommand>());
  cmds->push_back(NewLogsCommand());
  cmds->push_back(std::make_unique<PauseCommand>(true));
  cmds->push_back(NewPsCommand("ps"));
  cmds->push_back(std::make_unique<RenameCommand>());
  cmds->push_back(std::make_unique<StopCommand>(true));
  cmds->push_back(std::make_unique<RemoveCommand>("rm"));
  cmds->push_back(NewRunCommand());
  cmds->push_back(NewStartCommand());
  cmds->push_back(NewStatsCommand());
  cmds->push_back(std::make_unique<StopCommand>(false));
  cmds->push_back(NewTopCommand());
  cmds->push_back(std::make_unique<PauseCommand>(false));
  cmds->push_back(std::make_unique<UpdateCommand>());
  cmds->push_back(std::make_unique<WaitCommand>());

  std::vector<GroupCommand::Sub> subs;
  auto add = [&](std::unique_ptr<Command> c, std::vector<std::string> aliases = {}) {
    subs.push_back({std::move(c), std::move(aliases)});
  };
  add(NewAttachCommand());
  add(NewCreateCommand());
  add(NewExecCommand());
  add(NewInspectCommand(/*containers_only=*/true));
  add(std::make_unique<KillCommand>());
  add(NewLogsCommand());
  add(NewPsCommand("ls"), {"ps", "list"});
  add(std::make_unique<PauseCommand>(true));
  add(std::make_unique<PruneCommand>());
  add(std::make_unique<RenameCommand>());
  add(std::make_unique<StopCommand>(true));
  add(std::make_unique<RemoveCommand>("rm"), {"remove"});
  add(NewRunCommand());
  add(NewStartCommand());
  add(NewStatsCommand());
  add(std::make_unique<StopCommand>(false));
  add(NewTopCommand());
  add(std::make_unique<PauseCommand>(false));
  add(std::make_unique<UpdateCommand>());
  add(std::make_unique<WaitCommand>());
  cmds->push_back(std::make_unique<GroupCommand>("container", "Manage containers",
                                                 std::move(subs)));
}

}  // namespace berth::cli
