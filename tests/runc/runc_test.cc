// berth-runc as a real runtime: each test builds a busybox bundle, runs berth-runc as root and
// asserts the effect from inside the container, then that nothing is left behind (state dir,
// cgroup, mounts).
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/testing/child_process.h"
#include "common/testing/runfiles.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gtest/gtest.h"
#include "tests/runc/bundle.h"
#include "tests/runc/runc_fixture.h"

namespace berth::tests {
namespace {

using ::berth::testing::CommandResult;
using ::berth::testing::IsOk;
using ::berth::testing::ReadFileOrEmpty;
using ::berth::testing::TempDir;
using ::testing::HasSubstr;
using nlohmann::json;

TEST_F(RuncTest, RunReportsOutputAndExitCodeAndCleansUp) {
  const std::string id = NewId();
  CommandResult r = Run(Spec({"sh", "-c", "echo hello from $(hostname); exit 3"}), id);
  EXPECT_EQ(ExitCode(r), 3) << r.output;
  EXPECT_THAT(r.output, HasSubstr("hello from berth-test"));
  EXPECT_FALSE(StateDirExists(id));
}

TEST_F(RuncTest, UserGroupsAndUmask) {
  json s = Spec({"sh", "-c", "id; umask"});
  s["process"]["user"] = {{"uid", 1000}, {"gid", 1000}, {"additionalGids", {10, 20}}, {"umask", 63}};
  CommandResult r = Run(s);
  EXPECT_EQ(ExitCode(r), 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("uid=1000"));
  EXPECT_THAT(r.output, HasSubstr("gid=1000"));
  EXPECT_THAT(r.output, HasSubstr("10"));
  EXPECT_THAT(r.output, HasSubstr("0077"));
}

TEST_F(RuncTest, CapabilitiesAreExactlyTheConfiguredSets) {
  json s = Spec({"sh", "-c", "grep -E '^Cap(Eff|Prm|Bnd|Inh|Amb)' /proc/self/status"});
  json caps = json::array({"CAP_NET_BIND_SERVICE", "CAP_KILL"});
  s["process"]["capabilities"] = {{"bounding", caps}, {"effective", caps}, {"permitted", caps},
                                  {"inheritable", caps}, {"ambient", caps}};
  CommandResult r = Run(s);
  EXPECT_EQ(ExitCode(r), 0) << r.output;
  // CAP_KILL = 5 (0x20), CAP_NET_BIND_SERVICE = 10 (0x400).
  for (const char* set : {"CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb"}) {
    EXPECT_THAT(r.output, HasSubstr(absl::StrCat(set, ":\t0000000000000420"))) << r.output;
  }
}

TEST_F(RuncTest, RlimitsNoNewPrivsAndOomScore) {
  json s = Spec({"sh", "-c", "ulimit -n; ulimit -Hn; grep NoNewPrivs /proc/self/status; "
                             "cat /proc/self/oom_score_adj"});
  s["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"soft", 512}, {"hard", 1024}}};
  s["process"]["noNewPrivileges"] = true;
  s["process"]["oomScoreAdj"] = 300;
  CommandResult r = Run(s);
  EXPECT_EQ(ExitCode(r), 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("512\n1024\n"));
  EXPECT_THAT(r.output, HasSubstr("NoNewPrivs:\t1"));
  EXPECT_THAT(r.output, HasSubstr("300"));
}

TEST_F(RuncTest, ReadonlyRootMaskedAndReadonlyPaths) {
  json s = Spec({"sh", "-c",
                 "touch /x 2>&1; echo timer_list=$(wc -c < /proc/timer_list); "
                 "echo 1 > /proc/sys/vm/overcommit_memory 2>&1 || echo sys-ro"});
  s["root"]["readonly"] = true;
  s["linux"]["maskedPaths"] = {"/proc/timer_list", "/proc/no-such-file"};
  s["linux"]["readonlyPaths"] = {"/proc/sys"};
  CommandResult r = Run(s);
  EXPECT_THAT(r.output, HasSubstr("Read-only file system"));
  EXPECT_THAT(r.output, HasSubstr("timer_list=0"));
  EXPECT_THAT(r.output, HasSubstr("sys-ro"));
}

TEST_F(RuncTest, BindMountsRespectReadOnly) {
  const std::string host = dir_->Sub("shared");
  ASSERT_EQ(mkdir(host.c_str(), 0755), 0);
  std::ofstream(host + "/hello.txt") << "from the host";
  json s = Spec({"sh", "-c", "cat /data/hello.txt; echo; touch /data/new 2>&1; "
                             "echo rw > /rw/out"});
  s["mounts"].push_back({{"destination", "/data"}, {"type", "bind"}, {"source", host},
                         {"options", {"rbind", "ro"}}});
  s["mounts"].push_back({{"destination", "/rw"}, {"type", "bind"}, {"source", host},
                         {"options", {"bind", "rw"}}});
  CommandResult r = Run(s);
  EXPECT_THAT(r.output, HasSubstr("from the host"));
  EXPECT_THAT(r.output, HasSubstr("Read-only file system"));
  EXPECT_EQ(ReadFileOrEmpty(host + "/out"), "rw\n");
  EXPECT_NE(access((host + "/new").c_str(), F_OK), 0);
}

TEST_F(RuncTest, SeccompBlocksConfiguredSyscalls) {
  json s = Spec({"sh", "-c", "mkdir /tmp/blocked 2>&1; echo rc=$?; echo still-alive"});
  s["linux"]["seccomp"] = {
      {"defaultAction", "SCMP_ACT_ALLOW"},
      {"architectures", {"SCMP_ARCH_X86_64"}},
      {"syscalls", {{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_ERRNO"}}}}};
  CommandResult r = Run(s);
  EXPECT_THAT(r.output, HasSubstr("Operation not permitted"));
  EXPECT_THAT(r.output, HasSubstr("rc=1"));
  EXPECT_THAT(r.output, HasSubstr("still-alive"));
}

TEST_F(RuncTest, CreateStartKillDeleteLifecycleWithLimitsInCgroup) {
  const std::string id = NewId();
  const std::string marker = dir_->Sub("marker");
  ASSERT_EQ(mkdir(marker.c_str(), 0755), 0);
  json s = Spec({"sh", "-c", "echo started > /m/started; exec sleep 1000"});
  s["mounts"].push_back({{"destination", "/m"}, {"type", "bind"}, {"source", marker},
                         {"options", {"bind"}}});
  s["linux"]["resources"]["memory"] = {{"limit", 64 << 20}};
  s["linux"]["resources"]["pids"] = {{"limit", 42}};
  ASSERT_THAT(WriteSpec(bundle_, s), IsOk());
  const std::string pid_file = dir_->Sub("init.pid");
  CommandResult c = Runtime({"create", "--bundle", bundle_, "--pid-file", pid_file, id});
  ASSERT_EQ(ExitCode(c), 0) << c.output;

  json st = State(id);
  ASSERT_TRUE(st.is_object()) << c.output;
  EXPECT_EQ(st["status"], "created");
  int pid = st["pid"];
  EXPECT_EQ(ReadFileOrEmpty(pid_file), std::to_string(pid));
  EXPECT_NE(access((marker + "/started").c_str(), F_OK), 0) << "ran before start";
  // Limits are in place before the user process runs.
  const std::string cg = s["linux"]["cgroupsPath"];
  std::string cgroup_file = ReadFileOrEmpty(absl::StrCat("/proc/", pid, "/cgroup"));
  EXPECT_THAT(cgroup_file, HasSubstr(cg));
  auto mem_line = cgroup_file.substr(cgroup_file.find(":memory:") + 8);
  mem_line = mem_line.substr(0, mem_line.find('\n'));
  EXPECT_EQ(ReadFileOrEmpty("/sys/fs/cgroup/memory" + mem_line + "/memory.limit_in_bytes"),
            absl::StrCat(64 << 20, "\n"));
  EXPECT_EQ(ReadFileOrEmpty("/sys/fs/cgroup/pids" + cg + "/pids.max"), "42\n");

  CommandResult start = Runtime({"start", id});
  ASSERT_EQ(ExitCode(start), 0) << start.output;
  EXPECT_TRUE(berth::testing::WaitFor(
      [&] { return access((marker + "/started").c_str(), F_OK) == 0; }, absl::Seconds(10)));
  EXPECT_EQ(State(id)["status"], "running");
  CommandResult again = Runtime({"start", id});
  EXPECT_NE(ExitCode(again), 0);

  CommandResult del_running = Runtime({"delete", id});
  EXPECT_NE(ExitCode(del_running), 0);
  EXPECT_THAT(del_running.output, HasSubstr("not stopped"));

  CommandResult k = Runtime({"kill", id, "KILL"});
  EXPECT_EQ(ExitCode(k), 0) << k.output;
  EXPECT_TRUE(berth::testing::WaitFor([&] { return State(id)["status"] == "stopped"; },
                                      absl::Seconds(10)));
  CommandResult d = Runtime({"delete", id});
  EXPECT_EQ(ExitCode(d), 0) << d.output;
  EXPECT_FALSE(StateDirExists(id));
  EXPECT_FALSE(CgroupExists(cg.substr(1)));
}

TEST_F(RuncTest, PauseResumeExecPsAndList) {
  const std::string id = NewId();
  ASSERT_THAT(WriteSpec(bundle_, Spec({"sleep", "1000"})), IsOk());
  CommandResult r = Runtime({"run", "-d", "--bundle", bundle_, id});
  ASSERT_EQ(ExitCode(r), 0) << r.output;
  EXPECT_EQ(State(id)["status"], "running");

  CommandResult e = Runtime({"exec", id, "sh", "-c", "hostname; exit 7"});
  EXPECT_EQ(ExitCode(e), 7) << e.output;
  EXPECT_THAT(e.output, HasSubstr("berth-test"));

  CommandResult ps = Runtime({"ps", "--format", "json", id});
  json pids = json::parse(ps.output, nullptr, false);
  ASSERT_TRUE(pids.is_array()) << ps.output;
  EXPECT_EQ(pids.size(), 1u);

  CommandResult list = Runtime({"list", "--format", "json"});
  EXPECT_THAT(list.output, HasSubstr(id));

  EXPECT_EQ(ExitCode(Runtime({"pause", id})), 0);
  EXPECT_EQ(State(id)["status"], "paused");
  EXPECT_NE(ExitCode(Runtime({"exec", id, "true"})), 0);
  EXPECT_EQ(ExitCode(Runtime({"resume", id})), 0);
  EXPECT_EQ(State(id)["status"], "running");

  CommandResult d = Runtime({"delete", "--force", id});
  EXPECT_EQ(ExitCode(d), 0) << d.output;
  EXPECT_FALSE(StateDirExists(id));
}

TEST_F(RuncTest, HooksGetStateAndRunInOrder) {
  const std::string out = dir_->Sub("hooks.log");
  auto hook = [&](const std::string& name) {
    return json{{"path", "/bin/sh"},
                {"args", {"sh", "-c", absl::StrCat("echo ", name, " $(cat) >> ", out)}}};
  };
  json s = Spec({"true"});
  s["hooks"] = {{"prestart", {hook("prestart")}},
                {"createRuntime", {hook("createRuntime")}},
                {"poststart", {hook("poststart")}},
                {"poststop", {hook("poststop")}}};
  const std::string id = NewId();
  CommandResult r = Run(s, id);
  EXPECT_EQ(ExitCode(r), 0) << r.output;
  std::string log = ReadFileOrEmpty(out);
  EXPECT_THAT(log, HasSubstr("prestart {"));
  EXPECT_THAT(log, HasSubstr("\"id\":\"" + id + "\""));
  size_t a = log.find("prestart"), b = log.find("createRuntime"), c = log.find("poststart"),
         d = log.find("poststop");
  EXPECT_TRUE(a < b && b < c && c < d) << log;
}

TEST_F(RuncTest, FailingCreateRuntimeHookLeavesNothing) {
  json s = Spec({"true"});
  s["hooks"] = {{"createRuntime", {{{"path", "/bin/false"}}}}};
  const std::string id = NewId();
  CommandResult r = Run(s, id);
  EXPECT_NE(ExitCode(r), 0);
  EXPECT_THAT(r.output, HasSubstr("hooks.createRuntime[0]"));
  EXPECT_FALSE(StateDirExists(id));
}

// Regressions found by the OCI runtime-tools validation suite (tests/runc/validation.sh).

// prestart/createRuntime hooks see status "created" (hooks_stdin); a failing poststart or
// poststop hook is a warning and the later hooks still run (poststart_fail, poststop_fail).
TEST_F(RuncTest, HookStatusAndFailingPoststartPoststopAreWarnings) {
  const std::string out = dir_->Sub("hooks.log");
  auto sh = [&](const std::string& script) {
    return json{{"path", "/bin/sh"}, {"args", {"sh", "-c", script}}};
  };
  json s = Spec({"true"});
  s["hooks"] = {{"prestart", {sh("cat > " + out + ".prestart")}},
                {"poststart", {{{"path", "/bin/false"}}, sh("echo poststart-2 >> " + out)}},
                {"poststop", {{{"path", "/bin/false"}}, sh("echo poststop-2 >> " + out)}}};
  CommandResult r = Run(s);
  EXPECT_EQ(ExitCode(r), 0) << r.output;
  EXPECT_THAT(ReadFileOrEmpty(out + ".prestart"), HasSubstr("\"status\":\"created\""));
  EXPECT_EQ(ReadFileOrEmpty(out), "poststart-2\npoststop-2\n");
  EXPECT_THAT(r.output, HasSubstr("hooks.poststart[0] (/bin/false): exit status 1"));
  EXPECT_THAT(r.output, HasSubstr("hooks.poststop[0] (/bin/false): exit status 1"));
}

// `start` returns, and the poststart hooks run, only once the user program was exec'd
// (poststart): the hook sees the program, not berth-runc's init, at the container's pid.
TEST_F(RuncTest, PoststartRunsAfterTheProgramExecs) {
  const std::string out = dir_->Sub("poststart.exe");
  json s = Spec({"sleep", "100"});
  s["hooks"] = {{"poststart",
                 {{{"path", "/bin/sh"},
                   {"args", {"sh", "-c",
                             "pid=$(sed -n 's/.*\"pid\":\\([0-9]*\\).*/\\1/p'); "
                             "cat /proc/$pid/cmdline | tr '\\0' ' ' > " + out}}}}}};
  const std::string id = NewId();
  ASSERT_THAT(WriteSpec(bundle_, s), IsOk());
  ASSERT_EQ(ExitCode(Runtime({"create", "--bundle", bundle_, id})), 0);
  CommandResult r = Runtime({"start", id});
  EXPECT_EQ(ExitCode(r), 0) << r.output;
  EXPECT_EQ(ReadFileOrEmpty(out), "sleep 100 ");
  EXPECT_EQ(ExitCode(Runtime({"delete", "--force", id})), 0);
}

// A fifo in linux.devices gets made, and no devices-cgroup rule (there is no type for it)
// (linux_devices).
TEST_F(RuncTest, FifoDeviceIsCreatedWithoutACgroupRule) {
  json s = Spec({"sh", "-c", "test -p /dev/myfifo && echo fifo"});
  s["linux"]["devices"] = {{{"path", "/dev/myfifo"}, {"type", "p"}, {"fileMode", 0600}}};
  CommandResult r = Run(s);
  EXPECT_EQ(ExitCode(r), 0) << r.output;
  EXPECT_EQ(r.output, "fifo\n");
}

// SELinux labels mean nothing where SELinux is off: ignored there (as crun does), refused
// where it is on, since berth-runc cannot apply them (linux_mount_label).
TEST_F(RuncTest, SelinuxLabelsIgnoredOnlyWhereSelinuxIsOff) {
  json s = Spec({"echo", "ran"});
  s["linux"]["mountLabel"] = "system_u:object_r:svirt_sandbox_file_t:s0:c715,c811";
  s["process"]["selinuxLabel"] = "system_u:system_r:svirt_lxc_net_t:s0:c715,c811";
  CommandResult r = Run(s);
  if (access("/sys/fs/selinux/enforce", F_OK) == 0) {
    EXPECT_NE(ExitCode(r), 0);
    EXPECT_THAT(r.output, HasSubstr("SELinux"));
  } else {
    EXPECT_EQ(ExitCode(r), 0) << r.output;
    EXPECT_EQ(r.output, "ran\n");
  }
}

// No mount namespace in the spec: the container shares the caller's mounts and is chrooted
// into its rootfs (linux_ns_itype). Its mounts land in the caller's namespace, so berth-runc
// runs in a private one here, which dies with it.
TEST_F(RuncTest, NoMountNamespaceSharesTheCallersMountsAndChroots) {
  json s = Spec({"sh", "-c", "test -x /bin/busybox && test ! -e " + bundle_ + " && echo chrooted"});
  json& ns = s["linux"]["namespaces"];
  for (size_t i = 0; i < ns.size(); ++i) {
    if (ns[i]["type"] == "mount") ns.erase(i);
  }
  ASSERT_THAT(WriteSpec(bundle_, s), IsOk());
  auto r = berth::testing::RunCommand(
      {"/usr/bin/unshare", "-m", "--propagation", "private",
       berth::testing::RunfilePath("runc/berth-runc"), "--root", root_, "run", "--bundle",
       bundle_, NewId()});
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(ExitCode(*r), 0) << r->output;
  EXPECT_EQ(r->output, "chrooted\n");
}

// rootfsPropagation "unbindable" must not make the bind of the rootfs fail
// (linux_rootfs_propagation).
TEST_F(RuncTest, UnbindableRootfsPropagation) {
  // mountinfo: "id parent major:minor root mount-point options optional-fields - ...".
  json s = Spec({"sh", "-c",
                 "grep -cE '^[0-9]+ [0-9]+ [0-9:]+ [^ ]+ / .* unbindable ' /proc/self/mountinfo"});
  s["linux"]["rootfsPropagation"] = "unbindable";
  CommandResult r = Run(s);
  EXPECT_EQ(ExitCode(r), 0) << r.output;
  EXPECT_EQ(r.output, "1\n");
}

TEST_F(RuncTest, ConsoleSocketReceivesPtyMaster) {
  const std::string sock = dir_->Sub("console.sock");
  int l = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, sock.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(bind(l, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(l, 1), 0);
  json s = Spec({"sh", "-c", "tty; echo via-pty"});
  s["process"]["terminal"] = true;
  const std::string id = NewId();
  ASSERT_THAT(WriteSpec(bundle_, s), IsOk());
  auto child = berth::testing::ChildProcess::Start(
      {berth::testing::RunfilePath("runc/berth-runc"), "--root", root_, "run", "--bundle",
       bundle_, "--console-socket", sock, id},
      dir_->Sub("run.log"));
  ASSERT_THAT(child, IsOk());
  int conn = accept(l, nullptr, nullptr);
  ASSERT_GE(conn, 0);
  char data[256];
  char cbuf[CMSG_SPACE(sizeof(int))];
  iovec iov = {data, sizeof(data)};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof(cbuf);
  ASSERT_GT(recvmsg(conn, &msg, 0), 0);
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->cmsg_type, SCM_RIGHTS);
  int master;
  std::memcpy(&master, CMSG_DATA(c), sizeof(int));
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = read(master, buf, sizeof(buf))) > 0) out.append(buf, n);  // EIO at hang-up
  close(master);
  close(conn);
  close(l);
  auto st = child->Wait(absl::Seconds(20));
  ASSERT_THAT(st, IsOk());
  EXPECT_THAT(out, HasSubstr("/dev/pts/0"));
  EXPECT_THAT(out, HasSubstr("via-pty"));
}

struct BadCase {
  const char* name;
  std::function<void(json&)> edit;
  const char* expect;  // part of the error, naming the field
};

TEST_F(RuncTest, BadInputFailsClearlyAndLeavesNothing) {
  std::vector<BadCase> cases = {
      {"unknown namespace",
       [](json& s) { s["linux"]["namespaces"].push_back({{"type", "bogus"}}); },
       "linux.namespaces"},
      {"missing rootfs", [](json& s) { s["root"]["path"] = "no-such-dir"; }, "root.path"},
      {"impossible rlimit",
       [](json& s) {
         s["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"soft", 1 << 30}, {"hard", 1 << 30}}};
       },
       "RLIMIT_NOFILE"},
      {"bad capability",
       [](json& s) { s["process"]["capabilities"]["bounding"].push_back("CAP_BOGUS"); },
       "CAP_BOGUS"},
      {"escaping mount",
       [](json& s) {
         s["mounts"].push_back({{"destination", "/../../etc/evil"}, {"type", "tmpfs"},
                                {"source", "tmpfs"}});
       },
       "mounts["},
      {"missing executable", [](json& s) { s["process"]["args"] = {"/no/such/binary"}; },
       "/no/such/binary"},
      {"negative oom score",
       [](json& s) { s["process"]["oomScoreAdj"] = -500; }, "oomScoreAdj"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    json s = Spec({"true"});
    c.edit(s);
    const std::string id = NewId();
    ASSERT_THAT(WriteSpec(bundle_, s), IsOk());
    CommandResult r = Runtime({"create", "--bundle", bundle_, id});
    EXPECT_NE(ExitCode(r), 0);
    EXPECT_THAT(r.output, HasSubstr(c.expect));
    EXPECT_FALSE(StateDirExists(id));
    const std::string cg = s["linux"]["cgroupsPath"];
    EXPECT_FALSE(CgroupExists(cg.substr(1)));
  }
  // Not JSON at all.
  std::ofstream(bundle_ + "/config.json") << "{ not json";
  const std::string id = NewId();
  CommandResult r = Runtime({"create", "--bundle", bundle_, id});
  EXPECT_NE(ExitCode(r), 0);
  EXPECT_THAT(r.output, HasSubstr("config.json"));
  EXPECT_FALSE(StateDirExists(id));
}

TEST_F(RuncTest, SpecFeaturesAndUnknownCommands) {
  const std::string b = dir_->Sub("specdir");
  ASSERT_EQ(mkdir(b.c_str(), 0755), 0);
  EXPECT_EQ(ExitCode(Runtime({"spec", "--bundle", b})), 0);
  json spec = json::parse(ReadFileOrEmpty(b + "/config.json"), nullptr, false);
  EXPECT_TRUE(spec.is_object());
  EXPECT_NE(ExitCode(Runtime({"spec", "--bundle", b})), 0) << "must not overwrite";
  CommandResult f = Runtime({"features"});
  json features = json::parse(f.output, nullptr, false);
  ASSERT_TRUE(features.is_object()) << f.output;
  EXPECT_TRUE(features.contains("ociVersionMax"));
  EXPECT_NE(ExitCode(Runtime({"frobnicate"})), 0);
  CommandResult st = Runtime({"state", "no-such-container"});
  EXPECT_NE(ExitCode(st), 0);
  EXPECT_THAT(st.output, HasSubstr("does not exist"));
}

}  // namespace
}  // namespace berth::tests
