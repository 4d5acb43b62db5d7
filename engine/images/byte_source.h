// ByteSource: a pull-style stream of bytes (an uploaded tarball or archive), so the import and
// load code reads the same way from a gRPC client stream (chunk_pipe.h) and from a string in
// tests.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::engine::images {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // The next chunk, valid until the next call; an empty chunk means the end of the stream.
  // An error when the sender went away (Cancelled) or sent something invalid.
  virtual absl::StatusOr<absl::string_view> Next() = 0;
};

// The bytes of a string, in chunks of `chunk` bytes.
class StringSource final : public ByteSource {
 public:
  explicit StringSource(std::string data, size_t chunk = 64 << 10)
      : data_(std::move(data)), chunk_(chunk) {}
  absl::StatusOr<absl::string_view> Next() override {
    absl::string_view rest = absl::string_view(data_).substr(at_);
    absl::string_view out = rest.substr(0, chunk_);
    at_ += out.size();
    return out;
  }

 private:
  std::string data_;
  size_t chunk_;
  size_t at_ = 0;
};

}  // namespace berth::engine::images
