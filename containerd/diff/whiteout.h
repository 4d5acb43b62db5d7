// Names of the OCI whiteout entries (image-spec layer.md, "Whiteouts") and of the overlayfs
// xattrs they map to (Documentation/filesystems/overlayfs.rst). Internal to //containerd/diff.
#pragma once

#include "absl/strings/string_view.h"

namespace berth::containerd::diff {

// ".wh.<name>" in a layer deletes <name> of the layers below.
inline constexpr absl::string_view kWhiteoutPrefix = ".wh.";
// Names starting with ".wh..wh." are reserved for metadata (AUFS: .wh..wh.plnk, .wh..wh.aufs).
inline constexpr absl::string_view kWhiteoutMetaPrefix = ".wh..wh.";
// The opaque marker: its directory hides every entry the layers below have in it.
inline constexpr absl::string_view kOpaqueWhiteout = ".wh..wh..opq";

// overlayfs: a directory with this xattr set to "y" is opaque.
inline constexpr char kOverlayOpaqueXattr[] = "trusted.overlay.opaque";
// overlayfs redirect_dir and metacopy features: an upperdir using them records renamed
// directories and metadata-only copy-ups, which a tar of the upperdir alone cannot express.
inline constexpr char kOverlayRedirectXattr[] = "trusted.overlay.redirect";
inline constexpr char kOverlayMetacopyXattr[] = "trusted.overlay.metacopy";

}  // namespace berth::containerd::diff
