// The berth CLI's command table. A command parses its own flags (FlagSet) and runs against a
// Cli. Adding a command: write a `Command` subclass in a *_commands.cc file and list it in
// AllCommands() (commands.cc).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/cli/cli.h"
#include "common/cli/flags.h"

namespace berth::cli {

class Command {
 public:
  virtual ~Command() = default;
  // e.g. "version".
  virtual std::string Name() const = 0;
  // One line for `berth --help`.
  virtual std::string Summary() const = 0;
  // e.g. "berth version [OPTIONS]".
  virtual std::string UsageLine() const = 0;
  // Binds the command's flags.
  virtual void DefineFlags(FlagSet& flags) = 0;
  // Runs with the positional arguments left after flag parsing; returns the exit code.
  virtual int Run(Cli& cli, const std::vector<std::string>& args) = 0;
  // Whether flags stop at the first positional argument (true for run/exec).
  virtual bool StopAtFirstArg() const { return false; }
};

std::vector<std::unique_ptr<Command>> AllCommands();

// Defined in system_commands.cc.
std::unique_ptr<Command> NewVersionCommand();
std::unique_ptr<Command> NewInfoCommand();
// Defined in image_commands.cc: images, image, import, save, load, tag, rmi, history.
void AddImageCommands(std::vector<std::unique_ptr<Command>>* cmds);
// Defined in events_command.cc.
std::unique_ptr<Command> NewEventsCommand();

// Runs the CLI on argv (without argv[0]); returns the process exit code.
int RunCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// Parses `args` (what follows the command's name) with c's flags and runs it. `path` names the
// command in messages, e.g. "run" or "container ls". Used by RunCli and by group commands.
int RunCommand(Command& c, const std::string& path, const std::vector<std::string>& args,
               const std::string& host, std::ostream& out, std::ostream& err);

// A command grouping subcommands, e.g. `berth container ls`: Run dispatches on the first
// argument (a subcommand name or one of its aliases).
class GroupCommand : public Command {
 public:
  struct Sub {
    std::unique_ptr<Command> command;
    std::vector<std::string> aliases;  // e.g. {"ls", "list"} for "ps"
  };
  GroupCommand(std::string name, std::string summary, std::vector<Sub> subs)
      : name_(std::move(name)), summary_(std::move(summary)), subs_(std::move(subs)) {}
  std::string Name() const override { return name_; }
  std::string Summary() const override { return summary_; }
  std::string UsageLine() const override;
  void DefineFlags(FlagSet& flags) override {}
  bool StopAtFirstArg() const override { return true; }
  int Run(Cli& cli, const std::vector<std::string>& args) override;

 private:
  std::string name_, summary_;
  std::vector<Sub> subs_;
};

}  // namespace berth::cli
