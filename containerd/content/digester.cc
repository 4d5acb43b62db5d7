#include "containerd/content/digester.h"

#include <openssl/err.h>
#include <openssl/evp.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"

namespace berth::containerd::content::internal {
namespace {

const EVP_MD* MdFor(absl::string_view algorithm) {
  if (algorithm == digest::kSha256) return EVP_sha256();
  if (algorithm == digest::kSha512) return EVP_sha512();
  return nullptr;
}

absl::Status OpenSslError(absl::string_view what) {
  const unsigned long code = ERR_get_error();  // NOLINT(runtime/int): OpenSSL's type
  ERR_clear_error();
  if (code == 0) return absl::InternalError(absl::StrCat(what, ": openssl failed"));
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return absl::InternalError(absl::StrCat(what, ": ", buf));
}

}  // namespace

void Digester::CtxDeleter::operator()(evp_md_ctx_st* ctx) const { EVP_MD_CTX_free(ctx); }

absl::StatusOr<Digester> Digester::Create(absl::string_view algorithm) {
  BERTH_RETURN_IF_ERROR(digest::CheckAlgorithmSupported(algorithm));
  // Keep a view of the library's constant, not of the caller's string.
  absl::string_view canonical;
  for (absl::string_view name : digest::SupportedAlgorithms()) {
    if (name == algorithm) canonical = name;
  }
  if (MdFor(canonical) == nullptr) {
    return absl::InternalError(absl::StrCat("no OpenSSL digest for ", algorithm));
  }
  Digester d(canonical);
  d.ctx_.reset(EVP_MD_CTX_new());
  if (d.ctx_ == nullptr) return OpenSslError("EVP_MD_CTX_new");
  BERTH_RETURN_IF_ERROR(d.Reset());
  return d;
}

absl::Status Digester::Reset() {
  size_ = 0;
  status_ = absl::OkStatus();
  if (EVP_DigestInit_ex(ctx_.get(), MdFor(algorithm_), nullptr) != 1) {
    status_ = OpenSslError(absl::StrCat("init ", algorithm_));
  }
  return status_;
}

void Digester::Update(absl::string_view data) {
  if (!status_.ok()) return;
  if (EVP_DigestUpdate(ctx_.get(), data.data(), data.size()) != 1) {
    status_ = OpenSslError(absl::StrCat("update ", algorithm_));
    return;
  }
  size_ += static_cast<int64_t>(data.size());
}

absl::StatusOr<digest::Digest> Digester::Peek() const {
  if (!status_.ok()) return status_;
  // Finalizing consumes a context, so finalize a copy of the running state.
  std::unique_ptr<evp_md_ctx_st, CtxDeleter> copy(EVP_MD_CTX_new());
  if (copy == nullptr) return OpenSslError("EVP_MD_CTX_new");
  if (EVP_MD_CTX_copy_ex(copy.get(), ctx_.get()) != 1) {
    return OpenSslError(absl::StrCat("copy ", algorithm_));
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(copy.get(), md, &len) != 1) {
    return OpenSslError(absl::StrCat("finish ", algorithm_));
  }
  return digest::Digest::Parse(absl::StrCat(
      algorithm_, ":",
      absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(md), len))));
}

}  // namespace berth::containerd::content::internal
