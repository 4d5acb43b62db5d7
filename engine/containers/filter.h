// ContainerFilter: the `--filter` conditions of `ps` and `container prune` (Docker's keys):
// conditions with the same key are OR-ed, different keys AND-ed; unknown keys and malformed
// values are InvalidArgument.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "berth/engine/v1/types.pb.h"
#include "engine/containers/store.h"
#include "google/protobuf/repeated_field.h"

namespace berth::engine::containers {

class ContainerFilter {
 public:
  // `prune` selects prune's keys (label, label!, until) instead of ps's.
  static absl::StatusOr<ContainerFilter> Parse(
      const google::protobuf::RepeatedPtrField<::berth::engine::v1::Filter>& filters,
      const ContainerStore& store, bool prune = false);

  bool Matches(const ContainerRecord& record) const;
  // Whether a status filter was given (then `ps` without -a also lists stopped containers).
  bool HasStatusFilter() const { return values_.count("status") > 0; }

 private:
  std::map<std::string, std::vector<std::string>> values_;
  std::optional<absl::Time> before_, since_, until_;
};

}  // namespace berth::engine::containers
