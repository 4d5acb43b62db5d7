#include "engine/distribution/gzip.h"

#include <libdeflate.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"

namespace berth::engine::distribution {
namespace {

struct SamplerDeleter {
  void operator()(libdeflate_compressor* c) const { libdeflate_free_compressor(c); }
};

struct Block {
  std::string in;
  std::string out;
  bool stored = false;  // `in` goes out as stored blocks; `out` is unused
  uLong crc = 0;
  absl::Status status;
  // WorthDeflating's compressor, made once per block slot and kept across rounds.
  std::unique_ptr<libdeflate_compressor, SamplerDeleter> sampler;
};

// Sampling for WorthDeflating: this many samples of this size, spread over the block.
constexpr int kSamples = 4;
constexpr size_t kSampleBytes = 4 << 10;

// Whether deflating `b->in` at `level` is likely to pay, judged by deflating a few samples
// spread over it (1.5% of a 1 MiB block): yes when at least half of them shrink by 3% or more.
// Incompressible data (random bytes, media, archives that are compressed already) costs as
// much CPU to deflate as anything else (zlib manages ~30-60 MB/s on it) for nothing; such
// blocks are stored instead (deflate's uncompressed block type), at memcpy speed. Counting
// samples rather than adding up their sizes keeps one compressible corner (the tar headers at
// the start of a layer of big random files) from sending a whole megabyte through zlib. The
// samples go through libdeflate: no per-call stream setup (zlib's deflateInit/Reset cost more
// than the samples themselves), and it gives up as soon as a sample does not fit the 97% it
// is allowed. The decision depends on the block's bytes alone, so the output stays
// deterministic.
bool WorthDeflating(Block* b, int level) {
  const std::string& in = b->in;
  if (level == 0) return false;
  if (in.size() < kSamples * kSampleBytes * 2) return true;  // small: just deflate it
  if (b->sampler == nullptr) b->sampler.reset(libdeflate_alloc_compressor(std::min(level, 9)));
  if (b->sampler == nullptr) return true;
  char out[kSampleBytes * 97 / 100];
  int shrinking = 0;
  const size_t stride = (in.size() - kSampleBytes) / (kSamples - 1);
  for (int i = 0; i < kSamples; ++i) {
    // 0: the sample did not fit in 97% of its size.
    if (libdeflate_deflate_compress(b->sampler.get(), in.data() + i * stride, kSampleBytes, out,
                                    sizeof(out)) != 0) {
      ++shrinking;
    }
  }
  return shrinking * 2 >= kSamples;
}

// Raw deflate of one block ending with a sync flush (byte aligned, not final), so blocks
// made independently concatenate into one valid deflate stream.
void DeflateBlock(Block* b, int level) {
  // libdeflate's CRC-32 folds with carry-less multiplies: ~10x zlib's table-driven one, which
  // was a fifth of a push's CPU for incompressible layers.
  b->crc = libdeflate_crc32(0, b->in.data(), b->in.size());
  // Otherwise stored blocks (RFC 1951 section 3.2.4), framed by GzipPiece as they are read:
  // like deflate's output here, they start and end on a byte boundary.
  b->stored = !WorthDeflating(b, level);
  if (b->stored) return;
  z_stream zs{};
  if (deflateInit2(&zs, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    b->status = absl::InternalError("deflateInit2 failed");
    return;
  }
  b->out.resize(deflateBound(&zs, b->in.size()) + 16);
  zs.next_in = reinterpret_cast<Bytef*>(b->in.data());
  zs.avail_in = static_cast<uInt>(b->in.size());
  zs.next_out = reinterpret_cast<Bytef*>(b->out.data());
  zs.avail_out = static_cast<uInt>(b->out.size());
  int rc = deflate(&zs, Z_SYNC_FLUSH);
  if (rc != Z_OK || zs.avail_in != 0) {
    b->status = absl::InternalError(absl::StrCat("deflate failed: ", rc));
  }
  b->out.resize(b->out.size() - zs.avail_out);
  deflateEnd(&zs);
}

// Stored deflate blocks hold at most this many bytes, after a 5-byte header.
constexpr size_t kMaxStored = 65535;
constexpr size_t kStoredHeader = 5;

void PutLE32(std::string* s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

}  // namespace

size_t GzipPiece::size() const {
  if (!stored) return bytes.size();
  return bytes.size() + (bytes.size() + kMaxStored - 1) / kMaxStored * kStoredHeader;
}

size_t GzipPiece::Read(size_t at, char* out, size_t max) const {
  if (!stored) {
    if (at >= bytes.size()) return 0;
    const size_t n = std::min(max, bytes.size() - at);
    std::memcpy(out, bytes.data() + at, n);
    return n;
  }
  constexpr size_t kFramed = kStoredHeader + kMaxStored;
  size_t done = 0;
  while (done < max) {
    const size_t block = at / kFramed;
    const size_t start = block * kMaxStored;  // of the block's bytes in `bytes`
    if (start >= bytes.size()) break;
    const size_t len = std::min(kMaxStored, bytes.size() - start);
    size_t off = at % kFramed;
    if (off < kStoredHeader) {
      // BFINAL 0 and BTYPE 00 (the rest of the first byte is padding), LEN, NLEN.
      const char head[kStoredHeader] = {
          0, static_cast<char>(len & 0xff), static_cast<char>(len >> 8),
          static_cast<char>(~len & 0xff), static_cast<char>((~len >> 8) & 0xff)};
      const size_t n = std::min(max - done, kStoredHeader - off);
      std::memcpy(out + done, head + off, n);
      done += n;
      at += n;
      continue;
    }
    off -= kStoredHeader;
    if (off >= len) break;  // the end of the last (short) block
    const size_t n = std::min(max - done, len - off);
    std::memcpy(out + done, bytes.data() + start + off, n);
    done += n;
    at += n;
  }
  return done;
}

void GzipPiece::AppendTo(std::string* out) const {
  const size_t from = out->size();
  out->resize(from + size());
  Read(0, out->data() + from, size());
}

absl::Status GzipCompress(const std::function<absl::StatusOr<bool>(std::string*)>& next,
                          const std::function<absl::Status(GzipPiece&&)>& out,
                          const GzipOptions& options) {
  int threads = options.threads > 0 ? options.threads
                                    : static_cast<int>(std::thread::hardware_concurrency());
  if (threads < 1) threads = 1;
  // RFC 1952 header: deflate, no flags, mtime 0, no extra flags, OS "unknown".
  static constexpr char kHeader[] = {'\x1f', '\x8b', 8, 0, 0, 0, 0, 0, 0, '\xff'};
  if (absl::Status s = out({std::string(kHeader, sizeof(kHeader))}); !s.ok()) return s;

  uLong crc = crc32(0L, Z_NULL, 0);
  uint64_t total = 0;
  std::string chunk;
  std::string carry;  // input read but not yet in a block
  bool eof = false;
  std::vector<Block> blocks(static_cast<size_t>(threads));
  // Fills `b` with the next block_size bytes (fewer at the end of the input).
  auto fill = [&](Block& b) -> absl::Status {
    b.in.swap(carry);
    carry.clear();
    b.out.clear();
    b.stored = false;
    b.status = absl::OkStatus();
    while (b.in.size() < options.block_size && !eof) {
      absl::StatusOr<bool> more = next(&chunk);
      if (!more.ok()) return more.status();
      if (!*more) {
        eof = true;
        break;
      }
      // Content arrives in chunks of about the block size: take a chunk's buffer as it is
      // rather than copying it.
      if (b.in.empty()) {
        b.in.swap(chunk);
      } else {
        b.in.append(chunk);
      }
    }
    if (b.in.size() > options.block_size) {
      carry.assign(b.in, options.block_size, std::string::npos);
      b.in.resize(options.block_size);
    }
    return absl::OkStatus();
  };
  bool done = false;
  while (!done) {
    size_t n = 0;
    while (n < blocks.size()) {
      if (absl::Status s = fill(blocks[n]); !s.ok()) return s;
      if (blocks[n].in.empty()) break;
      ++n;
      if (eof && carry.empty()) break;
    }
    done = eof && carry.empty();
    // Blocks 1..n-1 on their own threads, block 0 on this one.
    std::vector<std::thread> workers;
    for (size_t i = 1; i < n; ++i) workers.emplace_back(DeflateBlock, &blocks[i], options.level);
    if (n > 0) DeflateBlock(&blocks[0], options.level);
    for (auto& w : workers) w.join();
    for (size_t i = 0; i < n; ++i) {
      if (!blocks[i].status.ok()) return blocks[i].status;
      Block& b = blocks[i];
      const size_t in_size = b.in.size();
      crc = crc32_combine(crc, b.crc, static_cast<z_off_t>(in_size));
      total += in_size;
      GzipPiece piece;
      piece.stored = b.stored;
      piece.bytes = b.stored ? std::move(b.in) : std::move(b.out);
      b.in.clear();  // moved-from: make it plainly empty for the next fill
      if (absl::Status s = out(std::move(piece)); !s.ok()) return s;
    }
  }
  // The final, empty block (BFINAL set) and the trailer: CRC-32 and size mod 2^32.
  std::string tail = {'\x03', '\x00'};
  PutLE32(&tail, static_cast<uint32_t>(crc));
  PutLE32(&tail, static_cast<uint32_t>(total & 0xffffffffu));
  return out({std::move(tail)});
}

}  // namespace berth::engine::distribution
