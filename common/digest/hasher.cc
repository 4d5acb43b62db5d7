#include "common/digest/hasher.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"

namespace berth::digest {
namespace {

// Every name in SupportedAlgorithms() must map to an EVP_MD here (hasher_test checks it).
const EVP_MD* MdFor(absl::string_view algorithm) {
  if (algorithm == kSha256) return EVP_sha256();
  if (algorithm == kSha512) return EVP_sha512();
  return nullptr;
}

// The SupportedAlgorithms() constant equal to `algorithm` ("" if none). A hasher keeps this
// view rather than the caller's, which need not outlive it.
absl::string_view CanonicalName(absl::string_view algorithm) {
  for (absl::string_view name : SupportedAlgorithms()) {
    if (name == algorithm) return name;
  }
  return {};
}

// Internal, with OpenSSL's own reason, and clears OpenSSL's per-thread error queue so a stale
// entry cannot be blamed on a later, unrelated call.
absl::Status OpenSslError(absl::string_view what) {
  const unsigned long code = ERR_get_error();  // NOLINT(runtime/int): OpenSSL's type
  ERR_clear_error();
  if (code == 0) return absl::InternalError(absl::StrCat(what, ": openssl failed"));
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return absl::InternalError(absl::StrCat(what, ": ", buf));
}

// Big enough that read(2) overhead vanishes next to hashing; fixed, so digesting a multi-GB
// layer costs no more memory than a small blob.
constexpr size_t kFileChunk = 256 * 1024;

}  // namespace

void Hasher::CtxDeleter::operator()(evp_md_ctx_st* ctx) const { EVP_MD_CTX_free(ctx); }

Hasher::Hasher(absl::string_view algorithm) : algorithm_(algorithm), ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr) {
    status_ = OpenSslError("EVP_MD_CTX_new");
    return;
  }
  const EVP_MD* md = MdFor(algorithm);
  if (md == nullptr) {
    // Only reachable if SupportedAlgorithms() and MdFor() disagree: a berth bug.
    status_ = absl::InternalError(absl::StrCat("no OpenSSL digest for ", algorithm));
    return;
  }
  if (EVP_DigestInit_ex(ctx_.get(), md, nullptr) != 1) {
    status_ = OpenSslError(absl::StrCat("init ", algorithm));
  }
}

// Written out because a defaulted move would leave the source's absl::Status in its moved-from
// (Internal) state; a moved-from hasher instead reports FailedPrecondition like a finished one.
Hasher::Hasher(Hasher&& other) noexcept
    : algorithm_(other.algorithm_),
      ctx_(std::move(other.ctx_)),
      status_(std::exchange(other.status_, absl::OkStatus())),
      size_(std::exchange(other.size_, 0)),
      finished_(std::exchange(other.finished_, false)) {}

Hasher& Hasher::operator=(Hasher&& other) noexcept {
  if (this != &other) {
    algorithm_ = other.algorithm_;
    ctx_ = std::move(other.ctx_);
    status_ = std::exchange(other.status_, absl::OkStatus());
    size_ = std::exchange(other.size_, 0);
    finished_ = std::exchange(other.finished_, false);
  }
  return *this;
}
Hasher::~Hasher() = default;

absl::StatusOr<Hasher> Hasher::Create(absl::string_view algorithm) {
  BERTH_RETURN_IF_ERROR(CheckAlgorithmSupported(algorithm));
  return Hasher(CanonicalName(algorithm));
}

Hasher Hasher::ForDigest(const Digest& digest) {
  // Never empty: Digest::Parse only accepts supported algorithms. If it were, the constructor
  // would record Internal for Finish() to return.
  return Hasher(CanonicalName(digest.algorithm()));
}

void Hasher::Update(absl::string_view data) {
  if (finished_ || !status_.ok() || ctx_ == nullptr) return;  // Finish() reports why
  if (EVP_DigestUpdate(ctx_.get(), data.data(), data.size()) != 1) {
    status_ = OpenSslError(absl::StrCat("update ", algorithm_));
    return;
  }
  size_ += data.size();
}

absl::StatusOr<Digest> Hasher::Finish() {
  if (finished_) return absl::FailedPreconditionError("hasher already finished");
  finished_ = true;
  if (!status_.ok()) return status_;
  if (ctx_ == nullptr) return absl::FailedPreconditionError("hasher was moved from");
  return Finalize(ctx_.get());
}

absl::StatusOr<Digest> Hasher::Finalize(evp_md_ctx_st* ctx) const {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx, md, &len) != 1) {
    return OpenSslError(absl::StrCat("finish ", algorithm_));
  }
  std::string value = absl::StrCat(
      algorithm_, ":",
      absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(md), len)));
  return Digest(std::move(value), algorithm_.size());
}

absl::StatusOr<Digest> Hasher::Peek() const {
  if (finished_) return absl::FailedPreconditionError("hasher already finished");
  if (!status_.ok()) return status_;
  if (ctx_ == nullptr) return absl::FailedPreconditionError("hasher was moved from");
  // Finalizing consumes a context, so finalize a copy of the running state.
  std::unique_ptr<evp_md_ctx_st, CtxDeleter> copy(EVP_MD_CTX_new());
  if (copy == nullptr) return OpenSslError("EVP_MD_CTX_new");
  if (EVP_MD_CTX_copy_ex(copy.get(), ctx_.get()) != 1) {
    return OpenSslError(absl::StrCat("copy ", algorithm_));
  }
  return Finalize(copy.get());
}

absl::Status Hasher::Reset() {
  if (ctx_ == nullptr) return absl::FailedPreconditionError("hasher was moved from");
  size_ = 0;
  finished_ = false;
  status_ = absl::OkStatus();
  if (EVP_DigestInit_ex(ctx_.get(), MdFor(algorithm_), nullptr) != 1) {
    status_ = OpenSslError(absl::StrCat("init ", algorithm_));
  }
  return status_;
}

absl::StatusOr<Digest> Digest::FromBytes(absl::string_view data) {
  Sha256Hasher hasher;
  hasher.Update(data);
  return hasher.Finish();
}

Verifier::Verifier(Digest expected)
    : expected_(std::move(expected)), hasher_(Hasher::ForDigest(expected_)) {}

absl::Status Verifier::Verify() {
  absl::StatusOr<Digest> actual = hasher_.Finish();
  if (!actual.ok()) return actual.status();
  if (*actual != expected_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "content digest mismatch: expected ", expected_.ToString(), ", got ", actual->ToString()));
  }
  return absl::OkStatus();
}

absl::Status VerifyBytes(const Digest& expected, absl::string_view data) {
  Verifier verifier(expected);
  verifier.Update(data);
  return verifier.Verify();
}

absl::StatusOr<Digest> DigestFile(const std::string& path, absl::string_view algorithm) {
  BERTH_ASSIGN_OR_RETURN(Hasher hasher, Hasher::Create(algorithm), absl::StrCat("digest ", path));
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("digest ", path, ": open"));
  absl::Cleanup close_fd = [fd] { close(fd); };
  std::string buf(kFileChunk, '\0');
  while (true) {
    const ssize_t n = read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(errno, absl::StrCat("digest ", path, ": read"));
    }
    if (n == 0) break;
    hasher.Update(absl::string_view(buf.data(), static_cast<size_t>(n)));
  }
  return hasher.Finish();
}

}  // namespace berth::digest
