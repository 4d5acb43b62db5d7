#include "engine/logs/json_log_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/fs/fs.h"
#include "common/status/status_macros.h"
#include "nlohmann/json.hpp"

namespace berth::engine::logs {
namespace {

constexpr size_t kBlock = 64 * 1024;
// Longer lines are not entries (the writer's are at most ~100 KiB: 16 KiB escaped 6-fold).
constexpr size_t kMaxLine = 1 << 20;
// Attempts at a consistent view of files that a rotation renames under us.
constexpr int kSnapshotAttempts = 20;

std::string Dirname(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string Basename(const std::string& path) { return path.substr(path.rfind('/') + 1); }

std::string RotatedName(const std::string& path, int n) {
  return n == 0 ? path : absl::StrCat(path, ".", n);
}

// Numbers N of the `<base>.N` files in `dir`, N >= 1, sorted descending (oldest first).
absl::StatusOr<std::vector<int>> RotatedIndexes(const std::string& dir, const std::string& base) {
  BERTH_ASSIGN_OR_RETURN(std::vector<std::string> names, fs::ListDir(dir));
  std::vector<int> out;
  const std::string prefix = base + ".";
  for (absl::string_view name : names) {
    if (!absl::ConsumePrefix(&name, prefix) || name.empty()) continue;
    if (!std::all_of(name.begin(), name.end(), [](char c) { return absl::ascii_isdigit(c); })) {
      continue;
    }
    int n;
    if (absl::SimpleAtoi(name, &n) && n >= 1) out.push_back(n);
  }
  std::sort(out.rbegin(), out.rend());
  return out;
}

bool SameFile(const struct stat& st, dev_t dev, ino_t ino) {
  return st.st_dev == dev && st.st_ino == ino;
}

absl::StatusOr<size_t> PRead(int fd, char* buf, size_t n, off_t offset, const std::string& name) {
  while (true) {
    const ssize_t r = ::pread(fd, buf, n, offset);
    if (r >= 0) return static_cast<size_t>(r);
    if (errno != EINTR) return absl::ErrnoToStatus(errno, absl::StrCat("read log ", name));
  }
}

// Walks the complete ("\n"-terminated) lines of a file from the last to the first, reading
// blocks backwards from the end, so that a tail touches only the end of the files.
class BackwardLines {
 public:
  BackwardLines(int fd, off_t size, std::string name)
      : fd_(fd), hi_(size), buf_start_(size), name_(std::move(name)) {}

  // Drops the unterminated end of the file (a line being written, or torn). Call once.
  absl::Status SkipUnterminated() {
    if (hi_ == 0) return absl::OkStatus();
    while (true) {
      const size_t pos = buf_.rfind('\n');
      if (pos != std::string::npos) {
        hi_ = buf_start_ + static_cast<off_t>(pos) + 1;
        buf_.resize(pos + 1);
        return absl::OkStatus();
      }
      if (buf_start_ == 0) {
        hi_ = 0;
        buf_.clear();
        return absl::OkStatus();
      }
      BERTH_RETURN_IF_ERROR(LoadBlock());
    }
  }

  // The previous line (without "\n") and its start offset; false before the first line.
  absl::StatusOr<bool> Prev(off_t* start, std::string* line) {
    if (hi_ == 0) return false;
    // buf_ holds [buf_start_, hi_); its last byte is the '\n' of the line wanted.
    while (true) {
      const size_t limit = static_cast<size_t>(hi_ - buf_start_) - 1;  // before that '\n'
      const size_t pos = limit == 0 ? std::string::npos : buf_.rfind('\n', limit - 1);
      if (pos != std::string::npos || buf_start_ == 0) {
        const size_t begin = pos == std::string::npos ? 0 : pos + 1;
        *start = buf_start_ + static_cast<off_t>(begin);
        line->assign(buf_, begin, limit - begin);
        hi_ = *start;
        buf_.resize(begin);
        return true;
      }
      BERTH_RETURN_IF_ERROR(LoadBlock());
    }
  }

 private:
  absl::Status LoadBlock() {
    const off_t from = std::max<off_t>(0, buf_start_ - static_cast<off_t>(kBlock));
    std::string block(static_cast<size_t>(buf_start_ - from), '\0');
    size_t got = 0;
    while (got < block.size()) {
      BERTH_ASSIGN_OR_RETURN(size_t n, PRead(fd_, block.data() + got, block.size() - got,
                                             from + static_cast<off_t>(got), name_));
      if (n == 0) break;  // truncated meanwhile: treat the rest as empty
      got += n;
    }
    buf_.insert(0, block);
    buf_start_ = from;
    return absl::OkStatus();
  }

  const int fd_;
  off_t hi_;         // end of the lines not yet returned
  off_t buf_start_;  // file offset of buf_[0]
  std::string buf_;
  const std::string name_;
};

// Go's RFC3339Nano fraction: up to 9 digits, trailing zeros dropped, no '.' when zero.
std::string TrimmedFraction(absl::Time t) {
  std::string frac = absl::FormatTime("%E9f", t, absl::UTCTimeZone());
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
  return frac.empty() ? "" : absl::StrCat(".", frac);
}

}  // namespace

std::string FormatLogTimestamp(absl::Time t) {
  return absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%S", t, absl::UTCTimeZone()),
                      TrimmedFraction(t), "Z");
}

bool ParseLogLine(absl::string_view line, LogEntry* entry) {
  const nlohmann::json j =
      nlohmann::json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return false;
  auto log = j.find("log");
  auto stream = j.find("stream");
  auto time = j.find("time");
  if (log == j.end() || !log->is_string() || stream == j.end() || !stream->is_string() ||
      time == j.end() || !time->is_string()) {
    return false;
  }
  const std::string& s = stream->get_ref<const std::string&>();
  if (s == "stdout") {
    entry->stream = LogStream::kStdout;
  } else if (s == "stderr") {
    entry->stream = LogStream::kStderr;
  } else {
    return false;
  }
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, time->get_ref<const std::string&>(), &entry->time,
                       &err)) {
    return false;
  }
  entry->data = log->get<std::string>();
  entry->partial = entry->data.empty() || entry->data.back() != '\n';
  return true;
}

absl::StatusOr<std::unique_ptr<LogReader>> LogReader::Open(LogReaderOptions options) {
  if (options.path.empty() || options.path[0] != '/' || options.path.back() == '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("log path must be an absolute file path: \"", options.path, "\""));
  }
  if (options.tail && *options.tail < 0) {
    return absl::InvalidArgumentError(absl::StrCat("invalid tail ", *options.tail));
  }
  if (!options.stdout && !options.stderr) options.stdout = options.stderr = true;
  int inotify_fd = -1;
  int wake_fd = -1;
  if (options.follow) {
    wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd < 0) return absl::ErrnoToStatus(errno, "eventfd");
    // Writes and renames in the log directory wake the follower; without inotify it polls.
    inotify_fd = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (inotify_fd >= 0 &&
        ::inotify_add_watch(inotify_fd, Dirname(options.path).c_str(),
                            IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
                                IN_CLOSE_WRITE) < 0) {
      ::close(inotify_fd);
      inotify_fd = -1;
    }
  }
  std::unique_ptr<LogReader> r(new LogReader(std::move(options), inotify_fd, wake_fd));
  BERTH_RETURN_IF_ERROR(r->OpenSnapshot());
  if (r->opts_.tail) {
    BERTH_RETURN_IF_ERROR(r->SeekTail(*r->opts_.tail));
  } else if (r->opts_.since != absl::InfinitePast()) {
    // Start at `since` found from the end, so older files are not parsed at all.
    BERTH_RETURN_IF_ERROR(r->SeekTail(std::numeric_limits<int64_t>::max()));
  }
  if (!r->queue_.empty()) {
    r->cur_ = std::move(r->queue_.front());
    r->queue_.pop_front();
    r->have_cur_ = true;
    r->cur_is_live_ = r->queue_.empty() && r->live_in_snapshot_;
    r->offset_ = r->cur_.start;
    r->cur_index_hint_ = r->cur_.index;
  }
  return r;
}

LogReader::LogReader(LogReaderOptions options, int inotify_fd, int wake_fd)
    : opts_(std::move(options)), inotify_fd_(inotify_fd), wake_fd_(wake_fd) {}

LogReader::~LogReader() {
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

absl::Time LogReader::Now() const { return opts_.clock ? opts_.clock() : absl::Now(); }

absl::Status LogReader::OpenSnapshot() {
  const std::string dir = Dirname(opts_.path);
  const std::string base = Basename(opts_.path);
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<std::vector<int>> indexes = RotatedIndexes(dir, base);
    if (absl::IsNotFound(indexes.status())) {
      return absl::NotFoundError(absl::StrCat("log directory ", dir, " does not exist"));
    }
    BERTH_RETURN_IF_ERROR(indexes.status());
    indexes->push_back(0);  // the live file last
    std::deque<File> files;
    bool consistent = true;
    live_in_snapshot_ = false;
    for (int n : *indexes) {
      const std::string name = RotatedName(opts_.path, n);
      const int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        if (errno != ENOENT) return absl::ErrnoToStatus(errno, absl::StrCat("open log ", name));
        if (n != 0) consistent = false;  // renamed away between listing and opening
        continue;
      }
      File f;
      f.fd.reset(fd);
      f.name = name;
      f.index = n;
      struct stat st;
      if (::fstat(fd, &st) != 0) return absl::ErrnoToStatus(errno, absl::StrCat("stat ", name));
      f.dev = st.st_dev;
      f.ino = st.st_ino;
      for (const File& other : files) {
        if (other.dev == f.dev && other.ino == f.ino) consistent = false;  // mid-rotation
      }
      if (n == 0) live_in_snapshot_ = true;
      files.push_back(std::move(f));
    }
    // A rotation between the opens shifts names: check every file is still where it was and
    // that no older file appeared.
    absl::StatusOr<std::vector<int>> again = RotatedIndexes(dir, base);
    BERTH_RETURN_IF_ERROR(again.status());
    again->push_back(0);
    if (*again != *indexes) consistent = false;
    for (const File& f : files) {
      struct stat st;
      if (::stat(f.name.c_str(), &st) != 0 || !SameFile(st, f.dev, f.ino)) consistent = false;
    }
    if (consistent || attempt + 1 >= kSnapshotAttempts) {
      queue_ = std::move(files);
      return absl::OkStatus();
    }
    ::usleep(1000);
  }
}

absl::Status LogReader::SeekTail(int64_t n) {
  if (queue_.empty()) return absl::OkStatus();
  // Start of the tail: index into queue_ and offset in that file.
  size_t start_file = 0;
  off_t start_offset = 0;
  int64_t count = 0;
  bool found = false;
  for (size_t i = queue_.size(); i-- > 0 && !found;) {
    File& f = queue_[i];
    struct stat st;
    if (::fstat(f.fd.get(), &st) != 0) return absl::ErrnoToStatus(errno, "stat " + f.name);
    BackwardLines lines(f.fd.get(), st.st_size, f.name);
    BERTH_RETURN_IF_ERROR(lines.SkipUnterminated());
    if (n == 0) {
      // Nothing of the past: start after the last complete line of the newest file.
      off_t end = 0;
      std::string line;
      BERTH_ASSIGN_OR_RETURN(bool any, lines.Prev(&end, &line));
      if (any) end += static_cast<off_t>(line.size()) + 1;
      start_file = i;
      start_offset = end;
      found = true;
      break;
    }
    while (true) {
      off_t line_start = 0;
      std::string line;
      BERTH_ASSIGN_OR_RETURN(bool more, lines.Prev(&line_start, &line));
      if (!more) break;
      LogEntry e;
      if (!ParseLogLine(line, &e)) continue;
      if (e.time >= opts_.until) continue;
      if (e.time < opts_.since) {
        // Older entries only from here back: the tail starts after this line.
        start_file = i;
        start_offset = line_start + static_cast<off_t>(line.size()) + 1;
        found = true;
        break;
      }
      if (!Wanted(e)) continue;
      if (++count == n) {
        start_file = i;
        start_offset = line_start;
        found = true;
        break;
      }
    }
  }
  if (!found) return absl::OkStatus();  // fewer than n entries: everything
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(start_file));
  queue_.front().start = start_offset;
  return absl::OkStatus();
}

bool LogReader::Wanted(const LogEntry& e) const {
  if (e.stream == LogStream::kStdout && !opts_.stdout) return false;
  if (e.stream == LogStream::kStderr && !opts_.stderr) return false;
  return e.time >= opts_.since && e.time < opts_.until;
}

absl::StatusOr<size_t> LogReader::ReadMore() {
  if (!have_cur_) return 0;
  if (buf_pos_ > 0 && buf_pos_ * 2 >= buf_.size()) {
    buf_.erase(0, buf_pos_);
    buf_pos_ = 0;
  }
  const size_t old = buf_.size();
  buf_.resize(old + kBlock);
  absl::StatusOr<size_t> n = PRead(cur_.fd.get(), buf_.data() + old, kBlock, offset_, cur_.name);
  buf_.resize(old + (n.ok() ? *n : 0));
  if (n.ok()) offset_ += static_cast<off_t>(*n);
  return n;
}

bool LogReader::TakeLine(std::string* line) {
  while (true) {
    const size_t nl = buf_.find('\n', buf_pos_);
    if (nl == std::string::npos) {
      if (buf_.size() - buf_pos_ > kMaxLine) {
        // Not an entry; drop it up to its newline.
        ++malformed_lines_;
        skipping_ = true;
        buf_.clear();
        buf_pos_ = 0;
      }
      return false;
    }
    const size_t begin = buf_pos_;
    buf_pos_ = nl + 1;
    if (skipping_) {
      skipping_ = false;
      continue;
    }
    line->assign(buf_, begin, nl - begin);
    return true;
  }
}

void LogReader::DropPartial() {
  if (buf_pos_ < buf_.size() && !skipping_) ++malformed_lines_;
  buf_.clear();
  buf_pos_ = 0;
  skipping_ = false;
}

bool LogReader::LiveReplaced() const {
  struct stat st;
  if (::stat(opts_.path.c_str(), &st) != 0) return false;  // removed: nothing to switch to
  return !have_cur_ || !SameFile(st, cur_.dev, cur_.ino);
}

absl::Status LogReader::OpenSuccessor() {
  const std::string dir = Dirname(opts_.path);
  const std::string base = Basename(opts_.path);
  for (int attempt = 0; attempt < kSnapshotAttempts; ++attempt) {
    if (attempt > 0) ::usleep(1000);
    // Which name the current file has now. Usually it moved by a rotation or two from where
    // it was last seen: probe there before listing the directory.
    int cur_index = -1;
    int oldest = -1;
    if (have_cur_) {
      for (int n = cur_index_hint_; n <= cur_index_hint_ + 3 && cur_index < 0; ++n) {
        struct stat st;
        if (::stat(RotatedName(opts_.path, n).c_str(), &st) == 0 &&
            SameFile(st, cur_.dev, cur_.ino)) {
          cur_index = n;
        }
      }
    }
    if (cur_index < 0) {
      BERTH_ASSIGN_OR_RETURN(std::vector<int> indexes, RotatedIndexes(dir, base));
      indexes.push_back(0);
      for (int n : indexes) {
        struct stat st;
        if (::stat(RotatedName(opts_.path, n).c_str(), &st) != 0) continue;
        if (oldest < 0) oldest = n;
        if (have_cur_ && SameFile(st, cur_.dev, cur_.ino)) cur_index = n;
      }
    }
    if (cur_index >= 0) cur_index_hint_ = cur_index;
    if (cur_index == 0) {
      cur_is_live_ = true;  // the current file is the live one after all
      return absl::OkStatus();
    }
    int target;
    bool dropped = false;
    if (cur_index > 0) {
      target = cur_index - 1;
    } else if (have_cur_) {
      // Not under any name. Unless it was really removed (rotated out), a rotation renamed it
      // while the names were being looked at: look again.
      struct stat st;
      if (::fstat(cur_.fd.get(), &st) == 0 && st.st_nlink > 0) continue;
      if (oldest < 0) return absl::OkStatus();  // nothing to read yet
      target = oldest;  // everything still present is newer than the current file
      dropped = true;
    } else {
      if (oldest < 0) return absl::OkStatus();  // no log file yet
      target = oldest;
    }
    const std::string name = RotatedName(opts_.path, target);
    const int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) continue;
      return absl::ErrnoToStatus(errno, absl::StrCat("open log ", name));
    }
    fs::UniqueFd owned(fd);
    struct stat st;
    if (::fstat(fd, &st) != 0) return absl::ErrnoToStatus(errno, absl::StrCat("stat ", name));
    if (cur_index > 0) {
      // Rotations rename from the oldest name down, so while the current file is still at
      // cur_index (checked after the open), the file opened at cur_index - 1 is the one that
      // followed it.
      struct stat now;
      if (::stat(RotatedName(opts_.path, cur_index).c_str(), &now) != 0 ||
          !SameFile(now, cur_.dev, cur_.ino)) {
        continue;
      }
    }
    if (have_cur_ && SameFile(st, cur_.dev, cur_.ino)) {
      // Mid-rotation the live file has two names (linked to <path>.1, not yet replaced at
      // <path>): it is still the newest file, there is no successor yet.
      cur_is_live_ = target == 0;
      return absl::OkStatus();
    }
    if (dropped) ++skipped_files_;
    cur_.fd = std::move(owned);
    cur_.dev = st.st_dev;
    cur_.ino = st.st_ino;
    cur_.name = name;
    have_cur_ = true;
    cur_is_live_ = target == 0;
    cur_index_hint_ = target;
    offset_ = 0;
    buf_.clear();
    buf_pos_ = 0;
    return absl::OkStatus();
  }
  return absl::OkStatus();  // persistent churn: try again on the next wake-up
}

void LogReader::Wait(absl::Time deadline) {
  absl::Duration d = opts_.poll_interval;
  if (deadline != absl::InfiniteFuture()) d = std::min(d, deadline - absl::Now());
  if (opts_.until != absl::InfiniteFuture()) d = std::min(d, opts_.until - Now());
  if (d < absl::ZeroDuration()) d = absl::ZeroDuration();
  struct pollfd fds[2];
  int nfds = 0;
  fds[nfds++] = {wake_fd_, POLLIN, 0};
  if (inotify_fd_ >= 0) fds[nfds++] = {inotify_fd_, POLLIN, 0};
  const int64_t ms = absl::ToInt64Milliseconds(absl::Ceil(d, absl::Milliseconds(1)));
  if (::poll(fds, static_cast<nfds_t>(nfds), static_cast<int>(std::min<int64_t>(ms, 60000))) >
      0) {
    // Drain both: the flags behind the eventfd are sticky, the events only mean "look again".
    char drain[4096];
    while (::read(wake_fd_, drain, sizeof(uint64_t)) > 0) {
    }
    if (inotify_fd_ >= 0) {
      while (::read(inotify_fd_, drain, sizeof(drain)) > 0) {
      }
    }
  }
}

absl::StatusOr<LogEntry> LogReader::Next(absl::Time deadline) {
  std::string line;
  while (true) {
    if (cancelled_.load()) return absl::CancelledError("log reading cancelled");
    if (done_) return absl::OutOfRangeError("end of log");
    if (TakeLine(&line)) {
      LogEntry e;
      if (!ParseLogLine(line, &e)) {
        ++malformed_lines_;
        continue;
      }
      if (opts_.follow && e.time >= opts_.until) {
        done_ = true;
        continue;
      }
      if (!Wanted(e)) continue;
      if (opts_.timestamps) e.data = absl::StrCat(FormatLogTimestamp(e.time), " ", e.data);
      return e;
    }
    BERTH_ASSIGN_OR_RETURN(size_t n, ReadMore());
    if (n > 0) continue;

    // End of the current file.
    if (!queue_.empty()) {
      DropPartial();  // a rotated file's unterminated end is a torn write
      cur_ = std::move(queue_.front());
      queue_.pop_front();
      have_cur_ = true;
      cur_is_live_ = queue_.empty() && live_in_snapshot_;
      offset_ = cur_.start;
      cur_index_hint_ = cur_.index;
      continue;
    }
    if (!have_cur_ || !cur_is_live_) {
      // No live file yet, or the current one is a rotated file: move on to its successor.
      const bool had = have_cur_;
      const dev_t dev = cur_.dev;
      const ino_t ino = cur_.ino;
      const bool was_live = cur_is_live_;
      BERTH_RETURN_IF_ERROR(OpenSuccessor());
      const bool switched = have_cur_ && (!had || cur_.dev != dev || cur_.ino != ino);
      if (switched || (cur_is_live_ && !was_live)) continue;
      // No newer file: without follow, or once the writer is gone (its files no longer
      // change; the live one may have been removed with the container), that is the end.
      if (!opts_.follow || writer_done_.load()) {
        DropPartial();
        done_ = true;
        continue;
      }
    } else {
      if (!opts_.follow) {
        done_ = true;  // an unterminated last line is still being written: not returned
        continue;
      }
      struct stat st;
      if (::fstat(cur_.fd.get(), &st) == 0 && st.st_size < offset_) {
        // Truncated (max_files 1 rotates by truncation): start over at its beginning.
        offset_ = 0;
        buf_.clear();
        buf_pos_ = 0;
        continue;
      }
      if (LiveReplaced()) {
        // Rotated: nothing is written to this file any more; finish it and go on.
        BERTH_ASSIGN_OR_RETURN(size_t got, ReadMore());
        if (got > 0) continue;
        DropPartial();
        cur_is_live_ = false;
        continue;
      }
      if (writer_done_.load()) {
        BERTH_ASSIGN_OR_RETURN(size_t got, ReadMore());
        if (got > 0) continue;
        if (LiveReplaced()) continue;
        DropPartial();
        done_ = true;
        continue;
      }
    }
    if (Now() >= opts_.until) {
      done_ = true;
      continue;
    }
    if (absl::Now() >= deadline) return absl::DeadlineExceededError("no log entry yet");
    Wait(deadline);
  }
}

absl::Status LogReader::ForEach(const std::function<bool(const LogEntry&)>& fn) {
  while (true) {
    absl::StatusOr<LogEntry> e = Next();
    if (absl::IsOutOfRange(e.status())) return absl::OkStatus();
    if (!e.ok()) return e.status();
    if (!fn(*e)) return absl::OkStatus();
  }
}

void LogReader::Cancel() {
  cancelled_.store(true);
  if (wake_fd_ >= 0) {
    const uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof(one));
  }
}

void LogReader::WriterDone() {
  writer_done_.store(true);
  if (wake_fd_ >= 0) {
    const uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof(one));
  }
}

}  // namespace berth::engine::logs
