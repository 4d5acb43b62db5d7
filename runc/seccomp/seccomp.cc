// Compile (OCI linux.seccomp -> libseccomp filter) and the Filter wrapper. The raw seccomp(2) side
// is in install.cc, the name tables in names.cc, the -ENOSYS prefix in enosys_stub.cc.
#include "runc/seccomp/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "runc/seccomp/enosys_stub.h"
#include "runc/seccomp/names.h"

namespace berth::runc::seccomp {
namespace {

using internal::ActionKind;
using internal::ActionName;

// Linux syscalls have at most 6 arguments (seccomp_data.args[6]).
constexpr uint32_t kMaxArgs = 6;
// SECCOMP_RET_DATA is 16 bits wide.
constexpr uint32_t kMaxErrnoRet = 0xffff;

std::string Quote(absl::string_view s) { return absl::StrCat("\"", absl::CHexEscape(s), "\""); }

const char* ErrnoText(int err) {
  const char* d = strerrordesc_np(err);
  return d != nullptr ? d : "unknown error";
}

absl::Status Invalid(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

// The libseccomp action for `a`, with errnoRet applied to ERRNO and TRACE (EPERM by default, as
// runc does). errnoRet is ignored for other actions, as the spec allows.
absl::StatusOr<uint32_t> ActionValue(const ActionName& a, const std::optional<uint32_t>& errno_ret,
                                     absl::string_view errno_field) {
  if (a.kind != ActionKind::kWithData) return a.value;
  const uint32_t data = errno_ret.value_or(EPERM);
  if (data > kMaxErrnoRet) {
    return Invalid(errno_field, absl::StrCat(data, " does not fit in 16 bits"));
  }
  return a.value | data;
}

absl::StatusOr<const ActionName*> LookupAction(absl::string_view field, absl::string_view name) {
  if (name.empty()) return Invalid(field, "missing action");
  const ActionName* a = internal::FindAction(name);
  if (a == nullptr) return Invalid(field, absl::StrCat("unknown action ", Quote(name)));
  return a;
}

// The largest syscall number that the profile names on `arch`, if any.
std::optional<uint32_t> MaxSyscall(const spec::Seccomp& s, uint32_t arch) {
  std::optional<uint32_t> max;
  for (const spec::SeccompSyscall& sc : s.syscalls) {
    for (const std::string& name : sc.names) {
      // Negative: unknown (__NR_SCMP_ERROR) or a pseudo-syscall absent on this arch.
      const int nr = seccomp_syscall_resolve_name_arch(arch, name.c_str());
      if (nr < 0) continue;
      if (!max || static_cast<uint32_t>(nr) > *max) max = static_cast<uint32_t>(nr);
    }
  }
  return max;
}

// Adds the rules of one syscalls[] entry for one resolved syscall number.
int AddRules(scmp_filter_ctx ctx, uint32_t action, int nr, const std::vector<scmp_arg_cmp>& conds,
             bool shared_index) {
  if (conds.empty()) return seccomp_rule_add_array(ctx, action, nr, 0, nullptr);
  if (!shared_index) {
    return seccomp_rule_add_array(ctx, action, nr, static_cast<unsigned int>(conds.size()),
                                  conds.data());
  }
  // libseccomp 2.5 refuses two comparisons of one argument in one rule (EINVAL). Like runc, give
  // each condition its own rule, so the action applies if any of them matches.
  for (const scmp_arg_cmp& c : conds) {
    const int rc = seccomp_rule_add_array(ctx, action, nr, 1, &c);
    if (rc < 0) return rc;
  }
  return 0;
}

}  // namespace

Filter::Filter(Filter&& other) noexcept
    : ctx_(std::exchange(other.ctx_, nullptr)),
      kernel_flags_(other.kernel_flags_),
      stub_(std::move(other.stub_)) {}

Filter& Filter::operator=(Filter&& other) noexcept {
  if (this != &other) {
    if (ctx_ != nullptr) seccomp_release(ctx_);
    ctx_ = std::exchange(other.ctx_, nullptr);
    kernel_flags_ = other.kernel_flags_;
    stub_ = std::move(other.stub_);
  }
  return *this;
}

Filter::~Filter() {
  if (ctx_ != nullptr) seccomp_release(ctx_);
}

absl::StatusOr<std::string> Filter::ExportBpf() const {
  if (ctx_ == nullptr) return absl::InternalError("export seccomp filter: moved-from filter");
  // libseccomp 2.5 exports only to a file descriptor; a memfd has no size limit (a pipe would block
  // past its buffer) and touches no filesystem.
  const int fd = memfd_create("berth-seccomp-bpf", MFD_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, "export seccomp filter: memfd_create");
  absl::Cleanup close_fd = [fd] { close(fd); };
  const int rc = seccomp_export_bpf(ctx_, fd);
  if (rc < 0) {
    return absl::InternalError(
        absl::StrCat("export seccomp filter: seccomp_export_bpf: ", ErrnoText(-rc)));
  }
  const off_t size = lseek(fd, 0, SEEK_END);
  if (size < 0) return absl::ErrnoToStatus(errno, "export seccomp filter: lseek");
  std::string out = stub_;
  const size_t base = out.size();
  out.resize(base + static_cast<size_t>(size));
  size_t done = 0;
  while (done < static_cast<size_t>(size)) {
    const ssize_t n = pread(fd, out.data() + base + done, static_cast<size_t>(size) - done,
                            static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, "export seccomp filter: read");
    if (n == 0) return absl::InternalError("export seccomp filter: short read");
    done += static_cast<size_t>(n);
  }
  return out;
}

absl::Status Filter::Load() const {
  BERTH_ASSIGN_OR_RETURN(const std::string bpf, ExportBpf());
  return InstallBpf(bpf, kernel_flags_);
}

absl::StatusOr<Filter> Compile(const spec::Seccomp& s) {
  // defaultAction, defaultErrnoRet.
  BERTH_ASSIGN_OR_RETURN(const ActionName* def,
                         LookupAction("linux.seccomp.defaultAction", s.default_action));
  if (def->kind == ActionKind::kNotify) {
    // runc refuses this too: the runtime's own last syscalls would wait for the agent.
    return Invalid("linux.seccomp.defaultAction", "SCMP_ACT_NOTIFY cannot be the default action");
  }
  BERTH_ASSIGN_OR_RETURN(const uint32_t default_action,
                         ActionValue(*def, s.default_errno_ret, "linux.seccomp.defaultErrnoRet"));

  scmp_filter_ctx ctx = seccomp_init(default_action);
  if (ctx == nullptr) return absl::InternalError("seccomp_init failed");
  Filter filter(ctx);

  // no_new_privs is process.noNewPrivileges' business, not the filter's; real errno values from
  // libseccomp instead of ECANCELED.
  if (const int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0); rc < 0) {
    return absl::InternalError(absl::StrCat("seccomp: clear CTL_NNP: ", ErrnoText(-rc)));
  }
  (void)seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1);

  // architectures: the native one is always in the filter (seccomp_init adds it).
  std::vector<uint32_t> arches = {seccomp_arch_native()};
  for (size_t i = 0; i < s.architectures.size(); ++i) {
    const std::string field = absl::StrCat("linux.seccomp.architectures[", i, "]");
    const std::string& name = s.architectures[i];
    const internal::ArchName* a = internal::FindArch(name);
    if (a == nullptr) {
      if (internal::IsSpecArchitecture(name)) {
        return Invalid(
            field, absl::StrCat("architecture ", Quote(name), " is not supported by libseccomp ",
                                SCMP_VER_MAJOR, ".", SCMP_VER_MINOR, ".", SCMP_VER_MICRO));
      }
      return Invalid(field, absl::StrCat("unknown architecture ", Quote(name)));
    }
    const int rc = seccomp_arch_add(ctx, a->token);
    if (rc == -EEXIST) continue;  // the native one, or listed twice
    if (rc == -EDOM) {
      // The other byte order: libseccomp cannot mix it into this filter, and no process on this
      // kernel can make its syscalls, so there is nothing to filter (runc fails here; skipping lets
      // one profile list every architecture).
      continue;
    }
    if (rc < 0) {
      return Invalid(field, absl::StrCat("add architecture ", Quote(name), ": ", ErrnoText(-rc)));
    }
    arches.push_back(a->token);
  }

  // flags.
  uint32_t kernel_flags = 0;
  for (size_t i = 0; i < s.flags.size(); ++i) {
    const std::string field = absl::StrCat("linux.seccomp.flags[", i, "]");
    const internal::FlagName* f = internal::FindFlag(s.flags[i]);
    if (f == nullptr) return Invalid(field, absl::StrCat("unknown flag ", Quote(s.flags[i])));
    if (!f->implemented) {
      return absl::UnimplementedError(absl::StrCat(field, ": ", f->name,
                                                   " is not supported: it only applies to a "
                                                   "SCMP_ACT_NOTIFY listener, which berth-runc "
                                                   "does not implement yet"));
    }
    if (const int rc = seccomp_attr_set(ctx, static_cast<scmp_filter_attr>(f->attr), 1); rc < 0) {
      return Invalid(
          field, absl::StrCat(f->name,
                              " is not supported by this kernel or libseccomp: ", ErrnoText(-rc)));
    }
    kernel_flags |= f->kernel_flag;
  }

  // No "flags" at all (not even []): SPEC_ALLOW when this kernel and libseccomp have it, as
  // runc and crun do (no speculative-store-bypass mitigation forced on the container).
  if (!s.has_flags && seccomp_attr_set(ctx, SCMP_FLTATR_CTL_SSB, 1) == 0) {
    kernel_flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
  }

  // Long profiles (Docker's default has ~370 syscalls) are much faster to evaluate as a binary
  // tree; libseccomp <= 2.5.4 misbehaves with the tree and no rules, hence the threshold.
  if (s.syscalls.size() > 32) (void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);

  // syscalls.
  for (size_t i = 0; i < s.syscalls.size(); ++i) {
    const spec::SeccompSyscall& sc = s.syscalls[i];
    const std::string field = absl::StrCat("linux.seccomp.syscalls[", i, "]");
    if (sc.names.empty()) return Invalid(field + ".names", "must list at least one syscall");

    BERTH_ASSIGN_OR_RETURN(const ActionName* a, LookupAction(field + ".action", sc.action));
    if (a->kind == ActionKind::kNotify) {
      if (s.listener_path.empty()) {
        return Invalid(field + ".action", "SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath");
      }
      return absl::UnimplementedError(
          absl::StrCat(field, ".action: SCMP_ACT_NOTIFY (seccomp user notification to ",
                       Quote(s.listener_path), ") is not supported by berth-runc yet"));
    }
    BERTH_ASSIGN_OR_RETURN(const uint32_t action,
                           ActionValue(*a, sc.errno_ret, field + ".errnoRet"));

    std::vector<scmp_arg_cmp> conds;
    conds.reserve(sc.args.size());
    std::array<int, kMaxArgs> per_index{};
    bool shared_index = false;
    for (size_t j = 0; j < sc.args.size(); ++j) {
      const spec::SeccompArg& arg = sc.args[j];
      const std::string arg_field = absl::StrCat(field, ".args[", j, "]");
      if (arg.index >= kMaxArgs) {
        return Invalid(arg_field + ".index",
                       absl::StrCat(arg.index, " is out of range (a syscall has arguments 0-",
                                    kMaxArgs - 1, ")"));
      }
      const std::optional<int> op = internal::FindOperator(arg.op);
      if (!op) return Invalid(arg_field + ".op", absl::StrCat("unknown operator ", Quote(arg.op)));
      conds.push_back({arg.index, static_cast<scmp_compare>(*op), arg.value, arg.value_two});
      if (++per_index[arg.index] > 1) shared_index = true;
    }
    for (size_t j = 0; j < sc.names.size(); ++j) {
      if (sc.names[j].empty()) {
        return Invalid(absl::StrCat(field, ".names[", j, "]"), "empty syscall name");
      }
    }

    // Same as the default: nothing to add (and libseccomp would refuse it with EACCES).
    if (action == default_action) continue;

    for (const std::string& name : sc.names) {
      // Resolved for the native arch; a syscall that only exists on another arch of the filter
      // resolves to a negative pseudo number, which libseccomp maps per arch.
      const int nr = seccomp_syscall_resolve_name(name.c_str());
      if (nr == __NR_SCMP_ERROR) {
        continue;  // unknown to this libseccomp: skipped, as runc does (profiles run ahead)
      }
      if (const int rc = AddRules(ctx, action, nr, conds, shared_index); rc < 0) {
        return Invalid(field,
                       absl::StrCat("add rule for syscall ", Quote(name), ": ", ErrnoText(-rc)));
      }
    }
  }

  // The -ENOSYS stub (see seccomp.h), unless the default action lets unknown syscalls through
  // anyway or already answers ENOSYS.
  const bool permissive = default_action == SCMP_ACT_ALLOW || default_action == SCMP_ACT_LOG ||
                          def->value == SCMP_ACT_TRACE(0);
  if (!permissive && default_action != SCMP_ACT_ERRNO(ENOSYS)) {
    std::vector<internal::ArchMax> maxima;
    for (const uint32_t arch : arches) {
      if (const std::optional<uint32_t> max = MaxSyscall(s, arch)) {
        maxima.push_back({arch, *max});
      }
    }
    BERTH_ASSIGN_OR_RETURN(filter.stub_, internal::BuildEnosysStub(maxima));
  }
  filter.kernel_flags_ = kernel_flags;
  return filter;
}

bool Enabled(const spec::Seccomp& s) { return !s.default_action.empty() || !s.syscalls.empty(); }

absl::StatusOr<Program> CompileProgram(const spec::Seccomp& s) {
  BERTH_ASSIGN_OR_RETURN(const Filter filter, Compile(s));
  Program p;
  BERTH_ASSIGN_OR_RETURN(p.bpf, filter.ExportBpf());
  p.flags = filter.kernel_flags();
  return p;
}

std::vector<std::string> KnownActions() { return internal::ActionNames(); }
std::vector<std::string> KnownArchitectures() { return internal::ArchNames(); }
std::vector<std::string> KnownOperators() { return internal::OperatorNames(); }
std::vector<std::string> KnownFlags() { return internal::ImplementedFlagNames(); }

}  // namespace berth::runc::seccomp
