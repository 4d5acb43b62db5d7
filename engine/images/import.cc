// ImageStore::Import: `berth import`, a rootfs tarball to a one-layer image.
#include <cstring>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "common/digest/digest.h"
#include "common/status/status_macros.h"
#include "engine/images/changes.h"
#include "engine/images/image_store.h"
#include "engine/reference/reference.h"

namespace berth::engine::images {
namespace {

// The compression of a stream, from its first bytes.
enum class Compression { kNone, kGzip, kBzip2, kXz, kZstd };

Compression Detect(absl::string_view head) {
  auto starts = [&](const char* magic, size_t n) {
    return head.size() >= n && std::memcmp(head.data(), magic, n) == 0;
  };
  if (starts("\x1f\x8b", 2)) return Compression::kGzip;
  if (starts("BZh", 3)) return Compression::kBzip2;
  if (starts("\xfd"
             "7zXZ\x00",
             6))
    return Compression::kXz;
  if (starts("\x28\xb5\x2f\xfd", 4)) return Compression::kZstd;
  return Compression::kNone;
}

// Whether `block` (the first 512 bytes of the stream) is a tar header with a valid checksum,
// or the all-zero end-of-archive block of an empty archive.
bool LooksLikeTar(absl::string_view block) {
  if (block.size() < 512) return false;
  bool all_zero = true;
  for (char c : block.substr(0, 512)) all_zero = all_zero && c == 0;
  if (all_zero) return true;
  unsigned sum = 0;
  for (size_t i = 0; i < 512; ++i) {
    sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(block[i]);
  }
  unsigned stored = 0;
  bool digits = false;
  for (size_t i = 148; i < 156; ++i) {
    char c = block[i];
    if (c >= '0' && c <= '7') {
      stored = stored * 8 + static_cast<unsigned>(c - '0');
      digits = true;
    } else if (c != ' ' && c != 0) {
      return false;
    } else if (digits) {
      break;
    }
  }
  return digits && stored == sum;
}

}  // namespace

absl::StatusOr<std::string> ImageStore::Import(const ImportOptions& opts, ByteSource& tarball) {
  std::string name;
  if (!opts.reference.empty()) {
    BERTH_ASSIGN_OR_RETURN(reference::Reference ref,
                           reference::ParseWithDefaultTag(opts.reference));
    if (!ref.digest.empty()) {
      return absl::InvalidArgumentError("import: a digest is not allowed in the reference");
    }
    name = ref.String();
  }
  nlohmann::json cfg = nlohmann::json::object();
  BERTH_RETURN_IF_ERROR(ApplyChanges(opts.changes, &cfg));

  BERTH_ASSIGN_OR_RETURN(std::string lease, backend_.leases->Create(options_.lease_ttl),
                         "create lease");
  bool ok = false;
  // Success lets the lease go at once (the image now holds everything); failure waits for the
  // collection, so no blob or snapshot of a failed import is left behind.
  absl::Cleanup drop_lease = [&] {
    absl::Status s = backend_.leases->Delete(lease, /*sync=*/!ok);
    (void)s;
  };

  // Stream the tarball into the content store as the layer blob.
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<BlobWriter> writer,
                         backend_.content->OpenWriter(absl::StrCat("import-", Unique()), "", lease),
                         "store layer");
  std::string head;
  bool checked = false;
  Compression compression = Compression::kNone;
  auto check_head = [&]() -> absl::Status {
    checked = true;
    compression = Detect(head);
    switch (compression) {
      case Compression::kGzip:
      case Compression::kZstd:
        return absl::OkStatus();
      case Compression::kBzip2:
      case Compression::kXz:
        return absl::InvalidArgumentError(
            "import: bzip2 and xz tarballs are not supported; use a plain or gzip tarball");
      case Compression::kNone:
        if (!LooksLikeTar(head)) {
          return absl::InvalidArgumentError("import: the input is not a tar archive");
        }
        return absl::OkStatus();
    }
    return absl::OkStatus();
  };
  while (true) {
    BERTH_ASSIGN_OR_RETURN(absl::string_view chunk, tarball.Next(), "import: read tarball");
    if (chunk.empty()) break;
    if (!checked) {
      head.append(chunk.data(), std::min<size_t>(chunk.size(), 512 - head.size()));
      if (head.size() >= 512) BERTH_RETURN_IF_ERROR(check_head());
    }
    BERTH_RETURN_IF_ERROR(writer->Write(chunk), "store layer");
  }
  if (!checked) BERTH_RETURN_IF_ERROR(check_head());
  BERTH_ASSIGN_OR_RETURN(BlobInfo layer_blob, writer->Commit("", 0, {}), "store layer");

  Descriptor layer;
  layer.set_media_type(compression == Compression::kGzip   ? oci::kMediaTypeLayerGzip
                       : compression == Compression::kZstd ? oci::kMediaTypeLayerZstd
                                                           : oci::kMediaTypeLayer);
  layer.set_digest(layer_blob.digest);
  layer.set_size(layer_blob.size);

  // Unpack it; the differ tells the diff id (digest of the uncompressed tar).
  const std::string key = absl::StrCat("import-", Unique());
  BERTH_ASSIGN_OR_RETURN(std::vector<Mount> mounts, backend_.snapshots->Prepare(key, "", lease),
                         "prepare snapshot");
  absl::Cleanup remove_key = [&] { (void)backend_.snapshots->Remove(key); };
  absl::StatusOr<Descriptor> applied = backend_.differ->Apply(layer, mounts);
  if (!applied.ok()) {
    return absl::Status(applied.status().code(),
                        absl::StrCat("import: unpack tarball: ", applied.status().message()));
  }
  const std::string diff_id = applied->digest();
  absl::Status committed = backend_.snapshots->Commit(diff_id, key, lease);
  if (committed.ok()) {
    std::move(remove_key).Cancel();
  } else if (!absl::IsAlreadyExists(committed)) {
    return Annotate(committed, "commit snapshot");
  }
  if (layer.digest() != diff_id) {
    BERTH_RETURN_IF_ERROR(backend_.content->SetLabels(
        layer.digest(), {{kUncompressedSizeLabel, absl::StrCat(applied->size())},
                         {"berth.io/uncompressed", diff_id}}));
  }

  const std::string created = oci::FormatRfc3339(options_.clock());
  nlohmann::json config = nlohmann::json::object();
  config["architecture"] = opts.architecture.empty() ? options_.architecture : opts.architecture;
  config["os"] = opts.os.empty() ? options_.os : opts.os;
  if (!opts.variant.empty()) config["variant"] = opts.variant;
  config["created"] = created;
  config["config"] = cfg;
  config["rootfs"] = {{"type", "layers"}, {"diff_ids", {diff_id}}};
  nlohmann::json history = nlohmann::json::object();
  history["created"] = created;
  history["comment"] = opts.message.empty() ? std::string("Imported from -") : opts.message;
  config["history"] = nlohmann::json::array({history});
  const std::string config_json = config.dump();
  BERTH_ASSIGN_OR_RETURN(
      BlobInfo config_blob,
      WriteBlob(config_json, "config", {{kGcRefSnapshotOverlay, diff_id}}, lease),
      "store image config");

  oci::Manifest m;
  m.media_type = oci::kMediaTypeManifest;
  m.config.set_media_type(oci::kMediaTypeConfig);
  m.config.set_digest(config_blob.digest);
  m.config.set_size(config_blob.size);
  m.layers.push_back(layer);
  const std::string manifest_json = oci::ManifestJson(m);
  BERTH_ASSIGN_OR_RETURN(
      BlobInfo manifest_blob,
      WriteBlob(manifest_json, "manifest",
                {{absl::StrCat(kGcRefContentPrefix, "config"), config_blob.digest},
                 {absl::StrCat(kGcRefContentPrefix, "l.0"), layer.digest()}},
                lease),
      "store manifest");

  Descriptor target;
  target.set_media_type(oci::kMediaTypeManifest);
  target.set_digest(manifest_blob.digest);
  target.set_size(manifest_blob.size);
  BERTH_RETURN_IF_ERROR(SetName(name, target));
  ok = true;
  return config_blob.digest;
}

}  // namespace berth::engine::images
