// Puller: `berth pull` into the local image store. Resolves the reference to a manifest
// (picking the platform from an index), downloads config and layers into the content store
// (layers in parallel, each streamed and verified against its digest, resumed with Range after
// a dropped connection), unpacks each layer into its snapshot as soon as it and the layers
// below it are in, then names the image. Everything is made under one lease: the image record
// is the last thing written, so a failed pull leaves no image behind (the blobs it fetched
// stay under the lease until it expires, for the next attempt to reuse).
#pragma once

#include <atomic>
#include <string>

#include "absl/status/status.h"
#include "engine/distribution/http_client.h"
#include "engine/distribution/options.h"
#include "engine/images/distribution.h"
#include "engine/images/image_store.h"

namespace berth::engine::distribution {

struct PullerOptions {
  // Retries of one layer download after a transfer failure, and the first back-off (doubled
  // each time).
  int retries = 5;
  absl::Duration backoff = absl::Milliseconds(500);
  absl::Duration lease_ttl = absl::Hours(1);
};

class Puller {
 public:
  Puller(images::ImageStore* store, HttpClient* http, const Options& options,
         PullerOptions pull_options = {})
      : store_(store), http_(http), options_(options), pull_options_(pull_options) {}

  // images::Distribution::Pull.
  absl::Status Pull(const v1::PullImageRequest& req, const images::Distribution::PullSink& out,
                    const std::atomic<bool>& cancelled);

 private:
  images::ImageStore* const store_;
  HttpClient* const http_;
  const Options options_;
  const PullerOptions pull_options_;
};

}  // namespace berth::engine::distribution
