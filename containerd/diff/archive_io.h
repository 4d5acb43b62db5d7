// Single-pass layer streams on top of libarchive, with the OCI diff ID computed on the way.
//
// LayerReader stacks two libarchive readers:
//
//   source --(ReadFn)--> [outer: gzip/zstd filter + "raw" format] --decompressed bytes-->
//        sha256 (the diff ID) --> [inner: tar format, no filter] --> entries and file data
//
// The outer reader only decompresses (libarchive detects gzip, zstd or no compression from the
// magic bytes); its "raw" format hands out the decompressed stream as the data of one
// pseudo-entry. The inner reader's read callback pulls those blocks (zero-copy: libarchive's
// buffer stays valid until the next pull, which is exactly the read-callback contract), hashes
// them and gives them to the tar parser. So every byte the tar parser sees is hashed exactly
// once, in order, while it is read: no temp file, no second pass. The hashing itself (sha256,
// and CRC-32 below) runs on a thread of its own (StreamDigest), fed copies of the decompressed
// blocks: it is most of the CPU an apply takes, and this way it overlaps the tar parsing and
// file writes (on a second core when there is one) instead of adding to them. After the tar's
// end-of-archive marker the rest of the decompressed stream (record padding) is drained into the
// hash too, because a diff ID is the digest of the whole uncompressed blob, as Docker and
// containerd compute it.
//
// libarchive's gzip filter does not verify the gzip trailer, so the reader computes CRC-32 over
// the decompressed bytes (gzip only) and checks it, with ISIZE, against the last 8 bytes of the
// blob: corrupt data that still inflates fails with "gzip CRC mismatch" instead of unpacking
// garbage. (A zstd frame that carries a content checksum, as zstd(1) and Go writers add, is
// checked by libzstd itself; libarchive's zstd writer, used by LayerWriter, adds none.)
//
// LayerWriter is the mirror image: a tar writer (pax, no filter) whose write callback hashes the
// uncompressed bytes and feeds them to an outer writer ("raw" format + gzip/zstd filter) whose
// callback hashes the compressed bytes and passes them to the sink.
//
// Internal to //containerd/diff. Neither class is thread-safe (each LayerReader owns the one
// thread of its StreamDigest).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/digest/digest.h"
#include "common/digest/hasher.h"
#include "containerd/diff/crc32.h"
#include "containerd/diff/stream.h"

struct archive;
struct archive_entry;

namespace berth::containerd::diff::internal {

// The sha256 and (optionally) CRC-32 of a byte stream, computed on a thread of its own: Update
// copies the bytes into 1 MiB chunks, which the thread hashes in order. At most a few chunks
// wait, so memory stays bounded and a slow hasher slows the producer down rather than piling
// up. The thread is joined on destruction (what is still queued is dropped then).
class StreamDigest {
 public:
  explicit StreamDigest(bool crc);
  ~StreamDigest();
  StreamDigest(const StreamDigest&) = delete;
  StreamDigest& operator=(const StreamDigest&) = delete;

  // Takes (a copy of) the next bytes of the stream. Blocks while the queue is full.
  void Update(absl::string_view data);
  // Bytes given to Update so far.
  uint64_t size() const { return size_; }
  // The CRC-32 of everything given so far (0 unless constructed with crc); waits for it.
  uint32_t Crc();
  // The sha256 of everything given; waits for it. One-shot, as Hasher::Finish.
  absl::StatusOr<digest::Digest> Finish();

 private:
  // Hands the filling chunk to the thread (waiting for room) and starts a new one.
  void Submit();
  // Submits what is filled so far and waits until the thread has hashed all of it.
  void Drain();
  void Run();

  const bool crc_on_;
  uint64_t size_ = 0;   // the caller's side
  std::string filling_;  // the caller's side: the chunk being filled
  absl::Mutex mu_;
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> spare_ ABSL_GUARDED_BY(mu_);  // hashed chunks, for reuse
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  bool quit_ ABSL_GUARDED_BY(mu_) = false;
  // Only the thread touches these until Drain returns (the mutex orders the hand-over).
  digest::Sha256Hasher hasher_;
  uint32_t crc_ = 0;
  std::thread thread_;  // last: starts once the members above exist
};

class LayerReader {
 public:
  // Starts reading `source` (nothing is read before the first Next()). Fails only if libarchive
  // cannot allocate its handles (Internal).
  static absl::StatusOr<std::unique_ptr<LayerReader>> Create(ReadFn source);
  ~LayerReader();
  LayerReader(const LayerReader&) = delete;
  LayerReader& operator=(const LayerReader&) = delete;

  // The next tar entry, or nullptr after the last. The entry is owned by the reader and valid
  // until the next call. A zero-byte source is an empty layer (no entries), as Go's archive/tar
  // (and so Docker) reads it.
  // Errors: the source's own error (with "read layer" context); FailedPrecondition for data that
  // is not a tar, tar+gzip or tar+zstd stream, or is truncated or corrupt.
  absl::StatusOr<archive_entry*> Next();

  // The next block of the current entry's data: `*size` bytes at file offset `*offset` (offsets
  // jump over holes of sparse entries). Returns false at the end of the entry's data.
  absl::StatusOr<bool> ReadBlock(const void** data, size_t* size, int64_t* offset);

  struct Summary {
    digest::Digest diff_id;  // sha256 of the whole decompressed stream
    uint64_t size = 0;       // decompressed bytes
    uint64_t compressed_size = 0;
    Compression compression = Compression::kNone;
  };
  // After Next() returned nullptr: reads what is left of the stream into the hash and returns
  // the totals. The trailing bytes are not checked to be zeros (GNU tar pads with anything).
  absl::StatusOr<Summary> Finish();

 private:
  explicit LayerReader(ReadFn source);
  absl::Status Start();
  // The status for a failed libarchive call on the tar reader: the source's error if it had one,
  // else the decompressor's, else the tar parser's.
  absl::Status Error(absl::string_view op);
  // Checks the gzip trailer (last 8 bytes of the blob) against the decompressed stream.
  absl::Status CheckGzipTrailer();
  void NoteCompressed(const char* data, size_t n);
  static ssize_t OuterRead(struct archive* a, void* self, const void** buf);
  static ssize_t InnerRead(struct archive* a, void* self, const void** buf);

  ReadFn source_;
  std::vector<char> buf_;
  struct archive* outer_ = nullptr;
  struct archive* tar_ = nullptr;
  // The diff ID (and the gzip CRC), fed every decompressed byte; made by Start(), once the
  // compression is known.
  std::unique_ptr<StreamDigest> digest_;
  absl::Status source_status_;
  std::string outer_error_;  // set when decompression failed
  uint64_t compressed_size_ = 0;
  Compression compression_ = Compression::kNone;
  char tail_[8] = {};              // the last 8 compressed bytes read
  bool gzip_size_matches_ = true;  // the trailer's ISIZE matched, as of the last check
  bool started_ = false;
  bool source_eof_ = false;  // the source returned 0
  bool empty_ = false;       // nothing at all after decompression
  bool outer_eof_ = false;   // the decompressed stream is exhausted
  bool tar_eof_ = false;
};

class LayerWriter {
 public:
  // `level` is the compressor's level (ignored for kNone); nullopt uses libarchive's default.
  // Errors: InvalidArgument for a level the compressor rejects, Internal if libarchive fails to
  // set up.
  static absl::StatusOr<std::unique_ptr<LayerWriter>> Create(WriteFn sink, Compression compression,
                                                             std::optional<int> level);
  ~LayerWriter();
  LayerWriter(const LayerWriter&) = delete;
  LayerWriter& operator=(const LayerWriter&) = delete;

  // Writes an entry header; `path` names the entry in errors. Errors: the sink's error, or
  // Internal/InvalidArgument from libarchive.
  absl::Status WriteHeader(archive_entry* entry, absl::string_view path);
  // Writes the current entry's data (exactly the size its header announced, in total).
  absl::Status WriteData(const char* data, size_t size, absl::string_view path);

  struct Summary {
    digest::Digest diff_id;  // sha256 of the uncompressed tar
    uint64_t uncompressed_size = 0;
    digest::Digest digest;  // sha256 of the bytes given to the sink
    uint64_t size = 0;      // bytes given to the sink
  };
  // Writes the end-of-archive marker, flushes the compressor and returns the digests. One-shot.
  absl::StatusOr<Summary> Finish();

 private:
  LayerWriter(WriteFn sink, Compression compression);
  absl::Status Error(struct archive* a, absl::string_view op);
  static ssize_t InnerWrite(struct archive* a, void* self, const void* buf, size_t n);
  static ssize_t OuterWrite(struct archive* a, void* self, const void* buf, size_t n);

  WriteFn sink_;
  Compression compression_;
  struct archive* tar_ = nullptr;
  struct archive* outer_ = nullptr;  // null when not compressing
  digest::Sha256Hasher uncompressed_hasher_;
  digest::Sha256Hasher compressed_hasher_;
  absl::Status sink_status_;
  bool finished_ = false;
};

}  // namespace berth::containerd::diff::internal
