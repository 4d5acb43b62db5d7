#include "runc/spec/paths.h"

#include <string>

#include "gtest/gtest.h"

namespace berth::runc::spec {
namespace {

struct CleanCase {
  const char* in;
  PathCheck check;
  const char* out;  // when kOk
};

TEST(PathsTest, CleanContainerPath) {
  const CleanCase cases[] = {
      {"/", PathCheck::kOk, "/"},
      {"/proc", PathCheck::kOk, "/proc"},
      {"/dev/pts/", PathCheck::kOk, "/dev/pts"},
      {"//a///b//", PathCheck::kOk, "/a/b"},
      {"/a/./b/.", PathCheck::kOk, "/a/b"},
      {"/a/../b", PathCheck::kOk, "/b"},
      {"/a/b/../../c", PathCheck::kOk, "/c"},
      {"/a/..", PathCheck::kOk, "/"},
      {"/..a/b..", PathCheck::kOk, "/..a/b.."},
      {"/...", PathCheck::kOk, "/..."},
      {"/..", PathCheck::kEscapes, ""},
      {"/../etc", PathCheck::kEscapes, ""},
      {"/a/../../etc", PathCheck::kEscapes, ""},
      {"/a/b/../../../etc/shadow", PathCheck::kEscapes, ""},
      {"", PathCheck::kNotAbsolute, ""},
      {"proc", PathCheck::kNotAbsolute, ""},
      {"./proc", PathCheck::kNotAbsolute, ""},
      {"../etc", PathCheck::kNotAbsolute, ""},
  };
  for (const CleanCase& c : cases) {
    std::string out;
    EXPECT_EQ(CleanContainerPath(c.in, &out), c.check) << c.in;
    if (c.check == PathCheck::kOk) {
      EXPECT_EQ(out, c.out) << c.in;
    }
  }
}

TEST(PathsTest, ResolveBundlePath) {
  const struct {
    const char* bundle;
    const char* in;
    PathCheck check;
    const char* out;
  } cases[] = {
      {"/b", "rootfs", PathCheck::kOk, "/b/rootfs"},
      {"/b/", "rootfs/", PathCheck::kOk, "/b/rootfs"},
      {"/b", "./x/../rootfs", PathCheck::kOk, "/b/rootfs"},
      {"/b", ".", PathCheck::kOk, "/b"},
      {"/b", "", PathCheck::kOk, "/b"},
      {"/b", "/abs/../path", PathCheck::kOk, "/abs/../path"},  // absolute: as written
      {"/", "rootfs", PathCheck::kOk, "/rootfs"},
      {"/", ".", PathCheck::kOk, "/"},
      {"/b/c", "x/../../c/rootfs", PathCheck::kEscapes, ""},
      {"/b", "../rootfs", PathCheck::kEscapes, ""},
      {"/b", "..", PathCheck::kEscapes, ""},
      {"/b", "a/../..", PathCheck::kEscapes, ""},
      {"/", "../x", PathCheck::kEscapes, ""},
  };
  for (const auto& c : cases) {
    std::string out;
    EXPECT_EQ(ResolveBundlePath(c.bundle, c.in, &out), c.check) << c.bundle << " " << c.in;
    if (c.check == PathCheck::kOk) {
      EXPECT_EQ(out, c.out) << c.bundle << " " << c.in;
    }
  }
}

}  // namespace
}  // namespace berth::runc::spec
