// berth-ctr run against a real berth-containerd, berth-shim and berth-runc (root only; skipped
// otherwise): back-to-back `run --rm --snapshot` give each container's exit code and leave no
// container, snapshot or task behind. Each delete schedules a garbage collection, so the next
// run meets one; its new snapshot must be protected from the moment it exists (run.cc step 1).
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/fs/fs.h"
#include "common/testing/busybox.h"
#include "common/testing/child_process.h"
#include "common/testing/runfiles.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gtest/gtest.h"

namespace berth::containerd::ctr {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::RunfilePath;

class RunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "runs containers: needs root";
    auto d = berth::testing::TempDir::Create();
    ASSERT_THAT(d, IsOk());
    dir_.emplace(std::move(*d));
    ns_ = absl::StrCat("ctrtest", ::getpid());
    socket_ = dir_->Sub("c.sock");
    const std::string runc = RunfilePath("runc/berth-runc");
    const char* path = std::getenv("PATH");
    auto p = berth::testing::ChildProcess::Start(
        {RunfilePath("containerd/berth-containerd"), "--root=" + dir_->Sub("root"),
         "--state=" + dir_->Sub("st"), "--address=unix://" + socket_,
         "--metrics_addr=127.0.0.1:0", "--shim=" + RunfilePath("shim/berth-shim"),
         "--runtime_root=" + dir_->Sub("runc")},
        dir_->Sub("containerd.log"),
        {"PATH=" + runc.substr(0, runc.rfind('/')) + ":" + (path ? path : "/usr/bin:/bin")});
    ASSERT_THAT(p, IsOk());
    daemon_.emplace(std::move(*p));
    ASSERT_TRUE(berth::testing::WaitFor(
        [&] { return ::access(socket_.c_str(), F_OK) == 0 || !daemon_->running(); },
        absl::Seconds(20)));
    ASSERT_TRUE(daemon_->running()) << Log();
  }

  void TearDown() override {
    if (daemon_ && daemon_->running()) {
      (void)daemon_->Signal(SIGTERM);
      auto status = daemon_->Wait(absl::Seconds(20));
      EXPECT_THAT(status, IsOk());
    }
    // The cgroups berth-runc removed were /berth-ctr/<ns>/<id>; their parents are ours.
    for (const char* h : {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio",
                          "pids", "systemd", "unified", ""}) {
      const std::string base = absl::StrCat("/sys/fs/cgroup/", h, *h ? "/" : "", "berth-ctr");
      (void)::rmdir(absl::StrCat(base, "/", ns_).c_str());
      (void)::rmdir(base.c_str());  // fails (and stays) while another user's cgroups are in it
    }
  }

  std::string Log() {
    auto text = fs::ReadFile(dir_->Sub("containerd.log"));
    return text.ok() ? *text : "";
  }

  absl::StatusOr<berth::testing::CommandResult> Ctr(std::vector<std::string> args) {
    std::vector<std::string> argv = {RunfilePath("containerd/ctr/berth-ctr"),
                                     "--address=unix://" + socket_, "--namespace=" + ns_};
    argv.insert(argv.end(), args.begin(), args.end());
    return berth::testing::RunCommand(argv, absl::Seconds(60));
  }

  std::optional<berth::testing::TempDir> dir_;
  std::optional<berth::testing::ChildProcess> daemon_;
  std::string ns_, socket_;
};

TEST_F(RunTest, BackToBackRunsWithRmGiveExitCodesAndLeaveNothing) {
  const std::string layer = dir_->Sub("layer.tar");
  ASSERT_THAT(berth::testing::MakeBusyboxTar(dir_->path(), layer), IsOk());
  auto unpacked = Ctr({"snapshots", "unpack", "busybox", layer});
  ASSERT_THAT(unpacked, IsOk());
  ASSERT_TRUE(unpacked->Succeeded()) << unpacked->output;

  for (int i = 0; i < 8; ++i) {
    const std::string id = absl::StrCat("runtest-", i);
    auto r = Ctr({"run", "--rm", "--snapshot", "busybox", id, "sh", "-c",
                  absl::StrCat("echo out-", i, "; exit ", i)});
    ASSERT_THAT(r, IsOk());
    EXPECT_EQ(berth::testing::ExitCode(*r), i) << r->output << Log();
    EXPECT_TRUE(absl::StrContains(r->output, absl::StrCat("out-", i))) << r->output;
    // No error line: nothing failed along the way, not even the removal of a snapshot.
    EXPECT_FALSE(absl::StrContains(r->output, "berth-ctr:")) << r->output;
  }

  for (const std::vector<std::string>& ls :
       {std::vector<std::string>{"containers", "ls"}, {"snapshots", "ls"}, {"tasks", "ls"}}) {
    auto r = Ctr(ls);
    ASSERT_THAT(r, IsOk());
    EXPECT_TRUE(r->Succeeded()) << r->output;
    EXPECT_FALSE(absl::StrContains(r->output, "runtest-")) << ls[0] << ":\n" << r->output;
  }
  auto snapshots = Ctr({"snapshots", "ls"});
  ASSERT_THAT(snapshots, IsOk());
  EXPECT_TRUE(absl::StrContains(snapshots->output, "busybox")) << snapshots->output;
}

}  // namespace
}  // namespace berth::containerd::ctr
