#include "shim/process/exit_record.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/fs/atomic_file.h"
#include "common/fs/fs.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::shim::process {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::berth::testing::TempDir;

// A real child that exits with `how` (exit code, or a signal when negative); returns its
// identity and wait status.
std::pair<proc::ProcessIdentity, int> RunChild(int how) {
  const pid_t pid = fork();
  if (pid == 0) {
    if (how < 0) raise(-how);
    _exit(how);
  }
  auto id = proc::ProcessIdentity::Current(pid);  // a zombie keeps its identity until reaped
  int status = 0;
  waitpid(pid, &status, 0);
  return {id.ok() ? *id : proc::ProcessIdentity{pid, 0}, status};
}

TEST(ExitStatusTest, CodeOrSignal) {
  EXPECT_EQ(ExitStatusFromWaitStatus(RunChild(0).second), 0u);
  EXPECT_EQ(ExitStatusFromWaitStatus(RunChild(3).second), 3u);
  EXPECT_EQ(ExitStatusFromWaitStatus(RunChild(-SIGKILL).second), 137u);
  EXPECT_EQ(ExitStatusFromWaitStatus(RunChild(-SIGTERM).second), 143u);
}

TEST(ExitRecordTest, JsonMatchesBootstrapProto) {
  ExitRecord r = MakeExitRecord({4250, 987700}, 0, absl::FromUnixNanos(1714564800123456789));
  const std::string text = ExitRecordToJson(r);
  EXPECT_EQ(text, R"({"pid":4250,"pidStartTime":"987700","exitStatus":0,)"
                  R"("exitedAt":"2024-05-01T12:00:00.123456789Z"})");
  auto back = ExitRecordFromJson(text);
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(back->pid(), 4250u);
  EXPECT_EQ(back->pid_start_time(), 987700u);
  EXPECT_EQ(back->exited_at().nanos(), 123456789);
}

TEST(ExitRecordTest, ParserIgnoresUnknownFieldsRejectsJunk) {
  auto r = ExitRecordFromJson(R"({"pid":7,"exitStatus":137,"futureField":true})");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->exit_status(), 137u);
  EXPECT_THAT(ExitRecordFromJson("{not json"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ExitRecordTest, WriteReadOnceAndRetry) {
  auto dir = TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  const std::string path = dir->Sub("exit.json");
  EXPECT_THAT(ReadExitRecord(path), StatusIs(absl::StatusCode::kNotFound));

  auto [who, status] = RunChild(42);
  const ExitRecord r = MakeExitRecord(who, status, absl::Now());
  ASSERT_THAT(WriteExitRecord(path, r), IsOk());
  auto back = ReadExitRecord(path);
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(back->pid(), static_cast<uint32_t>(who.pid));
  EXPECT_EQ(back->pid_start_time(), who.start_time);
  EXPECT_NE(who.start_time, 0u);
  EXPECT_EQ(back->exit_status(), 42u);
  EXPECT_EQ(nlohmann::json::parse(*fs::ReadFile(path))["exitStatus"], 42);

  EXPECT_THAT(WriteExitRecord(path, r), IsOk());  // a retried write
  ExitRecord other = r;
  other.set_exit_status(1);
  EXPECT_THAT(WriteExitRecord(path, other), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(ReadExitRecord(path)->exit_status(), 42u);
  // Nothing but the record is left in the directory.
  EXPECT_THAT(*fs::ListDir(dir->path()), ::testing::ElementsAre("exit.json"));
}

TEST(ExitRecordTest, CorruptFileIsInvalidArgumentAndReplaced) {
  auto dir = TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  const std::string path = dir->Sub("exit.json");
  ASSERT_THAT(fs::WriteFileAtomically(path, "garbage", 0644), IsOk());
  EXPECT_THAT(ReadExitRecord(path), StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_THAT(WriteExitRecord(path, MakeExitRecord({1, 2}, 0, absl::Now())), IsOk());
  EXPECT_THAT(ReadExitRecord(path), IsOk());
}

TEST(ExitRecordTest, MissingDirectory) {
  EXPECT_THAT(
      WriteExitRecord("/nonexistent-berth-dir/exit.json", MakeExitRecord({1, 2}, 0, absl::Now())),
      StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace berth::shim::process
