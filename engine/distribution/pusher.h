// Pusher: `berth push` of a local image. For each layer (in parallel): a layer stored
// uncompressed (an imported tarball) is gzip-compressed first (gzip.h; the result is kept in
// the content store, linked from the layer by a label, so a re-push reuses it and its
// digest); then HEAD on the target repository ("Layer already exists"), else a cross-repository
// mount from a repository of the same registry the blob came from ("Mounted from ..."), else
// an upload streamed from the content store. Then the config, then the manifest under the
// tag. The manifest the registry now holds is kept locally, referenced from the local
// manifest, so the content it names stays.
#pragma once

#include <atomic>

#include "absl/status/status.h"
#include "engine/distribution/gzip.h"
#include "engine/distribution/http_client.h"
#include "engine/distribution/options.h"
#include "engine/images/distribution.h"
#include "engine/images/image_store.h"

namespace berth::engine::distribution {

class Pusher {
 public:
  Pusher(images::ImageStore* store, HttpClient* http, const Options& options,
         GzipOptions gzip = {})
      : store_(store), http_(http), options_(options), gzip_(gzip) {}

  // images::Distribution::Push.
  absl::Status Push(const v1::PushImageRequest& req, const images::Distribution::PushSink& out,
                    const std::atomic<bool>& cancelled);

 private:
  images::ImageStore* const store_;
  HttpClient* const http_;
  const Options options_;
  const GzipOptions gzip_;
};

}  // namespace berth::engine::distribution
