// Image archives: `berth save` writes, and `berth load` reads, Docker's archive format in the
// shape Docker 25+ writes it, which is at the same time an OCI image layout:
//   blobs/sha256/<hex>   every manifest, config and layer blob, byte for byte as stored
//   index.json           OCI index; each tagged image carries the annotations
//                        io.containerd.image.name (full name) and
//                        org.opencontainers.image.ref.name (tag)
//   manifest.json        Docker's list of {Config, RepoTags, Layers} (paths into blobs/)
//   oci-layout           {"imageLayoutVersion": "1.0.0"}
//   repositories         Docker's legacy {repo: {tag: top layer}} map
// Load also reads older Docker archives (<id>/layer.tar, <config>.json, symlinks between
// them) and plain OCI layouts, optionally gzip/bzip2/xz compressed (libarchive), checks every
// blob against its digest and every layer against the config's diff ids, and keeps manifests
// that are in the archive, so save -> load keeps image ids and manifest digests.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "berth/engine/v1/images.pb.h"
#include "engine/images/byte_source.h"
#include "engine/images/image_store.h"

namespace berth::engine::images {

// Produces the tar stream of `berth save` chunk by chunk (layers are read from the content
// store as they are written, never held in memory whole).
class SaveStream {
 public:
  // Resolves `refs` (NotFound for a missing image) and plans the archive. Images named by a
  // reference are saved with that tag; images named by id are saved untagged.
  static absl::StatusOr<std::unique_ptr<SaveStream>> Create(ImageStore& store,
                                                            const std::vector<std::string>& refs,
                                                            v1::ImageArchiveFormat format);
  ~SaveStream();
  // The next chunk of the archive into `chunk`; false once the archive is complete.
  absl::StatusOr<bool> Next(std::string* chunk);

  struct Entry;

 private:
  SaveStream(ImageStore& store, std::vector<Entry> entries);
  ImageStore& store_;
  std::vector<Entry> entries_;
  size_t next_ = 0;
  bool ended_ = false;
  // The entry whose body is being sent.
  std::unique_ptr<BlobReader> reader_;
  int64_t sent_ = 0;
};

// Reads an archive from `source` into the store and names its images. Returns one entry per
// name loaded (reference empty for an untagged image).
absl::StatusOr<std::vector<v1::LoadedImage>> LoadArchive(ImageStore& store, ByteSource& source);

}  // namespace berth::engine::images
