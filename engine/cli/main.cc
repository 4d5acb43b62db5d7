// berth: the command-line client of berthd, with the docker CLI's commands, flags, output and
// exit codes.
#include <iostream>
#include <string>
#include <vector>

#include "engine/cli/commands.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return berth::cli::RunCli(args, std::cout, std::cerr);
}
