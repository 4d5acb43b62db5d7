#include "engine/containers/adapters.h"

#include "engine/images/oci.h"
#include "engine/oci/spec_builder.h"
#include "engine/reference/reference.h"

namespace berth::engine::containers {

absl::StatusOr<ResolvedImage> StoreImageResolver::Resolve(const std::string& ref) {
  absl::StatusOr<images::LocalImage> img = store_->Resolve(ref);
  if (!img.ok()) return img.status();
  ResolvedImage out;
  out.id = img->id;
  out.config_json = img->config.dump();
  std::vector<std::string> chain = images::oci::ChainIds(img->diff_ids);
  if (!chain.empty()) out.snapshot_parent = chain.back();
  absl::StatusOr<reference::Reference> parsed = reference::ParseDockerRef(ref);
  if (parsed.ok()) {
    for (const auto& r : img->records) {
      if (r.name == parsed->String()) out.name = r.name;
    }
  }
  if (out.name.empty()) out.name = img->id;
  return out;
}

SpecBuilder OciSpecBuilder(std::string cgroup_parent) {
  return [cgroup_parent](const SpecRequest& r) -> absl::StatusOr<std::string> {
    oci::SpecInput in;
    in.container_id = r.id;
    in.image_config_json = r.image->config_json;
    in.config = *r.config;
    in.host_config = *r.host_config;
    in.rootfs_dir = r.rootfs_dir;
    // The shim mounts the snapshot at <bundle>/rootfs.
    in.root_path = "rootfs";
    in.hostname_path = r.hostname_path;
    in.hosts_path = r.hosts_path;
    in.resolv_conf_path = r.resolv_conf_path;
    in.default_cgroup_parent = cgroup_parent;
    return oci::BuildSpec(in);
  };
}

}  // namespace berth::engine::containers
