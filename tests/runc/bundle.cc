#include "tests/runc/bundle.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/fs/atomic_file.h"
#include "common/fs/fs.h"
#include "common/status/status_macros.h"
#include "common/testing/runfiles.h"
#include "runc/spec/default_spec.h"

namespace berth::tests {

nlohmann::json TestSpec(const std::vector<std::string>& args) {
  static std::atomic<int> n{0};
  nlohmann::json j = nlohmann::json::parse(runc::spec::DefaultSpecJson(false));
  j["process"]["terminal"] = false;
  j["process"]["args"] = args;
  j["root"]["readonly"] = false;
  j["hostname"] = "berth-test";
  j["linux"]["cgroupsPath"] = absl::StrCat("/berth-test-", getpid(), "-", n++);
  return j;
}

absl::Status WriteSpec(const std::string& bundle, const nlohmann::json& spec) {
  return fs::WriteFileAtomically(bundle + "/config.json", spec.dump(2), 0644);
}

absl::StatusOr<berth::testing::CommandResult> RunRuntime(const std::string& root,
                                                         const std::vector<std::string>& args,
                                                         const std::string& cwd) {
  std::vector<std::string> argv = {berth::testing::RunfilePath("runc/berth-runc"), "--root",
                                   root};
  argv.insert(argv.end(), args.begin(), args.end());
  if (!cwd.empty()) {
    std::string cmd = "cd '" + cwd + "' && exec";
    for (const auto& a : argv) absl::StrAppend(&cmd, " '", a, "'");
    return berth::testing::RunCommand({"/bin/sh", "-c", cmd});
  }
  return berth::testing::RunCommand(argv);
}

bool CgroupExists(const std::string& name) {
  for (const char* c : {"memory", "pids", "cpu", "freezer", "devices", "cpuset", "blkio",
                        "unified", "systemd"}) {
    struct stat st;
    const std::string base = absl::StrCat("/sys/fs/cgroup/", c);
    if (stat(absl::StrCat(base, "/", name).c_str(), &st) == 0) return true;
  }
  // The memory controller puts processes under /process_api/<hash> on these hosts: scan one
  // level down too.
  auto r = berth::testing::RunCommand(
      {"/usr/bin/find", "/sys/fs/cgroup", "-maxdepth", "4", "-type", "d", "-name", name});
  return r.ok() && !r->output.empty();
}

bool MountsMention(const std::string& needle) {
  std::ifstream in("/proc/self/mountinfo");
  std::stringstream ss;
  ss << in.rdbuf();
  return absl::StrContains(ss.str(), needle);
}

}  // namespace berth::tests
