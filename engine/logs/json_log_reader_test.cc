#include "engine/logs/json_log_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace berth::engine::logs {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::berth::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::IsEmpty;

const absl::Time kT0 = absl::FromUnixSeconds(1714564800);  // 2024-05-01T12:00:00Z

// Writes json-file logs the way the shim's JsonFileLogger does (one write(2) per entry,
// RFC 3339 times with nine digits, rotation by link + rename so <path> never goes missing).
// The engine may not depend on shim/, so the format is reproduced here from LogConfig's
// description.
class TestLogWriter {
 public:
  TestLogWriter(std::string path, int max_files) : path_(std::move(path)), max_files_(max_files) {
    Open();
  }
  ~TestLogWriter() { ::close(fd_); }

  void Write(LogStream stream, const std::string& log, absl::Time t) {
    nlohmann::json j = {{"log", log},
                        {"stream", stream == LogStream::kStdout ? "stdout" : "stderr"},
                        {"time", absl::FormatTime("%Y-%m-%dT%H:%M:%E9SZ", t,
                                                  absl::UTCTimeZone())}};
    WriteRaw(j.dump() + "\n");
  }

  // Writes bytes as they are (for torn or foreign lines).
  void WriteRaw(const std::string& bytes) {
    ASSERT_EQ(::write(fd_, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  }

  void Rotate() {
    if (max_files_ == 1) {
      ASSERT_EQ(::ftruncate(fd_, 0), 0);
      return;
    }
    const std::string tmp = path_ + ".rotating";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    ASSERT_GE(fd, 0);
    // Only the names that exist (the shim walks all max_files names; tests use huge
    // max_files values to keep every file).
    const int highest = std::min(max_files_ - 1, rotations_ + 1);
    for (int i = highest; i >= 2; --i) {
      ::rename(absl::StrCat(path_, ".", i - 1).c_str(), absl::StrCat(path_, ".", i).c_str());
    }
    ++rotations_;
    ::unlink((path_ + ".1").c_str());
    ASSERT_EQ(::link(path_.c_str(), (path_ + ".1").c_str()), 0);
    ASSERT_EQ(::rename(tmp.c_str(), path_.c_str()), 0);
    ::close(fd_);
    fd_ = fd;
  }

 private:
  void Open() {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    ASSERT_GE(fd_, 0);
  }
  const std::string path_;
  const int max_files_;
  int fd_ = -1;
  int rotations_ = 0;
};

std::string Line(int i) { return absl::StrCat("line ", i, "\n"); }

// For long sequences: where they first differ, instead of gMock's unreadable diff.
void ExpectSameLines(const std::vector<std::string>& got, const std::vector<std::string>& want) {
  EXPECT_EQ(got.size(), want.size());
  for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
    if (got[i] != want[i]) {
      ADD_FAILURE() << "first difference at " << i << ": got \"" << got[i] << "\" want \""
                    << want[i] << "\"; previous got \"" << (i > 0 ? got[i - 1] : "") << "\"";
      return;
    }
  }
}

// Entry i: "line i\n" at kT0 + i seconds, on stderr when i % 3 == 0.
LogStream StreamOf(int i) { return i % 3 == 0 ? LogStream::kStderr : LogStream::kStdout; }

class LogReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Create();
    ASSERT_THAT(dir, IsOk());
    dir_.emplace(*std::move(dir));
    path_ = dir_->Sub("c-json.log");
  }

  // Entries 0..n-1, rotating after every `per_file`.
  void WriteEntries(TestLogWriter& w, int from, int n, int per_file) {
    for (int i = from; i < from + n; ++i) {
      if (per_file > 0 && i > 0 && i % per_file == 0) w.Rotate();
      w.Write(StreamOf(i), Line(i), kT0 + absl::Seconds(i));
    }
  }

  std::unique_ptr<LogReader> OpenReader(LogReaderOptions o) {
    o.path = path_;
    auto r = LogReader::Open(std::move(o));
    EXPECT_THAT(r, IsOk());
    return r.ok() ? *std::move(r) : nullptr;
  }

  // Everything the reader returns until the end, as data strings.
  static std::vector<std::string> ReadAll(LogReader& r) {
    std::vector<std::string> out;
    EXPECT_THAT(r.ForEach([&out](const LogEntry& e) {
      out.push_back(e.data);
      return true;
    }),
                IsOk());
    return out;
  }

  static std::vector<std::string> Lines(int from, int to, LogStream* only = nullptr) {
    std::vector<std::string> out;
    for (int i = from; i < to; ++i) {
      if (only == nullptr || StreamOf(i) == *only) out.push_back(Line(i));
    }
    return out;
  }

  std::optional<TempDir> dir_;
  std::string path_;
};

TEST_F(LogReaderTest, ReadsRotatedFilesThenTheLiveOneInOrder) {
  TestLogWriter w(path_, 4);
  WriteEntries(w, 0, 23, 5);  // files: .3 (5..9) .2 (10..14) .1 (15..19) live (20..22)
  auto r = OpenReader({});
  EXPECT_EQ(ReadAll(*r), Lines(5, 23));
  EXPECT_EQ(r->malformed_lines(), 0);
  // Times and streams come from the entries.
  auto again = OpenReader({});
  auto e = again->Next();
  ASSERT_THAT(e, IsOk());
  EXPECT_EQ(e->time, kT0 + absl::Seconds(5));
  EXPECT_EQ(e->stream, LogStream::kStdout);
  EXPECT_FALSE(e->partial);
  EXPECT_EQ(again->Next()->stream, LogStream::kStderr);  // entry 6
}

TEST_F(LogReaderTest, StreamSelection) {
  TestLogWriter w(path_, 3);
  WriteEntries(w, 0, 12, 4);
  LogStream err = LogStream::kStderr, out = LogStream::kStdout;
  LogReaderOptions o;
  o.stderr = true;
  auto r = OpenReader(o);
  EXPECT_EQ(ReadAll(*r), Lines(0, 12, &err));
  o = {};
  o.stdout = true;
  r = OpenReader(o);
  EXPECT_EQ(ReadAll(*r), Lines(0, 12, &out));
}

TEST_F(LogReaderTest, TailAcrossRotatedFiles) {
  TestLogWriter w(path_, 5);
  WriteEntries(w, 0, 23, 5);  // .4 (0..4) ... live (20..22)
  LogReaderOptions o;
  o.tail = 7;
  EXPECT_EQ(ReadAll(*OpenReader(o)), Lines(16, 23));
  o.tail = 3;
  EXPECT_EQ(ReadAll(*OpenReader(o)), Lines(20, 23));
  o.tail = 1000;
  EXPECT_EQ(ReadAll(*OpenReader(o)), Lines(0, 23));
  o.tail = 0;
  EXPECT_THAT(ReadAll(*OpenReader(o)), IsEmpty());
  // The tail counts the selected stream only.
  o.tail = 4;
  o.stderr = true;
  EXPECT_THAT(ReadAll(*OpenReader(o)), ElementsAre(Line(12), Line(15), Line(18), Line(21)));
  o = {};
  o.tail = -1;
  o.path = path_;
  EXPECT_THAT(LogReader::Open(o), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(LogReaderTest, TailWithLinesLongerThanTheReadBlock) {
  TestLogWriter w(path_, 2);
  std::vector<std::string> logs;
  for (int i = 0; i < 6; ++i) {
    // 16 KiB pieces escape to up to 6x; use quotes to make the JSON lines ~100 KiB.
    logs.push_back(std::string(16000 + i, '"') + absl::StrCat(i) + "\n");
    w.Write(LogStream::kStdout, logs.back(), kT0 + absl::Seconds(i));
  }
  LogReaderOptions o;
  o.tail = 4;
  EXPECT_THAT(ReadAll(*OpenReader(o)), ElementsAre(logs[2], logs[3], logs[4], logs[5]));
}

TEST_F(LogReaderTest, SinceAndUntil) {
  TestLogWriter w(path_, 4);
  WriteEntries(w, 0, 20, 6);  // .3 (0..5) .2 (6..11) .1 (12..17) live (18, 19)
  LogReaderOptions o;
  o.since = kT0 + absl::Seconds(5);
  o.until = kT0 + absl::Seconds(14);
  EXPECT_EQ(ReadAll(*OpenReader(o)), Lines(5, 14));
  // since is inclusive, until exclusive, to the nanosecond.
  o.since = kT0 + absl::Seconds(7) - absl::Nanoseconds(1);
  o.until = kT0 + absl::Seconds(9) + absl::Nanoseconds(1);
  EXPECT_EQ(ReadAll(*OpenReader(o)), Lines(7, 10));
  // With a tail: the last 2 of the window.
  o.since = kT0 + absl::Seconds(3);
  o.until = kT0 + absl::Seconds(13);
  o.tail = 2;
  EXPECT_EQ(ReadAll(*OpenReader(o)), Lines(11, 13));
  // A tail larger than the window stops at since.
  o.tail = 100;
  EXPECT_EQ(ReadAll(*OpenReader(o)), Lines(3, 13));
}

TEST_F(LogReaderTest, Timestamps) {
  TestLogWriter w(path_, 2);
  w.Write(LogStream::kStdout, "a\n", kT0 + absl::Nanoseconds(123400000));
  w.Write(LogStream::kStdout, "b\n", kT0);
  LogReaderOptions o;
  o.timestamps = true;
  EXPECT_THAT(ReadAll(*OpenReader(o)),
              ElementsAre("2024-05-01T12:00:00.1234Z a\n", "2024-05-01T12:00:00Z b\n"));
}

TEST_F(LogReaderTest, PartialEntries) {
  TestLogWriter w(path_, 2);
  w.Write(LogStream::kStdout, "no newline yet", kT0);
  w.Write(LogStream::kStdout, " ... done\n", kT0);
  auto r = OpenReader({});
  auto a = r->Next();
  ASSERT_THAT(a, IsOk());
  EXPECT_TRUE(a->partial);
  EXPECT_EQ(a->data, "no newline yet");
  auto b = r->Next();
  ASSERT_THAT(b, IsOk());
  EXPECT_FALSE(b->partial);
  EXPECT_THAT(r->Next(), StatusIs(absl::StatusCode::kOutOfRange));
}

TEST_F(LogReaderTest, UnterminatedLastLineIsInProgress) {
  TestLogWriter w(path_, 2);
  w.Write(LogStream::kStdout, Line(0), kT0);
  const std::string next = R"({"log":"line 1\n","stream":"stdout","time":"2024-05-01T12:00:01.000000000Z"})";
  w.WriteRaw(next.substr(0, 20));
  // Without follow: not returned, not counted as malformed.
  auto r = OpenReader({});
  EXPECT_THAT(ReadAll(*r), ElementsAre(Line(0)));
  EXPECT_EQ(r->malformed_lines(), 0);
  // With follow: returned once the writer completes it.
  LogReaderOptions o;
  o.follow = true;
  auto f = OpenReader(o);
  EXPECT_EQ(f->Next()->data, Line(0));
  EXPECT_THAT(f->Next(absl::Now() + absl::Milliseconds(50)),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  w.WriteRaw(next.substr(20) + "\n");
  auto e = f->Next(absl::Now() + absl::Seconds(10));
  ASSERT_THAT(e, IsOk());
  EXPECT_EQ(e->data, Line(1));
  f->WriterDone();
  EXPECT_THAT(f->Next(), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_EQ(f->malformed_lines(), 0);
}

TEST_F(LogReaderTest, MalformedLinesAreSkippedAndCounted) {
  TestLogWriter w(path_, 3);
  w.Write(LogStream::kStdout, Line(0), kT0);
  w.WriteRaw("garbage\n");
  w.WriteRaw("{\"log\":\"x\",\"stream\":\"stdout\"}\n");                   // no time
  w.WriteRaw("{\"log\":\"x\",\"stream\":\"stdin\",\"time\":\"2024-05-01T12:00:00Z\"}\n");
  w.WriteRaw("{\"log\":\"x\",\"stream\":\"stdout\",\"time\":\"yesterday\"}\n");
  w.WriteRaw("{\"log\":5,\"stream\":\"stdout\",\"time\":\"2024-05-01T12:00:00Z\"}\n");
  w.WriteRaw("[1,2]\n");
  w.WriteRaw("\n");
  w.WriteRaw("{\"log\":\"torn");  // a torn write, then the writer went on
  w.Rotate();                      // ... and the torn line ends a rotated file
  w.Write(LogStream::kStderr, Line(1), kT0 + absl::Seconds(1));
  w.WriteRaw(std::string(2 << 20, 'x') + "\n");  // far longer than any entry
  w.Write(LogStream::kStdout, Line(2), kT0 + absl::Seconds(2));
  auto r = OpenReader({});
  EXPECT_THAT(ReadAll(*r), ElementsAre(Line(0), Line(1), Line(2)));
  EXPECT_EQ(r->malformed_lines(), 9);
  // Tails skip them too.
  LogReaderOptions o;
  o.tail = 2;
  EXPECT_THAT(ReadAll(*OpenReader(o)), ElementsAre(Line(1), Line(2)));
}

TEST_F(LogReaderTest, FollowAcrossRotationsWithAWriterThread) {
  constexpr int kEntries = 3000;
  // Files are never dropped here (max_files is large), so every entry must arrive exactly once
  // and in order however the threads interleave.
  TestLogWriter w(path_, 1000);
  WriteEntries(w, 0, 10, 0);
  LogReaderOptions o;
  o.follow = true;
  o.tail = 5;
  auto r = OpenReader(o);
  std::thread writer([&] {
    for (int i = 10; i < kEntries; ++i) {
      if (i % 37 == 0) w.Rotate();
      w.Write(StreamOf(i), Line(i), kT0 + absl::Seconds(i));
      if (i % 500 == 0) absl::SleepFor(absl::Milliseconds(20));  // let the reader catch up
    }
    r->WriterDone();
  });
  std::vector<std::string> got = ReadAll(*r);
  writer.join();
  ExpectSameLines(got, Lines(5, kEntries));
  EXPECT_EQ(r->malformed_lines(), 0);
  EXPECT_EQ(r->skipped_files(), 0);
}

TEST_F(LogReaderTest, FollowKeepsUpWithRapidRotation) {
  // A rotation every 20 entries with no pauses: the follower often finds several rotations
  // between two looks, and rotations happen while it looks for the next file.
  constexpr int kEntries = 3000;
  TestLogWriter w(path_, 100000);
  LogReaderOptions o;
  o.follow = true;
  auto r = OpenReader(o);
  std::thread writer([&] {
    for (int i = 0; i < kEntries; ++i) {
      if (i > 0 && i % 20 == 0) w.Rotate();
      w.Write(StreamOf(i), Line(i), kT0 + absl::Seconds(i));
    }
    r->WriterDone();
  });
  std::vector<std::string> got = ReadAll(*r);
  writer.join();
  ExpectSameLines(got, Lines(0, kEntries));
  EXPECT_EQ(r->skipped_files(), 0);
  EXPECT_EQ(r->malformed_lines(), 0);
}

TEST_F(LogReaderTest, FollowWithTailZeroReturnsOnlyNewEntries) {
  TestLogWriter w(path_, 3);
  WriteEntries(w, 0, 8, 3);
  LogReaderOptions o;
  o.follow = true;
  o.tail = 0;
  auto r = OpenReader(o);
  EXPECT_THAT(r->Next(absl::Now() + absl::Milliseconds(20)),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  w.Rotate();
  w.Write(LogStream::kStdout, Line(8), kT0 + absl::Seconds(8));
  auto e = r->Next(absl::Now() + absl::Seconds(10));
  ASSERT_THAT(e, IsOk());
  EXPECT_EQ(e->data, Line(8));
}

TEST_F(LogReaderTest, FollowEndsAtUntil) {
  TestLogWriter w(path_, 2);
  w.Write(LogStream::kStdout, Line(0), absl::Now());
  LogReaderOptions o;
  o.follow = true;
  o.until = absl::Now() + absl::Milliseconds(200);
  auto r = OpenReader(o);
  EXPECT_EQ(r->Next()->data, Line(0));
  const absl::Time start = absl::Now();
  EXPECT_THAT(r->Next(absl::Now() + absl::Seconds(30)), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  // An entry stamped at or after `until` ends the stream too.
  o.until = kT0 + absl::Seconds(1);
  TestLogWriter w2(dir_->Sub("other.log"), 2);
  w2.Write(LogStream::kStdout, Line(0), kT0);
  w2.Write(LogStream::kStdout, Line(1), kT0 + absl::Seconds(1));
  o.path = dir_->Sub("other.log");
  auto r2 = LogReader::Open(o);
  ASSERT_THAT(r2, IsOk());
  EXPECT_THAT(ReadAll(**r2), ElementsAre(Line(0)));
}

TEST_F(LogReaderTest, CancelWakesABlockedFollower) {
  TestLogWriter w(path_, 2);
  LogReaderOptions o;
  o.follow = true;
  auto r = OpenReader(o);
  std::thread canceller([&] {
    absl::SleepFor(absl::Milliseconds(50));
    r->Cancel();
  });
  const absl::Time start = absl::Now();
  EXPECT_THAT(r->Next(), StatusIs(absl::StatusCode::kCancelled));
  canceller.join();
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_THAT(r->Next(), StatusIs(absl::StatusCode::kCancelled));
}

TEST_F(LogReaderTest, MissingLiveFile) {
  // No file yet: nothing without follow; with follow, entries once the shim creates it.
  auto r = OpenReader({});
  EXPECT_THAT(r->Next(), StatusIs(absl::StatusCode::kOutOfRange));
  LogReaderOptions o;
  o.follow = true;
  auto f = OpenReader(o);
  EXPECT_THAT(f->Next(absl::Now() + absl::Milliseconds(20)),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  TestLogWriter w(path_, 2);
  w.Write(LogStream::kStdout, Line(0), kT0);
  auto e = f->Next(absl::Now() + absl::Seconds(10));
  ASSERT_THAT(e, IsOk());
  EXPECT_EQ(e->data, Line(0));

  LogReaderOptions bad;
  bad.path = dir_->Sub("nodir/c.log");
  EXPECT_THAT(LogReader::Open(bad), StatusIs(absl::StatusCode::kNotFound));
  bad.path = "relative.log";
  EXPECT_THAT(LogReader::Open(bad), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(LogReaderTest, FollowAcrossTruncation) {
  TestLogWriter w(path_, 1);  // max_files 1: the shim truncates instead of rotating
  WriteEntries(w, 0, 3, 0);
  LogReaderOptions o;
  o.follow = true;
  auto r = OpenReader(o);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(r->Next()->data, Line(i));
  w.Rotate();
  w.Write(LogStream::kStdout, "x\n", kT0);
  auto e = r->Next(absl::Now() + absl::Seconds(10));
  ASSERT_THAT(e, IsOk());
  EXPECT_EQ(e->data, "x\n");
}

TEST_F(LogReaderTest, FollowerThatFellBehindSkipsDroppedFiles) {
  TestLogWriter w(path_, 2);  // keeps only <path> and <path>.1
  WriteEntries(w, 0, 2, 0);
  LogReaderOptions o;
  o.follow = true;
  auto r = OpenReader(o);
  EXPECT_EQ(r->Next()->data, Line(0));
  EXPECT_EQ(r->Next()->data, Line(1));
  // Three rotations before the reader looks again: the file with 2..3 is gone.
  for (int i = 2; i < 8; i += 2) {
    w.Rotate();
    w.Write(StreamOf(i), Line(i), kT0 + absl::Seconds(i));
    w.Write(StreamOf(i + 1), Line(i + 1), kT0 + absl::Seconds(i + 1));
  }
  r->WriterDone();
  EXPECT_THAT(ReadAll(*r), ElementsAre(Line(4), Line(5), Line(6), Line(7)));
  EXPECT_EQ(r->skipped_files(), 1);
}

}  // namespace
}  // namespace berth::engine::logs
