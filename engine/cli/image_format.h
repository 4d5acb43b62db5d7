// The JSON of `image inspect` (docker's ImageInspect shape), shared by `image inspect` and
// `inspect`, which falls back to images when no container has the name.
#pragma once

#include <nlohmann/json.hpp>

#include "berth/engine/v1/images.pb.h"

namespace berth::cli {

nlohmann::ordered_json ImageJson(const engine::v1::Image& img);

}  // namespace berth::cli
