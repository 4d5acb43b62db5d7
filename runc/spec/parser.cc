// config.json: the top level, process, root, mounts and hooks. The "linux" object is in
// parser_linux.cc.
#include "runc/spec/parser.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/fs/fs.h"
#include "common/status/status_macros.h"
#include "runc/spec/mount_options.h"
#include "runc/spec/names.h"
#include "runc/spec/parser_internal.h"
#include "runc/spec/paths.h"

namespace berth::runc::spec {
namespace internal {
namespace {

// Only used on the error path, to say where the JSON went wrong (json::parse without
// exceptions just returns "discarded").
class ErrorCollector : public nlohmann::json_sax<Json> {
 public:
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t, const std::string&,
                   const nlohmann::detail::exception& ex) override {
    message_ = ex.what();
    return false;
  }
  const std::string& message() const { return message_; }

 private:
  std::string message_;
};

std::string DescribeJsonError(absl::string_view text) {
  ErrorCollector collector;
  try {
    Json::sax_parse(text.begin(), text.end(), &collector);
  } catch (...) {  // sax_parse reports through the collector; this is only a safety net
  }
  std::string msg = collector.message();
  // "[json.exception.parse_error.101] parse error at line 1, ..." -> "parse error at line 1, ..."
  if (!msg.empty() && msg[0] == '[') {
    const size_t end = msg.find("] ");
    if (end != std::string::npos) msg.erase(0, end + 2);
  }
  if (msg.empty()) msg = "parse error";
  return msg;
}

absl::Status CheckEnv(const Path& path, const std::vector<std::string>& env) {
  for (size_t i = 0; i < env.size(); ++i) {
    const size_t eq = env[i].find('=');
    if (eq == std::string::npos || eq == 0) {
      return FieldError(path.Index(i), absl::StrCat(Quote(env[i]), " is not KEY=value"));
    }
  }
  return absl::OkStatus();
}

// ociVersion: SemVer with major version 1 ("1.0.2-dev", "1.1.0", "1.2.0"). The spec keeps
// compatibility within a major version, so any 1.x is read with the 1.1 rules; unknown newer
// fields are ignored like any unknown field.
absl::Status CheckVersion(const Path& path, const std::string& v) {
  if (v.size() < 3 || v[0] != '1' || v[1] != '.' || !absl::ascii_isdigit(v[2])) {
    return FieldError(path, absl::StrCat("unsupported version ", Quote(v), " (want 1.x)"));
  }
  return absl::OkStatus();
}

class SpecParser {
 public:
  SpecParser(std::string bundle, const ParseOptions& options)
      : bundle_(std::move(bundle)), options_(options) {}

  absl::Status ParseTop(Json& doc, Spec* spec);
  absl::Status ParseProcessObject(Json& v, const Path& path, Process* out);

 private:
  absl::Status ParseRoot(Json& v, const Path& path, Root* out);
  absl::Status ParseUser(Json& v, const Path& path, User* out);
  absl::Status ParseCapabilities(Json& v, const Path& path, Capabilities* out);
  absl::Status ParseCapabilitySet(Json& caps, const Path& path, const char* key,
                                  std::vector<int>* out);
  absl::Status ParseRlimits(Json& v, const Path& path, std::vector<Rlimit>* out);
  absl::Status ParseScheduler(Json& v, const Path& path, Scheduler* out);
  absl::Status ParseIoPriority(Json& v, const Path& path, IoPriority* out);
  absl::Status ParseMount(Json& v, const Path& path, Mount* out);
  absl::Status ParseHooks(Json& v, const Path& path, Hooks* out);
  absl::Status ParseHookList(Json& hooks, const Path& path, const char* key,
                             std::vector<Hook>* out);
  absl::Status CheckConsistency(const Spec& spec);
  int LastCap() {
    if (last_cap_ < 0)
      last_cap_ = options_.cap_last_cap >= 0 ? options_.cap_last_cap : KernelLastCap();
    return last_cap_;
  }

  const std::string bundle_;  // absolute
  const ParseOptions& options_;
  int last_cap_ = -1;
};

absl::Status SpecParser::ParseTop(Json& doc, Spec* spec) {
  const Path top;
  if (!doc.is_object()) return WrongType(top, "object", doc);

  BERTH_RETURN_IF_ERROR(Required(doc, top, "ociVersion", &spec->oci_version));
  BERTH_RETURN_IF_ERROR(CheckVersion(top.Key("ociVersion"), spec->oci_version));

  Json* root = Member(doc, "root");
  if (root == nullptr) return Missing(top.Key("root"));
  BERTH_RETURN_IF_ERROR(ParseRoot(*root, top.Key("root"), &spec->root));

  if (Json* process = Member(doc, "process")) {
    BERTH_RETURN_IF_ERROR(
        ParseProcessObject(*process, top.Key("process"), &spec->process.emplace()));
  }
  BERTH_RETURN_IF_ERROR(Optional(doc, top, "hostname", &spec->hostname));
  BERTH_RETURN_IF_ERROR(Optional(doc, top, "domainname", &spec->domainname));

  if (Json* mounts = Member(doc, "mounts")) {
    BERTH_RETURN_IF_ERROR(
        ReadObjects(*mounts, top.Key("mounts"), &spec->mounts,
                    [this](Json& m, const Path& p, Mount* out) { return ParseMount(m, p, out); }));
  }
  if (Json* hooks = Member(doc, "hooks")) {
    BERTH_RETURN_IF_ERROR(ParseHooks(*hooks, top.Key("hooks"), &spec->hooks.emplace()));
  }
  BERTH_RETURN_IF_ERROR(Optional(doc, top, "annotations", &spec->annotations));
  if (Json* linux_obj = Member(doc, "linux")) {
    BERTH_RETURN_IF_ERROR(ParseLinux(*linux_obj, top.Key("linux"), &spec->linux));
  }
  return CheckConsistency(*spec);
}

absl::Status SpecParser::ParseRoot(Json& v, const Path& path, Root* out) {
  BERTH_RETURN_IF_ERROR(CheckObject(v, path));
  std::string given;
  BERTH_RETURN_IF_ERROR(Required(v, path, "path", &given));
  const Path path_field = path.Key("path");
  if (given.empty()) return Missing(path_field);
  if (ResolveBundlePath(bundle_, given, &out->path) == PathCheck::kEscapes) {
    return FieldError(path_field,
                      absl::StrCat(Quote(given), " escapes the bundle directory ", bundle_));
  }
  struct stat st;
  if (stat(out->path.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT) {
      return FieldError(path_field, absl::StrCat(out->path, " does not exist"));
    }
    return FieldError(path_field, absl::StrCat("stat ", out->path, ": ", strerror(err)));
  }
  if (!S_ISDIR(st.st_mode)) {
    return FieldError(path_field, absl::StrCat(out->path, " is not a directory"));
  }
  return Optional(v, path, "readonly", &out->readonly);
}

absl::Status SpecParser::ParseProcessObject(Json& v, const Path& path, Process* out) {
  BERTH_RETURN_IF_ERROR(CheckObject(v, path));
  BERTH_RETURN_IF_ERROR(Optional(v, path, "terminal", &out->terminal));
  if (Json* size = Member(v, "consoleSize")) {
    const Path p = path.Key("consoleSize");
    BERTH_RETURN_IF_ERROR(CheckObject(*size, p));
    ConsoleSize& cs = out->console_size.emplace();
    BERTH_RETURN_IF_ERROR(Required(*size, p, "height", &cs.height));
    BERTH_RETURN_IF_ERROR(Required(*size, p, "width", &cs.width));
  }
  if (Json* user = Member(v, "user")) {
    BERTH_RETURN_IF_ERROR(ParseUser(*user, path.Key("user"), &out->user));
  }

  BERTH_RETURN_IF_ERROR(Required(v, path, "args", &out->args));
  if (out->args.empty()) return FieldError(path.Key("args"), "must not be empty");
  if (out->args[0].empty()) return FieldError(path.Key("args").Index(0), "must not be empty");

  if (Json* env = Member(v, "env")) {
    BERTH_RETURN_IF_ERROR(Read(*env, path.Key("env"), &out->env));
    BERTH_RETURN_IF_ERROR(CheckEnv(path.Key("env"), out->env));
  }
  BERTH_RETURN_IF_ERROR(Required(v, path, "cwd", &out->cwd));
  BERTH_RETURN_IF_ERROR(CheckAbsolute(path.Key("cwd"), out->cwd));

  if (Json* caps = Member(v, "capabilities")) {
    BERTH_RETURN_IF_ERROR(
        ParseCapabilities(*caps, path.Key("capabilities"), &out->capabilities.emplace()));
  }
  if (Json* rlimits = Member(v, "rlimits")) {
    BERTH_RETURN_IF_ERROR(ParseRlimits(*rlimits, path.Key("rlimits"), &out->rlimits));
  }
  BERTH_RETURN_IF_ERROR(Optional(v, path, "noNewPrivileges", &out->no_new_privileges));
  if (Json* oom = Member(v, "oomScoreAdj")) {
    // The kernel's range for /proc/<pid>/oom_score_adj (OOM_SCORE_ADJ_MIN/MAX).
    int64_t adj = 0;
    BERTH_RETURN_IF_ERROR(ReadSigned(*oom, path.Key("oomScoreAdj"), -1000, 1000, &adj));
    out->oom_score_adj = static_cast<int>(adj);
  }
  BERTH_RETURN_IF_ERROR(Optional(v, path, "apparmorProfile", &out->apparmor_profile));
  BERTH_RETURN_IF_ERROR(Optional(v, path, "selinuxLabel", &out->selinux_label));
  if (Json* sched = Member(v, "scheduler")) {
    BERTH_RETURN_IF_ERROR(ParseScheduler(*sched, path.Key("scheduler"), &out->scheduler.emplace()));
  }
  if (Json* io = Member(v, "ioPriority")) {
    BERTH_RETURN_IF_ERROR(
        ParseIoPriority(*io, path.Key("ioPriority"), &out->io_priority.emplace()));
  }
  return absl::OkStatus();
}

absl::Status SpecParser::ParseUser(Json& v, const Path& path, User* out) {
  BERTH_RETURN_IF_ERROR(CheckObject(v, path));
  // uid and gid are REQUIRED in the spec, but runc (Go zero values) reads a missing one as 0,
  // and configs in the wild rely on that.
  BERTH_RETURN_IF_ERROR(Optional(v, path, "uid", &out->uid));
  BERTH_RETURN_IF_ERROR(Optional(v, path, "gid", &out->gid));
  BERTH_RETURN_IF_ERROR(Optional(v, path, "umask", &out->umask));
  return Optional(v, path, "additionalGids", &out->additional_gids);
}

absl::Status SpecParser::ParseCapabilities(Json& v, const Path& path, Capabilities* out) {
  BERTH_RETURN_IF_ERROR(CheckObject(v, path));
  BERTH_RETURN_IF_ERROR(ParseCapabilitySet(v, path, "bounding", &out->bounding));
  BERTH_RETURN_IF_ERROR(ParseCapabilitySet(v, path, "effective", &out->effective));
  BERTH_RETURN_IF_ERROR(ParseCapabilitySet(v, path, "inheritable", &out->inheritable));
  BERTH_RETURN_IF_ERROR(ParseCapabilitySet(v, path, "permitted", &out->permitted));
  return ParseCapabilitySet(v, path, "ambient", &out->ambient);
}

// Unknown names are errors (runtime-tools' process_capabilities_fail expects that). So are
// names the running kernel lacks: the spec (1.1, config.md) only asks for a warning there, but
// berth's rule is that a container never starts with less than its config asks for.
absl::Status SpecParser::ParseCapabilitySet(Json& caps, const Path& path, const char* key,
                                            std::vector<int>* out) {
  Json* v = Member(caps, key);
  if (v == nullptr) return absl::OkStatus();
  const Path set = path.Key(key);
  BERTH_RETURN_IF_ERROR(CheckArray(*v, set));
  out->reserve(v->size());
  for (size_t i = 0; i < v->size(); ++i) {
    const Json& item = (*v)[i];
    if (!item.is_string()) return WrongType(set.Index(i), "string", item);
    const std::string& name = *item.get_ptr<const std::string*>();
    std::optional<int> cap = CapabilityFromName(name);
    if (!cap) {
      return FieldError(set.Index(i), absl::StrCat("unknown capability ", Quote(name)));
    }
    if (*cap > kAlwaysKnownLastCap && *cap > LastCap()) {
      return FieldError(set.Index(i), absl::StrCat("capability ", Quote(name), " (", *cap,
                                                   ") is not supported by this kernel (last is ",
                                                   LastCap(), ")"));
    }
    out->push_back(*cap);
  }
  return absl::OkStatus();
}

absl::Status SpecParser::ParseRlimits(Json& v, const Path& path, std::vector<Rlimit>* out) {
  uint64_t seen = 0;  // bit per RLIMIT_* number (all < 64)
  return ReadObjects(v, path, out, [&seen](Json& item, const Path& p, Rlimit* rl) {
    BERTH_RETURN_IF_ERROR(Required(item, p, "type", &rl->type));
    std::optional<int> resource = RlimitFromName(rl->type);
    if (!resource || *resource < 0 || *resource >= 64) {
      return FieldError(p.Key("type"), absl::StrCat("unknown rlimit ", Quote(rl->type)));
    }
    const uint64_t bit = uint64_t{1} << *resource;
    if (seen & bit) {
      return FieldError(p.Key("type"), absl::StrCat("duplicate rlimit ", Quote(rl->type)));
    }
    seen |= bit;
    rl->resource = *resource;
    BERTH_RETURN_IF_ERROR(Required(item, p, "soft", &rl->soft));
    BERTH_RETURN_IF_ERROR(Required(item, p, "hard", &rl->hard));
    if (rl->soft > rl->hard) {
      return FieldError(p, absl::StrCat("soft limit ", rl->soft, " exceeds hard limit ", rl->hard));
    }
    return absl::OkStatus();
  });
}

absl::Status SpecParser::ParseScheduler(Json& v, const Path& path, Scheduler* out) {
  BERTH_RETURN_IF_ERROR(CheckObject(v, path));
  BERTH_RETURN_IF_ERROR(Required(v, path, "policy", &out->policy_name));
  std::optional<int> policy = SchedulerPolicyFromName(out->policy_name);
  if (!policy) {
    return FieldError(path.Key("policy"),
                      absl::StrCat("unknown scheduler policy ", Quote(out->policy_name)));
  }
  out->policy = *policy;
  BERTH_RETURN_IF_ERROR(Optional(v, path, "nice", &out->nice));
  BERTH_RETURN_IF_ERROR(Optional(v, path, "priority", &out->priority));
  BERTH_RETURN_IF_ERROR(Optional(v, path, "flags", &out->flag_names));
  for (size_t i = 0; i < out->flag_names.size(); ++i) {
    std::optional<uint64_t> flag = SchedulerFlagFromName(out->flag_names[i]);
    if (!flag) {
      return FieldError(path.Key("flags").Index(i),
                        absl::StrCat("unknown scheduler flag ", Quote(out->flag_names[i])));
    }
    out->flags |= *flag;
  }
  BERTH_RETURN_IF_ERROR(Optional(v, path, "runtime", &out->runtime));
  BERTH_RETURN_IF_ERROR(Optional(v, path, "deadline", &out->deadline));
  return Optional(v, path, "period", &out->period);
}

absl::Status SpecParser::ParseIoPriority(Json& v, const Path& path, IoPriority* out) {
  BERTH_RETURN_IF_ERROR(CheckObject(v, path));
  BERTH_RETURN_IF_ERROR(Required(v, path, "class", &out->class_name));
  std::optional<int> io_class = IoPriorityClassFromName(out->class_name);
  if (!io_class) {
    return FieldError(path.Key("class"),
                      absl::StrCat("unknown I/O priority class ", Quote(out->class_name)));
  }
  out->io_class = *io_class;
  Json* prio = Member(v, "priority");
  if (prio == nullptr) return Missing(path.Key("priority"));
  int64_t p = 0;
  BERTH_RETURN_IF_ERROR(ReadSigned(*prio, path.Key("priority"), 0, 7, &p));
  out->priority = static_cast<int>(p);
  return absl::OkStatus();
}

absl::Status SpecParser::ParseMount(Json& v, const Path& path, Mount* out) {
  BERTH_RETURN_IF_ERROR(Required(v, path, "destination", &out->destination));
  BERTH_RETURN_IF_ERROR(CleanContainerPathField(path.Key("destination"), &out->destination));
  BERTH_RETURN_IF_ERROR(Optional(v, path, "type", &out->type));
  BERTH_RETURN_IF_ERROR(Optional(v, path, "source", &out->source));
  BERTH_RETURN_IF_ERROR(Optional(v, path, "options", &out->options));
  ApplyMountOptions(out->options, out);
  if (out->bind) {
    // runc: the type of a bind mount is meaningless; call it "bind". The source is a host path,
    // absolute or relative to the bundle (config.md "Mounts").
    out->type = "bind";
    if (out->source.empty()) return FieldError(path.Key("source"), "required for a bind mount");
    if (out->source[0] != '/') {
      std::string resolved;
      if (ResolveBundlePath(bundle_, out->source, &resolved) == PathCheck::kEscapes) {
        return FieldError(
            path.Key("source"),
            absl::StrCat(Quote(out->source), " escapes the bundle directory ", bundle_));
      }
      out->source = std::move(resolved);
    }
  }
  Json* uid_mappings = Member(v, "uidMappings");
  Json* gid_mappings = Member(v, "gidMappings");
  if ((uid_mappings == nullptr) != (gid_mappings == nullptr)) {
    return FieldError(path.Key(uid_mappings ? "gidMappings" : "uidMappings"),
                      "required when uidMappings or gidMappings is set (config.md \"Mounts\")");
  }
  if (uid_mappings != nullptr) {
    BERTH_RETURN_IF_ERROR(
        ParseIdMappings(*uid_mappings, path.Key("uidMappings"), &out->uid_mappings));
    BERTH_RETURN_IF_ERROR(
        ParseIdMappings(*gid_mappings, path.Key("gidMappings"), &out->gid_mappings));
    out->idmap = true;  // runc: mappings without "idmap"/"ridmap" still mean an idmapped mount
  }
  return absl::OkStatus();
}

absl::Status SpecParser::ParseHooks(Json& v, const Path& path, Hooks* out) {
  BERTH_RETURN_IF_ERROR(CheckObject(v, path));
  BERTH_RETURN_IF_ERROR(ParseHookList(v, path, "prestart", &out->prestart));
  BERTH_RETURN_IF_ERROR(ParseHookList(v, path, "createRuntime", &out->create_runtime));
  BERTH_RETURN_IF_ERROR(ParseHookList(v, path, "createContainer", &out->create_container));
  BERTH_RETURN_IF_ERROR(ParseHookList(v, path, "startContainer", &out->start_container));
  BERTH_RETURN_IF_ERROR(ParseHookList(v, path, "poststart", &out->poststart));
  return ParseHookList(v, path, "poststop", &out->poststop);
}

absl::Status SpecParser::ParseHookList(Json& hooks, const Path& path, const char* key,
                                       std::vector<Hook>* out) {
  Json* list = Member(hooks, key);
  if (list == nullptr) return absl::OkStatus();
  return ReadObjects(*list, path.Key(key), out, [](Json& item, const Path& p, Hook* hook) {
    BERTH_RETURN_IF_ERROR(Required(item, p, "path", &hook->path));
    BERTH_RETURN_IF_ERROR(CheckAbsolute(p.Key("path"), hook->path));
    BERTH_RETURN_IF_ERROR(Optional(item, p, "args", &hook->args));
    if (Json* env = Member(item, "env")) {
      BERTH_RETURN_IF_ERROR(Read(*env, p.Key("env"), &hook->env));
      BERTH_RETURN_IF_ERROR(CheckEnv(p.Key("env"), hook->env));
    }
    BERTH_RETURN_IF_ERROR(Optional(item, p, "timeout", &hook->timeout));
    if (hook->timeout && *hook->timeout <= 0) {
      return FieldError(p.Key("timeout"),
                        absl::StrCat("must be greater than zero, got ", *hook->timeout));
    }
    return absl::OkStatus();
  });
}

// Cross-field rules runc also enforces (libcontainer/configs/validate).
absl::Status SpecParser::CheckConsistency(const Spec& spec) {
  const Path top;
  const bool uts = spec.HasNamespace(NamespaceType::kUts);
  if (!spec.hostname.empty() && !uts) {
    return FieldError(top.Key("hostname"),
                      "set, but linux.namespaces has no uts namespace to set it in");
  }
  if (!spec.domainname.empty() && !uts) {
    return FieldError(top.Key("domainname"),
                      "set, but linux.namespaces has no uts namespace to set it in");
  }
  const bool userns = spec.HasNamespace(NamespaceType::kUser);
  if (!spec.linux.uid_mappings.empty() && !userns) {
    return FieldError(top.Key("linux").Key("uidMappings"),
                      "set, but linux.namespaces has no user namespace");
  }
  if (!spec.linux.gid_mappings.empty() && !userns) {
    return FieldError(top.Key("linux").Key("gidMappings"),
                      "set, but linux.namespaces has no user namespace");
  }
  if (!spec.linux.time_offsets.empty() && !spec.HasNamespace(NamespaceType::kTime)) {
    return FieldError(top.Key("linux").Key("timeOffsets"),
                      "set, but linux.namespaces has no time namespace");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> AbsoluteBundle(const std::string& bundle_dir) {
  if (!bundle_dir.empty() && bundle_dir[0] == '/') return bundle_dir;
  char buf[4096];
  if (getcwd(buf, sizeof(buf)) == nullptr) {
    return absl::InternalError(absl::StrCat("getcwd: ", strerror(errno)));
  }
  std::string out;
  // Lexical join; ResolveBundlePath cleans what it appends, so "./b" or "b/" are fine.
  if (bundle_dir.empty() || bundle_dir == ".") return std::string(buf);
  out = buf;
  if (out != "/") out.push_back('/');
  out.append(bundle_dir);
  return out;
}

}  // namespace

std::string Quote(absl::string_view s) {
  return Json(std::string(s)).dump(-1, ' ', false, Json::error_handler_t::replace);
}

absl::Status CheckAbsolute(const Path& path, const std::string& value) {
  if (value.empty() || value[0] != '/') {
    return FieldError(path, absl::StrCat(Quote(value), " is not an absolute path"));
  }
  return absl::OkStatus();
}

absl::Status CleanContainerPathField(const Path& path, std::string* value) {
  std::string cleaned;
  switch (CleanContainerPath(*value, &cleaned)) {
    case PathCheck::kOk:
      *value = std::move(cleaned);
      return absl::OkStatus();
    case PathCheck::kNotAbsolute:
      return FieldError(path, absl::StrCat(Quote(*value), " is not an absolute path"));
    case PathCheck::kEscapes:
      return FieldError(path, absl::StrCat(Quote(*value), " escapes the container root"));
  }
  return absl::InternalError("unreachable");
}

absl::Status ParseJsonText(absl::string_view text, Json* out) {
  *out = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (out->is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid JSON: ", DescribeJsonError(text)));
  }
  return absl::OkStatus();
}

}  // namespace internal

absl::StatusOr<Spec> ParseSpec(absl::string_view json, const std::string& bundle_dir) {
  return ParseSpec(json, bundle_dir, ParseOptions());
}

absl::StatusOr<Spec> ParseSpec(absl::string_view json, const std::string& bundle_dir,
                               const ParseOptions& options) {
  internal::Json doc;
  BERTH_RETURN_IF_ERROR(internal::ParseJsonText(json, &doc));
  BERTH_ASSIGN_OR_RETURN(std::string bundle, internal::AbsoluteBundle(bundle_dir));
  internal::SpecParser parser(std::move(bundle), options);
  Spec spec;
  BERTH_RETURN_IF_ERROR(parser.ParseTop(doc, &spec));
  return spec;
}

absl::StatusOr<Spec> LoadSpec(const std::string& bundle_dir) {
  std::string path =
      bundle_dir.empty() ? std::string("config.json") : absl::StrCat(bundle_dir, "/config.json");
  BERTH_ASSIGN_OR_RETURN(std::string text, fs::ReadFile(path), "load bundle config");
  absl::StatusOr<Spec> spec = ParseSpec(text, bundle_dir);
  if (!spec.ok()) return Annotate(spec.status(), "config.json");
  return spec;
}

absl::StatusOr<Process> ParseProcess(absl::string_view json) {
  return ParseProcess(json, ParseOptions());
}

absl::StatusOr<Process> ParseProcess(absl::string_view json, const ParseOptions& options) {
  internal::Json doc;
  BERTH_RETURN_IF_ERROR(internal::ParseJsonText(json, &doc));
  if (!doc.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("process: want object, got ", doc.type_name()));
  }
  internal::SpecParser parser(std::string(), options);
  Process process;
  BERTH_RETURN_IF_ERROR(parser.ParseProcessObject(doc, internal::Path(), &process));
  return process;
}

absl::StatusOr<Resources> ParseResources(absl::string_view json) {
  internal::Json doc;
  BERTH_RETURN_IF_ERROR(internal::ParseJsonText(json, &doc));
  if (!doc.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("resources: want object, got ", doc.type_name()));
  }
  Resources resources;
  BERTH_RETURN_IF_ERROR(internal::ParseResourcesObject(doc, internal::Path(), &resources));
  return resources;
}

}  // namespace berth::runc::spec
