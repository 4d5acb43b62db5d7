#include "containerd/diff/archive_io.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "common/status/status_macros.h"

namespace berth::containerd::diff::internal {
namespace {

// Bytes asked of the source per read callback: large enough that a syscall per call is cheap
// relative to the data (1 MiB, the content store's read chunk).
constexpr size_t kSourceChunk = 1024 * 1024;
// libarchive's write block size: how much it buffers before calling a write callback.
constexpr int kWriteBlock = 64 * 1024;

std::string ArchiveMessage(struct archive* a) {
  const char* msg = archive_error_string(a);
  return msg != nullptr ? msg : "unknown libarchive error";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// StreamDigest

namespace {
// Chunks handed to the hashing thread: big enough that handing one over costs nothing next to
// hashing it, and few enough waiting (with one filling and one hashing) to bound memory.
constexpr size_t kDigestChunk = 1 << 20;
constexpr size_t kDigestQueue = 4;
}  // namespace

StreamDigest::StreamDigest(bool crc) : crc_on_(crc), thread_([this] { Run(); }) {
  filling_.reserve(kDigestChunk);
}

StreamDigest::~StreamDigest() {
  {
    absl::MutexLock l(&mu_);
    quit_ = true;
  }
  thread_.join();
}

void StreamDigest::Update(absl::string_view data) {
  size_ += data.size();
  while (!data.empty()) {
    const size_t n = std::min(data.size(), kDigestChunk - filling_.size());
    filling_.append(data.data(), n);
    data.remove_prefix(n);
    if (filling_.size() == kDigestChunk) Submit();
  }
}

void StreamDigest::Submit() {
  absl::MutexLock l(&mu_);
  auto room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return queue_.size() < kDigestQueue;
  };
  mu_.Await(absl::Condition(&room));
  queue_.push_back(std::move(filling_));
  if (!spare_.empty()) {
    filling_ = std::move(spare_.back());
    spare_.pop_back();
    filling_.clear();
  } else {
    filling_ = std::string();
    filling_.reserve(kDigestChunk);
  }
}

void StreamDigest::Drain() {
  if (!filling_.empty()) Submit();
  absl::MutexLock l(&mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return queue_.empty() && !busy_; };
  mu_.Await(absl::Condition(&idle));
}

uint32_t StreamDigest::Crc() {
  Drain();
  return crc_;
}

absl::StatusOr<digest::Digest> StreamDigest::Finish() {
  Drain();
  return hasher_.Finish();
}

void StreamDigest::Run() {
  for (;;) {
    std::string chunk;
    {
      absl::MutexLock l(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !queue_.empty() || quit_; };
      mu_.Await(absl::Condition(&ready));
      if (quit_) return;
      chunk = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
    }
    hasher_.Update(chunk);
    if (crc_on_) crc_ = Crc32(crc_, chunk);
    absl::MutexLock l(&mu_);
    busy_ = false;
    // Reused by Submit: a fresh 1 MiB buffer would be fresh pages, faulted in one by one.
    if (spare_.size() < kDigestQueue) spare_.push_back(std::move(chunk));
  }
}

// ---------------------------------------------------------------------------------------------
// LayerReader

LayerReader::LayerReader(ReadFn source) : source_(std::move(source)), buf_(kSourceChunk) {}

LayerReader::~LayerReader() {
  if (tar_ != nullptr) archive_read_free(tar_);
  if (outer_ != nullptr) archive_read_free(outer_);
}

absl::StatusOr<std::unique_ptr<LayerReader>> LayerReader::Create(ReadFn source) {
  std::unique_ptr<LayerReader> r(new LayerReader(std::move(source)));
  r->outer_ = archive_read_new();
  r->tar_ = archive_read_new();
  if (r->outer_ == nullptr || r->tar_ == nullptr) {
    return absl::InternalError("libarchive: cannot allocate a reader");
  }
  // Only the compressions OCI layers use. archive_read_support_filter_all would also accept
  // formats that libarchive decodes by running an external program (lrzip, grzip, lzop), which
  // a layer from the network must never make the daemon exec. The "empty" format makes a
  // zero-byte (decompressed) stream an archive with no entries instead of an unknown format.
  if (archive_read_support_filter_gzip(r->outer_) != ARCHIVE_OK ||
      archive_read_support_filter_zstd(r->outer_) != ARCHIVE_OK ||
      archive_read_support_format_raw(r->outer_) != ARCHIVE_OK ||
      archive_read_support_format_empty(r->outer_) != ARCHIVE_OK ||
      archive_read_support_format_tar(r->tar_) != ARCHIVE_OK) {
    // zstd (or zlib) missing from this libarchive build: it would fall back to an external
    // program, which we refuse for the reason above.
    return absl::UnimplementedError(
        absl::StrCat("libarchive lacks built-in gzip/zstd: ", ArchiveMessage(r->outer_)));
  }
  return r;
}

ssize_t LayerReader::OuterRead(struct archive* a, void* self_ptr, const void** buf) {
  auto* self = static_cast<LayerReader*>(self_ptr);
  absl::StatusOr<size_t> n = self->source_(self->buf_.data(), self->buf_.size());
  if (!n.ok()) {
    self->source_status_ = n.status();
    archive_set_error(a, EIO, "layer source failed");
    return -1;
  }
  if (*n > self->buf_.size()) {
    self->source_status_ = absl::InternalError("layer source returned more bytes than asked");
    archive_set_error(a, EIO, "layer source overran its buffer");
    return -1;
  }
  if (*n == 0) self->source_eof_ = true;
  self->NoteCompressed(self->buf_.data(), *n);
  *buf = self->buf_.data();
  return static_cast<ssize_t>(*n);
}

void LayerReader::NoteCompressed(const char* data, size_t n) {
  compressed_size_ += n;
  // Keep the last 8 bytes seen: a gzip stream ends with CRC32 and ISIZE.
  if (n >= sizeof(tail_)) {
    memcpy(tail_, data + n - sizeof(tail_), sizeof(tail_));
  } else {
    memmove(tail_, tail_ + n, sizeof(tail_) - n);
    memcpy(tail_ + sizeof(tail_) - n, data, n);
  }
}

ssize_t LayerReader::InnerRead(struct archive* a, void* self_ptr, const void** buf) {
  auto* self = static_cast<LayerReader*>(self_ptr);
  for (;;) {
    const void* block = nullptr;
    size_t n = 0;
    la_int64_t offset = 0;
    const int r = archive_read_data_block(self->outer_, &block, &n, &offset);
    if (r == ARCHIVE_EOF) {
      self->outer_eof_ = true;
      if (self->source_eof_ && self->outer_error_.empty()) {
        const absl::Status s = self->CheckGzipTrailer();
        if (!s.ok()) {
          self->outer_error_ = std::string(s.message());
          archive_set_error(a, EIO, "decompression failed");
          return -1;
        }
      }
      return 0;
    }
    if (r < ARCHIVE_WARN) {
      if (self->source_status_.ok()) self->outer_error_ = ArchiveMessage(self->outer_);
      archive_set_error(a, EIO, "decompression failed");
      return -1;
    }
    if (n == 0) continue;
    const absl::string_view data(static_cast<const char*>(block), n);
    self->digest_->Update(data);
    *buf = block;
    return static_cast<ssize_t>(n);
  }
}

absl::Status LayerReader::CheckGzipTrailer() {
  // libarchive's gzip filter does not check the trailer ("XXX TODO: Verify the length and
  // CRC" in archive_read_support_filter_gzip.c), so corrupt data in stored blocks, or a
  // damaged stream that still inflates, would go unnoticed until the caller compared diff IDs.
  // We check the last member's trailer against the whole stream: exact for the usual
  // single-member layer. When ISIZE disagrees we cannot tell a multi-member stream (legal, if
  // rare for layers) or trailing bytes from damage, and leave it to the diff ID check.
  if (compression_ != Compression::kGzip || compressed_size_ < 18) return absl::OkStatus();
  auto le32 = [](const unsigned char* p) {
    return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
           static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
  };
  const auto* t = reinterpret_cast<const unsigned char*>(tail_);
  const uint32_t want_crc = le32(t);
  const uint32_t want_size = le32(t + 4);
  gzip_size_matches_ = want_size == static_cast<uint32_t>(digest_->size());
  const uint32_t crc = gzip_size_matches_ ? digest_->Crc() : 0;
  if (gzip_size_matches_ && want_crc != crc) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "gzip CRC mismatch (trailer %08x, data %08x): the layer data is corrupt", want_crc, crc));
  }
  return absl::OkStatus();
}

absl::Status LayerReader::Error(absl::string_view op) {
  if (!source_status_.ok()) return Annotate(source_status_, "read layer");
  if (!outer_error_.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "read layer: decompress (", CompressionName(compression_), "): ", outer_error_));
  }
  std::string msg = ArchiveMessage(tar_);
  if (compression_ == Compression::kGzip && outer_eof_ && !gzip_size_matches_ &&
      absl::StrContains(msg, "runcated")) {
    // The gzip stream ended (cleanly, as far as libarchive checks) before the tar did, and its
    // trailer does not match what came out: damaged compressed data, not a short tar.
    return absl::FailedPreconditionError(absl::StrCat(
        "read layer: decompress (gzip): data ends early and the gzip size check fails: the "
        "layer data is corrupt (",
        msg, ")"));
  }
  if (absl::StrContains(msg, "Unrecognized archive format")) {
    absl::StrAppend(&msg, " (a layer must be a tar, tar+gzip or tar+zstd stream)");
  }
  return absl::FailedPreconditionError(absl::StrCat(op, ": ", msg));
}

absl::Status LayerReader::Start() {
  started_ = true;
  struct archive_entry* pseudo = nullptr;
  int r = archive_read_open2(outer_, this, nullptr, &OuterRead, nullptr, nullptr);
  if (r == ARCHIVE_OK) r = archive_read_next_header(outer_, &pseudo);
  if (r == ARCHIVE_EOF && archive_errno(outer_) == 0) {
    // The "empty" format: no bytes at all after decompression. Go's archive/tar reads that
    // as a tar without entries, so Docker and containerd accept it as an empty layer.
    empty_ = true;
    outer_eof_ = true;
  } else if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
    if (!source_status_.ok()) return Annotate(source_status_, "read layer");
    return absl::FailedPreconditionError(absl::StrCat("read layer: ", ArchiveMessage(outer_)));
  }
  switch (archive_filter_code(outer_, 0)) {
    case ARCHIVE_FILTER_GZIP:
      compression_ = Compression::kGzip;
      break;
    case ARCHIVE_FILTER_ZSTD:
      compression_ = Compression::kZstd;
      break;
    default:
      compression_ = Compression::kNone;
  }
  digest_ = std::make_unique<StreamDigest>(/*crc=*/compression_ == Compression::kGzip);
  if (empty_) return absl::OkStatus();
  if (archive_read_open2(tar_, this, nullptr, &InnerRead, nullptr, nullptr) != ARCHIVE_OK) {
    return Error("read tar");
  }
  return absl::OkStatus();
}

absl::StatusOr<archive_entry*> LayerReader::Next() {
  if (!started_) BERTH_RETURN_IF_ERROR(Start());
  if (empty_ || tar_eof_) return nullptr;
  struct archive_entry* entry = nullptr;
  const int r = archive_read_next_header(tar_, &entry);
  if (r == ARCHIVE_EOF) {
    tar_eof_ = true;
    return nullptr;
  }
  // ARCHIVE_WARN is what libarchive returns when a UTF-8 pax name cannot be converted to the
  // process locale (the daemon runs in "C"); the raw bytes are still there and are what we want.
  if ((r == ARCHIVE_OK || r == ARCHIVE_WARN) && entry != nullptr) return entry;
  return Error("read tar header");
}

absl::StatusOr<bool> LayerReader::ReadBlock(const void** data, size_t* size, int64_t* offset) {
  la_int64_t off = 0;
  const int r = archive_read_data_block(tar_, data, size, &off);
  if (r == ARCHIVE_EOF) return false;
  if (r == ARCHIVE_OK || r == ARCHIVE_WARN) {
    *offset = off;
    return true;
  }
  return Error("read entry data");
}

absl::StatusOr<LayerReader::Summary> LayerReader::Finish() {
  if (!started_) BERTH_RETURN_IF_ERROR(Start());
  if (digest_ == nullptr) return absl::FailedPreconditionError("read layer: the stream failed to open");
  // The tar parser stops at the end-of-archive marker; the rest (record padding, up to the
  // 10 KiB blocking factor of classic tar writers) is part of the blob the diff ID names.
  const void* block = nullptr;
  while (!outer_eof_) {
    if (InnerRead(tar_, this, &block) < 0) return Error("read layer trailer");
  }
  // Drain the compressed source too, so compressed_size is the blob's size even if a compressor
  // left trailing bytes the decompressor did not ask for.
  const bool checked = source_eof_;
  while (!source_eof_) {
    absl::StatusOr<size_t> n = source_(buf_.data(), buf_.size());
    if (!n.ok()) return Annotate(n.status(), "read layer");
    if (*n == 0) source_eof_ = true;
    NoteCompressed(buf_.data(), *n);
  }
  if (!checked && !empty_) {
    BERTH_RETURN_IF_ERROR(CheckGzipTrailer(), "read layer: decompress (gzip)");
  }
  const uint64_t size = digest_->size();
  BERTH_ASSIGN_OR_RETURN(digest::Digest diff_id, digest_->Finish());
  Summary s{std::move(diff_id)};
  s.size = size;
  s.compressed_size = compressed_size_;
  s.compression = compression_;
  return s;
}

// ---------------------------------------------------------------------------------------------
// LayerWriter

LayerWriter::LayerWriter(WriteFn sink, Compression compression)
    : sink_(std::move(sink)), compression_(compression) {}

LayerWriter::~LayerWriter() {
  // On an abandoned write, archive_write_fail keeps free() from closing the archive, which
  // would push an end-of-archive marker into a sink that already failed or was given up on.
  if (tar_ != nullptr) {
    if (!finished_) archive_write_fail(tar_);
    archive_write_free(tar_);
  }
  if (outer_ != nullptr) {
    if (!finished_) archive_write_fail(outer_);
    archive_write_free(outer_);
  }
}

absl::StatusOr<std::unique_ptr<LayerWriter>> LayerWriter::Create(WriteFn sink,
                                                                 Compression compression,
                                                                 std::optional<int> level) {
  std::unique_ptr<LayerWriter> w(new LayerWriter(std::move(sink), compression));
  w->tar_ = archive_write_new();
  if (w->tar_ == nullptr) return absl::InternalError("libarchive: cannot allocate a writer");
  // pax: a ustar header per entry, preceded by a pax extended header only when the entry needs
  // one (long or non-ASCII names, large ids or sizes, sub-second mtimes, xattrs), as Go's
  // archive/tar (Docker, containerd) writes. Not libarchive's "pax restricted" variant: it
  // drops sub-second mtimes unless another field already forces an extended header.
  if (archive_write_set_format_pax(w->tar_) != ARCHIVE_OK ||
      // SCHILY.xattr.* is the only xattr record Go's archive/tar reads; libarchive's default
      // LIBARCHIVE.xattr.* would make Docker and containerd drop security.capability.
      archive_write_set_format_option(w->tar_, "pax", "xattrheader", "SCHILY") != ARCHIVE_OK ||
      archive_write_set_bytes_per_block(w->tar_, kWriteBlock) != ARCHIVE_OK ||
      // No padding to a 10 KiB record after the end-of-archive marker (Go writes none either).
      archive_write_set_bytes_in_last_block(w->tar_, 1) != ARCHIVE_OK) {
    return absl::InternalError(absl::StrCat("set up tar writer: ", ArchiveMessage(w->tar_)));
  }
  if (compression != Compression::kNone) {
    w->outer_ = archive_write_new();
    if (w->outer_ == nullptr) return absl::InternalError("libarchive: cannot allocate a writer");
    struct archive* o = w->outer_;
    const int r = compression == Compression::kGzip ? archive_write_add_filter_gzip(o)
                                                    : archive_write_add_filter_zstd(o);
    // ARCHIVE_WARN means libarchive would run an external gzip/zstd program: refused, as for
    // reading.
    if (r != ARCHIVE_OK || archive_write_set_format_raw(o) != ARCHIVE_OK ||
        archive_write_set_bytes_per_block(o, kWriteBlock) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(o, 1) != ARCHIVE_OK) {
      return absl::UnimplementedError(absl::StrCat("set up ", CompressionName(compression),
                                                   " compressor: ", ArchiveMessage(o)));
    }
    if (level.has_value() &&
        archive_write_set_filter_option(o, nullptr, "compression-level",
                                        std::to_string(*level).c_str()) != ARCHIVE_OK) {
      return absl::InvalidArgumentError(absl::StrCat("invalid ", CompressionName(compression),
                                                     " level ", *level, ": ", ArchiveMessage(o)));
    }
    // No mtime in the gzip header: the same changes must give the same blob digest.
    if (compression == Compression::kGzip &&
        archive_write_set_filter_option(o, "gzip", "timestamp", nullptr) != ARCHIVE_OK) {
      return absl::InternalError(absl::StrCat("set up gzip: ", ArchiveMessage(o)));
    }
    if (archive_write_open(o, w.get(), nullptr, &OuterWrite, nullptr) != ARCHIVE_OK) {
      return w->Error(o, "open compressor");
    }
    // The raw format carries exactly one entry, whose data is the tar stream.
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_copy_pathname(e, "layer.tar");
    const int hr = archive_write_header(o, e);
    archive_entry_free(e);
    if (hr != ARCHIVE_OK) return w->Error(o, "start compressor");
  }
  if (archive_write_open(w->tar_, w.get(), nullptr, &InnerWrite, nullptr) != ARCHIVE_OK) {
    return w->Error(w->tar_, "open tar writer");
  }
  return w;
}

ssize_t LayerWriter::InnerWrite(struct archive* a, void* self_ptr, const void* buf, size_t n) {
  auto* self = static_cast<LayerWriter*>(self_ptr);
  const absl::string_view data(static_cast<const char*>(buf), n);
  self->uncompressed_hasher_.Update(data);
  if (self->outer_ == nullptr) {
    self->compressed_hasher_.Update(data);
    self->sink_status_ = self->sink_(data);
    if (!self->sink_status_.ok()) {
      archive_set_error(a, EIO, "layer sink failed");
      return -1;
    }
    return static_cast<ssize_t>(n);
  }
  size_t done = 0;
  while (done < n) {
    const la_ssize_t w = archive_write_data(self->outer_, data.data() + done, n - done);
    if (w <= 0) {
      archive_set_error(a, EIO, "compressor failed: %s", ArchiveMessage(self->outer_).c_str());
      return -1;
    }
    done += static_cast<size_t>(w);
  }
  return static_cast<ssize_t>(n);
}

ssize_t LayerWriter::OuterWrite(struct archive* a, void* self_ptr, const void* buf, size_t n) {
  auto* self = static_cast<LayerWriter*>(self_ptr);
  const absl::string_view data(static_cast<const char*>(buf), n);
  self->compressed_hasher_.Update(data);
  self->sink_status_ = self->sink_(data);
  if (!self->sink_status_.ok()) {
    archive_set_error(a, EIO, "layer sink failed");
    return -1;
  }
  return static_cast<ssize_t>(n);
}

absl::Status LayerWriter::Error(struct archive* a, absl::string_view op) {
  if (!sink_status_.ok()) return Annotate(sink_status_, "write layer");
  return absl::InternalError(absl::StrCat(op, ": ", ArchiveMessage(a)));
}

absl::Status LayerWriter::WriteHeader(archive_entry* entry, absl::string_view path) {
  // ARCHIVE_WARN: a name that is not valid in the locale was stored with hdrcharset=BINARY,
  // i.e. as the raw bytes, which is what Linux file names are.
  const int r = archive_write_header(tar_, entry);
  if (r == ARCHIVE_OK || r == ARCHIVE_WARN) return absl::OkStatus();
  return Error(tar_, absl::StrCat("write tar header for ", path));
}

absl::Status LayerWriter::WriteData(const char* data, size_t size, absl::string_view path) {
  size_t done = 0;
  while (done < size) {
    const la_ssize_t w = archive_write_data(tar_, data + done, size - done);
    if (w <= 0) return Error(tar_, absl::StrCat("write data of ", path));
    done += static_cast<size_t>(w);
  }
  return absl::OkStatus();
}

absl::StatusOr<LayerWriter::Summary> LayerWriter::Finish() {
  if (finished_) return absl::FailedPreconditionError("layer writer already finished");
  finished_ = true;
  if (archive_write_close(tar_) != ARCHIVE_OK) return Error(tar_, "finish tar");
  if (outer_ != nullptr && archive_write_close(outer_) != ARCHIVE_OK) {
    return Error(outer_, absl::StrCat("finish ", CompressionName(compression_)));
  }
  const uint64_t uncompressed_size = uncompressed_hasher_.size();
  const uint64_t size = compressed_hasher_.size();
  BERTH_ASSIGN_OR_RETURN(digest::Digest diff_id, uncompressed_hasher_.Finish());
  BERTH_ASSIGN_OR_RETURN(digest::Digest blob_digest, compressed_hasher_.Finish());
  Summary s{std::move(diff_id), uncompressed_size, std::move(blob_digest), size};
  return s;
}

}  // namespace berth::containerd::diff::internal
