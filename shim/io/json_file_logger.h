// JsonFileLogger writes a process's output the way Docker's json-file log driver does, so that
// berthd's `logs` (and any tool that reads Docker's logs) can read it: one JSON object per line,
//   {"log":"<output>","stream":"stdout"|"stderr","time":"<RFC 3339, 9 fractional digits, UTC>"}
// with the fields in that order and no "attrs" (Docker writes "attrs" only for --log-opt
// labels/env, which berth does not support). See berth.types.v1.LogConfig.
//
// Entries: each output line becomes one entry whose "log" ends in "\n". A piece of output
// without its newline yet (the chunk ended mid-line) is written as is, without "\n", like
// Docker's partial messages; a reader joins entries up to the next one that ends in "\n". Lines
// are also cut every 16 KiB (Docker's limit), at a UTF-8 character boundary when possible.
// Strings are escaped as Go's encoding/json does (Docker's writer): '"', '\\', control
// characters, '<', '>', '&', U+2028 and U+2029 as escapes, invalid UTF-8 bytes as \ufffd,
// valid UTF-8 as is.
//
// Rotation: before an entry would make the live file larger than max_size_bytes, the files
// shift (`<path>.<n-2>` -> `<path>.<n-1>`, ..., `<path>` -> `<path>.1`, the oldest dropped) and
// a new empty `<path>` replaces the old one. Every step is a rename(2) or link(2), so `<path>`
// always exists and no file is ever torn, and the files on disk never hold more than
// max_size_bytes × max_files bytes. With max_files 1 the live file is truncated instead.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace berth::shim::io {

enum class LogStream { kStdout, kStderr };

// "stdout" or "stderr".
absl::string_view LogStreamName(LogStream stream);

struct JsonFileLoggerOptions {
  // Absolute path of the live log file; its directory must exist.
  std::string path;
  // 0 means kDefaultMaxSizeBytes; otherwise at least kMinMaxSizeBytes.
  uint64_t max_size_bytes = 0;
  // Files kept, the live one included; 0 means kDefaultMaxFiles.
  uint32_t max_files = 0;
  // Source of entry timestamps; absl::Now when empty. Tests inject a fixed clock.
  std::function<absl::Time()> clock;
};

class JsonFileLogger {
 public:
  static constexpr uint64_t kDefaultMaxSizeBytes = 10 * 1024 * 1024;
  static constexpr uint32_t kDefaultMaxFiles = 3;
  // Docker cuts log lines into messages of at most 16 KiB.
  static constexpr size_t kMaxEntryBytes = 16 * 1024;
  // Below this, an entry could not fit a file (an escaped byte takes up to 6 bytes).
  static constexpr uint64_t kMinMaxSizeBytes = 4096;

  // Opens (creating with mode 0640, or appending to) the log at options.path; an existing log
  // is continued, and rotated files beyond max_files (left by a larger setting) are removed.
  // InvalidArgument (relative path, max_size_bytes below the minimum), NotFound (directory
  // missing), other errno-derived codes.
  static absl::StatusOr<std::unique_ptr<JsonFileLogger>> Create(
      const JsonFileLoggerOptions& options);

  ~JsonFileLogger();
  JsonFileLogger(const JsonFileLogger&) = delete;
  JsonFileLogger& operator=(const JsonFileLogger&) = delete;

  // Appends `chunk` (raw output bytes, any length, not aligned to lines) read from `stream`,
  // stamped with one clock reading. Entries are written with one write(2) each, so concurrent
  // writers (the stdout and stderr pumps) never interleave inside an entry. Thread-safe.
  // Errors are errno-derived (e.g. ResourceExhausted on ENOSPC) and name the path; the logger
  // stays usable afterwards.
  absl::Status Write(LogStream stream, absl::string_view chunk);

  const std::string& path() const { return path_; }
  uint64_t max_size_bytes() const { return max_size_; }
  uint32_t max_files() const { return max_files_; }

 private:
  JsonFileLogger(std::string path, uint64_t max_size, uint32_t max_files,
                 std::function<absl::Time()> clock, int fd, uint64_t size);

  absl::Status WriteEntryLocked(const std::string& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status RotateLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  const uint64_t max_size_;
  const uint32_t max_files_;
  const std::function<absl::Time()> clock_;
  // Longest raw piece per entry: 16 KiB, less when a small max_size needs it.
  const size_t max_piece_;

  absl::Mutex mu_;
  int fd_ ABSL_GUARDED_BY(mu_);
  uint64_t size_ ABSL_GUARDED_BY(mu_);
};

// Appends `s` to `out` as a JSON string literal (quotes included), escaped as described above.
void AppendJsonString(std::string* out, absl::string_view s);

// "2024-05-01T12:00:00.123456789Z": RFC 3339 in UTC with exactly nine fractional digits.
std::string FormatLogTime(absl::Time t);

// One complete entry, "\n" included.
std::string EncodeJsonLogEntry(absl::string_view log, LogStream stream, absl::Time time);

}  // namespace berth::shim::io
