#include "runc/cgroups/device_filter.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"

namespace berth::runc::cgroups {
namespace {

// Registers. R1 holds the context on entry; R0 is the verdict.
constexpr uint8_t R0 = 0, R1 = 1, R2 = 2, R3 = 3, R4 = 4, R5 = 5;

bpf_insn Insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn i;
  std::memset(&i, 0, sizeof(i));
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}

// dst = *(u32 *)(src + off)
bpf_insn LoadWord(uint8_t dst, uint8_t src, int16_t off) {
  return Insn(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0);
}
bpf_insn Alu32Imm(uint8_t op, uint8_t dst, int32_t imm) {
  return Insn(BPF_ALU | op | BPF_K, dst, 0, 0, imm);
}
bpf_insn Mov32Reg(uint8_t dst, uint8_t src) {
  return Insn(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0);
}
bpf_insn Mov64Imm(uint8_t dst, int32_t imm) {
  return Insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm);
}
// 32-bit compares (BPF_JMP32, Linux 5.1): majors and minors are u32, and a 64-bit compare
// would sign-extend the immediate.
bpf_insn Jmp32Imm(uint8_t op, uint8_t dst, int32_t imm) {
  return Insn(BPF_JMP32 | op | BPF_K, dst, 0, 0, imm);
}
bpf_insn Jmp32Reg(uint8_t op, uint8_t dst, uint8_t src) {
  return Insn(BPF_JMP32 | op | BPF_X, dst, src, 0, 0);
}
bpf_insn Exit() { return Insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

char RuleType(const spec::DeviceCgroupRule& r) { return r.type.empty() ? 'a' : r.type[0]; }

uint32_t AccessBits(absl::string_view access) {
  if (access.empty()) return BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD;
  uint32_t bits = 0;
  for (char c : access) {
    if (c == 'r') bits |= BPF_DEVCG_ACC_READ;
    if (c == 'w') bits |= BPF_DEVCG_ACC_WRITE;
    if (c == 'm') bits |= BPF_DEVCG_ACC_MKNOD;
  }
  return bits;
}

bool Wildcard(const std::optional<int64_t>& n) { return !n.has_value() || *n < 0; }

long Bpf(int cmd, union bpf_attr* attr) { return syscall(SYS_bpf, cmd, attr, sizeof(*attr)); }

absl::Status BpfError(int err, absl::string_view what) {
  std::string msg = absl::StrCat(what, ": ", std::strerror(err));
  if (err == EPERM || err == EACCES) return absl::PermissionDeniedError(msg);
  if (err == ENOSYS || err == EOPNOTSUPP) {
    return absl::UnimplementedError(
        absl::StrCat(msg, " (the kernel lacks cgroup BPF, needed for device rules on cgroup v2)"));
  }
  return absl::ErrnoToStatus(err, what);
}

class KernelInstaller final : public DeviceFilterInstaller {
 public:
  absl::Status Install(const std::string& dir, const BpfProgram& program) override {
    int dir_fd = open(dir.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    if (dir_fd < 0) return BpfError(errno, absl::StrCat("open ", dir));
    absl::Cleanup close_dir = [dir_fd] { close(dir_fd); };

    // The device programs on this very cgroup now (not inherited ones).
    uint32_t old_ids[64];
    uint32_t old_count = 0;
    uint32_t old_flags = 0;
    {
      union bpf_attr q;
      std::memset(&q, 0, sizeof(q));
      q.query.target_fd = static_cast<uint32_t>(dir_fd);
      q.query.attach_type = BPF_CGROUP_DEVICE;
      q.query.prog_ids = reinterpret_cast<uint64_t>(old_ids);
      q.query.prog_cnt = sizeof(old_ids) / sizeof(old_ids[0]);
      if (Bpf(BPF_PROG_QUERY, &q) != 0) {
        return BpfError(errno, absl::StrCat("query device programs of ", dir));
      }
      old_count = q.query.prog_cnt;
      old_flags = q.query.attach_flags;
    }

    int prog_fd = Load(program);
    if (prog_fd < 0) return LoadError(program);
    absl::Cleanup close_prog = [prog_fd] { close(prog_fd); };

    union bpf_attr a;
    std::memset(&a, 0, sizeof(a));
    a.target_fd = static_cast<uint32_t>(dir_fd);
    a.attach_bpf_fd = static_cast<uint32_t>(prog_fd);
    a.attach_type = BPF_CGROUP_DEVICE;
    a.attach_flags = BPF_F_ALLOW_MULTI;
    if (Bpf(BPF_PROG_ATTACH, &a) != 0) {
      int err = errno;
      // Someone attached a program here without BPF_F_ALLOW_MULTI: attaching with the same
      // flags replaces it.
      if (old_count == 0 || (old_flags & BPF_F_ALLOW_MULTI)) {
        return BpfError(err, absl::StrCat("attach device program to ", dir));
      }
      a.attach_flags = old_flags;
      if (Bpf(BPF_PROG_ATTACH, &a) != 0) {
        return BpfError(errno, absl::StrCat("attach device program to ", dir));
      }
      return absl::OkStatus();
    }
    // Now detach what was there before; the new program already guards the cgroup.
    for (uint32_t i = 0; i < old_count && i < sizeof(old_ids) / sizeof(old_ids[0]); ++i) {
      union bpf_attr g;
      std::memset(&g, 0, sizeof(g));
      g.prog_id = old_ids[i];
      int old_fd = static_cast<int>(Bpf(BPF_PROG_GET_FD_BY_ID, &g));
      if (old_fd < 0) continue;  // gone already
      union bpf_attr d;
      std::memset(&d, 0, sizeof(d));
      d.target_fd = static_cast<uint32_t>(dir_fd);
      d.attach_bpf_fd = static_cast<uint32_t>(old_fd);
      d.attach_type = BPF_CGROUP_DEVICE;
      long rc = Bpf(BPF_PROG_DETACH, &d);
      int err = errno;
      close(old_fd);
      if (rc != 0 && err != ENOENT) {
        return BpfError(err, absl::StrCat("detach old device program from ", dir));
      }
    }
    return absl::OkStatus();
  }

 private:
  static int Load(const BpfProgram& program, char* log = nullptr, uint32_t log_size = 0) {
    static const char kLicense[] = "Apache-2.0";
    union bpf_attr l;
    std::memset(&l, 0, sizeof(l));
    l.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    l.insns = reinterpret_cast<uint64_t>(program.data());
    l.insn_cnt = static_cast<uint32_t>(program.size());
    l.license = reinterpret_cast<uint64_t>(kLicense);
    if (log != nullptr) {
      l.log_buf = reinterpret_cast<uint64_t>(log);
      l.log_size = log_size;
      l.log_level = 1;
    }
    return static_cast<int>(Bpf(BPF_PROG_LOAD, &l));
  }

  // Loads again with the verifier's log, to say why.
  static absl::Status LoadError(const BpfProgram& program) {
    int err = errno;
    if (err != EINVAL && err != EACCES) return BpfError(err, "load device program");
    std::string log(64 * 1024, '\0');
    int fd = Load(program, log.data(), static_cast<uint32_t>(log.size()));
    if (fd >= 0) {
      close(fd);
      return BpfError(err, "load device program");
    }
    log.resize(std::strlen(log.c_str()));
    return absl::InternalError(
        absl::StrCat("load device program: ", std::strerror(err), ": verifier: ", log));
  }
};

}  // namespace

absl::Status ValidateDeviceRules(const std::vector<spec::DeviceCgroupRule>& rules) {
  for (size_t i = 0; i < rules.size(); ++i) {
    const spec::DeviceCgroupRule& r = rules[i];
    if (!(r.type.empty() || r.type == "a" || r.type == "b" || r.type == "c")) {
      return absl::InvalidArgumentError(absl::StrCat("linux.resources.devices[", i, "].type: \"",
                                                     r.type, "\" is not one of a, b, c"));
    }
    for (char c : r.access) {
      if (c != 'r' && c != 'w' && c != 'm') {
        return absl::InvalidArgumentError(absl::StrCat(
            "linux.resources.devices[", i, "].access: \"", r.access, "\" is not made of r, w, m"));
      }
    }
    if ((r.major && *r.major > UINT32_MAX) || (r.minor && *r.minor > UINT32_MAX)) {
      return absl::InvalidArgumentError(
          absl::StrCat("linux.resources.devices[", i, "]: major/minor out of range"));
    }
  }
  return absl::OkStatus();
}

std::string DeviceRuleLine(const spec::DeviceCgroupRule& r) {
  char type = RuleType(r);
  if (type == 'a') return "a *:* rwm";
  return absl::StrCat(std::string(1, type), " ", Wildcard(r.major) ? "*" : absl::StrCat(*r.major),
                      ":", Wildcard(r.minor) ? "*" : absl::StrCat(*r.minor), " ",
                      r.access.empty() ? "rwm" : r.access);
}

BpfProgram CompileDeviceFilter(const std::vector<spec::DeviceCgroupRule>& rules) {
  BpfProgram p = {
      LoadWord(R2, R1, 0),            // access_type
      Alu32Imm(BPF_AND, R2, 0xffff),  // R2 = device type (BPF_DEVCG_DEV_*)
      LoadWord(R3, R1, 0),            //
      Alu32Imm(BPF_RSH, R3, 16),      // R3 = requested access (BPF_DEVCG_ACC_*)
      LoadWord(R4, R1, 4),            // R4 = major
      LoadWord(R5, R1, 8),            // R5 = minor
  };
  constexpr uint32_t kAll = BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD;
  // Last rule first: the first block that matches returns its verdict.
  for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
    const spec::DeviceCgroupRule& r = *it;
    BpfProgram block;
    std::vector<size_t> jumps;  // to patch: they skip to the next block
    char type = RuleType(r);
    if (type != 'a') {
      jumps.push_back(block.size());
      block.push_back(
          Jmp32Imm(BPF_JNE, R2, type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR));
      uint32_t access = AccessBits(r.access);
      if (access != kAll) {
        block.push_back(Mov32Reg(R1, R3));
        block.push_back(Alu32Imm(BPF_AND, R1, static_cast<int32_t>(access)));
        jumps.push_back(block.size());
        if (r.allow) {
          block.push_back(Jmp32Reg(BPF_JNE, R1, R3));  // some requested bit is not granted
        } else {
          block.push_back(Jmp32Imm(BPF_JEQ, R1, 0));  // no requested bit is denied
        }
      }
      if (!Wildcard(r.major)) {
        jumps.push_back(block.size());
        block.push_back(
            Jmp32Imm(BPF_JNE, R4, static_cast<int32_t>(static_cast<uint32_t>(*r.major))));
      }
      if (!Wildcard(r.minor)) {
        jumps.push_back(block.size());
        block.push_back(
            Jmp32Imm(BPF_JNE, R5, static_cast<int32_t>(static_cast<uint32_t>(*r.minor))));
      }
    }
    block.push_back(Mov64Imm(R0, r.allow ? 1 : 0));
    block.push_back(Exit());
    for (size_t j : jumps) block[j].off = static_cast<int16_t>(block.size() - j - 1);
    p.insert(p.end(), block.begin(), block.end());
    // A rule for every device ends the program: the verifier refuses unreachable code.
    if (jumps.empty()) return p;
  }
  p.push_back(Mov64Imm(R0, 0));
  p.push_back(Exit());
  return p;
}

DeviceFilterInstaller& KernelDeviceFilterInstaller() {
  static KernelInstaller* installer = new KernelInstaller();
  return *installer;
}

}  // namespace berth::runc::cgroups
