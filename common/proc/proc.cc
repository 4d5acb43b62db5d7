#include "common/proc/proc.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/fs/fs.h"
#include "common/status/status_macros.h"

namespace berth::proc {
namespace {

// Indexes into the fields after the command name: field N of proc(5) is at N - 3.
constexpr size_t kStateField = 0;       // field 3
constexpr size_t kPpidField = 1;        // field 4
constexpr size_t kStartTimeField = 19;  // field 22

absl::Status Malformed(absl::string_view text, absl::string_view problem) {
  // The text is at most a few hundred bytes, and the whole of it is what one needs to see.
  return absl::InvalidArgumentError(
      absl::StrCat("malformed /proc stat \"", absl::CHexEscape(text), "\": ", problem));
}

}  // namespace

absl::StatusOr<ProcStat> ParseProcStat(absl::string_view text) {
  const size_t open = text.find('(');
  const size_t close = text.rfind(')');
  if (open == absl::string_view::npos || close == absl::string_view::npos || close < open) {
    return Malformed(text, "no command name in parentheses");
  }
  ProcStat stat;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text.substr(0, open)), &stat.pid) ||
      stat.pid <= 0) {
    return Malformed(text, "pid is not a positive number");
  }
  stat.comm = std::string(text.substr(open + 1, close - open - 1));

  const std::vector<absl::string_view> fields =
      absl::StrSplit(text.substr(close + 1), absl::ByAnyChar(" \n"), absl::SkipEmpty());
  if (fields.size() <= kStartTimeField) {
    return Malformed(text,
                     absl::StrCat(fields.size(), " fields after the command name, want at least ",
                                  kStartTimeField + 1));
  }
  if (fields[kStateField].size() != 1) return Malformed(text, "state is not one letter");
  stat.state = fields[kStateField][0];
  if (!absl::SimpleAtoi(fields[kPpidField], &stat.ppid)) {
    return Malformed(text, "ppid is not a number");
  }
  if (!absl::SimpleAtoi(fields[kStartTimeField], &stat.start_time)) {
    return Malformed(text, "start time (field 22) is not a number");
  }
  return stat;
}

absl::StatusOr<ProcStat> ReadProcStat(pid_t pid) {
  if (pid <= 0) return absl::InvalidArgumentError(absl::StrCat("invalid pid ", pid));
  const std::string context = absl::StrCat("process ", pid);
  BERTH_ASSIGN_OR_RETURN(const std::string text, fs::ReadFile(absl::StrCat("/proc/", pid, "/stat")),
                         context);
  // A process reaped between open and read can leave an empty read: it is gone all the same.
  if (text.empty()) return absl::NotFoundError(absl::StrCat(context, ": exited while reading"));
  absl::StatusOr<ProcStat> stat = ParseProcStat(text);
  // The kernel's own text not parsing is a berth bug (or a kernel we do not understand).
  if (!stat.ok()) return absl::InternalError(absl::StrCat(context, ": ", stat.status().message()));
  if (stat->pid != pid) {
    return absl::InternalError(absl::StrCat(context, ": /proc stat is for pid ", stat->pid));
  }
  return stat;
}

absl::StatusOr<uint64_t> ProcessStartTime(pid_t pid) {
  BERTH_ASSIGN_OR_RETURN(const ProcStat stat, ReadProcStat(pid));
  return stat.start_time;
}

absl::StatusOr<char> ProcessState(pid_t pid) {
  BERTH_ASSIGN_OR_RETURN(const ProcStat stat, ReadProcStat(pid));
  return stat.state;
}

absl::StatusOr<ProcessIdentity> ProcessIdentity::Current(pid_t pid) {
  BERTH_ASSIGN_OR_RETURN(const uint64_t start_time, ProcessStartTime(pid));
  return ProcessIdentity{pid, start_time};
}

absl::StatusOr<bool> ProcessIdentity::IsSameProcess() const {
  absl::StatusOr<ProcStat> stat = ReadProcStat(pid);
  if (absl::IsNotFound(stat.status())) return false;
  if (!stat.ok()) return stat.status();
  return stat->start_time == start_time;
}

absl::StatusOr<bool> ProcessIdentity::IsAlive() const {
  absl::StatusOr<ProcStat> stat = ReadProcStat(pid);
  if (absl::IsNotFound(stat.status())) return false;
  if (!stat.ok()) return stat.status();
  return stat->start_time == start_time && stat->state != 'Z' && stat->state != 'X';
}

std::string ProcessIdentity::ToString() const {
  return absl::StrCat("pid ", pid, " (start time ", start_time, ")");
}

}  // namespace berth::proc
