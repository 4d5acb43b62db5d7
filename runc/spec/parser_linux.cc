// config.json "linux" (runtime spec 1.1 config-linux.md), including linux.resources.
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "runc/spec/names.h"
#include "runc/spec/parser_internal.h"

namespace berth::runc::spec::internal {
namespace {

absl::Status ParseNamespaces(Json& v, const Path& path, std::vector<Namespace>* out) {
  uint32_t seen = 0;  // bit per NamespaceType
  return ReadObjects(v, path, out, [&seen](Json& item, const Path& p, Namespace* ns) {
    Json* type = Member(item, "type");
    const Path type_path = p.Key("type");
    if (type == nullptr) return Missing(type_path);
    if (!type->is_string()) return WrongType(type_path, "string", *type);
    const std::string& name = *type->get_ptr<const std::string*>();
    std::optional<NamespaceType> t = NamespaceTypeFromName(name);
    if (!t) return FieldError(type_path, absl::StrCat("unknown namespace type ", Quote(name)));
    const uint32_t bit = 1u << static_cast<int>(*t);
    if (seen & bit) {
      return FieldError(type_path, absl::StrCat("duplicate namespace type ", Quote(name)));
    }
    seen |= bit;
    ns->type = *t;
    BERTH_RETURN_IF_ERROR(Optional(item, p, "path", &ns->path));
    if (!ns->path.empty()) BERTH_RETURN_IF_ERROR(CheckAbsolute(p.Key("path"), ns->path));
    return absl::OkStatus();
  });
}

absl::Status ParseDevices(Json& v, const Path& path, std::vector<Device>* out) {
  return ReadObjects(v, path, out, [](Json& item, const Path& p, Device* d) {
    std::string type;
    BERTH_RETURN_IF_ERROR(Required(item, p, "type", &type));
    if (type.size() != 1 ||
        (type[0] != 'c' && type[0] != 'b' && type[0] != 'u' && type[0] != 'p')) {
      return FieldError(p.Key("type"),
                        absl::StrCat("unknown device type ", Quote(type), " (want c, b, u or p)"));
    }
    d->type = type[0];
    BERTH_RETURN_IF_ERROR(Required(item, p, "path", &d->path));
    BERTH_RETURN_IF_ERROR(CleanContainerPathField(p.Key("path"), &d->path));
    if (d->type == 'p') {
      // A FIFO has no device numbers; ignore any given.
      BERTH_RETURN_IF_ERROR(Optional(item, p, "major", &d->major));
      BERTH_RETURN_IF_ERROR(Optional(item, p, "minor", &d->minor));
    } else {
      BERTH_RETURN_IF_ERROR(Required(item, p, "major", &d->major));
      BERTH_RETURN_IF_ERROR(Required(item, p, "minor", &d->minor));
    }
    BERTH_RETURN_IF_ERROR(Optional(item, p, "fileMode", &d->file_mode));
    BERTH_RETURN_IF_ERROR(Optional(item, p, "uid", &d->uid));
    return Optional(item, p, "gid", &d->gid);
  });
}

absl::Status ParseDeviceRules(Json& v, const Path& path, std::vector<DeviceCgroupRule>* out) {
  return ReadObjects(v, path, out, [](Json& item, const Path& p, DeviceCgroupRule* r) {
    BERTH_RETURN_IF_ERROR(Required(item, p, "allow", &r->allow));
    BERTH_RETURN_IF_ERROR(Optional(item, p, "type", &r->type));
    if (!r->type.empty() && r->type != "a" && r->type != "b" && r->type != "c") {
      return FieldError(p.Key("type"),
                        absl::StrCat("unknown device type ", Quote(r->type), " (want a, b or c)"));
    }
    BERTH_RETURN_IF_ERROR(Optional(item, p, "major", &r->major));
    BERTH_RETURN_IF_ERROR(Optional(item, p, "minor", &r->minor));
    BERTH_RETURN_IF_ERROR(Optional(item, p, "access", &r->access));
    for (char c : r->access) {
      if (c != 'r' && c != 'w' && c != 'm') {
        return FieldError(p.Key("access"), absl::StrCat("invalid access ", Quote(r->access),
                                                        " (want letters of rwm)"));
      }
    }
    return absl::OkStatus();
  });
}

absl::Status ParseMemory(Json& v, const Path& path, MemoryResources* out) {
  BERTH_RETURN_IF_ERROR(CheckObject(v, path));
  BERTH_RETURN_IF_ERROR(Optional(v, path, "limit", &out->limit));
  BERTH_RETURN_IF_ERROR(Optional(v, path, "reservation", &out->reservation));
  BERTH_RETURN_IF_ERROR(Optional(v, path, "swap", &out->swap));
  BERTH_RETURN_IF_ERROR(Optional(v, path, "kernel", &out->kernel));
  BERTH_RETURN_IF_ERROR(Optional(v, path, "kernelTCP", &out->kernel_tcp));
  BERTH_RETURN_IF_ERROR(Optional(v, path, "swappiness", &out->swappiness));
  BERTH_RETURN_IF_ERROR(Optional(v, path, "disableOOMKiller", &out->disable_oom_killer));
  BERTH_RETURN_IF_ERROR(Optional(v, path, "useHierarchy", &out->use_hierarchy));
  return Optional(v, path, "checkBeforeUpdate", &out->check_before_update);
}

absl::Status ParseCpu(Json& v, const Path& path, CpuResources* out) {
  BERTH_RETURN_IF_ERROR(CheckObject(v, path));
  BERTH_RETURN_IF_ERROR(Optional(v, path, "shares", &out->shares));
  BERTH_RETURN_IF_ERROR(Optional(v, path, "quota", &out->quota));
  BERTH_RETURN_IF_ERROR(Optional(v, path, "burst", &out->burst));
  BERTH_RETURN_IF_ERROR(Optional(v, path, "period", &out->period));
  BERTH_RETURN_IF_ERROR(Optional(v, path, "realtimeRuntime", &out->realtime_runtime));
  BERTH_RETURN_IF_ERROR(Optional(v, path, "realtimePeriod", &out->realtime_period));
  BERTH_RETURN_IF_ERROR(Optional(v, path, "cpus", &out->cpus));
  BERTH_RETURN_IF_ERROR(Optional(v, path, "mems", &out->mems));
  return Optional(v, path, "idle", &out->idle);
}

// weightDevice entries (rate unused) or throttle entries (weights unused).
absl::Status ParseBlockIoDevices(Json& obj, const Path& path, const char* key, bool weights,
                                 std::vector<BlockIoDevice>* out) {
  Json* v = Member(obj, key);
  if (v == nullptr) return absl::OkStatus();
  return ReadObjects(*v, path.Key(key), out,
                     [weights](Json& item, const Path& p, BlockIoDevice* d) {
                       BERTH_RETURN_IF_ERROR(Required(item, p, "major", &d->major));
                       BERTH_RETURN_IF_ERROR(Required(item, p, "minor", &d->minor));
                       if (weights) {
                         BERTH_RETURN_IF_ERROR(Optional(item, p, "weight", &d->weight));
                         return Optional(item, p, "leafWeight", &d->leaf_weight);
                       }
                       return Required(item, p, "rate", &d->rate);
                     });
}

absl::Status ParseBlockIo(Json& v, const Path& path, BlockIoResources* out) {
  BERTH_RETURN_IF_ERROR(CheckObject(v, path));
  BERTH_RETURN_IF_ERROR(Optional(v, path, "weight", &out->weight));
  BERTH_RETURN_IF_ERROR(Optional(v, path, "leafWeight", &out->leaf_weight));
  BERTH_RETURN_IF_ERROR(ParseBlockIoDevices(v, path, "weightDevice", true, &out->weight_devices));
  BERTH_RETURN_IF_ERROR(
      ParseBlockIoDevices(v, path, "throttleReadBpsDevice", false, &out->throttle_read_bps));
  BERTH_RETURN_IF_ERROR(
      ParseBlockIoDevices(v, path, "throttleWriteBpsDevice", false, &out->throttle_write_bps));
  BERTH_RETURN_IF_ERROR(
      ParseBlockIoDevices(v, path, "throttleReadIOPSDevice", false, &out->throttle_read_iops));
  return ParseBlockIoDevices(v, path, "throttleWriteIOPSDevice", false, &out->throttle_write_iops);
}

absl::Status ParseNetwork(Json& v, const Path& path, Resources* out) {
  BERTH_RETURN_IF_ERROR(CheckObject(v, path));
  out->has_network = true;
  BERTH_RETURN_IF_ERROR(Optional(v, path, "classID", &out->net_class_id));
  Json* prios = Member(v, "priorities");
  if (prios == nullptr) return absl::OkStatus();
  return ReadObjects(*prios, path.Key("priorities"), &out->net_priorities,
                     [](Json& item, const Path& p, std::pair<std::string, uint32_t>* prio) {
                       BERTH_RETURN_IF_ERROR(Required(item, p, "name", &prio->first));
                       return Required(item, p, "priority", &prio->second);
                     });
}

absl::Status ParseRdma(Json& v, const Path& path, std::map<std::string, RdmaLimit>* out) {
  BERTH_RETURN_IF_ERROR(CheckObject(v, path));
  for (auto it = v.begin(); it != v.end(); ++it) {
    const Path p = path.Key(it.key());
    if (it.key().empty()) return FieldError(path, "empty device name");
    BERTH_RETURN_IF_ERROR(CheckObject(*it, p));
    RdmaLimit& limit = (*out)[it.key()];
    BERTH_RETURN_IF_ERROR(Optional(*it, p, "hcaHandles", &limit.hca_handles));
    BERTH_RETURN_IF_ERROR(Optional(*it, p, "hcaObjects", &limit.hca_objects));
    if (!limit.hca_handles && !limit.hca_objects) {
      return FieldError(p, "needs hcaHandles or hcaObjects");
    }
  }
  return absl::OkStatus();
}

absl::Status ParseSeccompSyscall(Json& item, const Path& p, SeccompSyscall* sc) {
  BERTH_RETURN_IF_ERROR(Required(item, p, "names", &sc->names));
  if (sc->names.empty()) return FieldError(p.Key("names"), "must not be empty");
  for (size_t i = 0; i < sc->names.size(); ++i) {
    if (sc->names[i].empty()) return FieldError(p.Key("names").Index(i), "must not be empty");
  }
  BERTH_RETURN_IF_ERROR(Required(item, p, "action", &sc->action));
  if (!IsSeccompAction(sc->action)) {
    return FieldError(p.Key("action"), absl::StrCat("unknown seccomp action ", Quote(sc->action)));
  }
  BERTH_RETURN_IF_ERROR(Optional(item, p, "errnoRet", &sc->errno_ret));
  if (sc->errno_ret && !SeccompActionTakesErrno(sc->action)) {
    return FieldError(p.Key("errnoRet"), absl::StrCat("not allowed with action ", sc->action));
  }
  Json* args = Member(item, "args");
  if (args == nullptr) return absl::OkStatus();
  return ReadObjects(*args, p.Key("args"), &sc->args, [](Json& a, const Path& ap, SeccompArg* arg) {
    BERTH_RETURN_IF_ERROR(Required(a, ap, "index", &arg->index));
    if (arg->index > 5) {
      return FieldError(ap.Key("index"),
                        absl::StrCat(arg->index, " out of range (syscalls have 6 arguments)"));
    }
    BERTH_RETURN_IF_ERROR(Required(a, ap, "value", &arg->value));
    BERTH_RETURN_IF_ERROR(Optional(a, ap, "valueTwo", &arg->value_two));
    BERTH_RETURN_IF_ERROR(Required(a, ap, "op", &arg->op));
    if (!IsSeccompOperator(arg->op)) {
      return FieldError(ap.Key("op"), absl::StrCat("unknown seccomp operator ", Quote(arg->op)));
    }
    return absl::OkStatus();
  });
}

// Sets *out unless the object is empty of rules (no defaultAction and no syscalls), which runc
// reads as "no seccomp".
absl::Status ParseSeccomp(Json& v, const Path& path, std::optional<Seccomp>* out) {
  BERTH_RETURN_IF_ERROR(CheckObject(v, path));
  Json* default_action = Member(v, "defaultAction");
  Json* syscalls = Member(v, "syscalls");
  if (default_action == nullptr &&
      (syscalls == nullptr || (syscalls->is_array() && syscalls->empty()))) {
    return absl::OkStatus();
  }
  Seccomp& s = out->emplace();
  BERTH_RETURN_IF_ERROR(Required(v, path, "defaultAction", &s.default_action));
  const Path action_path = path.Key("defaultAction");
  if (!IsSeccompAction(s.default_action)) {
    return FieldError(action_path,
                      absl::StrCat("unknown seccomp action ", Quote(s.default_action)));
  }
  if (s.default_action == "SCMP_ACT_NOTIFY") {
    return FieldError(action_path, "SCMP_ACT_NOTIFY cannot be the default action");
  }
  BERTH_RETURN_IF_ERROR(Optional(v, path, "defaultErrnoRet", &s.default_errno_ret));
  if (s.default_errno_ret && !SeccompActionTakesErrno(s.default_action)) {
    return FieldError(path.Key("defaultErrnoRet"),
                      absl::StrCat("not allowed with default action ", s.default_action));
  }
  BERTH_RETURN_IF_ERROR(Optional(v, path, "architectures", &s.architectures));
  if (Json* flags = Member(v, "flags")) {
    s.has_flags = true;
    BERTH_RETURN_IF_ERROR(Read(*flags, path.Key("flags"), &s.flags));
    for (size_t i = 0; i < s.flags.size(); ++i) {
      if (!IsSeccompFlag(s.flags[i])) {
        return FieldError(path.Key("flags").Index(i),
                          absl::StrCat("unknown seccomp flag ", Quote(s.flags[i])));
      }
    }
  }
  BERTH_RETURN_IF_ERROR(Optional(v, path, "listenerPath", &s.listener_path));
  BERTH_RETURN_IF_ERROR(Optional(v, path, "listenerMetadata", &s.listener_metadata));
  if (!s.listener_metadata.empty() && s.listener_path.empty()) {
    return FieldError(path.Key("listenerMetadata"), "set without listenerPath");
  }
  if (syscalls == nullptr) return absl::OkStatus();
  return ReadObjects(*syscalls, path.Key("syscalls"), &s.syscalls, ParseSeccompSyscall);
}

absl::Status ParsePersonality(Json& v, const Path& path, Personality* out) {
  BERTH_RETURN_IF_ERROR(CheckObject(v, path));
  BERTH_RETURN_IF_ERROR(Required(v, path, "domain", &out->domain));
  if (out->domain != "LINUX" && out->domain != "LINUX32") {
    return FieldError(path.Key("domain"),
                      absl::StrCat("unknown personality domain ", Quote(out->domain),
                                   " (want LINUX or LINUX32)"));
  }
  BERTH_RETURN_IF_ERROR(Optional(v, path, "flags", &out->flags));
  // config-linux.md: "Currently no flag values are supported."
  if (!out->flags.empty()) {
    return FieldError(path.Key("flags").Index(0),
                      absl::StrCat("unsupported personality flag ", Quote(out->flags[0])));
  }
  return absl::OkStatus();
}

// time_namespaces(7): only CLOCK_MONOTONIC and CLOCK_BOOTTIME can be offset.
absl::Status ParseTimeOffsets(Json& v, const Path& path,
                              std::map<std::string, std::pair<int64_t, uint32_t>>* out) {
  BERTH_RETURN_IF_ERROR(CheckObject(v, path));
  for (auto it = v.begin(); it != v.end(); ++it) {
    const std::string& clock = it.key();
    const Path p = path.Key(clock);
    if (clock != "monotonic" && clock != "boottime") {
      return FieldError(
          p, absl::StrCat("unknown clock ", Quote(clock), " (want monotonic or boottime)"));
    }
    BERTH_RETURN_IF_ERROR(CheckObject(*it, p));
    std::pair<int64_t, uint32_t> offset{0, 0};
    BERTH_RETURN_IF_ERROR(Optional(*it, p, "secs", &offset.first));
    BERTH_RETURN_IF_ERROR(Optional(*it, p, "nanosecs", &offset.second));
    if (offset.second >= 1000000000u) {
      return FieldError(p.Key("nanosecs"),
                        absl::StrCat(offset.second, " out of range (max 999999999)"));
    }
    (*out)[clock] = offset;
  }
  return absl::OkStatus();
}

absl::Status ParsePathList(Json& obj, const Path& path, const char* key,
                           std::vector<std::string>* out) {
  BERTH_RETURN_IF_ERROR(Optional(obj, path, key, out));
  for (size_t i = 0; i < out->size(); ++i) {
    BERTH_RETURN_IF_ERROR(CleanContainerPathField(path.Key(key).Index(i), &(*out)[i]));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseIdMappings(Json& v, const Path& path, std::vector<IdMapping>* out) {
  return ReadObjects(v, path, out, [](Json& item, const Path& p, IdMapping* m) {
    BERTH_RETURN_IF_ERROR(Required(item, p, "containerID", &m->container_id));
    BERTH_RETURN_IF_ERROR(Required(item, p, "hostID", &m->host_id));
    BERTH_RETURN_IF_ERROR(Required(item, p, "size", &m->size));
    if (m->size == 0) return FieldError(p.Key("size"), "must be at least 1");
    return absl::OkStatus();
  });
}

absl::Status ParseResourcesObject(Json& v, const Path& path, Resources* out) {
  BERTH_RETURN_IF_ERROR(CheckObject(v, path));
  if (Json* devices = Member(v, "devices")) {
    BERTH_RETURN_IF_ERROR(ParseDeviceRules(*devices, path.Key("devices"), &out->devices));
  }
  if (Json* memory = Member(v, "memory")) {
    BERTH_RETURN_IF_ERROR(ParseMemory(*memory, path.Key("memory"), &out->memory.emplace()));
  }
  if (Json* cpu = Member(v, "cpu")) {
    BERTH_RETURN_IF_ERROR(ParseCpu(*cpu, path.Key("cpu"), &out->cpu.emplace()));
  }
  if (Json* pids = Member(v, "pids")) {
    const Path p = path.Key("pids");
    BERTH_RETURN_IF_ERROR(CheckObject(*pids, p));
    BERTH_RETURN_IF_ERROR(Required(*pids, p, "limit", &out->pids_limit));
  }
  if (Json* blkio = Member(v, "blockIO")) {
    BERTH_RETURN_IF_ERROR(ParseBlockIo(*blkio, path.Key("blockIO"), &out->block_io.emplace()));
  }
  if (Json* huge = Member(v, "hugepageLimits")) {
    BERTH_RETURN_IF_ERROR(ReadObjects(*huge, path.Key("hugepageLimits"), &out->hugepage_limits,
                                      [](Json& item, const Path& p, HugepageLimit* h) {
                                        BERTH_RETURN_IF_ERROR(
                                            Required(item, p, "pageSize", &h->page_size));
                                        if (h->page_size.empty()) {
                                          return FieldError(p.Key("pageSize"), "must not be empty");
                                        }
                                        return Required(item, p, "limit", &h->limit);
                                      }));
  }
  if (Json* network = Member(v, "network")) {
    BERTH_RETURN_IF_ERROR(ParseNetwork(*network, path.Key("network"), out));
  }
  if (Json* rdma = Member(v, "rdma")) {
    BERTH_RETURN_IF_ERROR(ParseRdma(*rdma, path.Key("rdma"), &out->rdma));
  }
  return Optional(v, path, "unified", &out->unified);
}

absl::Status ParseLinux(Json& v, const Path& path, Linux* out) {
  BERTH_RETURN_IF_ERROR(CheckObject(v, path));
  if (Json* ns = Member(v, "namespaces")) {
    BERTH_RETURN_IF_ERROR(ParseNamespaces(*ns, path.Key("namespaces"), &out->namespaces));
  }
  if (Json* m = Member(v, "uidMappings")) {
    BERTH_RETURN_IF_ERROR(ParseIdMappings(*m, path.Key("uidMappings"), &out->uid_mappings));
  }
  if (Json* m = Member(v, "gidMappings")) {
    BERTH_RETURN_IF_ERROR(ParseIdMappings(*m, path.Key("gidMappings"), &out->gid_mappings));
  }
  if (Json* offsets = Member(v, "timeOffsets")) {
    BERTH_RETURN_IF_ERROR(ParseTimeOffsets(*offsets, path.Key("timeOffsets"), &out->time_offsets));
  }
  if (Json* devices = Member(v, "devices")) {
    BERTH_RETURN_IF_ERROR(ParseDevices(*devices, path.Key("devices"), &out->devices));
  }
  BERTH_RETURN_IF_ERROR(Optional(v, path, "cgroupsPath", &out->cgroups_path));
  if (Json* resources = Member(v, "resources")) {
    BERTH_RETURN_IF_ERROR(
        ParseResourcesObject(*resources, path.Key("resources"), &out->resources.emplace()));
  }
  BERTH_RETURN_IF_ERROR(Optional(v, path, "sysctl", &out->sysctl));
  if (Json* seccomp = Member(v, "seccomp")) {
    BERTH_RETURN_IF_ERROR(ParseSeccomp(*seccomp, path.Key("seccomp"), &out->seccomp));
  }
  BERTH_RETURN_IF_ERROR(Optional(v, path, "rootfsPropagation", &out->rootfs_propagation));
  if (!out->rootfs_propagation.empty() && !PropagationFromName(out->rootfs_propagation)) {
    return FieldError(path.Key("rootfsPropagation"),
                      absl::StrCat("unknown propagation ", Quote(out->rootfs_propagation)));
  }
  BERTH_RETURN_IF_ERROR(ParsePathList(v, path, "maskedPaths", &out->masked_paths));
  BERTH_RETURN_IF_ERROR(ParsePathList(v, path, "readonlyPaths", &out->readonly_paths));
  BERTH_RETURN_IF_ERROR(Optional(v, path, "mountLabel", &out->mount_label));
  if (Json* personality = Member(v, "personality")) {
    BERTH_RETURN_IF_ERROR(
        ParsePersonality(*personality, path.Key("personality"), &out->personality.emplace()));
  }
  if (Json* rdt = Member(v, "intelRdt")) {
    BERTH_RETURN_IF_ERROR(CheckObject(*rdt, path.Key("intelRdt")));
    out->has_intel_rdt = true;
  }
  return absl::OkStatus();
}

}  // namespace berth::runc::spec::internal
