// Docker's human units (github.com/docker/go-units). Sizes read as "1024", "512m", "1.5g",
// "64MiB", "2 GB": one grammar (a decimal number, an optional space, an optional k/m/g/t/p, an
// optional "i", an optional "b", letters in any case), only the base of the multiples differs.
// Sizes and durations written the way docker's CLI and `ps` show them.
#pragma once

#include <cstdint>
#include <string>

#include "absl/time/time.h"

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::units {

// units.RAMInBytes: binary multiples ("1k" = 1024), for --memory, --shm-size, tmpfs sizes.
// InvalidArgument "invalid size: '<s>'".
absl::StatusOr<int64_t> RamInBytes(absl::string_view s);

// units.FromHumanSize: decimal multiples ("1k" = 1000), as the json-file log driver reads
// max-size. InvalidArgument "invalid size: '<s>'".
absl::StatusOr<int64_t> FromHumanSize(absl::string_view s);

// units.HumanSizeWithPrecision(size, 3): decimal units, 3 significant digits ("4.26MB").
std::string HumanSize(double bytes);

// units.HumanDuration: "Less than a second", "1 second", "About a minute", "3 hours", ...
std::string HumanDuration(absl::Duration d);

}  // namespace berth::units
