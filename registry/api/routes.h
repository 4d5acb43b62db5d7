// The HTTP routes of berth-registry. So far: the API version check (spec "Determining
// Support", end-1) and placeholders that answer the pull endpoints (end-2, end-3, end-8,
// end-12) as an empty registry must, until storage lands. Every /v2 response carries
// Docker-Distribution-API-Version: registry/2.0, which Docker clients look for.
#pragma once

#include "absl/status/status.h"
#include "registry/http/router.h"

namespace berth::registry::api {

inline constexpr char kApiVersionHeader[] = "Docker-Distribution-API-Version";
inline constexpr char kApiVersion[] = "registry/2.0";

// Adds every route, plus the 404/405 handlers, to `router`. Errors only for a programming
// mistake in the route table (InvalidArgument/AlreadyExists from Router::Handle).
absl::Status RegisterRoutes(http::Router& router);

}  // namespace berth::registry::api
