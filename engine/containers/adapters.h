// The pieces berthd plugs into ContainerManager: image lookups over engine/images' ImageStore
// and the OCI spec builder of engine/oci.
#pragma once

#include "engine/containers/manager.h"
#include "engine/images/image_store.h"

namespace berth::engine::containers {

class StoreImageResolver final : public ImageResolver {
 public:
  explicit StoreImageResolver(images::ImageStore* store) : store_(store) {}
  absl::StatusOr<ResolvedImage> Resolve(const std::string& ref) override;

 private:
  images::ImageStore* const store_;
};

// BuildSpec of engine/oci with berthd's defaults (cgroup parent).
SpecBuilder OciSpecBuilder(std::string cgroup_parent);

}  // namespace berth::engine::containers
