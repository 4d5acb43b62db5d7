#include "engine/oci/seccomp_profile.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status/status_macros.h"

namespace berth::engine::oci {
namespace {

using Json = nlohmann::json;

constexpr absl::string_view kActions[] = {
    "SCMP_ACT_KILL",  "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",  "SCMP_ACT_ERRNO",        "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW", "SCMP_ACT_LOG",          "SCMP_ACT_NOTIFY",
};
constexpr absl::string_view kOperators[] = {
    "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE",        "SCMP_CMP_EQ",
    "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ",
};

template <size_t N>
bool OneOf(const absl::string_view (&table)[N], absl::string_view v) {
  return std::find(std::begin(table), std::end(table), v) != std::end(table);
}

absl::Status Invalid(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("seccomp profile: ", field, ": ", what));
}

// The member `key` of object `obj`, or nullptr when absent or null (Go's decoder treats
// null as absent).
const Json* Member(const Json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

absl::Status GetString(const Json& obj, const char* key, const std::string& field,
                       std::string* out) {
  const Json* v = Member(obj, key);
  if (v == nullptr) return absl::OkStatus();
  if (!v->is_string()) return Invalid(field + "." + key, "must be a string");
  *out = v->get<std::string>();
  return absl::OkStatus();
}

absl::Status GetStrings(const Json& obj, const char* key, const std::string& field,
                        std::vector<std::string>* out) {
  const Json* v = Member(obj, key);
  if (v == nullptr) return absl::OkStatus();
  if (!v->is_array()) return Invalid(field + "." + key, "must be an array of strings");
  for (const Json& e : *v) {
    if (!e.is_string()) return Invalid(field + "." + key, "must be an array of strings");
    out->push_back(e.get<std::string>());
  }
  return absl::OkStatus();
}

template <typename T>
absl::Status GetUnsigned(const Json& obj, const char* key, const std::string& field, T* out) {
  const Json* v = Member(obj, key);
  if (v == nullptr) return absl::OkStatus();
  if (!v->is_number_unsigned() &&
      !(v->is_number_integer() && v->get<int64_t>() >= 0)) {
    return Invalid(field + "." + key, "must be a non-negative integer");
  }
  const uint64_t u = v->get<uint64_t>();
  if (u > std::numeric_limits<T>::max()) return Invalid(field + "." + key, "out of range");
  *out = static_cast<T>(u);
  return absl::OkStatus();
}

absl::Status GetOptionalErrno(const Json& obj, const char* key, const std::string& field,
                              std::optional<uint32_t>* out) {
  if (Member(obj, key) == nullptr) return absl::OkStatus();
  uint32_t v = 0;
  BERTH_RETURN_IF_ERROR(GetUnsigned(obj, key, field, &v));
  *out = v;
  return absl::OkStatus();
}

absl::Status ParseCondition(const Json& obj, const char* key, const std::string& field,
                            SeccompCondition* out) {
  const Json* v = Member(obj, key);
  if (v == nullptr) return absl::OkStatus();
  const std::string f = field + "." + key;
  if (!v->is_object()) return Invalid(f, "must be an object");
  BERTH_RETURN_IF_ERROR(GetStrings(*v, "caps", f, &out->caps));
  BERTH_RETURN_IF_ERROR(GetStrings(*v, "arches", f, &out->arches));
  return GetString(*v, "minKernel", f, &out->min_kernel);
}

absl::Status CheckAction(const std::string& action, const std::string& field) {
  if (!OneOf(kActions, action)) {
    return Invalid(field, absl::StrCat("unknown action \"", action, "\""));
  }
  return absl::OkStatus();
}

absl::Status ParseRule(const Json& v, const std::string& field, SeccompRule* rule) {
  if (!v.is_object()) return Invalid(field, "must be an object");
  std::string name;
  BERTH_RETURN_IF_ERROR(GetString(v, "name", field, &name));
  BERTH_RETURN_IF_ERROR(GetStrings(v, "names", field, &rule->names));
  if (!name.empty() && !rule->names.empty()) {
    return Invalid(field, "'name' and 'names' were specified, use either 'name' or 'names'");
  }
  if (!name.empty()) rule->names.push_back(name);
  if (rule->names.empty()) return Invalid(field, "needs 'names'");
  BERTH_RETURN_IF_ERROR(GetString(v, "action", field, &rule->action));
  BERTH_RETURN_IF_ERROR(CheckAction(rule->action, field + ".action"));
  BERTH_RETURN_IF_ERROR(GetOptionalErrno(v, "errnoRet", field, &rule->errno_ret));
  if (const Json* args = Member(v, "args")) {
    if (!args->is_array()) return Invalid(field + ".args", "must be an array");
    for (size_t i = 0; i < args->size(); ++i) {
      const Json& a = (*args)[i];
      const std::string af = absl::StrCat(field, ".args[", i, "]");
      if (!a.is_object()) return Invalid(af, "must be an object");
      SeccompArg arg;
      BERTH_RETURN_IF_ERROR(GetUnsigned(a, "index", af, &arg.index));
      if (arg.index > 5) return Invalid(af + ".index", "must be 0..5");
      BERTH_RETURN_IF_ERROR(GetUnsigned(a, "value", af, &arg.value));
      BERTH_RETURN_IF_ERROR(GetUnsigned(a, "valueTwo", af, &arg.value_two));
      BERTH_RETURN_IF_ERROR(GetString(a, "op", af, &arg.op));
      if (!OneOf(kOperators, arg.op)) {
        return Invalid(af + ".op", absl::StrCat("unknown operator \"", arg.op, "\""));
      }
      rule->args.push_back(std::move(arg));
    }
  }
  BERTH_RETURN_IF_ERROR(ParseCondition(v, "includes", field, &rule->includes));
  return ParseCondition(v, "excludes", field, &rule->excludes);
}

// "4.8" or "5.10.0" -> (4, 8); false if unparsable.
bool ParseKernel(absl::string_view s, int* major, int* minor) {
  std::vector<absl::string_view> parts = absl::StrSplit(s, '.');
  if (parts.size() < 2) return false;
  return absl::SimpleAtoi(parts[0], major) && absl::SimpleAtoi(parts[1], minor);
}

bool Contains(const std::vector<std::string>& v, absl::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Whether the kernel in ctx is at least `min` ("major.minor").
absl::StatusOr<bool> KernelAtLeast(const SeccompContext& ctx, const std::string& min) {
  int major = 0, minor = 0;
  if (!ParseKernel(min, &major, &minor)) {
    return absl::InvalidArgumentError(
        absl::StrCat("seccomp profile: invalid minKernel \"", min, "\""));
  }
  return std::make_pair(ctx.kernel_major, ctx.kernel_minor) >= std::make_pair(major, minor);
}

absl::StatusOr<bool> RuleApplies(const SeccompRule& rule, const SeccompContext& ctx) {
  const SeccompCondition& in = rule.includes;
  const SeccompCondition& ex = rule.excludes;
  if (!in.arches.empty() && !Contains(in.arches, ctx.arch)) return false;
  for (const std::string& c : in.caps) {
    if (!Contains(ctx.capabilities, c)) return false;
  }
  if (!in.min_kernel.empty()) {
    BERTH_ASSIGN_OR_RETURN(bool ok, KernelAtLeast(ctx, in.min_kernel));
    if (!ok) return false;
  }
  if (!ex.arches.empty() && Contains(ex.arches, ctx.arch)) return false;
  for (const std::string& c : ex.caps) {
    if (Contains(ctx.capabilities, c)) return false;
  }
  if (!ex.min_kernel.empty()) {
    BERTH_ASSIGN_OR_RETURN(bool at_least, KernelAtLeast(ctx, ex.min_kernel));
    if (at_least) return false;
  }
  return true;
}

}  // namespace

std::string SeccompArchName(absl::string_view go_arch) {
  static constexpr std::pair<absl::string_view, absl::string_view> kArches[] = {
      {"amd64", "SCMP_ARCH_X86_64"},     {"386", "SCMP_ARCH_X86"},
      {"x32", "SCMP_ARCH_X32"},          {"arm64", "SCMP_ARCH_AARCH64"},
      {"arm", "SCMP_ARCH_ARM"},          {"ppc64le", "SCMP_ARCH_PPC64LE"},
      {"ppc64", "SCMP_ARCH_PPC64"},      {"s390x", "SCMP_ARCH_S390X"},
      {"s390", "SCMP_ARCH_S390"},        {"riscv64", "SCMP_ARCH_RISCV64"},
      {"mips64", "SCMP_ARCH_MIPS64"},    {"mips64le", "SCMP_ARCH_MIPSEL64"},
      {"loong64", "SCMP_ARCH_LOONGARCH64"},
  };
  for (const auto& [go, scmp] : kArches) {
    if (go == go_arch) return std::string(scmp);
  }
  return "";
}

absl::StatusOr<SeccompProfile> ParseSeccompProfile(absl::string_view json) {
  const Json v = Json::parse(json.begin(), json.end(), nullptr, /*allow_exceptions=*/false);
  if (v.is_discarded()) return absl::InvalidArgumentError("seccomp profile: malformed JSON");
  if (!v.is_object()) return Invalid("profile", "must be a JSON object");
  SeccompProfile p;
  const std::string root = "profile";
  BERTH_RETURN_IF_ERROR(GetString(v, "defaultAction", root, &p.default_action));
  if (p.default_action.empty()) return Invalid("defaultAction", "is required");
  BERTH_RETURN_IF_ERROR(CheckAction(p.default_action, "defaultAction"));
  BERTH_RETURN_IF_ERROR(GetOptionalErrno(v, "defaultErrnoRet", root, &p.default_errno_ret));
  BERTH_RETURN_IF_ERROR(GetStrings(v, "architectures", root, &p.architectures));
  if (const Json* m = Member(v, "archMap")) {
    if (!m->is_array()) return Invalid("archMap", "must be an array");
    for (size_t i = 0; i < m->size(); ++i) {
      const std::string f = absl::StrCat("archMap[", i, "]");
      if (!(*m)[i].is_object()) return Invalid(f, "must be an object");
      SeccompArchMap a;
      BERTH_RETURN_IF_ERROR(GetString((*m)[i], "architecture", f, &a.architecture));
      BERTH_RETURN_IF_ERROR(GetStrings((*m)[i], "subArchitectures", f, &a.sub_architectures));
      p.arch_map.push_back(std::move(a));
    }
  }
  if (!p.architectures.empty() && !p.arch_map.empty()) {
    return Invalid("profile",
                   "'architectures' and 'archMap' were specified, use either "
                   "'architectures' or 'archMap'");
  }
  BERTH_RETURN_IF_ERROR(GetStrings(v, "flags", root, &p.flags));
  BERTH_RETURN_IF_ERROR(GetString(v, "listenerPath", root, &p.listener_path));
  BERTH_RETURN_IF_ERROR(GetString(v, "listenerMetadata", root, &p.listener_metadata));
  if (const Json* s = Member(v, "syscalls")) {
    if (!s->is_array()) return Invalid("syscalls", "must be an array");
    for (size_t i = 0; i < s->size(); ++i) {
      SeccompRule rule;
      BERTH_RETURN_IF_ERROR(ParseRule((*s)[i], absl::StrCat("syscalls[", i, "]"), &rule));
      p.syscalls.push_back(std::move(rule));
    }
  }
  return p;
}

absl::StatusOr<nlohmann::ordered_json> ToOciSeccomp(const SeccompProfile& profile,
                                                    const SeccompContext& ctx) {
  using OJson = nlohmann::ordered_json;
  OJson out = OJson::object();
  out["defaultAction"] = profile.default_action;
  if (profile.default_errno_ret) out["defaultErrnoRet"] = *profile.default_errno_ret;
  std::vector<std::string> arches = profile.architectures;
  const std::string native = SeccompArchName(ctx.arch);
  for (const SeccompArchMap& m : profile.arch_map) {
    if (m.architecture != native) continue;
    arches.push_back(m.architecture);
    arches.insert(arches.end(), m.sub_architectures.begin(), m.sub_architectures.end());
  }
  if (!arches.empty()) out["architectures"] = arches;
  if (!profile.flags.empty()) out["flags"] = profile.flags;
  if (!profile.listener_path.empty()) out["listenerPath"] = profile.listener_path;
  if (!profile.listener_metadata.empty()) out["listenerMetadata"] = profile.listener_metadata;
  OJson syscalls = OJson::array();
  for (const SeccompRule& rule : profile.syscalls) {
    BERTH_ASSIGN_OR_RETURN(bool applies, RuleApplies(rule, ctx));
    if (!applies) continue;
    OJson r = OJson::object();
    r["names"] = rule.names;
    r["action"] = rule.action;
    if (rule.errno_ret) r["errnoRet"] = *rule.errno_ret;
    if (!rule.args.empty()) {
      OJson args = OJson::array();
      for (const SeccompArg& a : rule.args) {
        args.push_back(
            {{"index", a.index}, {"value", a.value}, {"valueTwo", a.value_two}, {"op", a.op}});
      }
      r["args"] = std::move(args);
    }
    syscalls.push_back(std::move(r));
  }
  out["syscalls"] = std::move(syscalls);
  return out;
}

}  // namespace berth::engine::oci
