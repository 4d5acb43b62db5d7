// Computing and checking digests of content: streaming hashers (OpenSSL EVP underneath), a
// verifier for content whose digest is known in advance (a pulled blob, an uploaded layer), and
// a helper that digests a file without reading it into memory.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/digest/digest.h"

// OpenSSL's EVP_MD_CTX, declared here so this header does not pull in OpenSSL.
struct evp_md_ctx_st;

namespace berth::digest {

// Hashes a stream of bytes into a Digest. Not thread-safe; movable, not copyable.
//
// Update() returns nothing so that streaming loops stay simple: OpenSSL cannot fail on a
// software hash short of a broken installation, and if it ever does, the first failure is kept
// and returned by Finish().
class Hasher {
 public:
  // A hasher for `algorithm`. Unimplemented ("unsupported digest algorithm ...") unless it is
  // one of SupportedAlgorithms().
  static absl::StatusOr<Hasher> Create(absl::string_view algorithm);
  // A hasher with the algorithm of `digest`: cannot fail, since a Digest only ever holds a
  // supported algorithm. This is how content is checked against an expected digest.
  static Hasher ForDigest(const Digest& digest);

  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  ~Hasher();

  absl::string_view algorithm() const { return algorithm_; }
  // Bytes passed to Update() so far (callers check it against a descriptor's size).
  uint64_t size() const { return size_; }

  void Update(absl::string_view data);
  // The digest of everything passed to Update(). One-shot: a second call returns
  // FailedPrecondition. Internal if OpenSSL failed at any point.
  absl::StatusOr<Digest> Finish();
  // The digest of everything passed to Update() so far, without ending the stream (a copy of
  // the running state is finalized): what a resumable upload reports after each chunk.
  // FailedPrecondition after Finish(); Internal if OpenSSL failed.
  absl::StatusOr<Digest> Peek() const;
  // Back to the digest of nothing, as after Create(); also clears a Finish().
  absl::Status Reset();

 protected:
  // `algorithm` must be one of SupportedAlgorithms() (checked by the callers above).
  explicit Hasher(absl::string_view algorithm);

 private:
  struct CtxDeleter {
    void operator()(evp_md_ctx_st* ctx) const;
  };
  // Finalizes `ctx` (consuming it) into a Digest of this hasher's algorithm.
  absl::StatusOr<Digest> Finalize(evp_md_ctx_st* ctx) const;

  absl::string_view algorithm_;  // points at one of the k* constants
  std::unique_ptr<evp_md_ctx_st, CtxDeleter> ctx_;
  absl::Status status_;  // first OpenSSL failure, returned by Finish()
  uint64_t size_ = 0;
  bool finished_ = false;
};

// The two registered algorithms by name, for callers that always want one of them.
class Sha256Hasher : public Hasher {
 public:
  Sha256Hasher() : Hasher(kSha256) {}
};

class Sha512Hasher : public Hasher {
 public:
  Sha512Hasher() : Hasher(kSha512) {}
};

// Checks streamed content against a digest known in advance. Because Digest only holds
// supported algorithms, anything berth cannot verify was already refused when it was parsed.
// Not thread-safe.
class Verifier {
 public:
  explicit Verifier(Digest expected);

  const Digest& expected() const { return expected_; }
  uint64_t size() const { return hasher_.size(); }

  void Update(absl::string_view data) { hasher_.Update(data); }
  // OK if the bytes passed to Update() hash to expected(); InvalidArgument
  // ("content digest mismatch: expected X, got Y") if not: the content is not what its
  // sender claimed. One-shot like Hasher::Finish (FailedPrecondition on a second call).
  absl::Status Verify();

 private:
  Digest expected_;
  Hasher hasher_;
};

// Verifier in one call, for content already in memory (manifests, configs).
absl::Status VerifyBytes(const Digest& expected, absl::string_view data);

// The digest of the file at `path` with `algorithm`, read in fixed-size chunks so a multi-GB
// layer costs no more memory than a small one. Errors name the path: NotFound if missing,
// Unimplemented for an unsupported algorithm, other errno-derived codes for I/O failures.
absl::StatusOr<Digest> DigestFile(const std::string& path, absl::string_view algorithm = kSha256);

}  // namespace berth::digest
