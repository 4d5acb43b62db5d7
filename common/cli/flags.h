// FlagSet parses command-line flags the way the docker CLI does: "--name value",
// "--name=value", "-n value", "-nvalue", grouped short booleans ("-it"), repeatable list flags
// ("-e A -e B"), "--" to end flags, and flags interspersed with arguments unless a command
// (like `run`) stops at its first argument. absl flags are global, so they don't fit a CLI
// whose flags differ per subcommand.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace berth::cli {

class FlagSet {
 public:
  // Each Add* binds a destination that Parse fills; `shorthand` is 0 for none. The current
  // value of the destination is the default shown in Usage().
  void AddBool(bool* dst, const std::string& name, char shorthand, const std::string& usage);
  void AddString(std::string* dst, const std::string& name, char shorthand,
                 const std::string& usage);
  void AddInt(int64_t* dst, const std::string& name, char shorthand, const std::string& usage);
  void AddStringList(std::vector<std::string>* dst, const std::string& name, char shorthand,
                     const std::string& usage);

  // Parses `args` (without the command name) and returns the positional arguments.
  // InvalidArgument with docker's wording ("unknown flag: --x", "flag needs an argument: -e")
  // on bad input. With interspersed=false, parsing stops at the first positional argument.
  absl::StatusOr<std::vector<std::string>> Parse(const std::vector<std::string>& args,
                                                 bool interspersed = true);

  // "Options:" block listing the flags, as in docker's --help.
  std::string Usage() const;

  // Whether the flag was set on the command line.
  bool Changed(const std::string& name) const;

 private:
  enum class Kind { kBool, kString, kInt, kStringList };
  struct Flag {
    Kind kind;
    void* dst;
    std::string name;
    char shorthand;
    std::string usage;
    bool changed = false;
  };
  Flag* FindLong(const std::string& name);
  Flag* FindShort(char c);
  absl::Status Set(Flag& f, const std::string& value, const std::string& as_typed);

  std::vector<Flag> flags_;
};

}  // namespace berth::cli
