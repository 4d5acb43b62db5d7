// The durable record of how a process ended: `<bundle>/exit.json` for the init process (see
// proto/berth/shim/task/v1/bootstrap.proto, ExitRecord). The shim writes it the moment it reaps
// the process, before it reports the exit anywhere, so a berth-containerd that was down at that
// moment, or a `berth-shim delete` after the shim died, still gets the right exit status.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "berth/shim/task/v1/bootstrap.pb.h"
#include "common/proc/proc.h"

namespace berth::shim::process {

using ::berth::shim::task::v1::ExitRecord;

// The exit status of a waitpid(2) status: the exit code, or 128 + the signal number when the
// process was killed by a signal (Docker's convention, berth.types.v1.Process.exit_status).
// 255 for a status that is neither (stopped/continued: not an exit).
uint32_t ExitStatusFromWaitStatus(int wait_status);

// An ExitRecord for process `who`, which ended with `wait_status` at `exited_at`.
ExitRecord MakeExitRecord(const proc::ProcessIdentity& who, int wait_status, absl::Time exited_at);

// `record` as the one-line proto3 JSON that exit.json holds (lowerCamelCase names, every field
// printed, 64-bit integers as strings).
std::string ExitRecordToJson(const ExitRecord& record);

// Parses exit.json text; unknown fields are ignored (a newer shim may add some).
// InvalidArgument when it is not an ExitRecord.
absl::StatusOr<ExitRecord> ExitRecordFromJson(const std::string& text);

// Writes `record` to `path` atomically and durably (tmp file, fsync, rename, fsync of the
// directory), mode 0644. An exit is recorded once: if `path` already holds a record, OK when
// it is the same record (a retried write) and AlreadyExists when it differs. Other errors as
// fs::WriteFileAtomically (e.g. NotFound when the directory is missing). Thread-compatible:
// callers serialize writes to one path.
absl::Status WriteExitRecord(const std::string& path, const ExitRecord& record);

// Reads the record at `path`. NotFound when there is none (the process has not exited, or the
// shim died before reaping it); InvalidArgument when the file does not parse.
absl::StatusOr<ExitRecord> ReadExitRecord(const std::string& path);

}  // namespace berth::shim::process
