#include "runc/seccomp/enosys_stub.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stddef.h>

#include <map>
#include <optional>

#include "absl/strings/str_cat.h"

namespace berth::runc::seccomp::internal {
namespace {

constexpr uint32_t kX32SyscallBit = 0x40000000;

// A tiny forward-only classic-BPF assembler with labels.
class Assembler {
 public:
  static constexpr int kNext = -1;  // jump target: the next instruction

  int NewLabel() {
    labels_.push_back(-1);
    return static_cast<int>(labels_.size()) - 1;
  }
  void Bind(int label) { labels_[label] = static_cast<int>(insns_.size()); }

  void Stmt(uint16_t code, uint32_t k) { insns_.push_back({code, k, kNext, kNext, false}); }
  // Conditional jump: BPF_JMP|op|BPF_K.
  void Jump(uint16_t op, uint32_t k, int jt, int jf) {
    insns_.push_back({static_cast<uint16_t>(BPF_JMP | op | BPF_K), k, jt, jf, false});
  }
  // Unconditional jump (ja).
  void Always(int label) { insns_.push_back({BPF_JMP | BPF_JA, 0, label, kNext, true}); }

  absl::StatusOr<std::string> Finish() const {
    std::string out;
    out.reserve(insns_.size() * sizeof(sock_filter));
    for (size_t i = 0; i < insns_.size(); ++i) {
      const Insn& in = insns_[i];
      sock_filter f{};
      f.code = in.code;
      f.k = in.k;
      auto offset = [&](int label) -> std::optional<uint32_t> {
        if (label == kNext) return 0;
        const int target = labels_[label];
        if (target <= static_cast<int>(i)) return std::nullopt;  // unbound or backwards
        return static_cast<uint32_t>(target - static_cast<int>(i) - 1);
      };
      const std::optional<uint32_t> jt = offset(in.jt);
      const std::optional<uint32_t> jf = offset(in.jf);
      if (!jt || !jf) return absl::InternalError("enosys stub: bad jump target");
      if (in.always) {
        f.k = *jt;
      } else {
        if (*jt > 255 || *jf > 255) return absl::InternalError("enosys stub: jump too long");
        f.jt = static_cast<uint8_t>(*jt);
        f.jf = static_cast<uint8_t>(*jf);
      }
      out.append(reinterpret_cast<const char*>(&f), sizeof(f));
    }
    return out;
  }

 private:
  struct Insn {
    uint16_t code;
    uint32_t k;
    int jt;
    int jf;
    bool always;
  };
  std::vector<Insn> insns_;
  std::vector<int> labels_;
};

// The AUDIT_ARCH_* value the kernel reports in seccomp_data.arch. SCMP_ARCH_* tokens are the
// AUDIT_ARCH_* values except SCMP_ARCH_X32, which the kernel reports as x86_64 with
// __X32_SYSCALL_BIT set in the syscall number.
uint32_t AuditArch(uint32_t scmp_arch) {
  return scmp_arch == SCMP_ARCH_X32 ? SCMP_ARCH_X86_64 : scmp_arch;
}

}  // namespace

absl::StatusOr<std::string> BuildEnosysStub(const std::vector<ArchMax>& arches) {
  if (arches.empty()) return std::string();

  // Group by the architecture the kernel reports; only x86_64 can have two modes (x86_64, x32).
  struct Group {
    std::optional<uint32_t> max;      // the plain mode
    std::optional<uint32_t> x32_max;  // x32 mode of x86_64
  };
  std::map<uint32_t, Group> groups;
  for (const ArchMax& a : arches) {
    Group& g = groups[AuditArch(a.scmp_arch)];
    std::optional<uint32_t>& slot = a.scmp_arch == SCMP_ARCH_X32 ? g.x32_max : g.max;
    if (slot) return absl::InternalError(absl::StrCat("enosys stub: arch ", a.scmp_arch, " twice"));
    slot = a.max_nr;
  }

  Assembler as;
  const int enosys = as.NewLabel();
  const int filter = as.NewLabel();
  as.Stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch));
  for (const auto& [audit_arch, g] : groups) {
    const int next = as.NewLabel();
    as.Jump(BPF_JEQ, audit_arch, Assembler::kNext, next);
    as.Stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr));
    if (audit_arch == SCMP_ARCH_S390 || audit_arch == SCMP_ARCH_S390X) {
      // On s390 a syscall number the kernel does not know arrives as 0 (setup(2), long gone,
      // multiplexes "large" numbers there), so 0 must mean ENOSYS too.
      as.Jump(BPF_JEQ, 0, enosys, Assembler::kNext);
    }
    if (audit_arch == SCMP_ARCH_X86_64) {
      if (g.max && g.x32_max) {
        const int x32 = as.NewLabel();
        as.Jump(BPF_JSET, kX32SyscallBit, x32, Assembler::kNext);
        as.Jump(BPF_JGT, *g.max, enosys, filter);
        as.Bind(x32);
        as.Jump(BPF_JGT, *g.x32_max, enosys, filter);
      } else if (g.max) {
        as.Jump(BPF_JSET, kX32SyscallBit, filter, Assembler::kNext);
        as.Jump(BPF_JGT, *g.max, enosys, filter);
      } else {
        as.Jump(BPF_JSET, kX32SyscallBit, Assembler::kNext, filter);
        as.Jump(BPF_JGT, *g.x32_max, enosys, filter);
      }
    } else {
      as.Jump(BPF_JGT, *g.max, enosys, filter);
    }
    as.Bind(next);
  }
  as.Always(filter);
  as.Bind(enosys);
  as.Stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
  as.Bind(filter);
  return as.Finish();
}

}  // namespace berth::runc::seccomp::internal
