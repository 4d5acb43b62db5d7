#include "shim/io/json_file_logger.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace berth::shim::io {
namespace {

// Bytes of an entry besides its escaped "log" text, with room to spare:
// {"log":"","stream":"stderr","time":"2024-05-01T12:00:00.123456789Z"}\n is 70.
constexpr uint64_t kEntryOverhead = 128;
// An input byte grows to at most 6 bytes once escaped ("\u0001", or "\ufffd").
constexpr uint64_t kMaxEscapeGrowth = 6;

// Length of the valid UTF-8 sequence at s[i] (as Go's utf8.DecodeRune accepts: no overlong
// forms, no surrogates, nothing above U+10FFFF), or 0 if the byte there starts none.
size_t ValidUtf8Length(absl::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const size_t left = s.size() - i;
  const unsigned char c = b(0);
  const auto cont = [&](size_t k) { return k < left && (b(k) & 0xC0) == 0x80; };
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;   // overlong
    if (c == 0xED && b(1) >= 0xA0) return 0;  // surrogates
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;   // overlong
    if (c == 0xF4 && b(1) >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

// Where to end a piece of at most `max` bytes of `s` (s.size() > max): not inside a UTF-8
// sequence, unless backing off would not help (then the cut falls where it falls).
size_t PieceEnd(absl::string_view s, size_t max) {
  size_t end = max;
  for (int back = 0; back < 3 && end > 1; ++back) {
    if ((static_cast<unsigned char>(s[end]) & 0xC0) != 0x80) return end;
    --end;
  }
  return (static_cast<unsigned char>(s[end]) & 0xC0) != 0x80 ? end : max;
}

absl::Status WriteAll(int fd, absl::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(errno, absl::StrCat("write ", path));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

}  // namespace

absl::string_view LogStreamName(LogStream stream) {
  return stream == LogStream::kStderr ? "stderr" : "stdout";
}

void AppendJsonString(std::string* out, absl::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out->append("\\\"");
          break;
        case '\\':
          out->append("\\\\");
          break;
        case '\n':
          out->append("\\n");
          break;
        case '\r':
          out->append("\\r");
          break;
        case '\t':
          out->append("\\t");
          break;
        default:
          if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            out->append("\\u00");
            out->push_back(kHex[c >> 4]);
            out->push_back(kHex[c & 0xF]);
          } else {
            out->push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    const size_t len = ValidUtf8Length(s, i);
    if (len == 0) {
      out->append("\\ufffd");
      ++i;
      continue;
    }
    // U+2028 and U+2029 (E2 80 A8/A9) break JavaScript parsers; Go escapes them.
    if (len == 3 && c == 0xE2 && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
        (static_cast<unsigned char>(s[i + 2]) & 0xFE) == 0xA8) {
      out->append(static_cast<unsigned char>(s[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029");
    } else {
      out->append(s.data() + i, len);
    }
    i += len;
  }
  out->push_back('"');
}

std::string FormatLogTime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E9SZ", t, absl::UTCTimeZone());
}

std::string EncodeJsonLogEntry(absl::string_view log, LogStream stream, absl::Time time) {
  std::string out;
  out.reserve(log.size() + kEntryOverhead);
  out.append("{\"log\":");
  AppendJsonString(&out, log);
  absl::StrAppend(&out, ",\"stream\":\"", LogStreamName(stream), "\",\"time\":\"",
                  FormatLogTime(time), "\"}\n");
  return out;
}

absl::StatusOr<std::unique_ptr<JsonFileLogger>> JsonFileLogger::Create(
    const JsonFileLoggerOptions& options) {
  if (options.path.empty() || options.path[0] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("log path must be absolute: \"", options.path, "\""));
  }
  const uint64_t max_size =
      options.max_size_bytes == 0 ? kDefaultMaxSizeBytes : options.max_size_bytes;
  if (max_size < kMinMaxSizeBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("log max size ", max_size, " is below the minimum ", kMinMaxSizeBytes));
  }
  const uint32_t max_files = options.max_files == 0 ? kDefaultMaxFiles : options.max_files;
  const int fd = ::open(options.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open log ", options.path));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    return absl::ErrnoToStatus(e, absl::StrCat("stat log ", options.path));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat("log ", options.path, " is not a regular file"));
  }
  // Files a larger max_files left behind would otherwise never be rotated away.
  for (uint32_t i = max_files;; ++i) {
    const std::string old = absl::StrCat(options.path, ".", i);
    if (::unlink(old.c_str()) != 0) break;
  }
  auto clock = options.clock ? options.clock : [] { return absl::Now(); };
  return std::unique_ptr<JsonFileLogger>(new JsonFileLogger(
      options.path, max_size, max_files, std::move(clock), fd, static_cast<uint64_t>(st.st_size)));
}

JsonFileLogger::JsonFileLogger(std::string path, uint64_t max_size, uint32_t max_files,
                               std::function<absl::Time()> clock, int fd, uint64_t size)
    : path_(std::move(path)),
      max_size_(max_size),
      max_files_(max_files),
      clock_(std::move(clock)),
      max_piece_(static_cast<size_t>(
          std::min<uint64_t>(kMaxEntryBytes, (max_size - kEntryOverhead) / kMaxEscapeGrowth))),
      fd_(fd),
      size_(size) {}

JsonFileLogger::~JsonFileLogger() {
  absl::MutexLock lock(&mu_);
  if (fd_ >= 0) ::close(fd_);
}

absl::Status JsonFileLogger::Write(LogStream stream, absl::string_view chunk) {
  if (chunk.empty()) return absl::OkStatus();
  const absl::Time now = clock_();
  absl::MutexLock lock(&mu_);
  absl::Status first_error;
  while (!chunk.empty()) {
    // One line (newline included), or the rest of the chunk when it ends mid-line.
    size_t end = chunk.find('\n');
    end = end == absl::string_view::npos ? chunk.size() : end + 1;
    absl::string_view line = chunk.substr(0, end);
    chunk.remove_prefix(end);
    while (!line.empty()) {
      const size_t n = line.size() > max_piece_ ? PieceEnd(line, max_piece_) : line.size();
      absl::Status s = WriteEntryLocked(EncodeJsonLogEntry(line.substr(0, n), stream, now));
      if (!s.ok() && first_error.ok()) first_error = std::move(s);
      line.remove_prefix(n);
    }
  }
  return first_error;
}

absl::Status JsonFileLogger::WriteEntryLocked(const std::string& entry) {
  if (size_ > 0 && size_ + entry.size() > max_size_) {
    if (absl::Status s = RotateLocked(); !s.ok()) return s;
  }
  absl::Status s = WriteAll(fd_, entry, path_);
  if (s.ok()) {
    size_ += entry.size();
  } else {
    // A short write leaves an unknown size; ask the file.
    struct stat st;
    if (::fstat(fd_, &st) == 0) size_ = static_cast<uint64_t>(st.st_size);
  }
  return s;
}

absl::Status JsonFileLogger::RotateLocked() {
  if (max_files_ == 1) {
    if (::ftruncate(fd_, 0) != 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("truncate log ", path_));
    }
    size_ = 0;
    return absl::OkStatus();
  }
  // Create the new live file first, under a temporary name, so that a failure here leaves
  // everything as it was.
  const std::string tmp = absl::StrCat(path_, ".rotating");
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("rotate log: open ", tmp));
  // Shift <path>.(i-1) -> <path>.i; the rename onto <path>.(max-1) drops the oldest.
  for (uint32_t i = max_files_ - 1; i >= 2; --i) {
    const std::string from = absl::StrCat(path_, ".", i - 1);
    const std::string to = absl::StrCat(path_, ".", i);
    if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
      const int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return absl::ErrnoToStatus(e, absl::StrCat("rotate log: rename ", from));
    }
  }
  const std::string first = absl::StrCat(path_, ".1");
  if (::unlink(first.c_str()) != 0 && errno != ENOENT) {  // only left when max_files == 2
    const int e = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return absl::ErrnoToStatus(e, absl::StrCat("rotate log: remove ", first));
  }
  // link + rename instead of two renames: <path> never goes missing for readers.
  if (::link(path_.c_str(), first.c_str()) != 0 || ::rename(tmp.c_str(), path_.c_str()) != 0) {
    const int e = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return absl::ErrnoToStatus(e, absl::StrCat("rotate log ", path_));
  }
  ::close(fd_);
  fd_ = fd;
  size_ = 0;
  return absl::OkStatus();
}

}  // namespace berth::shim::io
