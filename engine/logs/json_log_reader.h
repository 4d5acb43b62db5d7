// LogReader reads a container's json-file log (Docker's format, written by the shim's
// JsonFileLogger; see berth.types.v1.LogConfig) for `berth logs`: the rotated files
// `<path>.N` ... `<path>.1` (oldest first) and then the live `<path>`, one LogEntry per JSON
// line, with Docker's options: stream selection, tail, since/until and follow.
//
// Follow keeps reading as the live file grows and across rotations without losing or
// repeating entries: files are tracked by inode, so when `<path>` is replaced the reader
// finishes the file it has open (now `<path>.1`) and continues with its successor. It ends when
// cancelled, when `until` passes, or once WriterDone() was called and everything written is
// read. Only a reader that falls more than max_files rotations behind can miss entries (those
// files are gone); it then counts them in skipped_files().
//
// Robustness: a line that is not a valid entry is skipped and counted in malformed_lines();
// the unterminated last line of the live file is an entry still being written and is returned
// once complete (follow) or not at all (no follow).
//
// Threading: Next()/ForEach() from one thread at a time; Cancel() and WriterDone() from any
// thread, at any time (they wake a blocked Next()).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/fs/unique_fd.h"

namespace berth::engine::logs {

enum class LogStream { kStdout, kStderr };

struct LogEntry {
  LogStream stream = LogStream::kStdout;
  absl::Time time;
  // The output bytes, with their trailing "\n" when the line ended (prefixed with the
  // timestamp and a space when LogReaderOptions::timestamps is set).
  std::string data;
  // The entry is a fragment of a longer line (no trailing "\n"; the writer cuts lines at 16 KiB
  // and writes output that ended mid-line as is): the line continues in a later entry of the
  // same stream.
  bool partial = false;
};

struct LogReaderOptions {
  // The live log file (berth.types.v1.Process.log_path). Its directory must exist; the file
  // itself may not exist yet (a container that never ran has no output).
  std::string path;
  // Streams to return; when both are false, both are returned (as the Logs RPC says).
  bool stdout = false;
  bool stderr = false;
  // Only the last `tail` entries that pass the other filters (counted from the end, over the
  // rotated files too). Unset means all; 0 means none (with follow: only new entries).
  std::optional<int64_t> tail;
  // Only entries with since <= time < until.
  absl::Time since = absl::InfinitePast();
  absl::Time until = absl::InfiniteFuture();
  // Prefix each entry's data with its time (FormatLogTimestamp) and a space, as
  // `docker logs --timestamps` prints.
  bool timestamps = false;
  // Keep reading new entries until cancelled, until `until`, or until WriterDone().
  bool follow = false;
  // Clock compared with `until` while following; absl::Now when empty.
  std::function<absl::Time()> clock;
  // How long a follower waits between checks of the file when nothing wakes it (inotify
  // wakes it at once on writes and renames; this bounds the delay where inotify misses an
  // event, e.g. on some network file systems).
  absl::Duration poll_interval = absl::Seconds(1);
};

// Go's time.RFC3339Nano in UTC, as `docker logs -t` prints: trailing zeros of the fraction
// dropped ("2024-05-01T12:00:00.1234Z", "2024-05-01T12:00:00Z").
std::string FormatLogTimestamp(absl::Time t);

class LogReader {
 public:
  // Opens the log files present now and positions the reader (tail). InvalidArgument for a
  // relative path or a negative tail; NotFound if the directory is missing; errno-derived
  // codes for unreadable files.
  static absl::StatusOr<std::unique_ptr<LogReader>> Open(LogReaderOptions options);

  ~LogReader();
  LogReader(const LogReader&) = delete;
  LogReader& operator=(const LogReader&) = delete;

  // The next entry that passes the filters. Without follow it returns OutOfRange after the
  // last one; with follow it blocks for new entries and returns OutOfRange once the stream is
  // over (WriterDone() and drained, or `until` passed), DeadlineExceeded if `deadline` passes
  // first (call again to go on), and Cancelled after Cancel(). Errors reading the files are
  // returned with the file's path.
  absl::StatusOr<LogEntry> Next(absl::Time deadline = absl::InfiniteFuture());

  // Calls `fn` for each entry until the stream is over (returns OK), `fn` returns false
  // (returns OK), Cancel() (returns Cancelled) or an error.
  absl::Status ForEach(const std::function<bool(const LogEntry&)>& fn);

  // Makes a blocked and every later Next() return Cancelled. Thread-safe.
  void Cancel();

  // Tells a follower that the writer has stopped for good (the container exited and the shim
  // drained its output): it returns what remains and then ends. Thread-safe.
  void WriterDone();

  // Lines skipped because they were not valid entries (torn writes, foreign content).
  int64_t malformed_lines() const { return malformed_lines_; }
  // Rotated files the follower never saw because it fell too far behind.
  int64_t skipped_files() const { return skipped_files_; }

 private:
  struct File {
    fs::UniqueFd fd;
    dev_t dev = 0;
    ino_t ino = 0;
    std::string name;  // for error messages
    off_t start = 0;   // where reading starts (tail)
    int index = 0;     // N of the name `<path>.N` it had when opened (0: the live file)
  };

  LogReader(LogReaderOptions options, int inotify_fd, int wake_fd);

  absl::Status OpenSnapshot();
  absl::Status SeekTail(int64_t n);
  // Reads more of the current file into buf_. Returns bytes read (0 at EOF).
  absl::StatusOr<size_t> ReadMore();
  // The next complete line from buf_ (without its "\n"), if there is one.
  bool TakeLine(std::string* line);
  // The live file was replaced by a rotation (current file is no longer at path).
  bool LiveReplaced() const;
  // Opens the file that became live after the current one.
  absl::Status OpenSuccessor();
  // Whether a parsed entry passes the stream/since/until filters.
  bool Wanted(const LogEntry& e) const;
  // Blocks until the directory changes, a wake-up, poll_interval or `deadline`.
  void Wait(absl::Time deadline);
  void DropPartial();
  absl::Time Now() const;

  const LogReaderOptions opts_;
  const int inotify_fd_;  // -1 when inotify is unavailable
  const int wake_fd_;     // eventfd written by Cancel/WriterDone

  // Files still to read after the current one (oldest first); the last is the live file as
  // of the last snapshot.
  std::deque<File> queue_;
  File cur_;
  bool cur_is_live_ = false;  // cur_ was at `path` when opened (no queued successor)
  bool have_cur_ = false;
  std::string buf_;     // bytes of cur_ read but not yet consumed
  size_t buf_pos_ = 0;  // consumed prefix of buf_
  off_t offset_ = 0;    // file offset just after buf_
  bool done_ = false;
  bool live_in_snapshot_ = false;  // the snapshot's last file is the live one
  bool skipping_ = false;          // dropping an overlong line up to its newline
  int cur_index_hint_ = 0;         // N of the name `<path>.N` cur_ was last seen at

  std::atomic<bool> cancelled_{false};
  std::atomic<bool> writer_done_{false};
  int64_t malformed_lines_ = 0;
  int64_t skipped_files_ = 0;
};

// Parses one json-file line (without its "\n") into `entry`; false if it is not a valid entry.
bool ParseLogLine(absl::string_view line, LogEntry* entry);

}  // namespace berth::engine::logs
