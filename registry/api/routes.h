// The HTTP route table of berth-registry: the distribution API endpoints (see api.h) with the
// access each needs, /token when the registry issues its own tokens, /healthz, and the 404/405
// answers for everything else. Under /v2/ those carry the API version header and a JSON error
// body (UNSUPPORTED).
#pragma once

#include "absl/status/status.h"
#include "registry/api/api.h"
#include "registry/auth/token_server.h"
#include "registry/http/router.h"

namespace berth::registry::api {

// Adds every route, plus the 404/405 handlers, to `router`. `api` (and `token_server`, when
// given: GET/POST /token) must outlive the router. With api.options().read_only, write methods
// answer 405 UNSUPPORTED. Errors only for a programming mistake in the route table
// (InvalidArgument/AlreadyExists from Router::Handle).
absl::Status RegisterRoutes(http::Router& router, Api& api,
                            auth::TokenServer* token_server = nullptr);

}  // namespace berth::registry::api
