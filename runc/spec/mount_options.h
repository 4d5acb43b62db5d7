// Turns a mount's option strings (config.json mounts[].options) into what mount(2) and
// mount_setattr(2) take. The table follows runtime spec 1.1 config.md "Linux mount options" and
// runc's specconv (mount(8) semantics):
//   - mount(8) flags ("ro", "nosuid", "noatime", "remount", ...) set MS_* bits in Mount::flags;
//     their opposites ("rw", "suid", "atime", ...) clear the bit and record it in clear_flags.
//     Later options win ("ro,rw" is read-write).
//   - "bind" adds MS_BIND and sets bind; "rbind" adds MS_BIND | MS_REC and sets bind and
//     recursive.
//   - propagation options ("private", "rshared", ...) are appended to Mount::propagation, in
//     order, as MS_* values (with MS_REC for the r* forms): they need a mount(2) call of their own.
//   - recursive attributes ("rro", "rnosuid", "rnoatime", ...; kernel 5.12) go to rec_attr_set /
//     rec_attr_clr as MOUNT_ATTR_* bits for mount_setattr(2) with AT_RECURSIVE.
//   - "tmpcopyup", "idmap", "ridmap" set their Mount fields.
//   - "defaults" means nothing (mount(8)); runc passes it on as data, which tmpfs and others
//     reject, so berth drops it.
//   - anything else is file-system data, comma-joined into Mount::data in the order written.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "runc/spec/spec.h"

namespace berth::runc::spec {

// Sets m->flags, clear_flags, propagation, bind, recursive, rec_attr_set, rec_attr_clr,
// tmpcopyup, idmap, idmap_recursive and data from `options` (m->options is not read or
// changed). The fields are overwritten, not merged. Cannot fail: unknown options are data.
void ApplyMountOptions(absl::Span<const std::string> options, Mount* m);

// The option names ApplyMountOptions interprets itself (everything else is data), for
// `berth-runc features`.
std::vector<absl::string_view> KnownMountOptions();

}  // namespace berth::runc::spec
