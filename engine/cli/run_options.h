// The flags of `berth run` and `berth create` and their translation into a
// CreateContainerRequest, kept apart from the commands so the mapping is tested without a
// daemon. Names, defaults and validation follow the docker CLI.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "berth/engine/v1/containers.pb.h"
#include "common/cli/flags.h"
#include "engine/cli/parse_options.h"

namespace berth::cli {

struct RunOptions {
  // run only.
  bool detach = false;
  bool rm = false;
  bool sig_proxy = true;
  std::string detach_keys;

  bool interactive = false;
  bool tty = false;
  std::string name;
  std::vector<std::string> env;
  std::vector<std::string> env_files;
  std::string workdir;
  std::string user;
  std::string entrypoint;
  std::vector<std::string> labels;
  std::vector<std::string> label_files;
  std::string hostname;
  std::string domainname;
  std::string memory;
  std::string memory_swap;
  std::string memory_reservation;
  std::string cpus;
  int64_t cpu_shares = 0;
  std::string cpuset_cpus;
  int64_t pids_limit = 0;
  std::vector<std::string> ulimits;
  std::vector<std::string> cap_add;
  std::vector<std::string> cap_drop;
  bool privileged = false;
  bool read_only = false;
  std::vector<std::string> security_opts;
  std::string restart;
  bool init = false;
  std::string stop_signal;
  int64_t stop_timeout = 0;
  std::vector<std::string> add_hosts;
  std::vector<std::string> dns;
  std::vector<std::string> dns_search;
  std::string network;
  std::vector<std::string> volumes;
  std::vector<std::string> tmpfs;
  std::string log_driver;
  std::vector<std::string> log_opts;
  std::string shm_size;
  std::vector<std::string> group_add;
  std::vector<std::string> sysctls;
  std::string platform;
  // When to pull the image: "missing" (docker's default), "always" or "never".
  std::string pull = "missing";

  // Binds the flags; `run` adds -d, --rm, --sig-proxy and --detach-keys.
  void Define(FlagSet& flags, bool run);
};

// What the daemon needs besides the flags: the image and command, the CLI's environment for
// bare -e KEY / env-file entries, and the terminal size for tty containers (0x0 when unknown).
struct CreateInputs {
  std::vector<std::string> args;  // IMAGE [COMMAND] [ARG...]
  EnvLookup env_lookup;
  uint32_t tty_height = 0;
  uint32_t tty_width = 0;
};

// Builds the request. InvalidArgument with docker's message on a bad value; the caller prints
// it and exits 125.
absl::StatusOr<engine::v1::CreateContainerRequest> BuildCreateRequest(const RunOptions& o,
                                                                      const FlagSet& flags,
                                                                      const CreateInputs& in);

// The image name docker shows in "Unable to find image '<ref>' locally": ":latest" appended
// when the reference has neither tag nor digest.
std::string ImageWithDefaultTag(const std::string& image);

}  // namespace berth::cli
