#include "runc/spec/mount_options.h"

#include <sys/mount.h>

#include <cstdint>

#include "runc/spec/names.h"

namespace berth::runc::spec {
namespace {

enum class Kind : uint8_t {
  kSet,       // set an MS_* flag
  kClear,     // clear an MS_* flag
  kRecSet,    // set a MOUNT_ATTR_* bit recursively
  kRecClear,  // clear a MOUNT_ATTR_* bit recursively
  kNoop,      // "defaults"
  kTmpcopyup,
  kIdmap,
  kRidmap,
};

struct Option {
  absl::string_view name;
  Kind kind;
  uint64_t value;
};

// runtime spec 1.1 config.md "Linux mount options"; the propagation names are in names.cc.
constexpr Option kOptions[] = {
    // mount(8) filesystem-independent flags.
    {"async", Kind::kClear, MS_SYNCHRONOUS},
    {"atime", Kind::kClear, MS_NOATIME},
    {"bind", Kind::kSet, MS_BIND},
    {"defaults", Kind::kNoop, 0},
    {"dev", Kind::kClear, MS_NODEV},
    {"diratime", Kind::kClear, MS_NODIRATIME},
    {"dirsync", Kind::kSet, MS_DIRSYNC},
    {"exec", Kind::kClear, MS_NOEXEC},
    {"iversion", Kind::kSet, MS_I_VERSION},
    {"lazytime", Kind::kSet, MS_LAZYTIME},
    {"loud", Kind::kClear, MS_SILENT},
    {"mand", Kind::kSet, MS_MANDLOCK},
    {"noatime", Kind::kSet, MS_NOATIME},
    {"nodev", Kind::kSet, MS_NODEV},
    {"nodiratime", Kind::kSet, MS_NODIRATIME},
    {"noexec", Kind::kSet, MS_NOEXEC},
    {"noiversion", Kind::kClear, MS_I_VERSION},
    {"nolazytime", Kind::kClear, MS_LAZYTIME},
    {"nomand", Kind::kClear, MS_MANDLOCK},
    {"norelatime", Kind::kClear, MS_RELATIME},
    {"nostrictatime", Kind::kClear, MS_STRICTATIME},
    {"nosuid", Kind::kSet, MS_NOSUID},
    {"nosymfollow", Kind::kSet, MS_NOSYMFOLLOW},
    {"rbind", Kind::kSet, MS_BIND | MS_REC},
    {"relatime", Kind::kSet, MS_RELATIME},
    {"remount", Kind::kSet, MS_REMOUNT},
    {"ro", Kind::kSet, MS_RDONLY},
    {"rw", Kind::kClear, MS_RDONLY},
    {"silent", Kind::kSet, MS_SILENT},
    {"strictatime", Kind::kSet, MS_STRICTATIME},
    {"suid", Kind::kClear, MS_NOSUID},
    {"symfollow", Kind::kClear, MS_NOSYMFOLLOW},
    {"sync", Kind::kSet, MS_SYNCHRONOUS},
    // Recursive attributes (mount_setattr(2), AT_RECURSIVE).
    {"rro", Kind::kRecSet, MOUNT_ATTR_RDONLY},
    {"rrw", Kind::kRecClear, MOUNT_ATTR_RDONLY},
    {"rnosuid", Kind::kRecSet, MOUNT_ATTR_NOSUID},
    {"rsuid", Kind::kRecClear, MOUNT_ATTR_NOSUID},
    {"rnodev", Kind::kRecSet, MOUNT_ATTR_NODEV},
    {"rdev", Kind::kRecClear, MOUNT_ATTR_NODEV},
    {"rnoexec", Kind::kRecSet, MOUNT_ATTR_NOEXEC},
    {"rexec", Kind::kRecClear, MOUNT_ATTR_NOEXEC},
    {"rnodiratime", Kind::kRecSet, MOUNT_ATTR_NODIRATIME},
    {"rdiratime", Kind::kRecClear, MOUNT_ATTR_NODIRATIME},
    {"rrelatime", Kind::kRecSet, MOUNT_ATTR_RELATIME},
    {"rnorelatime", Kind::kRecClear, MOUNT_ATTR_RELATIME},
    {"rnoatime", Kind::kRecSet, MOUNT_ATTR_NOATIME},
    {"ratime", Kind::kRecClear, MOUNT_ATTR_NOATIME},
    {"rstrictatime", Kind::kRecSet, MOUNT_ATTR_STRICTATIME},
    {"rnostrictatime", Kind::kRecClear, MOUNT_ATTR_STRICTATIME},
    {"rnosymfollow", Kind::kRecSet, MOUNT_ATTR_NOSYMFOLLOW},
    {"rsymfollow", Kind::kRecClear, MOUNT_ATTR_NOSYMFOLLOW},
    // Extensions.
    {"tmpcopyup", Kind::kTmpcopyup, 0},
    {"idmap", Kind::kIdmap, 0},
    {"ridmap", Kind::kRidmap, 0},
};

const Option* FindOption(absl::string_view name) {
  for (const Option& o : kOptions) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

}  // namespace

void ApplyMountOptions(absl::Span<const std::string> options, Mount* m) {
  m->flags = 0;
  m->clear_flags = 0;
  m->propagation.clear();
  m->bind = false;
  m->recursive = false;
  m->rec_attr_set = 0;
  m->rec_attr_clr = 0;
  m->tmpcopyup = false;
  m->idmap = false;
  m->idmap_recursive = false;
  m->data.clear();

  for (const std::string& o : options) {
    if (const Option* opt = FindOption(o)) {
      const uint64_t v = opt->value;
      switch (opt->kind) {
        case Kind::kSet:
          m->flags |= v;
          m->clear_flags &= ~v;
          if (v & MS_BIND) {
            m->bind = true;
            if (v & MS_REC) m->recursive = true;
          }
          break;
        case Kind::kClear:
          m->flags &= ~v;
          m->clear_flags |= v;
          break;
        case Kind::kRecSet:
        case Kind::kRecClear:
          if (opt->kind == Kind::kRecSet) {
            m->rec_attr_set |= v;
            m->rec_attr_clr &= ~v;
          } else {
            m->rec_attr_clr |= v;
            m->rec_attr_set &= ~v;
          }
          // mount_setattr(2): the access-time setting is a field, not a bit; changing it needs
          // MOUNT_ATTR__ATIME in attr_clr. (MOUNT_ATTR_RELATIME is 0, so it lands here too.)
          if ((v & MOUNT_ATTR__ATIME) == v) m->rec_attr_clr |= MOUNT_ATTR__ATIME;
          break;
        case Kind::kNoop:
          break;
        case Kind::kTmpcopyup:
          m->tmpcopyup = true;
          break;
        case Kind::kIdmap:
          m->idmap = true;
          break;
        case Kind::kRidmap:
          m->idmap = true;
          m->idmap_recursive = true;
          break;
      }
      continue;
    }
    if (auto p = PropagationFromName(o)) {
      m->propagation.push_back(*p);
      continue;
    }
    if (!m->data.empty()) m->data.push_back(',');
    m->data.append(o);
  }
}

std::vector<absl::string_view> KnownMountOptions() {
  std::vector<absl::string_view> names;
  names.reserve(sizeof(kOptions) / sizeof(kOptions[0]) + PropagationNames().size());
  for (const Option& o : kOptions) names.push_back(o.name);
  for (const NamedValue& p : PropagationNames()) names.push_back(p.name);
  return names;
}

}  // namespace berth::runc::spec
