// More of berth-runc's config.json, each asserted from inside the container: user namespaces
// and id mappings, namespaces joined by path, sysctls, extra devices, personality and
// domainname, time namespace offsets, update and stats, --preserve-fds, --no-pivot and the
// hooks that run in the container's namespaces.
#include <fcntl.h>

#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/testing/runfiles.h"
#include "tests/runc/runc_fixture.h"

namespace berth::tests {
namespace {

using ::berth::testing::ReadFileOrEmpty;
using ::testing::HasSubstr;
using ::testing::Not;

TEST_F(RuncTest, UserNamespaceWithIdMappings) {
  json s = Spec({"sh", "-c", "id -u; cat /proc/self/uid_map /proc/self/gid_map; "
                             "touch /root-owned 2>&1 || echo write-refused"});
  s["linux"]["namespaces"].push_back({{"type", "user"}});
  s["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
  s["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
  // The mapped root must be able to reach the rootfs, as with runc (mkdtemp made it 0700).
  ASSERT_EQ(chmod(dir_->path().c_str(), 0755), 0);
  CommandResult r = Run(s);
  EXPECT_EQ(ExitCode(r), 0) << r.output;
  std::vector<std::string> lines = absl::StrSplit(r.output, '\n');
  ASSERT_GE(lines.size(), 3u) << r.output;
  EXPECT_EQ(lines[0], "0");
  EXPECT_THAT(lines[1], HasSubstr("100000"));
  // The rootfs belongs to the host's root, which is unmapped: container root cannot write it.
  EXPECT_THAT(r.output, HasSubstr("Permission denied"));
}

TEST_F(RuncTest, JoinsANetworkNamespaceByPath) {
  const std::string a = NewId();
  ASSERT_THAT(WriteSpec(bundle_, Spec({"sleep", "1000"})), IsOk());
  ASSERT_EQ(ExitCode(Runtime({"run", "-d", "--bundle", bundle_, a})), 0);
  int pid = State(a)["pid"];
  char target[128] = {};
  const std::string ns = absl::StrCat("/proc/", pid, "/ns/net");
  ASSERT_GT(readlink(ns.c_str(), target, sizeof(target) - 1), 0);

  json s = Spec({"readlink", "/proc/self/ns/net"});
  for (auto& n : s["linux"]["namespaces"]) {
    if (n["type"] == "network") n["path"] = ns;
  }
  CommandResult r = Run(s);
  EXPECT_EQ(ExitCode(r), 0) << r.output;
  EXPECT_EQ(std::string(absl::StripAsciiWhitespace(r.output)), target);
  EXPECT_EQ(ExitCode(Runtime({"delete", "--force", a})), 0);
}

TEST_F(RuncTest, SysctlsDevicesPersonalityAndDomainname) {
  json s = Spec({"sh", "-c", "cat /proc/sys/net/ipv4/ip_forward; ls -l /dev/myzero; "
                             "head -c 4 /dev/myzero | wc -c; uname -m; cat /proc/sys/kernel/domainname"});
  s["linux"]["sysctl"] = {{"net.ipv4.ip_forward", "1"}};
  s["linux"]["devices"] = {{{"path", "/dev/myzero"}, {"type", "c"}, {"major", 1}, {"minor", 5},
                            {"fileMode", 0600}, {"uid", 0}, {"gid", 0}}};
  s["linux"]["personality"] = {{"domain", "LINUX32"}};
  s["domainname"] = "berth.example";
  CommandResult r = Run(s);
  EXPECT_EQ(ExitCode(r), 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("1\ncrw-------"));
  EXPECT_THAT(r.output, HasSubstr("\n4\n"));
  EXPECT_THAT(r.output, HasSubstr("i686"));
  EXPECT_THAT(r.output, HasSubstr("berth.example"));
}

TEST_F(RuncTest, TimeNamespaceOffsets) {
  json s = Spec({"cat", "/proc/uptime"});
  s["linux"]["namespaces"].push_back({{"type", "time"}});
  s["linux"]["timeOffsets"] = {{"boottime", {{"secs", 864000}, {"nanosecs", 0}}}};
  CommandResult r = Run(s);
  EXPECT_EQ(ExitCode(r), 0) << r.output;
  double uptime = 0;
  ASSERT_TRUE(absl::SimpleAtod(std::string(absl::StrSplit(r.output, ' ').begin()->data(),
                                           r.output.find(' ')),
                               &uptime))
      << r.output;
  EXPECT_GE(uptime, 864000);
}

TEST_F(RuncTest, UpdateAndStatsAndKillAll) {
  const std::string id = NewId();
  json s = Spec({"sh", "-c", "sleep 1000 & sleep 1000"});
  ASSERT_THAT(WriteSpec(bundle_, s), IsOk());
  ASSERT_EQ(ExitCode(Runtime({"run", "-d", "--bundle", bundle_, id})), 0);
  const std::string cg = s["linux"]["cgroupsPath"];
  CommandResult u = Runtime({"update", "--memory", "33554432", "--pids-limit", "77", id});
  EXPECT_EQ(ExitCode(u), 0) << u.output;
  EXPECT_EQ(ReadFileOrEmpty("/sys/fs/cgroup/pids" + cg + "/pids.max"), "77\n");
  CommandResult st = Runtime({"events", "--stats", id});
  json ev = json::parse(st.output, nullptr, false);
  ASSERT_TRUE(ev.is_object()) << st.output;
  EXPECT_EQ(ev["type"], "stats");
  EXPECT_GE(ev["data"]["pids"]["current"].get<int>(), 2);
  EXPECT_EQ(ev["data"]["pids"]["limit"].get<int>(), 77);
  EXPECT_GT(ev["data"]["memory"]["usage"]["usage"].get<uint64_t>(), 0u);
  CommandResult bad = Runtime({"update", "--resources", "/no/such/file", id});
  EXPECT_NE(ExitCode(bad), 0);

  CommandResult k = Runtime({"kill", "--all", id, "KILL"});
  EXPECT_EQ(ExitCode(k), 0) << k.output;
  EXPECT_TRUE(berth::testing::WaitFor([&] { return State(id)["status"] == "stopped"; },
                                      absl::Seconds(10)));
  EXPECT_EQ(ExitCode(Runtime({"delete", id})), 0);
}

TEST_F(RuncTest, PreserveFdsAndNoPivot) {
  json s = Spec({"sh", "-c", "echo through-fd-3 >&3"});
  ASSERT_THAT(WriteSpec(bundle_, s), IsOk());
  const std::string out = dir_->Sub("fd3.txt");
  const std::string cmd = absl::StrCat(
      "exec 3>", out, "; exec ", berth::testing::RunfilePath("runc/berth-runc"), " --root ",
      root_, " run --no-pivot --preserve-fds 1 --bundle ", bundle_, " ", NewId());
  auto r = berth::testing::RunCommand({"/bin/sh", "-c", cmd});
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(ExitCode(*r), 0) << r->output;
  EXPECT_EQ(ReadFileOrEmpty(out), "through-fd-3\n");
}

TEST_F(RuncTest, ContainerHooksRunInTheContainer) {
  const std::string shared = dir_->Sub("shared");
  ASSERT_EQ(mkdir(shared.c_str(), 0755), 0);
  json s = Spec({"true"});
  s["mounts"].push_back({{"destination", "/shared"}, {"type", "bind"}, {"source", shared},
                         {"options", {"bind"}}});
  // createContainer: host path, container namespaces, before pivot_root. startContainer: path
  // inside the container, after start, before the user process.
  s["hooks"] = {
      {"createContainer",
       {{{"path", "/bin/sh"},
         {"args", {"sh", "-c", "hostname > " + shared + "/create.txt"}}}}},
      {"startContainer",
       {{{"path", "/bin/sh"}, {"args", {"sh", "-c", "cat > /shared/start.txt"}}}}}};
  const std::string id = NewId();
  CommandResult r = Run(s, id);
  EXPECT_EQ(ExitCode(r), 0) << r.output;
  EXPECT_EQ(ReadFileOrEmpty(shared + "/create.txt"), "berth-test\n");
  EXPECT_THAT(ReadFileOrEmpty(shared + "/start.txt"), HasSubstr("\"id\":\"" + id + "\""));
}

TEST_F(RuncTest, SeccompErrnoRetAndArgumentFilters) {
  // mkdir fails with the configured errno (ENOSYS); personality is refused only for
  // PER_LINUX32 (arg0 == 8), so `linux64` still works while `linux32` does not.
  json s = Spec({"sh", "-c", "mkdir /tmp/x 2>&1; linux64 true && echo linux64-ok; "
                             "linux32 true 2>&1 || echo linux32-refused"});
  s["linux"]["seccomp"] = {
      {"defaultAction", "SCMP_ACT_ALLOW"},
      {"syscalls",
       {{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 38}},
        {{"names", {"personality"}},
         {"action", "SCMP_ACT_ERRNO"},
         {"args", {{{"index", 0}, {"value", 8}, {"op", "SCMP_CMP_EQ"}}}}}}}};
  CommandResult r = Run(s);
  EXPECT_THAT(r.output, HasSubstr("Function not implemented"));
  EXPECT_THAT(r.output, HasSubstr("linux64-ok"));
  EXPECT_THAT(r.output, HasSubstr("linux32-refused"));
}

}  // namespace
}  // namespace berth::tests
