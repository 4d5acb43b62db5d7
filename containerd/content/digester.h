// A streaming hasher whose running digest can be read at any point without ending the stream.
// The ingest writer needs that: the proto reports "the digest of the bytes received so far" on
// every Write response, and a failed Commit must leave the ingest able to continue, while
// common/digest's Hasher::Finish is one-shot. (If another user appears, this belongs in
// common/digest as a Hasher::Peek.)
#pragma once

#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/digest/digest.h"

struct evp_md_ctx_st;

namespace berth::containerd::content::internal {

// Not thread-safe; movable, not copyable.
class Digester {
 public:
  // Unimplemented unless `algorithm` is one of digest::SupportedAlgorithms(); Internal if
  // OpenSSL cannot set up.
  static absl::StatusOr<Digester> Create(absl::string_view algorithm);

  Digester(Digester&&) noexcept = default;
  Digester& operator=(Digester&&) noexcept = default;
  ~Digester() = default;

  absl::string_view algorithm() const { return algorithm_; }
  // Bytes passed to Update() since creation or the last Reset().
  int64_t size() const { return size_; }

  // Like digest::Hasher::Update: failures are kept and reported by Peek().
  void Update(absl::string_view data);
  // The digest of everything passed to Update() so far; the stream goes on. Internal if
  // OpenSSL failed at any point since the last Reset().
  absl::StatusOr<digest::Digest> Peek() const;
  // Back to the digest of nothing.
  absl::Status Reset();

 private:
  struct CtxDeleter {
    void operator()(evp_md_ctx_st* ctx) const;
  };
  explicit Digester(absl::string_view algorithm) : algorithm_(algorithm) {}

  absl::string_view algorithm_;  // one of the digest::k* constants
  std::unique_ptr<evp_md_ctx_st, CtxDeleter> ctx_;
  absl::Status status_;
  int64_t size_ = 0;
};

}  // namespace berth::containerd::content::internal
