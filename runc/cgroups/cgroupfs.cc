// NewManager / LoadManager (manager.h): finds the cgroup mounts, resolves the container's
// directories, and builds the v1 or v2 manager.
#include <errno.h>
#include <linux/magic.h>
#include <sys/vfs.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "runc/cgroups/dirs.h"
#include "runc/cgroups/fs_ops.h"
#include "runc/cgroups/layout.h"
#include "runc/cgroups/manager.h"
#include "runc/cgroups/v1_manager.h"
#include "runc/cgroups/v2_manager.h"

namespace berth::runc::cgroups {
namespace {

constexpr char kCgroupRoot[] = "/sys/fs/cgroup";

absl::StatusOr<std::string> ReadProc(const char* path) {
  std::string text;
  if (int err = RealCgroupFs().ReadFile(path, &text); err != 0) {
    return internal::ErrnoStatus(err, "", absl::StrCat("read ", path));
  }
  return text;
}

bool IsCgroup2Mount(const char* path) {
  struct statfs st;
  return statfs(path, &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Manager>> NewManager(const Config& config, const Options& options) {
  BERTH_ASSIGN_OR_RETURN(std::string inner,
                         CleanCgroupsPath(config.cgroups_path, config.container_id));
  const bool relative = inner[0] != '/';

  Layout layout;
  if (options.mountinfo.empty() && !relative && IsCgroup2Mount(kCgroupRoot)) {
    // The common case on a unified host: no need to read mountinfo at all.
    layout.unified = true;
    layout.hierarchies.push_back(Hierarchy{true, "", kCgroupRoot, "/"});
  } else {
    std::string mountinfo = options.mountinfo;
    if (mountinfo.empty()) {
      BERTH_ASSIGN_OR_RETURN(mountinfo, ReadProc("/proc/self/mountinfo"), "find cgroup mounts");
    }
    BERTH_ASSIGN_OR_RETURN(layout, ChooseLayout(ParseCgroupMounts(mountinfo)));
  }

  std::map<std::string, std::string> own;
  if (relative) {
    std::string text = options.proc_self_cgroup;
    if (text.empty()) {
      BERTH_ASSIGN_OR_RETURN(text, ReadProc("/proc/self/cgroup"), "find the runtime's cgroup");
    }
    own = ParseProcCgroup(text);
  }

  std::vector<internal::CgroupDir> dirs;
  for (const Hierarchy& h : layout.hierarchies) {
    internal::CgroupDir d;
    d.where.controllers = h.controllers;
    d.where.mount_point = absl::StrCat(options.root_prefix, h.mount_point);
    BERTH_ASSIGN_OR_RETURN(d.where.path, ResolveDir(h, inner, own, options.root_prefix));
    // berth owns /berth-runc/<id> and /berth-runc: Destroy removes both (the parent only when
    // empty), whoever made them, so no berth-runc directory outlives its containers.
    if (config.cgroups_path.empty()) d.created = 2;
    dirs.push_back(std::move(d));
  }
  internal::Env env = internal::Env::From(options);
  if (layout.unified) return std::make_unique<V2Manager>(std::move(dirs[0]), std::move(env));
  return std::make_unique<V1Manager>(std::move(dirs), std::move(env));
}

absl::StatusOr<std::unique_ptr<Manager>> LoadManager(absl::string_view serialized,
                                                     const Options& options) {
  bool unified = false;
  std::vector<internal::CgroupDir> dirs;
  BERTH_RETURN_IF_ERROR(internal::ParseDirs(serialized, &unified, &dirs));
  internal::Env env = internal::Env::From(options);
  if (unified) return std::make_unique<V2Manager>(std::move(dirs[0]), std::move(env));
  return std::make_unique<V1Manager>(std::move(dirs), std::move(env));
}

}  // namespace berth::runc::cgroups
