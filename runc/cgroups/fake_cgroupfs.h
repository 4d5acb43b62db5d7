// FakeCgroupFs: a cgroupfs imitation for tests that need no root. It is a real directory tree
// in a temp dir (pass root() as Options::root_prefix, with mountinfo text naming the mount
// points), whose directories act like cgroups where the managers can tell:
//   - Mkdir inside a hierarchy creates that hierarchy's interface files with their initial
//     content, as the kernel does (e.g. a new cpuset cgroup has empty cpuset.cpus).
//   - Rmdir removes those files with the directory: ENOTEMPTY while there are child
//     directories, EBUSY while cgroup.procs lists a process.
//   - WriteFile replaces a file's content (cgroup.procs: appends a line) and never creates a
//     file (ENOENT: "the kernel lacks it"); every successful write is recorded, in order.
//     FailWrites / RewriteWrites make chosen writes fail or store something else (a kernel
//     that clamps a value).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/testing/temp_dir.h"
#include "runc/cgroups/fs_ops.h"

namespace berth::runc::cgroups::testing {

using FileMap = std::map<std::string, std::string>;

class FakeCgroupFs final : public CgroupFs {
 public:
  static absl::StatusOr<std::unique_ptr<FakeCgroupFs>> Create();

  // The temp dir: Options::root_prefix.
  const std::string& root() const { return dir_.path(); }

  // A hierarchy mounted at `mount_point` (absolute, as written in mountinfo). Every cgroup of
  // it gets `files`; the root cgroup also gets `root_files` (which win).
  absl::Status AddHierarchy(const std::string& mount_point, FileMap files, FileMap root_files = {});

  // The files of a cgroup v1 hierarchy with these comma-separated controllers, with this VM's
  // kernel defaults (no blkio.weight, as on this VM), and of a cgroup2 directory.
  static FileMap V1Files(absl::string_view controllers);
  static FileMap V1RootFiles(absl::string_view controllers);
  static FileMap V2Files();

  struct Write {
    std::string path;  // relative to root(), with a leading '/'
    std::string value;
  };
  const std::vector<Write>& writes() const { return writes_; }
  // The values written to files whose path (relative to root()) ends with `suffix`, in order.
  std::vector<std::string> WritesTo(absl::string_view suffix) const;
  void ClearWrites() { writes_.clear(); }

  // Writes to files ending with `suffix` fail with `err` (the next `times` ones; -1: all).
  void FailWrites(absl::string_view suffix, int err, int times = -1);
  // Writes to files ending with `suffix` store fn(value) instead.
  void RewriteWrites(absl::string_view suffix, std::function<std::string(absl::string_view)> fn);
  // After a successful write to a file ending with `suffix`, calls fn(directory, value): a
  // test's stand-in for the kernel's reaction (e.g. cgroup.freeze -> cgroup.events).
  void OnWrite(absl::string_view suffix,
               std::function<void(const std::string& dir, absl::string_view value)> fn);

  // Test set-up, not recorded; paths relative to root() (leading '/').
  std::string Read(absl::string_view path) const;  // "" when missing
  absl::Status Put(absl::string_view path, absl::string_view content);
  bool Has(absl::string_view path) const;
  absl::Status MakeCgroup(absl::string_view path);  // Mkdir with the hierarchy's files

  // CgroupFs (absolute paths, below root()).
  int Mkdir(const std::string& path) override;
  int Rmdir(const std::string& path) override;
  int WriteFile(const std::string& path, absl::string_view value) override;
  int ReadFile(const std::string& path, std::string* out) override;
  bool Exists(const std::string& path) override;
  int ListSubdirs(const std::string& path, std::vector<std::string>* names) override;

 private:
  explicit FakeCgroupFs(berth::testing::TempDir dir) : dir_(std::move(dir)) {}
  const FileMap* FilesFor(const std::string& path) const;

  struct Hierarchy {
    std::string mount_point;  // absolute, with root()
    FileMap files;
  };
  struct Failure {
    std::string suffix;
    int err;
    int times;
  };
  struct Rewrite {
    std::string suffix;
    std::function<std::string(absl::string_view)> fn;
  };
  struct Hook {
    std::string suffix;
    std::function<void(const std::string&, absl::string_view)> fn;
  };
  berth::testing::TempDir dir_;
  std::vector<Hierarchy> hierarchies_;
  std::vector<Write> writes_;
  std::vector<Failure> failures_;
  std::vector<Rewrite> rewrites_;
  std::vector<Hook> hooks_;
};

}  // namespace berth::runc::cgroups::testing
