// Atomic file replacement: how every berth daemon writes its durable state (STYLE: "tmp file,
// fsync, rename"). A reader, or a daemon restarting after a crash, sees the old content or the
// new content, never a torn or empty file.
#pragma once

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::fs {

// Replaces the file at `path` with `data`, atomically with respect to crashes of this process,
// and durably once it returns OK:
//   1. writes a temp file `.<basename>.tmp-XXXXXX` in the same directory (the same directory,
//      because rename(2) is only atomic within one file system; the random suffix comes from
//      mkostemp(3), which creates with O_EXCL, so concurrent writers never share a temp file);
//   2. sets its permissions to exactly `mode` (the umask does not apply: state files must
//      have the permissions berth chose, whatever umask the daemon was started with);
//   3. fsyncs it, so the new name can never point at data that is not on disk yet;
//   4. renames it over `path` (atomic: there is no moment without a complete file);
//   5. fsyncs the directory, so the rename itself survives a power cut.
// If anything before the rename fails, the temp file is removed and `path` is untouched. If
// only step 5 fails, the new content is in place but its durability is unknown, and the error
// says so. The temp file of a process killed mid-write stays behind: daemons call
// RemoveStaleTempFiles on their state dirs at startup.
//
// `path` names a file; if it is a symlink, the link itself is replaced (rename does not follow
// it). Errors name the path and come from errno: NotFound if the directory is missing,
// FailedPrecondition if a parent is not a directory or `path` is a directory, PermissionDenied,
// ResourceExhausted (ENOSPC, EDQUOT), OutOfRange (EFBIG); InvalidArgument for an empty path,
// a path ending in "/", "." or "..", or a mode outside 07777.
// Thread-safe (concurrent writers of one path: the last rename wins, each file is whole).
absl::Status WriteFileAtomically(const std::string& path, absl::string_view data, mode_t mode);

struct AtomicWriteOptions {
  // false skips both fsyncs (steps 3 and 5): the file is still never torn by a crash of the
  // process (rename is atomic), but a power cut may lose the write. For state that does not
  // outlive a reboot anyway, like berth-runc's under /run, where two fsyncs were most of the
  // cost of a container start on a disk-backed --root.
  bool durable = true;
};
absl::Status WriteFileAtomically(const std::string& path, absl::string_view data, mode_t mode,
                                 const AtomicWriteOptions& options);

// Whether a directory entry name is a WriteFileAtomically temp file (".<name>.tmp-XXXXXX",
// suffix exactly six letters or digits). Directory scanners use it to skip in-flight writes.
bool IsAtomicTempFileName(absl::string_view name);

// Deletes the temp files that writers killed mid-write left in `dir` (regular files whose name
// passes IsAtomicTempFileName; nothing else is touched, and subdirectories are not searched).
// Returns how many it removed. Call it only while no WriteFileAtomically into `dir` can be
// running (at daemon startup): it cannot tell a crashed writer's file from a live one's, and a
// live writer whose temp file vanished fails its rename (with NotFound) instead of writing.
// Errors name the directory; removal goes on past a failed entry and returns the first error.
absl::StatusOr<int> RemoveStaleTempFiles(const std::string& dir);

}  // namespace berth::fs
