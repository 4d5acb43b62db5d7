#include "containerd/metadata/types.h"

namespace berth::containerd::metadata {

absl::string_view SnapshotKindName(SnapshotKind kind) {
  switch (kind) {
    case SnapshotKind::kView:
      return "view";
    case SnapshotKind::kActive:
      return "active";
    case SnapshotKind::kCommitted:
      return "committed";
  }
  return "unknown";
}

}  // namespace berth::containerd::metadata
