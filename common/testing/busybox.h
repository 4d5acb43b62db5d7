// Busybox root filesystems for tests that run containers or build images: Debian's static
// /bin/busybox (package busybox-static) with a link per applet, the usual top-level
// directories and a small /etc/passwd and /etc/group. One builder, so every test's busybox has
// the same users and applets.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace berth::testing {

// Fills `root` (created with its parents when missing) with bin/busybox, a symlink
// bin/<applet> -> busybox for each of `applets` (empty: every applet `busybox --list` names),
// the directories etc, tmp (mode 1777), proc, sys, dev and root, an /etc/passwd with root (0),
// user (1000, home /tmp) and nobody (65534), and the matching /etc/group. FailedPrecondition
// when /bin/busybox is missing.
absl::Status MakeBusyboxRootfs(const std::string& root,
                               const std::vector<std::string>& applets = {});

// Writes the contents of `dir` (".", not the directory itself) as a tar archive at `tar_path`,
// gzip-compressed when `gzip`.
absl::Status TarDirectory(const std::string& dir, const std::string& tar_path, bool gzip = false);

// MakeBusyboxRootfs in <work_dir>/busybox-rootfs, then TarDirectory of it at `tar_path`.
absl::Status MakeBusyboxTar(const std::string& work_dir, const std::string& tar_path);

}  // namespace berth::testing
