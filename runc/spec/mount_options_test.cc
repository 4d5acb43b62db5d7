#include "runc/spec/mount_options.h"

#include <sys/mount.h>

#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::runc::spec {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

struct Case {
  std::vector<std::string> options;
  unsigned long flags;
  unsigned long clear_flags;
  std::string data;
};

// One row per option of runtime spec 1.1's "Linux mount options" table that maps to an
// MS_* flag, plus combinations where the later option wins.
TEST(MountOptionsTest, FlagTable) {
  const Case cases[] = {
      {{}, 0, 0, ""},
      {{"ro"}, MS_RDONLY, 0, ""},
      {{"rw"}, 0, MS_RDONLY, ""},
      {{"ro", "rw"}, 0, MS_RDONLY, ""},
      {{"rw", "ro"}, MS_RDONLY, 0, ""},
      {{"nosuid"}, MS_NOSUID, 0, ""},
      {{"suid"}, 0, MS_NOSUID, ""},
      {{"nodev"}, MS_NODEV, 0, ""},
      {{"dev"}, 0, MS_NODEV, ""},
      {{"noexec"}, MS_NOEXEC, 0, ""},
      {{"exec"}, 0, MS_NOEXEC, ""},
      {{"sync"}, MS_SYNCHRONOUS, 0, ""},
      {{"async"}, 0, MS_SYNCHRONOUS, ""},
      {{"dirsync"}, MS_DIRSYNC, 0, ""},
      {{"remount"}, MS_REMOUNT, 0, ""},
      {{"mand"}, MS_MANDLOCK, 0, ""},
      {{"nomand"}, 0, MS_MANDLOCK, ""},
      {{"noatime"}, MS_NOATIME, 0, ""},
      {{"atime"}, 0, MS_NOATIME, ""},
      {{"nodiratime"}, MS_NODIRATIME, 0, ""},
      {{"diratime"}, 0, MS_NODIRATIME, ""},
      {{"relatime"}, MS_RELATIME, 0, ""},
      {{"norelatime"}, 0, MS_RELATIME, ""},
      {{"strictatime"}, MS_STRICTATIME, 0, ""},
      {{"nostrictatime"}, 0, MS_STRICTATIME, ""},
      {{"lazytime"}, MS_LAZYTIME, 0, ""},
      {{"nolazytime"}, 0, MS_LAZYTIME, ""},
      {{"iversion"}, MS_I_VERSION, 0, ""},
      {{"noiversion"}, 0, MS_I_VERSION, ""},
      {{"silent"}, MS_SILENT, 0, ""},
      {{"loud"}, 0, MS_SILENT, ""},
      {{"nosymfollow"}, MS_NOSYMFOLLOW, 0, ""},
      {{"symfollow"}, 0, MS_NOSYMFOLLOW, ""},
      {{"defaults"}, 0, 0, ""},
      {{"nosuid", "noexec", "nodev", "ro"}, MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY, 0, ""},
      {{"nosuid", "strictatime", "mode=755", "size=65536k"},
       MS_NOSUID | MS_STRICTATIME,
       0,
       "mode=755,size=65536k"},
      {{"newinstance", "ptmxmode=0666", "mode=0620", "gid=5"},
       0,
       0,
       "newinstance,ptmxmode=0666,mode=0620,gid=5"},
      {{"acl", "defaults", "x-foo"}, 0, 0, "acl,x-foo"},
      {{"RO"}, 0, 0, "RO"},  // case matters, like mount(8)
  };
  for (const Case& c : cases) {
    Mount m;
    ApplyMountOptions(c.options, &m);
    const std::string name = ::testing::PrintToString(c.options);
    EXPECT_EQ(m.flags, c.flags) << name;
    EXPECT_EQ(m.clear_flags, c.clear_flags) << name;
    EXPECT_EQ(m.data, c.data) << name;
    EXPECT_FALSE(m.bind) << name;
    EXPECT_THAT(m.propagation, IsEmpty()) << name;
    EXPECT_EQ(m.rec_attr_set, 0u) << name;
    EXPECT_EQ(m.rec_attr_clr, 0u) << name;
  }
}

TEST(MountOptionsTest, Bind) {
  Mount m;
  ApplyMountOptions({"bind", "ro"}, &m);
  EXPECT_TRUE(m.bind);
  EXPECT_FALSE(m.recursive);
  EXPECT_EQ(m.flags, static_cast<unsigned long>(MS_BIND | MS_RDONLY));

  ApplyMountOptions({"rbind", "nosuid"}, &m);  // overwrites the previous result
  EXPECT_TRUE(m.bind);
  EXPECT_TRUE(m.recursive);
  EXPECT_EQ(m.flags, static_cast<unsigned long>(MS_BIND | MS_REC | MS_NOSUID));
}

TEST(MountOptionsTest, PropagationInOrder) {
  Mount m;
  ApplyMountOptions({"rbind", "private", "rslave", "shared", "rshared", "slave", "rprivate",
                     "unbindable", "runbindable"},
                    &m);
  EXPECT_THAT(m.propagation,
              ElementsAre(MS_PRIVATE, MS_SLAVE | MS_REC, MS_SHARED, MS_SHARED | MS_REC, MS_SLAVE,
                          MS_PRIVATE | MS_REC, MS_UNBINDABLE, MS_UNBINDABLE | MS_REC));
  EXPECT_EQ(m.flags, static_cast<unsigned long>(MS_BIND | MS_REC));  // not in flags
  EXPECT_EQ(m.data, "");
}

TEST(MountOptionsTest, RecursiveAttributes) {
  const struct {
    std::vector<std::string> options;
    uint64_t set;
    uint64_t clr;
  } cases[] = {
      {{"rro"}, MOUNT_ATTR_RDONLY, 0},
      {{"rrw"}, 0, MOUNT_ATTR_RDONLY},
      {{"rro", "rrw"}, 0, MOUNT_ATTR_RDONLY},
      {{"rrw", "rro"}, MOUNT_ATTR_RDONLY, 0},
      {{"rnosuid", "rnodev", "rnoexec"},
       MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
       0},
      {{"rsuid", "rdev", "rexec"}, 0, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC},
      {{"rnodiratime"}, MOUNT_ATTR_NODIRATIME, 0},
      {{"rdiratime"}, 0, MOUNT_ATTR_NODIRATIME},
      {{"rnosymfollow"}, MOUNT_ATTR_NOSYMFOLLOW, 0},
      {{"rsymfollow"}, 0, MOUNT_ATTR_NOSYMFOLLOW},
      // Access-time settings are a field: MOUNT_ATTR__ATIME goes in attr_clr.
      {{"rnoatime"}, MOUNT_ATTR_NOATIME, MOUNT_ATTR__ATIME},
      {{"rstrictatime"}, MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME},
      {{"rrelatime"}, MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME},
      {{"ratime"}, 0, MOUNT_ATTR__ATIME},
  };
  for (const auto& c : cases) {
    Mount m;
    ApplyMountOptions(c.options, &m);
    const std::string name = ::testing::PrintToString(c.options);
    EXPECT_EQ(m.rec_attr_set, c.set) << name;
    EXPECT_EQ(m.rec_attr_clr, c.clr) << name;
    EXPECT_EQ(m.flags, 0u) << name;
    EXPECT_EQ(m.data, "") << name;
  }
}

TEST(MountOptionsTest, Extensions) {
  Mount m;
  ApplyMountOptions({"tmpcopyup", "mode=755"}, &m);
  EXPECT_TRUE(m.tmpcopyup);
  EXPECT_FALSE(m.idmap);
  EXPECT_EQ(m.data, "mode=755");

  ApplyMountOptions({"rbind", "idmap"}, &m);
  EXPECT_FALSE(m.tmpcopyup);
  EXPECT_TRUE(m.idmap);
  EXPECT_FALSE(m.idmap_recursive);

  ApplyMountOptions({"rbind", "ridmap"}, &m);
  EXPECT_TRUE(m.idmap);
  EXPECT_TRUE(m.idmap_recursive);
  EXPECT_EQ(m.data, "");
}

TEST(MountOptionsTest, KnownOptionsCoverTheSpecTable) {
  const std::vector<absl::string_view> known = KnownMountOptions();
  const std::set<absl::string_view> set(known.begin(), known.end());
  EXPECT_EQ(set.size(), known.size()) << "duplicates";
  for (absl::string_view o :
       {"async",          "atime",      "bind",         "defaults",    "dev",
        "diratime",       "dirsync",    "exec",         "iversion",    "lazytime",
        "loud",           "mand",       "noatime",      "nodev",       "nodiratime",
        "noexec",         "noiversion", "nolazytime",   "nomand",      "norelatime",
        "nostrictatime",  "nosuid",     "nosymfollow",  "private",     "ratime",
        "rbind",          "rdev",       "rdiratime",    "relatime",    "remount",
        "rexec",          "rnoatime",   "rnodiratime",  "rnoexec",     "rnorelatime",
        "rnostrictatime", "rnosuid",    "rnosymfollow", "ro",          "rprivate",
        "rrelatime",      "rro",        "rrw",          "rshared",     "rslave",
        "rstrictatime",   "rsuid",      "rsymfollow",   "runbindable", "rw",
        "shared",         "silent",     "slave",        "strictatime", "suid",
        "symfollow",      "sync",       "tmpcopyup",    "unbindable",  "idmap",
        "ridmap"}) {
    EXPECT_TRUE(set.count(o)) << o;
  }
}

}  // namespace
}  // namespace berth::runc::spec
