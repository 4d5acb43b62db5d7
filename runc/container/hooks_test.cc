#include "runc/container/hooks.h"

#include "common/testing/child_process.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gtest/gtest.h"

namespace berth::runc::container {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::HasSubstr;

spec::Hook Sh(const std::string& script, std::optional<int> timeout = std::nullopt) {
  spec::Hook h;
  h.path = "/bin/sh";
  h.args = {"sh", "-c", script};
  h.env = {"HOOK_ENV=yes"};
  h.timeout = timeout;
  return h;
}

TEST(HooksTest, StateOnStdinEnvAndOrder) {
  auto dir = berth::testing::TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  const std::string out = dir->Sub("out");
  ASSERT_THAT(RunHooks({Sh("cat > " + out + "; echo \" $HOOK_ENV\" >> " + out),
                        Sh("echo second >> " + out)},
                       "createRuntime", "{\"id\":\"c1\"}"),
              IsOk());
  EXPECT_EQ(berth::testing::ReadFileOrEmpty(out), "{\"id\":\"c1\"} yes\nsecond\n");
}

TEST(HooksTest, FailureNamesTheHookAndStopsTheChain) {
  auto dir = berth::testing::TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  const std::string out = dir->Sub("never");
  EXPECT_THAT(RunHooks({Sh("exit 0"), Sh("exit 4"), Sh("touch " + out)}, "poststop", "{}"),
              StatusIs(absl::StatusCode::kInternal, "hooks.poststop[1] (/bin/sh): exit status 4"));
  EXPECT_NE(access(out.c_str(), F_OK), 0);
}

// poststart/poststop: a failing hook is a warning and the later hooks still run (runtime
// spec runtime.md "Lifecycle"; runtime-tools poststart_fail, poststop_fail).
TEST(HooksTest, RunAllHooksGoesOnPastFailures) {
  auto dir = berth::testing::TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  const std::string out = dir->Sub("out");
  std::vector<absl::Status> failures = RunAllHooks(
      {Sh("exit 3"), Sh("echo second >> " + out), Sh("exit 5"), Sh("echo fourth >> " + out)},
      "poststart", "{}");
  ASSERT_EQ(failures.size(), 2u);
  EXPECT_THAT(failures[0], StatusIs(absl::StatusCode::kInternal,
                                    "hooks.poststart[0] (/bin/sh): exit status 3"));
  EXPECT_THAT(failures[1], StatusIs(absl::StatusCode::kInternal,
                                    "hooks.poststart[2] (/bin/sh): exit status 5"));
  EXPECT_EQ(berth::testing::ReadFileOrEmpty(out), "second\nfourth\n");
  EXPECT_TRUE(RunAllHooks({Sh("true")}, "poststop", "{}").empty());
}

// A hook that exits without reading its stdin must not kill us with SIGPIPE. A state bigger
// than the pipe buffer makes the write block until the hook has exited, so the reader is
// surely gone and the kernel raises SIGPIPE every time.
TEST(HooksTest, HookThatIgnoresStdinDoesNotRaiseSigpipe) {
  const std::string big_state(1 << 20, 'x');
  EXPECT_THAT(RunHooks({Sh("exit 0")}, "poststop", big_state), IsOk());
  EXPECT_EQ(RunAllHooks({Sh("exit 1"), Sh("exit 0")}, "poststart", big_state).size(), 1u);
}

TEST(HooksTest, TimeoutKillsTheHook) {
  absl::Time start = absl::Now();
  EXPECT_THAT(RunHooks({Sh("sleep 30", 1)}, "prestart", "{}"),
              StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("timed out after 1s")));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST(HooksTest, MissingBinaryIsReported) {
  spec::Hook h;
  h.path = "/no/such/hook";
  EXPECT_THAT(RunHooks({h}, "createContainer", "{}"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("cannot execute")));
}

}  // namespace
}  // namespace berth::runc::container
