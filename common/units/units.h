// Docker's human sizes (github.com/docker/go-units): "1024", "512m", "1.5g", "64MiB", "2 GB".
// The grammar is one: a decimal number, an optional space, an optional k/m/g/t/p, an optional
// "i", an optional "b", letters in any case; only the base of the multiples differs.
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::units {

// units.RAMInBytes: binary multiples ("1k" = 1024), for --memory, --shm-size, tmpfs sizes.
// InvalidArgument "invalid size: '<s>'".
absl::StatusOr<int64_t> RamInBytes(absl::string_view s);

// units.FromHumanSize: decimal multiples ("1k" = 1000), as the json-file log driver reads
// max-size. InvalidArgument "invalid size: '<s>'".
absl::StatusOr<int64_t> FromHumanSize(absl::string_view s);

}  // namespace berth::units
