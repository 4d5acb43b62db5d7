#include "shim/process/exit_record.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <google/protobuf/util/time_util.h>
#include <sys/wait.h>

#include "absl/strings/str_cat.h"
#include "common/fs/atomic_file.h"
#include "common/fs/fs.h"
#include "common/status/status_macros.h"

namespace berth::shim::process {

uint32_t ExitStatusFromWaitStatus(int wait_status) {
  if (WIFEXITED(wait_status)) return static_cast<uint32_t>(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) return 128 + static_cast<uint32_t>(WTERMSIG(wait_status));
  return 255;
}

ExitRecord MakeExitRecord(const proc::ProcessIdentity& who, int wait_status, absl::Time exited_at) {
  ExitRecord r;
  r.set_pid(static_cast<uint32_t>(who.pid));
  r.set_pid_start_time(who.start_time);
  r.set_exit_status(ExitStatusFromWaitStatus(wait_status));
  const timespec ts = absl::ToTimespec(exited_at);
  r.mutable_exited_at()->set_seconds(ts.tv_sec);
  r.mutable_exited_at()->set_nanos(static_cast<int32_t>(ts.tv_nsec));
  return r;
}

std::string ExitRecordToJson(const ExitRecord& record) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string out;
  // Printing a valid message cannot fail; the timestamp is always in range (from absl::Time).
  (void)google::protobuf::util::MessageToJsonString(record, &out, options);
  return out;
}

absl::StatusOr<ExitRecord> ExitRecordFromJson(const std::string& text) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  ExitRecord r;
  const auto s = google::protobuf::util::JsonStringToMessage(text, &r, options);
  if (!s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("parse exit record: ", s.ToString()));
  }
  return r;
}

absl::Status WriteExitRecord(const std::string& path, const ExitRecord& record) {
  absl::StatusOr<ExitRecord> existing = ReadExitRecord(path);
  if (existing.ok()) {
    if (google::protobuf::util::MessageDifferencer::Equals(*existing, record)) {
      return absl::OkStatus();
    }
    return absl::AlreadyExistsError(
        absl::StrCat("exit record ", path, " already holds pid ", existing->pid()));
  }
  if (!absl::IsNotFound(existing.status()) && !absl::IsInvalidArgument(existing.status())) {
    return existing.status();
  }
  return fs::WriteFileAtomically(path, ExitRecordToJson(record) + "\n", 0644);
}

absl::StatusOr<ExitRecord> ReadExitRecord(const std::string& path) {
  BERTH_ASSIGN_OR_RETURN(std::string text, fs::ReadFile(path));
  absl::StatusOr<ExitRecord> r = ExitRecordFromJson(text);
  if (!r.ok()) return Annotate(r.status(), path);
  return r;
}

}  // namespace berth::shim::process
