#include "runc/seccomp/bpf_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runc/seccomp/seccomp.h"
#include "runc/spec/spec.h"

namespace berth::runc::seccomp {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::berth::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::SizeIs;

spec::Seccomp Profile(const std::string& blocked = "mkdir") {
  spec::Seccomp s;
  s.default_action = "SCMP_ACT_ERRNO";
  spec::SeccompSyscall allow;
  allow.names = {"read", "write", "exit_group", "getpid"};
  allow.action = "SCMP_ACT_ALLOW";
  spec::SeccompSyscall kill;
  kill.names = {blocked};
  kill.action = "SCMP_ACT_KILL_PROCESS";
  s.syscalls = {allow, kill};
  return s;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteAll(const std::string& path, const std::string& data, mode_t mode = 0600) {
  unlink(path.c_str());
  std::ofstream(path, std::ios::binary) << data;
  ASSERT_EQ(chmod(path.c_str(), mode), 0);
}

int CountEntries(const std::string& dir) {
  int n = 0;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return 0;
  while (const dirent* e = readdir(d)) {
    if (absl::EndsWith(e->d_name, ".bpf")) ++n;
  }
  closedir(d);
  return n;
}

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

class BpfCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<TempDir> t = TempDir::Create();
    ASSERT_THAT(t, IsOk());
    tmp_.emplace(std::move(*t));
    options_.dir = tmp_->Sub("cache/seccomp");  // created on the first miss
  }
  std::string EntryPath(const spec::Seccomp& s) const {
    return options_.dir + "/" + BpfCacheFileName(BpfCacheKey(s));
  }

  std::optional<TempDir> tmp_;
  BpfCacheOptions options_;
};

TEST_F(BpfCacheTest, MissCompilesAndWritesThenHitReadsTheEntry) {
  const spec::Seccomp s = Profile();
  absl::StatusOr<Program> direct = CompileProgram(s);
  ASSERT_THAT(direct, IsOk());

  absl::StatusOr<Program> first = CompileCached(s, options_);
  ASSERT_THAT(first, IsOk());
  EXPECT_EQ(first->bpf, direct->bpf);
  EXPECT_EQ(first->flags, direct->flags);
  struct stat st;
  ASSERT_EQ(stat(EntryPath(s).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(stat(options_.dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);

  // Prove the second call reads the entry: plant a different (valid) program under the key.
  spec::Seccomp other = Profile("rmdir");
  other.flags = {"SECCOMP_FILTER_FLAG_LOG"};
  other.has_flags = true;
  absl::StatusOr<Program> planted = CompileProgram(other);
  ASSERT_THAT(planted, IsOk());
  std::string entry = ReadAll(EntryPath(s));
  const size_t header = entry.size() - first->bpf.size() - 4;  // ... key, flags, bpf
  std::string forged = entry.substr(0, header);
  const uint32_t flags = planted->flags;
  forged.append(reinterpret_cast<const char*>(&flags), 4);
  forged += planted->bpf;
  WriteAll(EntryPath(s), forged);

  absl::StatusOr<Program> second = CompileCached(s, options_);
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(second->bpf, planted->bpf);
  EXPECT_EQ(second->flags, planted->flags);
}

TEST_F(BpfCacheTest, EveryFieldIsPartOfTheKey) {
  const spec::Seccomp base = Profile();
  std::vector<spec::Seccomp> variants(13, base);
  variants[0].default_action = "SCMP_ACT_KILL";
  variants[1].default_errno_ret = 1;
  variants[2].architectures = {"SCMP_ARCH_X86"};
  variants[3].flags = {"SECCOMP_FILTER_FLAG_LOG"};
  variants[4].listener_path = "/x";
  variants[5].listener_metadata = "m";
  variants[6].syscalls[1].names = {"rmdir"};
  variants[7].syscalls[1].action = "SCMP_ACT_KILL";
  variants[8].syscalls[1].errno_ret = 0;
  variants[9].syscalls[1].args = {{0, 1, 0, "SCMP_CMP_EQ"}};
  variants[10].syscalls[0].names = {"read", "write", "exit_group"};
  variants[11].syscalls[0].names = {"read", "write", "exit_group", "getpid", ""};
  variants[12].has_flags = true;
  std::set<std::string> keys = {BpfCacheKey(base)};
  for (const spec::Seccomp& v : variants) keys.insert(BpfCacheKey(v));
  EXPECT_THAT(keys, SizeIs(variants.size() + 1));
  // Length prefixes: moving a boundary between strings changes the key.
  spec::Seccomp a = base, b = base;
  a.syscalls[0].names = {"ab", "c"};
  b.syscalls[0].names = {"a", "bc"};
  EXPECT_NE(BpfCacheKey(a), BpfCacheKey(b));
  EXPECT_EQ(BpfCacheKey(base), BpfCacheKey(Profile()));
}

TEST_F(BpfCacheTest, CorruptOrForeignEntriesAreRecompiledAndRepaired) {
  const spec::Seccomp s = Profile();
  absl::StatusOr<Program> direct = CompileProgram(s);
  ASSERT_THAT(direct, IsOk());
  ASSERT_THAT(CompileCached(s, options_), IsOk());
  const std::string good = ReadAll(EntryPath(s));

  for (const std::string& bad : {std::string(), good.substr(0, good.size() - 3), good.substr(0, 20),
                                 std::string("XXXX") + good.substr(4)}) {
    WriteAll(EntryPath(s), bad);
    absl::StatusOr<Program> p = CompileCached(s, options_);
    ASSERT_THAT(p, IsOk());
    EXPECT_EQ(p->bpf, direct->bpf);
    EXPECT_EQ(ReadAll(EntryPath(s)), good);  // rewritten
  }
  // Writable by others: not trusted.
  WriteAll(EntryPath(s), good, 0666);
  absl::StatusOr<Program> p = CompileCached(s, options_);
  ASSERT_THAT(p, IsOk());
  struct stat st;
  ASSERT_EQ(stat(EntryPath(s).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST_F(BpfCacheTest, KeyMismatchUnderTheSameNameIsAMiss) {
  // As after a hash collision: the entry holds another profile's key.
  const spec::Seccomp s = Profile(), other = Profile("rmdir");
  ASSERT_THAT(CompileCached(other, options_), IsOk());
  WriteAll(EntryPath(s), ReadAll(EntryPath(other)));
  absl::StatusOr<Program> direct = CompileProgram(s);
  absl::StatusOr<Program> p = CompileCached(s, options_);
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->bpf, direct->bpf);
}

TEST_F(BpfCacheTest, CompileErrorsPassThroughAndWriteNothing) {
  spec::Seccomp s = Profile();
  s.syscalls[1].action = "SCMP_ACT_FOO";
  EXPECT_THAT(CompileCached(s, options_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("syscalls[1].action")));
  EXPECT_EQ(CountEntries(options_.dir), 0);
}

TEST_F(BpfCacheTest, UnusableDirectoryStillCompiles) {
  WriteAll(tmp_->Sub("file"), "x");
  options_.dir = tmp_->Sub("file/seccomp");  // below a regular file
  absl::StatusOr<Program> p = CompileCached(Profile(), options_);
  ASSERT_THAT(p, IsOk());
  EXPECT_FALSE(p->bpf.empty());
}

TEST_F(BpfCacheTest, OldestEntriesAreEvicted) {
  options_.max_entries = 3;
  const spec::Seccomp a = Profile("mkdir"), b = Profile("rmdir"), c = Profile("chdir"),
                      d = Profile("umask");
  for (const spec::Seccomp* s : {&a, &b, &c}) ASSERT_THAT(CompileCached(*s, options_), IsOk());
  EXPECT_EQ(CountEntries(options_.dir), 3);
  // File times are coarse (one clock tick): set distinct ones. b is the oldest.
  for (const auto& [s, secs] : {std::pair{&a, 3000}, {&b, 1000}, {&c, 2000}}) {
    const timespec times[2] = {{secs, 0}, {secs, 0}};
    ASSERT_EQ(utimensat(AT_FDCWD, EntryPath(*s).c_str(), times, 0), 0);
  }
  ASSERT_THAT(CompileCached(d, options_), IsOk());
  EXPECT_EQ(CountEntries(options_.dir), 3);
  EXPECT_FALSE(Exists(EntryPath(b)));
  EXPECT_TRUE(Exists(EntryPath(a)));
  EXPECT_TRUE(Exists(EntryPath(c)));
  EXPECT_TRUE(Exists(EntryPath(d)));
}

TEST_F(BpfCacheTest, HitSkipsLibseccomp) {
  // A Docker-sized profile on three architectures: report what the cache saves.
  spec::Seccomp s = Profile();
  s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
  for (int nr = 0; nr < 440; ++nr) {
    char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
    if (name == nullptr) continue;
    spec::SeccompSyscall r;
    r.names = {name};
    r.action = "SCMP_ACT_ALLOW";
    s.syscalls.push_back(r);
    free(name);
  }
  const absl::Time t0 = absl::Now();
  absl::StatusOr<Program> miss = CompileCached(s, options_);
  const absl::Time t1 = absl::Now();
  absl::StatusOr<Program> hit = CompileCached(s, options_);
  const absl::Time t2 = absl::Now();
  ASSERT_THAT(miss, IsOk());
  ASSERT_THAT(hit, IsOk());
  EXPECT_EQ(miss->bpf, hit->bpf);
  std::cout << s.syscalls.size() << " rules: miss " << (t1 - t0) << ", hit " << (t2 - t1) << "\n";
}

}  // namespace
}  // namespace berth::runc::seccomp
