#include "common/proc/proc.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash_testing.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/testing/child_process.h"
#include "common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace berth::proc {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::berth::testing::WaitFor;
using ::testing::HasSubstr;

// The 52 fields of a real /proc/<pid>/stat line, after the command name.
constexpr char kAfterComm[] =
    " S 1 812 812 0 -1 4194560 1391 0 0 0 3 1 0 0 20 0 1 0 123456 8749056 1024 "
    "18446744073709551615 1 1 0 0 0 0 0 4096 1260 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

// A forked child that sleeps in read() until the test closes the pipe, then exits. Killed (by
// its own pid) and reaped if a test ends early.
class BlockedChild {
 public:
  BlockedChild() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      close(fds[1]);
      char c;
      while (read(fds[0], &c, 1) < 0) {
      }
      _exit(7);
    }
    close(fds[0]);
    write_fd_ = fds[1];
  }
  ~BlockedChild() {
    if (write_fd_ >= 0) close(write_fd_);
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      Reap();
    }
  }

  pid_t pid() const { return pid_; }
  void LetExit() {
    close(write_fd_);
    write_fd_ = -1;
  }
  int Reap() {
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    return status;
  }

 private:
  pid_t pid_ = -1;
  int write_fd_ = -1;
  bool reaped_ = false;
};

bool HasState(pid_t pid, char state) {
  absl::StatusOr<char> s = ProcessState(pid);
  return s.ok() && *s == state;
}

TEST(ParseProcStatTest, ParsesARealLine) {
  absl::StatusOr<ProcStat> stat = ParseProcStat(std::string("812 (berth-shim)") + kAfterComm);
  ASSERT_THAT(stat, IsOk());
  EXPECT_EQ(stat->pid, 812);
  EXPECT_EQ(stat->comm, "berth-shim");
  EXPECT_EQ(stat->state, 'S');
  EXPECT_EQ(stat->ppid, 1);
  EXPECT_EQ(stat->start_time, 123456u);
}

// A process names itself: spaces and parentheses in the name must not shift the fields.
TEST(ParseProcStatTest, CommWithSpacesAndParenthesesUsesTheLastParenthesis) {
  for (const std::string comm : {"a) b (c", ") S 1 2 3", "((", "x)", "", "tab\there", "nl\n)"}) {
    SCOPED_TRACE(comm);
    absl::StatusOr<ProcStat> stat = ParseProcStat("42 (" + comm + ")" + kAfterComm);
    ASSERT_THAT(stat, IsOk());
    EXPECT_EQ(stat->pid, 42);
    EXPECT_EQ(stat->comm, comm);
    EXPECT_EQ(stat->state, 'S');
    EXPECT_EQ(stat->ppid, 1);
    EXPECT_EQ(stat->start_time, 123456u);
  }
}

TEST(ParseProcStatTest, RejectsMalformedText) {
  struct Case {
    std::string text;
    std::string message;
  };
  const Case cases[] = {
      {"", "no command name"},
      {"42 bash S 1", "no command name"},
      {"42 )bash( S", "no command name"},
      {std::string("(bash)") + kAfterComm, "pid is not a positive number"},
      {std::string("x (bash)") + kAfterComm, "pid is not a positive number"},
      {std::string("0 (bash)") + kAfterComm, "pid is not a positive number"},
      {"42 (bash) S 1 2 3", "4 fields after the command name, want at least 20"},
      {"42 (bash) S 1 812 812 0 -1 4194560 1391 0 0 0 3 1 0 0 20 0 1 0\n",
       "19 fields after the command name"},
      {"42 (bash) SS 1 812 812 0 -1 4194560 1391 0 0 0 3 1 0 0 20 0 1 0 99", "state"},
      {"42 (bash) S x 812 812 0 -1 4194560 1391 0 0 0 3 1 0 0 20 0 1 0 99", "ppid"},
      {"42 (bash) S 1 812 812 0 -1 4194560 1391 0 0 0 3 1 0 0 20 0 1 0 -99", "start time"},
      {"42 (bash) S 1 812 812 0 -1 4194560 1391 0 0 0 3 1 0 0 20 0 1 0 12a", "start time"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    EXPECT_THAT(ParseProcStat(c.text),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.message)));
  }
}

TEST(ProcTest, OwnProcess) {
  const pid_t self = getpid();
  absl::StatusOr<ProcStat> stat = ReadProcStat(self);
  ASSERT_THAT(stat, IsOk());
  EXPECT_EQ(stat->pid, self);
  EXPECT_EQ(stat->ppid, getppid());
  EXPECT_EQ(stat->state, 'R');  // reading its own stat, it is running
  EXPECT_GT(stat->start_time, 0u);

  // Started before now: start time <= uptime in ticks (with a tick of rounding).
  double uptime_s = 0;
  std::ifstream("/proc/uptime") >> uptime_s;
  EXPECT_LE(stat->start_time, static_cast<uint64_t>(uptime_s * sysconf(_SC_CLK_TCK)) + 1);

  EXPECT_EQ(*ProcessStartTime(self), stat->start_time);  // stable
  EXPECT_EQ(*ProcessState(self), 'R');
  absl::StatusOr<ProcessIdentity> me = ProcessIdentity::Current(self);
  ASSERT_THAT(me, IsOk());
  EXPECT_EQ(*me, (ProcessIdentity{self, stat->start_time}));
  EXPECT_EQ(*me->IsSameProcess(), true);
  EXPECT_EQ(*me->IsAlive(), true);
}

// Same pid, other start time: what a reused pid looks like.
TEST(ProcTest, OtherStartTimeIsAnotherProcess) {
  absl::StatusOr<ProcessIdentity> me = ProcessIdentity::Current(getpid());
  ASSERT_THAT(me, IsOk());
  const ProcessIdentity stranger{me->pid, me->start_time + 1};
  EXPECT_NE(stranger, *me);
  EXPECT_EQ(*stranger.IsSameProcess(), false);
  EXPECT_EQ(*stranger.IsAlive(), false);
}

TEST(ProcTest, ChildLifecycleRunningZombieReaped) {
  BlockedChild child;
  ASSERT_GT(child.pid(), 0);
  absl::StatusOr<ProcessIdentity> id = ProcessIdentity::Current(child.pid());
  ASSERT_THAT(id, IsOk());
  EXPECT_GE(id->start_time, *ProcessStartTime(getpid()));
  absl::StatusOr<ProcStat> stat = ReadProcStat(child.pid());
  ASSERT_THAT(stat, IsOk());
  EXPECT_EQ(stat->ppid, getpid());
  EXPECT_EQ(*id->IsAlive(), true);
  EXPECT_TRUE(WaitFor([&] { return HasState(child.pid(), 'S'); }, absl::Seconds(5)));
  EXPECT_EQ(*id->IsAlive(), true);

  // Exited but not reaped: a zombie keeps its pid, so it is the same process, but not alive.
  child.LetExit();
  ASSERT_TRUE(WaitFor([&] { return HasState(child.pid(), 'Z'); }, absl::Seconds(5)));
  EXPECT_EQ(*id->IsSameProcess(), true);
  EXPECT_EQ(*id->IsAlive(), false);
  EXPECT_EQ(*ProcessStartTime(child.pid()), id->start_time);

  const int status = child.Reap();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 7);
  EXPECT_EQ(*id->IsSameProcess(), false);
  EXPECT_EQ(*id->IsAlive(), false);
  EXPECT_THAT(ProcessStartTime(child.pid()), StatusIs(absl::StatusCode::kNotFound));
}

TEST(ProcTest, MissingAndInvalidPids) {
  // Above pid_max no process can exist.
  long pid_max = 0;  // NOLINT(runtime/int)
  std::ifstream("/proc/sys/kernel/pid_max") >> pid_max;
  ASSERT_GT(pid_max, 0);
  const pid_t missing = static_cast<pid_t>(pid_max + 1);
  EXPECT_THAT(ReadProcStat(missing),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(absl::StrCat("process ", missing))));
  EXPECT_THAT(ProcessIdentity::Current(missing), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(*(ProcessIdentity{missing, 1}.IsSameProcess()), false);
  EXPECT_EQ(*(ProcessIdentity{missing, 1}.IsAlive()), false);

  EXPECT_THAT(ReadProcStat(0), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ProcessStartTime(-1), StatusIs(absl::StatusCode::kInvalidArgument));
  // An invalid pid cannot be answered "gone": it is an error, not false.
  EXPECT_THAT(ProcessIdentity{}.IsAlive(), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ProcessIdentityTest, IsAValue) {
  const ProcessIdentity a{10, 100};
  const ProcessIdentity b{10, 101};
  const ProcessIdentity c{11, 100};
  EXPECT_EQ(a, (ProcessIdentity{10, 100}));
  EXPECT_NE(a, b);
  EXPECT_NE(a, c);
  EXPECT_TRUE(absl::VerifyTypeImplementsAbslHashCorrectly({a, b, c}));
  absl::flat_hash_set<ProcessIdentity> set = {a, b, a};
  EXPECT_EQ(set.size(), 2u);
  EXPECT_EQ(a.ToString(), "pid 10 (start time 100)");
}

}  // namespace
}  // namespace berth::proc
