// ProcessIo without a container: the test plays the process through dups of the ends the
// runtime would get, and checks what reaches the sinks, the paths and stdin.
#include "shim/io/process_io.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "absl/synchronization/mutex.h"
#include "common/testing/child_process.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::shim::io {
namespace {

namespace tv1 = ::berth::types::v1;
using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::berth::testing::TempDir;

class RecordingSink : public OutputSink {
 public:
  void OnOutput(StdioStream stream, absl::string_view data) override {
    absl::MutexLock lock(&mu_);
    (stream == tv1::STDIO_STREAM_STDERR ? err_ : out_).append(data.data(), data.size());
  }
  void OnOutputDone() override {
    absl::MutexLock lock(&mu_);
    done_ = true;
  }
  std::string out() {
    absl::MutexLock lock(&mu_);
    return out_;
  }
  std::string err() {
    absl::MutexLock lock(&mu_);
    return err_;
  }
  bool done() {
    absl::MutexLock lock(&mu_);
    return done_;
  }

 private:
  absl::Mutex mu_;
  std::string out_, err_;
  bool done_ = false;
};

// Reads from `fd` until `want` bytes arrived or EOF (with a deadline).
std::string ReadSome(int fd, size_t want) {
  std::string got;
  while (got.size() < want) {
    struct pollfd p = {fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) break;
    char buf[256];
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

bool AtEof(int fd) {
  struct pollfd p = {fd, POLLIN, 0};
  if (::poll(&p, 1, 5000) <= 0) return false;
  char c;
  return ::read(fd, &c, 1) == 0;
}

TEST(ProcessIoTest, ValidatesStdio) {
  ProcessIoOptions o;
  o.stdout_path = "relative/out";
  EXPECT_THAT(ValidateStdio(o), StatusIs(absl::StatusCode::kInvalidArgument));
  o = {};
  o.stdin_path = "/tmp/x";
  o.stdin_mode = tv1::STDIN_MODE_OPEN;
  EXPECT_THAT(ValidateStdio(o), StatusIs(absl::StatusCode::kInvalidArgument));
  o.stdin_mode = tv1::STDIN_MODE_UNSPECIFIED;
  EXPECT_THAT(ValidateStdio(o), IsOk());
  EXPECT_EQ(ResolveStdinMode(o.stdin_mode, o.stdin_path), tv1::STDIN_MODE_PATH);
  EXPECT_EQ(ResolveStdinMode(tv1::STDIN_MODE_UNSPECIFIED, ""), tv1::STDIN_MODE_NULL);
}

TEST(ProcessIoTest, CopiesOutputToSinksLogAndPathsAndStdinFromClients) {
  auto dir = TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  auto loop = EventLoop::Create();
  ASSERT_THAT(loop, IsOk());
  JsonFileLoggerOptions lo;
  lo.path = dir->Sub("log.json");
  auto logger = JsonFileLogger::Create(lo);
  ASSERT_THAT(logger, IsOk());
  ProcessIoOptions o;
  o.stdin_mode = tv1::STDIN_MODE_OPEN;
  o.stdout_path = dir->Sub("out");
  o.stderr_path = dir->Sub("err");
  o.logger = std::move(*logger);
  auto io = ProcessIo::Create(loop->get(), o);
  ASSERT_THAT(io, IsOk());
  const process::RuntimeStdio s = (*io)->runtime_stdio();
  ASSERT_GE(s.stdin_fd, 0);
  const int in = ::dup(s.stdin_fd), out = ::dup(s.stdout_fd), err = ::dup(s.stderr_fd);
  ASSERT_THAT((*io)->Start(), IsOk());
  RecordingSink sink;
  (*io)->Subscribe(&sink);

  ASSERT_EQ(::write(out, "hello\n", 6), 6);
  ASSERT_EQ(::write(err, "oops\n", 5), 5);
  ASSERT_TRUE(berth::testing::WaitFor(
      [&] { return sink.out() == "hello\n" && sink.err() == "oops\n"; }, absl::Seconds(5)));

  bool accepted = false;
  EXPECT_TRUE((*io)->StdinWritable());
  ASSERT_THAT((*io)->WriteStdin("typed", [&] { accepted = true; }), IsOk());
  EXPECT_TRUE(accepted);
  EXPECT_EQ(ReadSome(in, 5), "typed");
  ASSERT_THAT((*io)->CloseStdin(), IsOk());
  EXPECT_TRUE(AtEof(in));
  EXPECT_FALSE((*io)->StdinWritable());
  EXPECT_THAT((*io)->WriteStdin("late", nullptr), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT((*io)->CloseStdin(), IsOk());
  EXPECT_THAT((*io)->Resize(80, 24), StatusIs(absl::StatusCode::kFailedPrecondition));

  ::close(out);
  ::close(err);
  ::close(in);
  EXPECT_TRUE((*io)->AwaitOutputDone(absl::Seconds(5)));
  EXPECT_TRUE(sink.done());
  (*io)->Unsubscribe(&sink);
  (*io)->Close();
  EXPECT_EQ(berth::testing::ReadFileOrEmpty(dir->Sub("out")), "hello\n");
  EXPECT_EQ(berth::testing::ReadFileOrEmpty(dir->Sub("err")), "oops\n");
  const std::string log = berth::testing::ReadFileOrEmpty(dir->Sub("log.json"));
  EXPECT_THAT(log, ::testing::HasSubstr("\"log\":\"hello\\n\",\"stream\":\"stdout\""));
  EXPECT_THAT(log, ::testing::HasSubstr("\"log\":\"oops\\n\",\"stream\":\"stderr\""));
}

// Shim upgrade: Detach leaves the pipes open (without FD_CLOEXEC) and stops copying; Adopt on
// another loop takes them over, and output written in between is not lost.
TEST(ProcessIoTest, DetachedPipesAreAdoptedWithoutLosingOutput) {
  auto dir = TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  auto loop = EventLoop::Create();
  ASSERT_THAT(loop, IsOk());
  ProcessIoOptions o;
  o.stdin_mode = tv1::STDIN_MODE_OPEN;
  o.stdout_path = dir->Sub("out");
  auto io = ProcessIo::Create(loop->get(), o);
  ASSERT_THAT(io, IsOk());
  const process::RuntimeStdio s = (*io)->runtime_stdio();
  const int in = ::dup(s.stdin_fd), out = ::dup(s.stdout_fd), err = ::dup(s.stderr_fd);
  ASSERT_THAT((*io)->Start(), IsOk());
  ASSERT_EQ(::write(out, "before\n", 7), 7);
  ASSERT_TRUE(berth::testing::WaitFor(
      [&] { return berth::testing::ReadFileOrEmpty(o.stdout_path) == "before\n"; },
      absl::Seconds(5)));

  auto fds = (*io)->Detach();
  ASSERT_THAT(fds, IsOk());
  for (int fd : {fds->stdout_fd, fds->stderr_fd, fds->stdin_fd}) {
    ASSERT_GE(fd, 0);
    EXPECT_EQ(::fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
  }
  io->reset();
  ASSERT_EQ(::write(out, "gap\n", 4), 4);  // stays in the pipe

  auto loop2 = EventLoop::Create();
  ASSERT_THAT(loop2, IsOk());
  auto adopted = ProcessIo::Adopt(loop2->get(), o, *fds);
  ASSERT_THAT(adopted, IsOk());
  EXPECT_NE(::fcntl(fds->stdout_fd, F_GETFD) & FD_CLOEXEC, 0);
  RecordingSink sink;
  (*adopted)->Subscribe(&sink);
  ASSERT_EQ(::write(err, "after\n", 6), 6);
  ASSERT_TRUE(berth::testing::WaitFor(
      [&] { return sink.out() == "gap\n" && sink.err() == "after\n"; }, absl::Seconds(5)));
  EXPECT_EQ(berth::testing::ReadFileOrEmpty(o.stdout_path), "before\ngap\n");
  ASSERT_THAT((*adopted)->WriteStdin("typed", nullptr), IsOk());
  EXPECT_EQ(ReadSome(in, 5), "typed");

  ::close(out);
  ::close(err);
  EXPECT_TRUE((*adopted)->AwaitOutputDone(absl::Seconds(5)));
  (*adopted)->Close();
  EXPECT_TRUE(AtEof(in));
  ::close(in);
}

TEST(ProcessIoTest, DetachRefusesATerminal) {
  auto loop = EventLoop::Create();
  ASSERT_THAT(loop, IsOk());
  ProcessIoOptions o;
  o.terminal = true;
  auto io = ProcessIo::Create(loop->get(), o);
  ASSERT_THAT(io, IsOk());
  EXPECT_THAT((*io)->Detach(), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(ProcessIo::Adopt(loop->get(), o, {}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ProcessIoTest, StdinPathFifoIsCopiedAndClosedAtItsEof) {
  auto dir = TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  auto loop = EventLoop::Create();
  ASSERT_THAT(loop, IsOk());
  const std::string fifo = dir->Sub("in.fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  ProcessIoOptions o;
  o.stdin_path = fifo;
  auto io = ProcessIo::Create(loop->get(), o);
  ASSERT_THAT(io, IsOk());
  EXPECT_EQ((*io)->stdin_mode(), tv1::STDIN_MODE_PATH);
  EXPECT_FALSE((*io)->StdinWritable());  // attach clients cannot write a PATH stdin
  const int in = ::dup((*io)->runtime_stdio().stdin_fd);
  ASSERT_THAT((*io)->Start(), IsOk());
  const int w = ::open(fifo.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(w, 0);
  ASSERT_EQ(::write(w, "from fifo", 9), 9);
  ::close(w);
  EXPECT_EQ(ReadSome(in, 9), "from fifo");
  EXPECT_TRUE(AtEof(in));
  ::close(in);
  (*io)->Close();
}

TEST(ProcessIoTest, StdinPathRegularFileGoesToTheProcessAsIs) {
  auto dir = TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  auto loop = EventLoop::Create();
  ASSERT_THAT(loop, IsOk());
  const std::string file = dir->Sub("in.txt");
  ASSERT_EQ(::close(::open(file.c_str(), O_CREAT | O_WRONLY, 0600)), 0);
  ProcessIoOptions o;
  o.stdin_path = file;
  o.stdout_path = dir->Sub("missing-dir/out");
  EXPECT_THAT(ProcessIo::Create(loop->get(), o).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  o.stdout_path.clear();
  auto io = ProcessIo::Create(loop->get(), o);
  ASSERT_THAT(io, IsOk());
  const int fd = (*io)->runtime_stdio().stdin_fd;
  struct stat a, b;
  ASSERT_EQ(::fstat(fd, &a), 0);
  ASSERT_EQ(::stat(file.c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  (*io)->Close();
}

}  // namespace
}  // namespace berth::shim::io
