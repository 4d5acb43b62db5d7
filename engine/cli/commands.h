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

// Runs the CLI on argv (without argv[0]); returns the process exit code.
int RunCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace berth::cli
