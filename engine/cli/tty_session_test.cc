// `berth run -it` in a real pseudo-terminal: the berth binary runs on the slave side of a pty
// (common/testing's PtyProcess) against FakeContainersService, and the test plays the user on
// the master side: raw mode while attached, the initial size, a resize on SIGWINCH, typed
// input, Ctrl-P Ctrl-Q detach with exit code 0, and the terminal settings restored afterwards.
#include <termios.h>

#include <string>

#include "common/grpc/server.h"
#include "common/testing/child_process.h"
#include "common/testing/pty_process.h"
#include "common/testing/runfiles.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "engine/cli/fake_containers_service.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::cli {
namespace {

using ::berth::cli::testing::FakeContainersService;
using ::berth::testing::ExitCode;
using ::berth::testing::IsOk;
using ::berth::testing::PtyProcess;
using ::berth::testing::WaitFor;
using ::testing::HasSubstr;

TEST(TtySessionTest, RunItIsRawResizesAndDetaches) {
  auto dir = berth::testing::TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  FakeContainersService fake;
  grpc_util::UnixServerOptions o;
  o.address = "unix://" + dir->Sub("berthd.sock");
  o.drain_timeout = absl::Seconds(1);
  auto server = grpc_util::UnixGrpcServer::Start(o, {&fake});
  ASSERT_THAT(server, IsOk());

  auto term = PtyProcess::Start({berth::testing::RunfilePath("engine/cli/berth"), "-H", o.address,
                                 "run", "-it", "--rm", "busybox", "sh"},
                                24, 80);
  ASSERT_THAT(term, IsOk());
  ASSERT_TRUE(WaitFor(
      [&] {
        term->Drain(absl::Milliseconds(10));
        absl::MutexLock lock(&fake.mu);
        return !fake.starts.empty();
      },
      absl::Seconds(20)))
      << term->screen();
  term->Drain(absl::Milliseconds(200));
  {
    absl::MutexLock lock(&fake.mu);
    ASSERT_EQ(fake.creates.size(), 1u);
    EXPECT_TRUE(fake.creates[0].config().tty());
    EXPECT_TRUE(fake.creates[0].config().open_stdin());
    EXPECT_EQ(fake.creates[0].host_config().console_size().height(), 24u);
    EXPECT_EQ(fake.creates[0].host_config().console_size().width(), 80u);
    ASSERT_EQ(fake.attaches.size(), 1u);
    EXPECT_TRUE(fake.attaches[0].stdin());
  }
  // The CLI switched the terminal to raw mode (the master reads the slave's settings).
  auto lflags = term->LocalFlags();
  ASSERT_THAT(lflags, IsOk());
  EXPECT_EQ(*lflags & (ECHO | ICANON | ISIG), 0u);

  // Typed bytes go through unchanged (no local echo, no line editing) and come back.
  ASSERT_THAT(term->Type("hi\r"), IsOk());
  ASSERT_TRUE(term->WaitForText("hi\r", absl::Seconds(10))) << term->screen();
  EXPECT_THAT(term->screen(), HasSubstr("hello\n"));

  // A window change reaches the container as a resize.
  ASSERT_THAT(term->Resize(50, 132), IsOk());
  EXPECT_TRUE(WaitFor(
      [&] {
        absl::MutexLock lock(&fake.mu);
        for (const auto& r : fake.resizes) {
          if (r.height() == 50 && r.width() == 132) return true;
        }
        return false;
      },
      absl::Seconds(10)));

  // Ctrl-P Ctrl-Q detaches: exit 0, nothing more printed, terminal restored.
  const size_t before = term->screen().size();
  ASSERT_THAT(term->Type("\x10\x11"), IsOk());
  auto status = term->Wait(absl::Seconds(10));
  ASSERT_THAT(status, IsOk()) << term->screen();
  EXPECT_EQ(ExitCode(*status), 0) << *status << "\n" << term->screen();
  EXPECT_EQ(term->screen().substr(before), "");
  lflags = term->LocalFlags();
  ASSERT_THAT(lflags, IsOk());
  EXPECT_NE(*lflags & ECHO, 0u);
  EXPECT_NE(*lflags & ICANON, 0u);
  (*server)->Shutdown();
}

}  // namespace
}  // namespace berth::cli
