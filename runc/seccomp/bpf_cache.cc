#include "runc/seccomp/bpf_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/fs/atomic_file.h"
#include "common/fs/fs.h"
#include "common/version/version.h"

namespace berth::runc::seccomp {
namespace {

// Bump when Compile's output for the same input changes (new defaults, a new stub, ...).
constexpr uint32_t kFormatVersion = 1;
constexpr char kMagic[4] = {'B', 'S', 'C', 'B'};
// Far above any real entry (a filter is at most BPF_MAXINSNS * 8 = 32 KiB, plus the key).
constexpr off_t kMaxEntrySize = 4 << 20;

// Length-prefixed fields (LEB128 varints), so no two different keys serialize alike.
class KeyWriter {
 public:
  void Str(absl::string_view s) {
    U64(s.size());
    out_.append(s.data(), s.size());
  }
  void U64(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  void Opt(const std::optional<uint32_t>& v) {
    if (v.has_value()) {
      U64(1);
      U64(*v);
    } else {
      U64(0);
    }
  }
  void Strs(const std::vector<std::string>& v) {
    U64(v.size());
    for (const std::string& s : v) Str(s);
  }
  void Reserve(size_t n) { out_.reserve(n); }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

void PutU32(std::string& out, uint32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); }

bool GetU32(absl::string_view& in, uint32_t* v) {
  if (in.size() < 4) return false;
  memcpy(v, in.data(), 4);
  in.remove_prefix(4);
  return true;
}

std::string Serialize(const std::string& key, const Program& p) {
  std::string out(kMagic, sizeof(kMagic));
  PutU32(out, kFormatVersion);
  PutU32(out, static_cast<uint32_t>(key.size()));
  out += key;
  PutU32(out, p.flags);
  out += p.bpf;
  return out;
}

// The program in `data` if it is a well-formed entry for `key`.
std::optional<Program> Parse(absl::string_view data, const std::string& key) {
  if (data.size() < sizeof(kMagic) || memcmp(data.data(), kMagic, sizeof(kMagic)) != 0) {
    return std::nullopt;
  }
  data.remove_prefix(sizeof(kMagic));
  uint32_t version = 0, key_size = 0, flags = 0;
  if (!GetU32(data, &version) || version != kFormatVersion) return std::nullopt;
  if (!GetU32(data, &key_size) || data.size() < key_size) return std::nullopt;
  if (data.substr(0, key_size) != key) return std::nullopt;  // a hash collision or stale
  data.remove_prefix(key_size);
  if (!GetU32(data, &flags)) return std::nullopt;
  if (data.empty() || data.size() % 8 != 0) return std::nullopt;  // sizeof(sock_filter)
  return Program{std::string(data), flags};
}

// Reads the entry at `path`; nullopt (with `why` set, empty for a plain miss) if unusable.
std::optional<std::string> ReadEntry(const std::string& path, std::string* why) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno != ENOENT) *why = absl::StrCat("open: ", strerror(errno));
    return std::nullopt;
  }
  absl::Cleanup close_fd = [fd] { close(fd); };
  struct stat st;
  if (fstat(fd, &st) != 0) {
    *why = absl::StrCat("fstat: ", strerror(errno));
    return std::nullopt;
  }
  // The entry will be trusted as a filter: only this user may have written it.
  if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022) != 0 ||
      st.st_size > kMaxEntrySize) {
    *why = absl::StrFormat("not a regular file of uid %d with mode 0600 (uid %d, mode %o)",
                           geteuid(), st.st_uid, st.st_mode);
    return std::nullopt;
  }
  std::string data(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = read(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *why = n < 0 ? absl::StrCat("read: ", strerror(errno)) : "short read";
      return std::nullopt;
    }
    done += static_cast<size_t>(n);
  }
  return data;
}

// Keeps at most `max_entries` entries, removing the oldest by modification time.
void Evict(const std::string& dir, size_t max_entries) {
  absl::StatusOr<std::vector<std::string>> names = fs::ListDir(dir);
  if (!names.ok()) return;
  std::vector<std::pair<struct timespec, std::string>> entries;
  for (const std::string& name : *names) {
    if (fs::IsAtomicTempFileName(name) || !absl::EndsWith(name, ".bpf")) continue;
    struct stat st;
    if (stat(absl::StrCat(dir, "/", name).c_str(), &st) != 0) continue;
    entries.emplace_back(st.st_mtim, name);
  }
  if (entries.size() <= max_entries) return;
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    return std::tie(a.first.tv_sec, a.first.tv_nsec) < std::tie(b.first.tv_sec, b.first.tv_nsec);
  });
  for (size_t i = 0; i + max_entries < entries.size(); ++i) {
    unlink(absl::StrCat(dir, "/", entries[i].second).c_str());  // ENOENT: a peer was faster
  }
}

}  // namespace

std::string BpfCacheKey(const spec::Seccomp& s) {
  KeyWriter k;
  k.Reserve(256 + s.syscalls.size() * 48);
  k.Str("berth-runc seccomp");
  k.U64(kFormatVersion);
  k.Str(kVersion);
  const scmp_version* v = seccomp_version();
  k.U64(v->major);
  k.U64(v->minor);
  k.U64(v->micro);
  k.U64(seccomp_api_get());
  struct utsname u {};
  if (uname(&u) == 0) {
    k.Str(u.release);
    k.Str(u.version);
    k.Str(u.machine);
  }
  k.Str(s.default_action);
  k.Opt(s.default_errno_ret);
  k.Strs(s.architectures);
  k.Strs(s.flags);
  k.U64(s.has_flags);
  k.Str(s.listener_path);
  k.Str(s.listener_metadata);
  k.U64(s.syscalls.size());
  for (const spec::SeccompSyscall& sc : s.syscalls) {
    k.Strs(sc.names);
    k.Str(sc.action);
    k.Opt(sc.errno_ret);
    k.U64(sc.args.size());
    for (const spec::SeccompArg& a : sc.args) {
      k.U64(a.index);
      k.U64(a.value);
      k.U64(a.value_two);
      k.Str(a.op);
    }
  }
  return k.Take();
}

std::string BpfCacheFileName(const std::string& key) {
  // Not cryptographic, and need not be: a hit also compares the whole key. Eight bytes a step
  // (an FNV-style multiply plus a final mix) keeps a 10 KiB key at a few microseconds.
  constexpr uint64_t kPrime = 0x100000001b3ULL;
  uint64_t h = 0xcbf29ce484222325ULL ^ key.size();
  size_t i = 0;
  for (; i + 8 <= key.size(); i += 8) {
    uint64_t w;
    memcpy(&w, key.data() + i, 8);
    h = (h ^ w) * kPrime;
    h ^= h >> 29;
  }
  for (; i < key.size(); ++i) h = (h ^ static_cast<unsigned char>(key[i])) * kPrime;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return absl::StrFormat("%016x.bpf", h);
}

absl::StatusOr<Program> CompileCached(const spec::Seccomp& s, const BpfCacheOptions& options) {
  const std::string key = BpfCacheKey(s);
  const std::string path = absl::StrCat(options.dir, "/", BpfCacheFileName(key));

  std::string why;
  if (std::optional<std::string> data = ReadEntry(path, &why)) {
    if (std::optional<Program> p = Parse(*data, key)) {
      return *std::move(p);
    }
  } else if (!why.empty()) {
    if (options.warn) options.warn(absl::StrCat("seccomp cache entry ", path, " unusable: ", why));
  }

  absl::StatusOr<Program> p = CompileProgram(s);
  if (!p.ok()) return p.status();

  absl::Status st = fs::MakeDirs(options.dir, 0700);
  if (st.ok()) st = fs::WriteFileAtomically(path, Serialize(key, *p), 0600);
  if (!st.ok()) {
    if (options.warn) options.warn(absl::StrCat("seccomp cache not written: ", st.message()));
    return p;
  }
  Evict(options.dir, options.max_entries);
  return p;
}

}  // namespace berth::runc::seccomp
