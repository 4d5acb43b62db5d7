// Dockerfile instructions applied to an image config by `berth import --change` (Docker's
// "changes" of import and commit): CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, LABEL, VOLUME
// and STOPSIGNAL. ONBUILD, HEALTHCHECK and build-only instructions (RUN, COPY, ...) are
// refused.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace berth::engine::images {

// Applies `changes` in order to `config`, the "config" object of an OCI image config (Docker's
// capitalized keys: "Cmd", "Env", ...). InvalidArgument naming the bad instruction, e.g.
// "run is not a valid change command"; `config` may be partly changed then.
absl::Status ApplyChanges(const std::vector<std::string>& changes, nlohmann::json* config);

}  // namespace berth::engine::images
