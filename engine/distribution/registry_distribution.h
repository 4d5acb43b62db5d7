// The registry implementation of images::Distribution that berthd serves pull, push, login
// and inspect-distribution with: libcurl transport (http_client.h), Docker's auth flows
// (auth.h), the distribution API (registry_client.h), and the puller/pusher over the image
// store (puller.h, pusher.h).
#pragma once

#include <memory>

#include "engine/distribution/options.h"
#include "engine/images/distribution.h"
#include "engine/images/image_store.h"

namespace berth::engine::distribution {

// `store` is not owned and must outlive the result. The result is thread-safe: operations
// may run concurrently.
std::unique_ptr<images::Distribution> NewRegistryDistribution(const Options& options,
                                                              images::ImageStore* store);

}  // namespace berth::engine::distribution
