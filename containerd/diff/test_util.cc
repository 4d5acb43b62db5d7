#include "containerd/diff/test_util.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/digest/digest.h"
#include "glog/logging.h"

namespace berth::containerd::diff::testing {
namespace {

ssize_t AppendTo(struct archive*, void* out, const void* buf, size_t n) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(buf), n);
  return static_cast<ssize_t>(n);
}

void SetMeta(struct archive_entry* e, const TarBuilder::Meta& m) {
  archive_entry_set_perm(e, m.mode);
  archive_entry_set_uid(e, m.uid);
  archive_entry_set_gid(e, m.gid);
  archive_entry_set_mtime(e, m.mtime, m.mtime_nsec);
  for (const auto& [k, v] : m.xattrs)
    archive_entry_xattr_add_entry(e, k.c_str(), v.data(), v.size());
}

}  // namespace

TarBuilder::TarBuilder() : a_(archive_write_new()) {
  CHECK_EQ(archive_write_set_format_pax(a_), ARCHIVE_OK);
  CHECK_EQ(archive_write_set_format_option(a_, "pax", "xattrheader", "SCHILY"), ARCHIVE_OK);
  CHECK_EQ(archive_write_set_bytes_in_last_block(a_, 1), ARCHIVE_OK);
  CHECK_EQ(archive_write_open(a_, &out_, nullptr, &AppendTo, nullptr), ARCHIVE_OK);
}

TarBuilder::~TarBuilder() {
  if (a_ != nullptr) archive_write_free(a_);
}

void TarBuilder::Add(struct archive_entry* e, absl::string_view data) {
  const int r = archive_write_header(a_, e);
  CHECK(r == ARCHIVE_OK || r == ARCHIVE_WARN) << archive_error_string(a_);
  if (!data.empty()) {
    CHECK_EQ(archive_write_data(a_, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  }
  archive_entry_free(e);
}

TarBuilder& TarBuilder::File(const std::string& path, absl::string_view content, Meta meta) {
  struct archive_entry* e = archive_entry_new();
  archive_entry_copy_pathname(e, path.c_str());
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
  SetMeta(e, meta);
  Add(e, content);
  return *this;
}

TarBuilder& TarBuilder::Dir(const std::string& path, Meta meta) {
  struct archive_entry* e = archive_entry_new();
  archive_entry_copy_pathname(e, path.c_str());
  archive_entry_set_filetype(e, AE_IFDIR);
  SetMeta(e, meta);
  Add(e, "");
  return *this;
}

TarBuilder& TarBuilder::Symlink(const std::string& path, const std::string& target, Meta meta) {
  struct archive_entry* e = archive_entry_new();
  archive_entry_copy_pathname(e, path.c_str());
  archive_entry_set_filetype(e, AE_IFLNK);
  archive_entry_copy_symlink(e, target.c_str());
  meta.mode = 0777;
  SetMeta(e, meta);
  Add(e, "");
  return *this;
}

TarBuilder& TarBuilder::Hardlink(const std::string& path, const std::string& target) {
  struct archive_entry* e = archive_entry_new();
  archive_entry_copy_pathname(e, path.c_str());
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_copy_hardlink(e, target.c_str());
  archive_entry_set_size(e, 0);
  SetMeta(e, Meta{});
  Add(e, "");
  return *this;
}

TarBuilder& TarBuilder::CharDev(const std::string& path, unsigned maj, unsigned min, Meta meta) {
  struct archive_entry* e = archive_entry_new();
  archive_entry_copy_pathname(e, path.c_str());
  archive_entry_set_filetype(e, AE_IFCHR);
  archive_entry_set_rdevmajor(e, maj);
  archive_entry_set_rdevminor(e, min);
  SetMeta(e, meta);
  Add(e, "");
  return *this;
}

TarBuilder& TarBuilder::Fifo(const std::string& path, Meta meta) {
  struct archive_entry* e = archive_entry_new();
  archive_entry_copy_pathname(e, path.c_str());
  archive_entry_set_filetype(e, AE_IFIFO);
  SetMeta(e, meta);
  Add(e, "");
  return *this;
}

TarBuilder& TarBuilder::Whiteout(const std::string& dir, const std::string& name) {
  return File(dir.empty() ? ".wh." + name : dir + "/.wh." + name, "");
}

TarBuilder& TarBuilder::Opaque(const std::string& dir) {
  return File(dir.empty() ? ".wh..wh..opq" : dir + "/.wh..wh..opq", "");
}

std::string TarBuilder::Finish() {
  CHECK_EQ(archive_write_close(a_), ARCHIVE_OK);
  archive_write_free(a_);
  a_ = nullptr;
  return std::move(out_);
}

std::string Compress(const std::string& tar, Compression c) {
  if (c == Compression::kNone) return tar;
  std::string out;
  struct archive* a = archive_write_new();
  CHECK_EQ(
      c == Compression::kGzip ? archive_write_add_filter_gzip(a) : archive_write_add_filter_zstd(a),
      ARCHIVE_OK);
  CHECK_EQ(archive_write_set_format_raw(a), ARCHIVE_OK);
  CHECK_EQ(archive_write_set_bytes_in_last_block(a, 1), ARCHIVE_OK);
  CHECK_EQ(archive_write_open(a, &out, nullptr, &AppendTo, nullptr), ARCHIVE_OK);
  struct archive_entry* e = archive_entry_new();
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_copy_pathname(e, "x");
  CHECK_EQ(archive_write_header(a, e), ARCHIVE_OK);
  archive_entry_free(e);
  if (!tar.empty())
    CHECK_EQ(archive_write_data(a, tar.data(), tar.size()), static_cast<ssize_t>(tar.size()));
  CHECK_EQ(archive_write_close(a), ARCHIVE_OK);
  archive_write_free(a);
  return out;
}

std::string Decompress(const std::string& blob) {
  struct archive* a = archive_read_new();
  archive_read_support_filter_gzip(a);
  archive_read_support_filter_zstd(a);
  archive_read_support_format_raw(a);
  CHECK_EQ(archive_read_open_memory(a, blob.data(), blob.size()), ARCHIVE_OK);
  struct archive_entry* e;
  CHECK_EQ(archive_read_next_header(a, &e), ARCHIVE_OK);
  std::string out;
  char buf[65536];
  for (;;) {
    const la_ssize_t n = archive_read_data(a, buf, sizeof(buf));
    CHECK_GE(n, 0) << archive_error_string(a);
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  archive_read_free(a);
  return out;
}

std::string Sha256(absl::string_view data) {
  return digest::Digest::FromBytes(data).value().ToString();
}

ReadFn StringReader(std::string data, size_t chunk) {
  auto pos = std::make_shared<size_t>(0);
  auto buf = std::make_shared<std::string>(std::move(data));
  return [pos, buf, chunk](char* out, size_t len) -> absl::StatusOr<size_t> {
    const size_t n = std::min({len, chunk, buf->size() - *pos});
    memcpy(out, buf->data() + *pos, n);
    *pos += n;
    return n;
  };
}

WriteFn StringWriter(std::string* out) {
  return [out](absl::string_view data) {
    out->append(data.data(), data.size());
    return absl::OkStatus();
  };
}

std::vector<std::string> TarNames(const std::string& blob) {
  std::vector<std::string> names;
  struct archive* a = archive_read_new();
  archive_read_support_filter_gzip(a);
  archive_read_support_filter_zstd(a);
  archive_read_support_format_tar(a);
  CHECK_EQ(archive_read_open_memory(a, blob.data(), blob.size()), ARCHIVE_OK);
  struct archive_entry* e;
  int r;
  while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
    std::string name = archive_entry_pathname(e);
    if (archive_entry_hardlink(e) != nullptr)
      absl::StrAppend(&name, " => ", archive_entry_hardlink(e));
    names.push_back(std::move(name));
  }
  CHECK_EQ(r, ARCHIVE_EOF) << archive_error_string(a);
  archive_read_free(a);
  return names;
}

namespace {

struct Describer {
  bool skip_trusted;
  bool dir_mtimes;
  std::vector<std::string> lines;
  std::map<std::pair<dev_t, ino_t>, int> inodes;

  void Walk(const std::string& root, const std::string& rel) {
    const std::string dir = rel.empty() ? root : root + "/" + rel;
    std::vector<std::string> names;
    std::unique_ptr<DIR, int (*)(DIR*)> d(opendir(dir.c_str()), closedir);
    CHECK(d != nullptr) << dir;
    while (struct dirent* de = readdir(d.get())) {
      const std::string n = de->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    std::sort(names.begin(), names.end());
    for (const std::string& n : names) {
      const std::string r = rel.empty() ? n : rel + "/" + n;
      const std::string p = root + "/" + r;
      struct stat st;
      CHECK_EQ(lstat(p.c_str(), &st), 0) << p;
      std::string line = absl::StrFormat("%s %c %04o %d:%d", r,
                                         S_ISDIR(st.st_mode)    ? 'd'
                                         : S_ISREG(st.st_mode)  ? 'f'
                                         : S_ISLNK(st.st_mode)  ? 'l'
                                         : S_ISCHR(st.st_mode)  ? 'c'
                                         : S_ISBLK(st.st_mode)  ? 'b'
                                         : S_ISFIFO(st.st_mode) ? 'p'
                                                                : '?',
                                         st.st_mode & 07777, st.st_uid, st.st_gid);
      if (!S_ISDIR(st.st_mode) || dir_mtimes) {
        absl::StrAppendFormat(&line, " mtime=%d.%09d", st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
      }
      if (S_ISREG(st.st_mode)) {
        std::ifstream f(p, std::ios::binary);
        std::stringstream ss;
        ss << f.rdbuf();
        const std::string data = ss.str();
        absl::StrAppend(&line, " size=", st.st_size,
                        " data=", data.size() <= 32 ? "\"" + data + "\"" : Sha256(data));
      }
      if (S_ISLNK(st.st_mode)) {
        char buf[4096];
        const ssize_t k = readlink(p.c_str(), buf, sizeof(buf));
        absl::StrAppend(&line, " -> ", std::string(buf, k > 0 ? k : 0));
      }
      if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
        absl::StrAppend(&line, " dev=", major(st.st_rdev), ":", minor(st.st_rdev));
      }
      if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
        auto [it, first] =
            inodes.emplace(std::make_pair(st.st_dev, st.st_ino), static_cast<int>(inodes.size()));
        absl::StrAppend(&line, " link#", it->second);
      }
      char keys[4096];
      const ssize_t kl = llistxattr(p.c_str(), keys, sizeof(keys));
      std::vector<std::string> xs;
      for (absl::string_view k :
           absl::StrSplit(absl::string_view(keys, kl > 0 ? kl : 0), '\0', absl::SkipEmpty())) {
        const std::string key(k);
        if (key == "security.selinux") continue;
        if (skip_trusted && absl::StartsWith(key, "trusted.")) continue;
        char v[4096];
        const ssize_t vl = lgetxattr(p.c_str(), key.c_str(), v, sizeof(v));
        xs.push_back(absl::StrCat(key, "=", std::string(v, vl > 0 ? vl : 0)));
      }
      std::sort(xs.begin(), xs.end());
      for (const std::string& x : xs) absl::StrAppend(&line, " xattr ", x);
      lines.push_back(line);
      if (S_ISDIR(st.st_mode)) Walk(root, r);
    }
  }
};

}  // namespace

std::string DescribeTree(const std::string& root, bool skip_trusted, bool dir_mtimes) {
  Describer d{skip_trusted, dir_mtimes, {}, {}};
  d.Walk(root, "");
  return absl::StrJoin(d.lines, "\n") + "\n";
}

void WriteFile(const std::string& path, absl::string_view content, mode_t mode) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  CHECK_GE(fd, 0) << path << ": " << strerror(errno);
  CHECK_EQ(write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  CHECK_EQ(fchmod(fd, mode), 0);
  close(fd);
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

bool HasMountsUnder(const std::string& path) {
  std::ifstream f("/proc/self/mountinfo");
  std::string line;
  while (std::getline(f, line)) {
    std::vector<std::string> fields = absl::StrSplit(line, ' ');
    if (fields.size() > 4 && (fields[4] == path || absl::StartsWith(fields[4], path + "/"))) {
      return true;
    }
  }
  return false;
}

}  // namespace berth::containerd::diff::testing
