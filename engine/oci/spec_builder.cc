#include "engine/oci/spec_builder.h"

#include <unistd.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status/status_macros.h"
#include "engine/oci/capabilities.h"
#include "engine/oci/spec_internal.h"
#include "engine/oci/user.h"

namespace berth::engine::oci {
namespace internal {
namespace {

using Json = nlohmann::json;

constexpr char kDefaultPath[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

absl::Status ReadStringList(const Json& obj, const char* key,
                            std::optional<std::vector<std::string>>* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat("image config: ", key, " must be an array of strings"));
  }
  std::vector<std::string> v;
  for (const Json& e : *it) {
    if (!e.is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat("image config: ", key, " must be an array of strings"));
    }
    v.push_back(e.get<std::string>());
  }
  *out = std::move(v);
  return absl::OkStatus();
}

absl::Status ReadString(const Json& obj, const char* key, std::string* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat("image config: ", key, " must be a string"));
  }
  *out = it->get<std::string>();
  return absl::OkStatus();
}

// The key of a "KEY=value" entry (the whole entry when it has no '=').
absl::string_view EnvKey(absl::string_view entry) {
  return entry.substr(0, entry.find('='));
}

// Docker's ReplaceOrAppendEnvValues: an override replaces the entry with the same key in
// place, or is appended; an override without '=' removes the key.
void MergeEnv(std::vector<std::string>* env, const std::vector<std::string>& overrides) {
  for (const std::string& o : overrides) {
    const absl::string_view key = EnvKey(o);
    const bool remove = o.find('=') == std::string::npos;
    bool found = false;
    for (auto it = env->begin(); it != env->end();) {
      if (EnvKey(*it) == key) {
        if (remove) {
          it = env->erase(it);
          continue;
        }
        if (!found) *it = o;
        found = true;
      }
      ++it;
    }
    if (!found && !remove) env->push_back(o);
  }
}

bool HasEnv(const std::vector<std::string>& env, absl::string_view key) {
  for (const std::string& e : env) {
    if (EnvKey(e) == key) return true;
  }
  return false;
}

std::vector<std::string> ToVector(const berth::engine::v1::StringList& l) {
  return {l.values().begin(), l.values().end()};
}

// Docker's entrypoint/cmd merge (daemon/create.go + container config merge).
absl::StatusOr<std::vector<std::string>> MergeArgs(const berth::engine::v1::ContainerConfig& c,
                                                   const ImageConfig& image) {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  if (c.has_entrypoint()) {
    // An entrypoint override (even an empty one) drops the image's CMD too.
    entrypoint = ToVector(c.entrypoint());
    if (c.has_cmd()) cmd = ToVector(c.cmd());
  } else {
    entrypoint = image.entrypoint.value_or(std::vector<std::string>{});
    cmd = c.has_cmd() && c.cmd().values_size() > 0 ? ToVector(c.cmd())
                                                   : image.cmd.value_or(std::vector<std::string>{});
  }
  std::vector<std::string> args = std::move(entrypoint);
  args.insert(args.end(), cmd.begin(), cmd.end());
  if (args.empty()) return absl::InvalidArgumentError("no command specified");
  return args;
}

}  // namespace

absl::StatusOr<ImageConfig> ParseImageConfig(const std::string& json) {
  ImageConfig out;
  if (json.empty()) return out;
  const Json v = Json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (v.is_discarded() || !v.is_object()) {
    return absl::InvalidArgumentError("image config: not a JSON object");
  }
  auto it = v.find("config");
  if (it == v.end() || it->is_null()) return out;
  if (!it->is_object()) return absl::InvalidArgumentError("image config: config must be an object");
  const Json& c = *it;
  BERTH_RETURN_IF_ERROR(ReadStringList(c, "Entrypoint", &out.entrypoint));
  BERTH_RETURN_IF_ERROR(ReadStringList(c, "Cmd", &out.cmd));
  std::optional<std::vector<std::string>> env;
  BERTH_RETURN_IF_ERROR(ReadStringList(c, "Env", &env));
  if (env) out.env = *std::move(env);
  BERTH_RETURN_IF_ERROR(ReadString(c, "WorkingDir", &out.working_dir));
  BERTH_RETURN_IF_ERROR(ReadString(c, "User", &out.user));
  auto labels = c.find("Labels");
  if (labels != c.end() && !labels->is_null()) {
    if (!labels->is_object()) {
      return absl::InvalidArgumentError("image config: Labels must be an object");
    }
    for (auto l = labels->begin(); l != labels->end(); ++l) {
      if (!l->is_string()) {
        return absl::InvalidArgumentError("image config: Labels values must be strings");
      }
      out.labels[l.key()] = l->get<std::string>();
    }
  }
  auto volumes = c.find("Volumes");
  if (volumes != c.end() && !volumes->is_null()) {
    if (!volumes->is_object()) {
      return absl::InvalidArgumentError("image config: Volumes must be an object");
    }
    for (auto vol = volumes->begin(); vol != volumes->end(); ++vol) out.volumes.push_back(vol.key());
  }
  return out;
}

std::string CleanPath(const std::string& path) {
  std::vector<std::string> parts;
  for (absl::string_view p : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    if (p == ".") continue;
    if (p == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.emplace_back(p);
  }
  return absl::StrCat("/", absl::StrJoin(parts, "/"));
}

}  // namespace internal

using internal::OJson;

std::string ContainerHostname(const SpecInput& input) {
  if (!input.config.hostname().empty()) return input.config.hostname();
  if (input.host_config.network_mode() == "host" || input.host_config.uts_mode() == "host") {
    char buf[256] = {};
    if (::gethostname(buf, sizeof(buf) - 1) == 0 && buf[0] != '\0') return buf;
  }
  return input.container_id.substr(0, 12);
}

absl::StatusOr<std::string> BuildSpec(const SpecInput& input,
                                      std::vector<std::string>* warnings) {
  std::vector<std::string> local_warnings;
  const HostFacts host = input.host ? *input.host : DetectHostFacts();
  internal::Context ctx{input, host, warnings != nullptr ? warnings : &local_warnings, {}};
  const auto& config = input.config;
  const auto& hc = input.host_config;
  ctx.privileged = hc.privileged();
  ctx.read_only_rootfs = hc.read_only_rootfs();
  BERTH_ASSIGN_OR_RETURN(ctx.ns, internal::PlanNamespaces(input));
  BERTH_RETURN_IF_ERROR(internal::ParseSecurityOpts(&ctx));
  BERTH_ASSIGN_OR_RETURN(internal::ImageConfig image,
                         internal::ParseImageConfig(input.image_config_json));

  // --- process ---
  BERTH_ASSIGN_OR_RETURN(std::vector<std::string> args, internal::MergeArgs(config, image));
  const std::string hostname = ContainerHostname(input);
  std::vector<std::string> env = {internal::kDefaultPath, absl::StrCat("HOSTNAME=", hostname)};
  if (config.tty()) env.push_back("TERM=xterm");
  internal::MergeEnv(&env, image.env);
  internal::MergeEnv(&env, {config.env().begin(), config.env().end()});

  std::string cwd = config.working_dir().empty() ? image.working_dir : config.working_dir();
  if (cwd.empty()) cwd = "/";
  if (cwd[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat(
        "the working directory '", cwd, "' is invalid, it needs to be an absolute path"));
  }
  cwd = internal::CleanPath(cwd);

  const std::string user_spec = config.user().empty() ? image.user : config.user();
  BERTH_ASSIGN_OR_RETURN(
      ExecUser user,
      ResolveUser(input.rootfs_dir, user_spec, {hc.group_add().begin(), hc.group_add().end()}));
  if (!internal::HasEnv(env, "HOME")) env.push_back(absl::StrCat("HOME=", user.home));

  BERTH_ASSIGN_OR_RETURN(ctx.capabilities,
                         ContainerCapabilities({hc.cap_add().begin(), hc.cap_add().end()},
                                               {hc.cap_drop().begin(), hc.cap_drop().end()},
                                               ctx.privileged, host.capabilities));

  OJson process = OJson::object();
  process["terminal"] = config.tty();
  if (config.tty() && hc.console_size().height() > 0 && hc.console_size().width() > 0) {
    process["consoleSize"] = {{"height", hc.console_size().height()},
                              {"width", hc.console_size().width()}};
  }
  OJson user_obj = {{"uid", user.uid}, {"gid", user.gid}};
  if (!user.additional_gids.empty()) user_obj["additionalGids"] = user.additional_gids;
  process["user"] = std::move(user_obj);
  process["args"] = args;
  process["env"] = env;
  process["cwd"] = cwd;
  // Like Docker 23+: a non-root process gets the bounding set only; its effective and
  // permitted sets would be cleared by execve anyway (no ambient capabilities).
  const std::vector<std::string> none;
  const bool root = user.uid == 0;
  process["capabilities"] = {{"bounding", ctx.capabilities},
                             {"effective", root ? ctx.capabilities : none},
                             {"permitted", root ? ctx.capabilities : none}};
  BERTH_ASSIGN_OR_RETURN(OJson rlimits, internal::BuildRlimits(ctx));
  if (!rlimits.empty()) process["rlimits"] = std::move(rlimits);
  process["noNewPrivileges"] = ctx.no_new_privileges;
  if (hc.oom_score_adj() < -1000 || hc.oom_score_adj() > 1000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid value ", hc.oom_score_adj(), ", range for oom score adj is [-1000, 1000]"));
  }
  process["oomScoreAdj"] = hc.oom_score_adj();

  // --- root, hostname ---
  OJson spec = OJson::object();
  spec["ociVersion"] = "1.1.0";
  spec["process"] = std::move(process);
  spec["root"] = {{"path", input.root_path.empty() ? input.rootfs_dir : input.root_path},
                  {"readonly", ctx.read_only_rootfs}};
  if (!ctx.ns.host_uts) {
    spec["hostname"] = hostname;
    if (!config.domainname().empty()) spec["domainname"] = config.domainname();
  }

  // --- mounts ---
  std::string rootfs_propagation;
  BERTH_ASSIGN_OR_RETURN(spec["mounts"], internal::BuildMounts(ctx, image, &rootfs_propagation));

  // --- linux ---
  OJson linux_obj = OJson::object();
  BERTH_ASSIGN_OR_RETURN(linux_obj["namespaces"], internal::BuildNamespaces(ctx));
  std::string parent = hc.resources().cgroup_parent().empty() ? input.default_cgroup_parent
                                                              : hc.resources().cgroup_parent();
  if (parent.empty() || parent[0] != '/') parent = absl::StrCat("/", parent);
  linux_obj["cgroupsPath"] = internal::CleanPath(absl::StrCat(parent, "/", input.container_id));
  BERTH_RETURN_IF_ERROR(internal::BuildResources(ctx, &linux_obj));
  BERTH_ASSIGN_OR_RETURN(OJson sysctl, internal::BuildSysctls(ctx));
  if (!sysctl.empty()) linux_obj["sysctl"] = std::move(sysctl);
  BERTH_ASSIGN_OR_RETURN(OJson seccomp, internal::BuildSeccomp(ctx));
  if (!seccomp.is_null()) linux_obj["seccomp"] = std::move(seccomp);
  if (!rootfs_propagation.empty()) linux_obj["rootfsPropagation"] = rootfs_propagation;
  if (!ctx.privileged && !ctx.systempaths_unconfined) {
    static const char* const kMasked[] = {
        "/proc/asound",       "/proc/acpi",      "/proc/kcore",       "/proc/keys",
        "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
        "/proc/scsi",         "/sys/firmware",   "/sys/devices/virtual/powercap",
    };
    static const char* const kReadonly[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                            "/proc/sysrq-trigger"};
    linux_obj["maskedPaths"] =
        hc.masked_paths_size() > 0
            ? std::vector<std::string>(hc.masked_paths().begin(), hc.masked_paths().end())
            : std::vector<std::string>(std::begin(kMasked), std::end(kMasked));
    linux_obj["readonlyPaths"] =
        hc.readonly_paths_size() > 0
            ? std::vector<std::string>(hc.readonly_paths().begin(), hc.readonly_paths().end())
            : std::vector<std::string>(std::begin(kReadonly), std::end(kReadonly));
  }
  spec["linux"] = std::move(linux_obj);

  // --- annotations: image labels, then container labels, then explicit annotations ---
  std::map<std::string, std::string> annotations = image.labels;
  for (const auto& [k, v] : config.labels()) annotations[k] = v;
  for (const auto& [k, v] : hc.annotations()) annotations[k] = v;
  if (!annotations.empty()) spec["annotations"] = annotations;

  std::string out = spec.dump(2, ' ', false, OJson::error_handler_t::replace);
  out.push_back('\n');
  return out;
}

}  // namespace berth::engine::oci
