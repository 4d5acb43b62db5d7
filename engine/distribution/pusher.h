// Pusher: `berth push` of a local image. For each layer (in parallel, max_concurrent_uploads):
// HEAD on the target repository ("Layer already exists"), else a cross-repository mount from a
// repository of the same registry the blob is known to be in ("Mounted from ..."), else an
// upload. A layer stored compressed is uploaded from the content store (PUT ?digest=). A layer
// stored uncompressed (an imported or loaded tarball) is gzip-compressed (gzip.h) and streamed
// to the registry in the same pass (POST, PATCH, PUT ?digest=), like Docker, without keeping
// the compressed bytes; its gzip digest and size are recorded as labels on the layer, so the
// next push asks the registry for that digest (or mounts it) before compressing again, and a
// compression that must happen again yields the same bytes. Then the config, then the
// manifest under the tag. The manifest the registry now holds is kept locally, referenced
// from the local manifest.
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
  // Labels `pushed_record` (if it still points where it did) with the digest the registry
  // gave its manifest, for RepoDigests.
  void RecordPushedDigest(const images::ImageRecord& pushed_record, const std::string& digest);

  images::ImageStore* const store_;
  HttpClient* const http_;
  const Options options_;
  const GzipOptions gzip_;
};

}  // namespace berth::engine::distribution
