// Test helpers for //containerd/diff: building layer tars (hostile ones included) with
// libarchive, reading them back, and describing a directory tree as text so two trees can be
// compared with one EXPECT_EQ. Test-only.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "containerd/diff/stream.h"

struct archive;
struct archive_entry;

namespace berth::containerd::diff::testing {

// Builds a tar in memory, entry by entry, with no sanitizing of names or link targets (that is
// the point: hostile layers). pax format with SCHILY.xattr records, like Go's archive/tar.
// Metadata of an entry TarBuilder writes.
struct TarMeta {
  mode_t mode = 0644;  // permission bits only
  uid_t uid = 0;
  gid_t gid = 0;
  int64_t mtime = 1700000000;
  long mtime_nsec = 0;  // NOLINT: matches timespec
  std::map<std::string, std::string> xattrs;
};

class TarBuilder {
 public:
  using Meta = TarMeta;

  TarBuilder();
  ~TarBuilder();
  TarBuilder(const TarBuilder&) = delete;
  TarBuilder& operator=(const TarBuilder&) = delete;

  TarBuilder& File(const std::string& path, absl::string_view content, Meta meta = {});
  TarBuilder& Dir(const std::string& path, Meta meta = DirMeta());
  TarBuilder& Symlink(const std::string& path, const std::string& target, Meta meta = {});
  TarBuilder& Hardlink(const std::string& path, const std::string& target);
  TarBuilder& CharDev(const std::string& path, unsigned major, unsigned minor, Meta meta = {});
  TarBuilder& Fifo(const std::string& path, Meta meta = {});
  // ".wh.<name>" in `dir` ("" for the root), and "<dir>/.wh..wh..opq".
  TarBuilder& Whiteout(const std::string& dir, const std::string& name);
  TarBuilder& Opaque(const std::string& dir);

  // The uncompressed tar (end-of-archive marker included). One-shot.
  std::string Finish();

  static TarMeta DirMeta() {
    TarMeta m;
    m.mode = 0755;
    return m;
  }

 private:
  void Add(struct archive_entry* e, absl::string_view data);
  struct archive* a_;
  std::string out_;
};

// `tar` compressed with libarchive's gzip or zstd filter (kNone: unchanged).
std::string Compress(const std::string& tar, Compression c);

// The uncompressed tar inside a tar/tar+gzip/tar+zstd blob.
std::string Decompress(const std::string& blob);

// "sha256:<hex>" of `data`.
std::string Sha256(absl::string_view data);

// A ReadFn over `data`, handing out at most `chunk` bytes per call (small chunks exercise the
// stream plumbing).
ReadFn StringReader(std::string data, size_t chunk = 64 * 1024);
// A WriteFn appending to `*out`.
WriteFn StringWriter(std::string* out);

// The entries of a tar (names in order), for checking what Diff wrote.
std::vector<std::string> TarNames(const std::string& tar_or_compressed);

// One line per entry below `root`, sorted by path:
//   "<path> <type> <mode> <uid>:<gid> mtime=<s.ns> [size=.. data=<content or sha>] [-> target]
//    [dev=M:m] [link#N] [xattr k=v ...]"
// Hardlinked files share a "link#N" tag (N by first path). trusted.* xattrs are listed too
// unless `skip_trusted`; directory mtimes are omitted unless `dir_mtimes` (a directory's mtime
// moves whenever anything inside changes).
std::string DescribeTree(const std::string& root, bool skip_trusted = false,
                         bool dir_mtimes = true);

// Small file helpers that CHECK-fail (test setup only).
void WriteFile(const std::string& path, absl::string_view content, mode_t mode = 0644);
std::string ReadFile(const std::string& path);  // "" if missing
bool Exists(const std::string& path);           // lstat succeeds

// Whether anything is mounted at or below `path` (per /proc/self/mountinfo).
bool HasMountsUnder(const std::string& path);

}  // namespace berth::containerd::diff::testing
