#include "runc/state/state.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "common/proc/proc.h"
#include "gtest/gtest.h"

namespace berth::runc::state {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::HasSubstr;

ContainerState Sample(const std::string& id) {
  ContainerState s;
  s.id = id;
  s.oci_version = "1.1.0";
  s.pid = getpid();
  s.pid_start_time = *proc::ProcessStartTime(getpid());
  s.bundle = "/b";
  s.rootfs = "/b/rootfs";
  s.created = absl::FromUnixNanos(1700000000123456789);
  s.annotations = {{"a", "b"}};
  s.cgroup = "v1 memory=/x";
  s.terminal = true;
  spec::Hook h;
  h.path = "/bin/true";
  h.args = {"true", "x"};
  h.env = {"A=B"};
  h.timeout = 5;
  s.poststop.push_back(h);
  return s;
}

TEST(StateTest, SaveLoadRoundTrip) {
  auto dir = berth::testing::TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  Store store(dir->Sub("root"));
  ASSERT_THAT(store.CreateDir("c1"), IsOk());
  ASSERT_THAT(store.Save(Sample("c1")), IsOk());
  auto loaded = store.Load("c1");
  ASSERT_THAT(loaded, IsOk());
  EXPECT_EQ(loaded->pid, getpid());
  EXPECT_EQ(loaded->created, absl::FromUnixNanos(1700000000123456789));
  EXPECT_EQ(loaded->annotations.at("a"), "b");
  EXPECT_EQ(loaded->cgroup, "v1 memory=/x");
  EXPECT_TRUE(loaded->terminal);
  ASSERT_EQ(loaded->poststop.size(), 1u);
  EXPECT_EQ(loaded->poststop[0].args[1], "x");
  EXPECT_EQ(*loaded->poststop[0].timeout, 5);
  auto ids = store.List();
  ASSERT_THAT(ids, IsOk());
  EXPECT_EQ(*ids, std::vector<std::string>{"c1"});
  ASSERT_THAT(store.Remove("c1"), IsOk());
  EXPECT_THAT(store.Load("c1"), StatusIs(absl::StatusCode::kNotFound, "container c1 does not exist"));
  EXPECT_THAT(store.Remove("c1"), IsOk());
}

TEST(StateTest, DuplicateIdIsAlreadyExists) {
  auto dir = berth::testing::TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  Store store(dir->path());
  ASSERT_THAT(store.CreateDir("dup"), IsOk());
  EXPECT_THAT(store.CreateDir("dup"), StatusIs(absl::StatusCode::kAlreadyExists));
}

TEST(StateTest, IdsAreSafePathComponents) {
  EXPECT_THAT(ValidateId("web-1_a.b+c"), IsOk());
  for (const char* bad : {"", ".", "..", "a/b", "../x", "a b", "x\n"}) {
    EXPECT_THAT(ValidateId(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

TEST(StateTest, CorruptStateIsDataLoss) {
  auto dir = berth::testing::TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  Store store(dir->path());
  ASSERT_THAT(store.CreateDir("c"), IsOk());
  std::ofstream(dir->Sub("c/state.json")) << "{\"id\": 3";
  EXPECT_THAT(store.Load("c"), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("corrupt")));
}

TEST(StateTest, StatusFollowsProcessAndFifo) {
  auto dir = berth::testing::TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  ContainerState s = Sample("c");
  const std::string fifo = dir->Sub("exec.fifo");
  EXPECT_EQ(CurrentStatus(s, fifo, false), Status::kRunning);
  EXPECT_EQ(CurrentStatus(s, fifo, true), Status::kPaused);
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(CurrentStatus(s, fifo, false), Status::kCreated);
  // Same pid, other start time: a reused pid is not our container.
  s.pid_start_time += 1;
  EXPECT_EQ(CurrentStatus(s, fifo, false), Status::kStopped);
  // A child that exited.
  pid_t child = fork();
  if (child == 0) _exit(0);
  s.pid = child;
  s.pid_start_time = *proc::ProcessStartTime(child);
  int st;
  waitpid(child, &st, 0);
  EXPECT_EQ(CurrentStatus(s, fifo, false), Status::kStopped);
  EXPECT_THAT(StateJson(s, Status::kStopped, false), HasSubstr("\"pid\":0"));
  EXPECT_THAT(StateJson(s, Status::kStopped, false), HasSubstr("\"status\":\"stopped\""));
}

}  // namespace
}  // namespace berth::runc::state
