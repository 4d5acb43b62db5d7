// Mount is one mount(2) call to make, in mount(8) terms: the plain C++ mirror of
// berth.types.v1.Mount (field for field, so converting is lossless). Snapshotters return lists of
// them and MountAll (mount.h) performs them; this header has no dependencies so that pure
// interfaces (containerd/snapshots/snapshotter.h) can use the type.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace berth::mount_util {

struct Mount {
  // File system type: "overlay", "bind", "tmpfs", ...
  std::string type;
  // Source path or device; "overlay" for overlay mounts.
  std::string source;
  // Path relative to the directory the mounts are assembled at; empty: that directory itself.
  std::string target;
  // mount(8)-style options: flags ("ro", "rw", "rbind", "nosuid", ...) and file-system data
  // ("lowerdir=/a:/b", "upperdir=...", "workdir=...").
  std::vector<std::string> options;

  friend bool operator==(const Mount& a, const Mount& b) {
    return a.type == b.type && a.source == b.source && a.target == b.target &&
           a.options == b.options;
  }
  friend std::ostream& operator<<(std::ostream& os, const Mount& m) {
    os << "{type=" << m.type << " source=" << m.source << " target=" << m.target << " options=[";
    for (size_t i = 0; i < m.options.size(); ++i) os << (i ? "," : "") << m.options[i];
    return os << "]}";
  }
};

}  // namespace berth::mount_util
