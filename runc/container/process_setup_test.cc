#include "runc/container/process_setup.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gtest/gtest.h"
#include "runc/container/lifecycle.h"

namespace berth::runc::container {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::HasSubstr;

TEST(LookPathTest, FindsOnPathAndReportsLikeRunc) {
  auto sh = LookPath("sh", {"PATH=/usr/bin:/bin"});
  ASSERT_THAT(sh, IsOk());
  EXPECT_EQ(access(sh->c_str(), X_OK), 0);
  EXPECT_THAT(LookPath("no-such-binary-xyz", {"PATH=/usr/bin:/bin"}),
              StatusIs(absl::StatusCode::kNotFound,
                       "exec: \"no-such-binary-xyz\": executable file not found in $PATH"));
  EXPECT_THAT(LookPath("/no/such/file", {}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no such file")));
  auto dir = berth::testing::TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  const std::string plain = dir->Sub("plain");
  std::ofstream(plain) << "not executable";
  EXPECT_THAT(LookPath(plain, {}), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(LookPath(dir->path(), {}), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(ParseSignalTest, NamesAndNumbers) {
  EXPECT_EQ(*ParseSignal("KILL"), SIGKILL);
  EXPECT_EQ(*ParseSignal("SIGTERM"), SIGTERM);
  EXPECT_EQ(*ParseSignal("sighup"), SIGHUP);
  EXPECT_EQ(*ParseSignal("9"), 9);
  EXPECT_THAT(ParseSignal("SIGBOGUS"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseSignal("0"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseSignal("999"), StatusIs(absl::StatusCode::kInvalidArgument));
}

// Runs `f` in a forked child; returns its exit code (0 = all good).
int InChild(const std::function<int()>& f) {
  pid_t pid = fork();
  if (pid == 0) _exit(f());
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

TEST(ProcessSetupTest, RlimitsApplyAndImpossibleOnesNameTheField) {
  EXPECT_EQ(InChild([] {
              spec::Rlimit r{RLIMIT_NOFILE, "RLIMIT_NOFILE", 100, 200};
              if (!ApplyRlimits({r}).ok()) return 1;
              struct rlimit got;
              getrlimit(RLIMIT_NOFILE, &got);
              return got.rlim_cur == 100 && got.rlim_max == 200 ? 0 : 2;
            }),
            0);
  EXPECT_EQ(InChild([] {
              struct rlimit cur;
              getrlimit(RLIMIT_NOFILE, &cur);
              spec::Rlimit r{RLIMIT_NOFILE, "RLIMIT_NOFILE", cur.rlim_max + 1, cur.rlim_max + 1};
              absl::Status s = ApplyRlimits({r});
              // Without CAP_SYS_RESOURCE (as on these hosts) raising fails; with it, it works.
              if (s.ok()) return 0;
              return s.message().find("process.rlimits[0] (RLIMIT_NOFILE)") != std::string::npos ? 0 : 3;
            }),
            0);
}

TEST(ProcessSetupTest, UserAndCapabilitiesAreApplied) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  EXPECT_EQ(InChild([] {
              spec::Process p;
              p.user.uid = 1234;
              p.user.gid = 2345;
              p.user.additional_gids = {3456};
              spec::Capabilities caps;
              caps.bounding = caps.effective = caps.permitted = {5};
              p.capabilities = caps;
              if (!ApplyUserAndCapabilities(p, true).ok()) return 1;
              if (getuid() != 1234 || getgid() != 2345) return 2;
              gid_t groups[4];
              if (getgroups(4, groups) != 1 || groups[0] != 3456) return 3;
              std::ifstream in("/proc/self/status");
              std::string line;
              while (std::getline(in, line)) {
                if (line.rfind("CapEff:", 0) == 0) return line == "CapEff:\t0000000000000020" ? 0 : 4;
              }
              return 5;
            }),
            0);
}

}  // namespace
}  // namespace berth::runc::container
