#include "common/testing/busybox.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/testing/child_process.h"

namespace berth::testing {
namespace {

absl::Status WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::InternalError("write " + path);
  return absl::OkStatus();
}

// Runs `argv`; Internal with its output when it fails.
absl::Status Run(const std::vector<std::string>& argv) {
  absl::StatusOr<CommandResult> r = RunCommand(argv);
  if (!r.ok()) return r.status();
  if (!r->Succeeded()) return absl::InternalError(absl::StrCat(argv[0], ": ", r->output));
  return absl::OkStatus();
}

}  // namespace

absl::Status MakeBusyboxRootfs(const std::string& root,
                               const std::vector<std::string>& applets) {
  if (access("/bin/busybox", X_OK) != 0) {
    return absl::FailedPreconditionError("/bin/busybox missing (Debian package busybox-static)");
  }
  // The parents of `root` too, like mkdir -p.
  for (size_t slash = root.find('/', 1); slash != std::string::npos;
       slash = root.find('/', slash + 1)) {
    if (mkdir(root.substr(0, slash).c_str(), 0755) != 0 && errno != EEXIST) {
      return absl::ErrnoToStatus(errno, "mkdir " + root.substr(0, slash));
    }
  }
  for (const char* d : {"", "/bin", "/etc", "/tmp", "/proc", "/sys", "/dev", "/root"}) {
    if (mkdir((root + d).c_str(), 0755) != 0 && errno != EEXIST) {
      return absl::ErrnoToStatus(errno, absl::StrCat("mkdir ", root, d));
    }
  }
  // mkdir's mode goes through the umask; the sticky bit needs chmod anyway.
  if (chmod((root + "/tmp").c_str(), 01777) != 0) {
    return absl::ErrnoToStatus(errno, "chmod " + root + "/tmp");
  }
  if (absl::Status s = Run({"/bin/cp", "/bin/busybox", root + "/bin/busybox"}); !s.ok()) return s;
  std::vector<std::string> names = applets;
  if (names.empty()) {
    absl::StatusOr<CommandResult> list = RunCommand({"/bin/busybox", "--list"});
    if (!list.ok()) return list.status();
    if (!list->Succeeded()) return absl::InternalError("busybox --list: " + list->output);
    names = absl::StrSplit(list->output, '\n', absl::SkipEmpty());
  }
  for (const std::string& applet : names) {
    if (applet == "busybox") continue;
    const std::string link = absl::StrCat(root, "/bin/", applet);
    if (symlink("busybox", link.c_str()) != 0 && errno != EEXIST) {
      return absl::ErrnoToStatus(errno, "symlink " + link);
    }
  }
  if (absl::Status s = WriteText(root + "/etc/passwd",
                                 "root:x:0:0:root:/root:/bin/sh\n"
                                 "user:x:1000:1000::/tmp:/bin/sh\n"
                                 "nobody:x:65534:65534:nobody:/:/bin/false\n");
      !s.ok()) {
    return s;
  }
  return WriteText(root + "/etc/group", "root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n");
}

absl::Status TarDirectory(const std::string& dir, const std::string& tar_path, bool gzip) {
  return Run({"/bin/tar", "-C", dir, gzip ? "-czf" : "-cf", tar_path, "."});
}

absl::Status MakeBusyboxTar(const std::string& work_dir, const std::string& tar_path) {
  const std::string root = work_dir + "/busybox-rootfs";
  if (absl::Status s = MakeBusyboxRootfs(root); !s.ok()) return s;
  return TarDirectory(root, tar_path);
}

}  // namespace berth::testing
