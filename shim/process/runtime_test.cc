#include "shim/process/runtime.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/fs/atomic_file.h"
#include "common/fs/fs.h"
#include "common/testing/child_process.h"
#include "common/testing/runfiles.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::shim::process {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::berth::testing::TempDir;
using nlohmann::json;
using ::testing::HasSubstr;

TEST(ParseOciStateTest, ParsesRuntimeSpecState) {
  auto s = ParseOciState(R"({"ociVersion":"1.0.2","id":"c1","status":"running","pid":42,
      "bundle":"/b","annotations":{"k":"v"},"extra":1})");
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ(s->id, "c1");
  EXPECT_EQ(s->status, "running");
  EXPECT_EQ(s->pid, 42);
  EXPECT_EQ(s->bundle, "/b");
  EXPECT_EQ(s->annotations.at("k"), "v");
  EXPECT_THAT(ParseOciState("not json"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseOciState(R"({"id":"c1"})"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ReadPidFileTest, ParsesAndRejects) {
  auto dir = TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  EXPECT_THAT(ReadPidFile(dir->Sub("none")), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_THAT(fs::WriteFileAtomically(dir->Sub("p"), "1234", 0644), IsOk());
  auto pid = ReadPidFile(dir->Sub("p"));
  ASSERT_THAT(pid, IsOk());
  EXPECT_EQ(*pid, 1234);
  ASSERT_THAT(fs::WriteFileAtomically(dir->Sub("q"), "x12", 0644), IsOk());
  EXPECT_THAT(ReadPidFile(dir->Sub("q")), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(RuntimeCreateTest, Validates) {
  EXPECT_THAT(Runtime::Create({"/nonexistent/runc", "/tmp/r", "/tmp/l"}),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Runtime::Create({"no-such-runtime-berth", "/tmp/r", "/tmp/l"}),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Runtime::Create({"/bin/true", "", "/tmp/l"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Runtime::Create({"true", "/r", "/l"}), IsOk());  // found in $PATH
}

// A pipe whose ends close with the object.
struct Pipe {
  int r = -1, w = -1;
  Pipe() {
    int p[2];
    if (pipe2(p, O_CLOEXEC) == 0) {
      r = p[0];
      w = p[1];
    }
  }
  ~Pipe() {
    CloseWrite();
    if (r >= 0) close(r);
  }
  void CloseWrite() {
    if (w >= 0) close(w);
    w = -1;
  }
  std::string ReadAll() {
    std::string s;
    char buf[4096];
    ssize_t n;
    while ((n = read(r, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
      if (n > 0) s.append(buf, static_cast<size_t>(n));
    }
    return s;
  }
};

int Reap(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Real containers through berth-runc (root only). The test process is a child subreaper, as
// the shim is, so the container processes become its children and their exits can be checked.
class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "runtime tests run containers and need root";
    ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    auto d = TempDir::Create();
    ASSERT_THAT(d, IsOk());
    dir_.emplace(std::move(*d));
    bundle_ = dir_->Sub("bundle");
    MakeBusyboxRootfs();
    auto rt = Runtime::Create(
        {berth::testing::RunfilePath("runc/berth-runc"), dir_->Sub("root"), bundle_ + "/log.json"});
    ASSERT_THAT(rt, IsOk());
    runtime_.emplace(std::move(*rt));
  }

  void TearDown() override {
    if (!runtime_) return;
    for (const auto& id : ids_) (void)runtime_->Delete(id, /*force=*/true);
    // Reap whatever the runtime left to us (containers killed by the forced delete).
    while (waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    std::string mounts = berth::testing::ReadFileOrEmpty("/proc/self/mountinfo");
    EXPECT_FALSE(absl::StrContains(mounts, bundle_)) << "mount leaked";
    for (const auto& cg : cgroups_) {
      struct stat st;
      EXPECT_NE(stat(("/sys/fs/cgroup" + cg).c_str(), &st), 0) << "cgroup leaked: " << cg;
    }
  }

  void MakeBusyboxRootfs() {
    const std::string rootfs = bundle_ + "/rootfs";
    for (const char* sub : {"/bin", "/etc", "/tmp", "/proc", "/sys", "/dev"}) {
      ASSERT_THAT(fs::MakeDirs(rootfs + sub, 0755), IsOk());
    }
    auto busybox = fs::ReadFile("/bin/busybox");
    ASSERT_THAT(busybox, IsOk());
    ASSERT_THAT(fs::WriteFileAtomically(rootfs + "/bin/busybox", *busybox, 0755), IsOk());
    for (const char* applet : {"sh", "echo", "sleep", "cat", "true"}) {
      ASSERT_EQ(symlink("busybox", (rootfs + "/bin/" + applet).c_str()), 0);
    }
  }

  // Writes config.json running `args` (from `berth-runc spec`, made non-interactive) and returns
  // a new container id.
  std::string Prepare(const std::vector<std::string>& args) {
    static std::atomic<int> n{0};
    (void)unlink((bundle_ + "/config.json").c_str());  // `spec` refuses to overwrite
    auto r = berth::testing::RunCommand(
        {berth::testing::RunfilePath("runc/berth-runc"), "spec", "--bundle", bundle_});
    EXPECT_TRUE(r.ok() && r->Succeeded()) << (r.ok() ? r->output : r.status().ToString());
    json spec = json::parse(*fs::ReadFile(bundle_ + "/config.json"));
    spec["process"]["terminal"] = false;
    spec["process"]["args"] = args;
    spec["root"]["readonly"] = false;
    const std::string id = absl::StrCat("shimrt", getpid(), "-", n++);
    spec["linux"]["cgroupsPath"] = "/" + id;
    cgroups_.push_back("/" + id);
    EXPECT_THAT(fs::WriteFileAtomically(bundle_ + "/config.json", spec.dump(), 0644), IsOk());
    ids_.push_back(id);
    return id;
  }

  std::optional<TempDir> dir_;
  std::string bundle_;
  std::optional<Runtime> runtime_;
  std::vector<std::string> ids_, cgroups_;
};

TEST_F(RuntimeTest, CreateStartStateDelete) {
  const std::string id = Prepare({"sh", "-c", "echo out; echo err >&2; exit 3"});
  Pipe out, err;
  CreateOptions opts;
  opts.bundle = bundle_;
  opts.pid_file = dir_->Sub("init.pid");
  opts.stdio.stdout_fd = out.w;
  opts.stdio.stderr_fd = err.w;
  ASSERT_THAT(runtime_->Create(id, opts), IsOk());
  out.CloseWrite();
  err.CloseWrite();

  auto pid = ReadPidFile(opts.pid_file);
  ASSERT_THAT(pid, IsOk());
  auto state = runtime_->State(id);
  ASSERT_THAT(state, IsOk());
  EXPECT_EQ(state->id, id);
  EXPECT_EQ(state->status, "created");
  EXPECT_EQ(state->pid, *pid);
  EXPECT_EQ(state->bundle, bundle_);

  ASSERT_THAT(runtime_->Start(id), IsOk());
  EXPECT_EQ(out.ReadAll(), "out\n");
  EXPECT_EQ(err.ReadAll(), "err\n");
  EXPECT_EQ(Reap(*pid), 3);
  state = runtime_->State(id);
  ASSERT_THAT(state, IsOk());
  EXPECT_EQ(state->status, "stopped");

  ASSERT_THAT(runtime_->Delete(id, /*force=*/false), IsOk());
  EXPECT_THAT(runtime_->State(id), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(RuntimeTest, ErrorsCarryTheRuntimesMessage) {
  EXPECT_THAT(runtime_->Start("no-such-container"),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("berth-runc start no-such-container: container "
                                 "no-such-container does not exist")));
  EXPECT_THAT(runtime_->Kill("no-such-container", SIGKILL, false),
              StatusIs(absl::StatusCode::kNotFound));
  // A bundle without config.json: the runtime's message comes from its JSON log.
  CreateOptions opts;
  opts.bundle = dir_->Sub("empty");
  ASSERT_THAT(fs::MakeDirs(opts.bundle, 0755), IsOk());
  auto s = runtime_->Create("c-bad", opts);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInternal, HasSubstr("berth-runc create c-bad: ")));
  EXPECT_THAT(std::string(s.message()), HasSubstr("config.json"));
}

TEST_F(RuntimeTest, KillAndForcedDelete) {
  const std::string id = Prepare({"sleep", "100"});
  CreateOptions opts;
  opts.bundle = bundle_;
  opts.pid_file = dir_->Sub("a.pid");
  ASSERT_THAT(runtime_->Create(id, opts), IsOk());
  auto pid = ReadPidFile(opts.pid_file);
  ASSERT_THAT(pid, IsOk());
  ASSERT_THAT(runtime_->Start(id), IsOk());
  EXPECT_EQ(runtime_->State(id)->status, "running");
  ASSERT_THAT(runtime_->Kill(id, SIGKILL, /*all=*/false), IsOk());
  EXPECT_EQ(Reap(*pid), 128 + SIGKILL);
  ASSERT_THAT(runtime_->Delete(id, false), IsOk());

  const std::string id2 = Prepare({"sleep", "100"});
  opts.pid_file = dir_->Sub("b.pid");
  ASSERT_THAT(runtime_->Create(id2, opts), IsOk());
  auto pid2 = ReadPidFile(opts.pid_file);
  ASSERT_THAT(pid2, IsOk());
  ASSERT_THAT(runtime_->Start(id2), IsOk());
  EXPECT_THAT(runtime_->Delete(id2, /*force=*/false),
              StatusIs(absl::StatusCode::kInternal));  // still running
  ASSERT_THAT(runtime_->Delete(id2, /*force=*/true), IsOk());
  EXPECT_EQ(Reap(*pid2), 128 + SIGKILL);
  EXPECT_THAT(runtime_->State(id2), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(RuntimeTest, ExecDetached) {
  const std::string id = Prepare({"sleep", "100"});
  CreateOptions opts;
  opts.bundle = bundle_;
  opts.pid_file = dir_->Sub("init.pid");
  ASSERT_THAT(runtime_->Create(id, opts), IsOk());
  auto init = ReadPidFile(opts.pid_file);
  ASSERT_THAT(init, IsOk());
  ASSERT_THAT(runtime_->Start(id), IsOk());

  json process = {{"args", {"sh", "-c", "echo exec-out; exit 5"}},
                  {"cwd", "/"},
                  {"env", {"PATH=/bin"}},
                  {"user", {{"uid", 0}, {"gid", 0}}},
                  {"terminal", false}};
  ASSERT_THAT(fs::WriteFileAtomically(dir_->Sub("process.json"), process.dump(), 0644), IsOk());
  Pipe out;
  ExecOptions eopts;
  eopts.process_file = dir_->Sub("process.json");
  eopts.pid_file = dir_->Sub("exec.pid");
  eopts.stdio.stdout_fd = out.w;
  ASSERT_THAT(runtime_->Exec(id, eopts), IsOk());
  out.CloseWrite();
  auto pid = ReadPidFile(eopts.pid_file);
  ASSERT_THAT(pid, IsOk());
  EXPECT_EQ(out.ReadAll(), "exec-out\n");
  EXPECT_EQ(Reap(*pid), 5);

  ASSERT_THAT(runtime_->Kill(id, SIGKILL, /*all=*/true), IsOk());
  EXPECT_EQ(Reap(*init), 128 + SIGKILL);
  ASSERT_THAT(runtime_->Delete(id, false), IsOk());
}

}  // namespace
}  // namespace berth::shim::process
