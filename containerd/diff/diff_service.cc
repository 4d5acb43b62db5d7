#include "containerd/diff/diff_service.h"

#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/types/span.h"
#include "common/fs/fs.h"
#include "common/status/status_macros.h"
#include "containerd/diff/apply.h"
#include "containerd/diff/diff.h"
#include "containerd/server/proto_time.h"
#include "containerd/server/request_context.h"
#include "containerd/snapshots/mount.h"
#include "glog/logging.h"

namespace berth::containerd::diff {
namespace {

using server::Reply;

// Layer media types (OCI image-spec media-types.md; Docker image manifest v2 schema 2).
constexpr char kLayerTar[] = "application/vnd.oci.image.layer.v1.tar";
constexpr char kLayerGzip[] = "application/vnd.oci.image.layer.v1.tar+gzip";
constexpr char kLayerZstd[] = "application/vnd.oci.image.layer.v1.tar+zstd";
constexpr char kOciLayerPrefix[] = "application/vnd.oci.image.layer.";
constexpr char kDockerLayerGzip[] = "application/vnd.docker.image.rootfs.diff.tar.gzip";
constexpr char kDockerForeignLayerGzip[] =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

// The compression a layer media type names. InvalidArgument for a media type that is not a
// layer, Unimplemented for an OCI layer type this build cannot handle (e.g. "+encrypted").
absl::StatusOr<Compression> LayerCompression(absl::string_view media_type) {
  if (media_type == kDockerLayerGzip || media_type == kDockerForeignLayerGzip) {
    return Compression::kGzip;
  }
  if (!absl::StartsWith(media_type, kOciLayerPrefix)) {
    return absl::InvalidArgumentError(
        absl::StrCat("media type \"", media_type, "\" is not a layer"));
  }
  // "application/vnd.oci.image.layer.v1.tar" and ".nondistributable.v1.tar", plus a suffix.
  for (absl::string_view base :
       {absl::string_view("application/vnd.oci.image.layer.v1.tar"),
        absl::string_view("application/vnd.oci.image.layer.nondistributable.v1.tar")}) {
    if (!absl::StartsWith(media_type, base)) continue;
    const absl::string_view suffix = media_type.substr(base.size());
    if (suffix.empty()) return Compression::kNone;
    if (suffix == "+gzip") return Compression::kGzip;
    if (suffix == "+zstd") return Compression::kZstd;
  }
  return absl::UnimplementedError(
      absl::StrCat("layer media type \"", media_type, "\" is not supported"));
}

std::vector<snapshots::Mount> FromProto(
    const google::protobuf::RepeatedPtrField<berth::types::v1::Mount>& mounts) {
  std::vector<snapshots::Mount> out;
  for (const berth::types::v1::Mount& m : mounts) {
    out.push_back(
        snapshots::Mount{m.type(), m.source(), m.target(),
                         std::vector<std::string>(m.options().begin(), m.options().end())});
  }
  return out;
}

bool HasOption(const snapshots::Mount& m, absl::string_view option) {
  for (const std::string& o : m.options) {
    if (o == option) return true;
  }
  return false;
}

// The value of "<key>=<value>" in the options, if given.
std::optional<std::string> OptionValue(const snapshots::Mount& m, absl::string_view key) {
  const std::string prefix = absl::StrCat(key, "=");
  for (const std::string& o : m.options) {
    if (absl::StartsWith(o, prefix)) return o.substr(prefix.size());
  }
  return std::nullopt;
}

// The directories of one overlay mount.
struct OverlayDirs {
  std::vector<std::string> lower;  // topmost first
  std::string upper;               // empty: a read-only overlay
};

// The dirs of `mounts` when they are exactly one overlay mount onto the target itself, with
// absolute paths (what the overlayfs snapshotter returns).
std::optional<OverlayDirs> SingleOverlay(const std::vector<snapshots::Mount>& mounts) {
  if (mounts.size() != 1 || mounts[0].type != "overlay" || !mounts[0].target.empty()) {
    return std::nullopt;
  }
  OverlayDirs dirs;
  std::optional<std::string> lower = OptionValue(mounts[0], "lowerdir");
  if (!lower.has_value() || absl::StrContains(*lower, '\\')) return std::nullopt;
  dirs.lower = absl::StrSplit(*lower, ':', absl::SkipEmpty());
  dirs.upper = OptionValue(mounts[0], "upperdir").value_or("");
  for (const std::string& d : dirs.lower) {
    if (!absl::StartsWith(d, "/")) return std::nullopt;
  }
  if (!dirs.upper.empty() && !absl::StartsWith(dirs.upper, "/")) return std::nullopt;
  return dirs;
}

// The directory `mounts` show when they are one bind mount of it onto the target itself.
std::optional<std::string> SingleBind(const std::vector<snapshots::Mount>& mounts) {
  if (mounts.size() != 1 || mounts[0].type != "bind" || !mounts[0].target.empty() ||
      !absl::StartsWith(mounts[0].source, "/")) {
    return std::nullopt;
  }
  return mounts[0].source;
}

// The read-only layers `mounts` show, topmost first, when that is all they are: none, one bind
// mount, or one overlay mount without an upper dir. nullopt for anything else.
std::optional<std::vector<std::string>> LowerLayers(const std::vector<snapshots::Mount>& mounts) {
  if (mounts.empty()) return std::vector<std::string>{};
  if (std::optional<std::string> dir = SingleBind(mounts)) return std::vector<std::string>{*dir};
  std::optional<OverlayDirs> overlay = SingleOverlay(mounts);
  if (overlay.has_value() && overlay->upper.empty()) return overlay->lower;
  return std::nullopt;
}

// `mounts` made read-only for reading a file system: "ro" added, and an overlay with an upper dir
// turned into one without (the upper becomes the topmost lowerdir), since overlayfs refuses a
// second mount of an upper dir that is in use (by the container itself, say). As containerd's
// WithReadonlyTempMount.
std::vector<snapshots::Mount> ReadOnly(std::vector<snapshots::Mount> mounts) {
  for (snapshots::Mount& m : mounts) {
    std::vector<std::string> options;
    std::optional<std::string> upper;
    if (m.type == "overlay") upper = OptionValue(m, "upperdir");
    for (std::string& o : m.options) {
      if (o == "rw" || o == "ro") continue;
      if (upper.has_value()) {
        if (absl::StartsWith(o, "upperdir=") || absl::StartsWith(o, "workdir=")) continue;
        if (absl::StartsWith(o, "lowerdir=")) {
          o = absl::StrCat("lowerdir=", *upper, ":", o.substr(sizeof("lowerdir=") - 1));
        }
      }
      options.push_back(std::move(o));
    }
    options.push_back("ro");
    m.options = std::move(options);
  }
  return mounts;
}

// Mounts on a fresh private directory for the duration of one call. Unmounts and removes the
// directory when released or destroyed, whatever happened in between.
class TempMount {
 public:
  static absl::StatusOr<std::unique_ptr<TempMount>> Create(
      const std::string& scratch_dir, const std::vector<snapshots::Mount>& mounts) {
    BERTH_RETURN_IF_ERROR(fs::MakeDirs(scratch_dir, 0700), "create scratch dir");
    std::string path = absl::StrCat(scratch_dir, "/mnt-XXXXXX");
    if (mkdtemp(path.data()) == nullptr) {
      return absl::ErrnoToStatus(errno, absl::StrCat("create mount point in ", scratch_dir));
    }
    std::unique_ptr<TempMount> m(new TempMount(std::move(path)));
    // MountAll undoes its own mounts on error; the destructor removes the directory.
    BERTH_RETURN_IF_ERROR(snapshots::MountAll(mounts, m->path_), "mount");
    return m;
  }

  ~TempMount() {
    if (absl::Status s = Release(); !s.ok()) {
      LOG(ERROR) << "release temporary mount dir=" << path_ << " error=\"" << s.message() << "\"";
    }
  }
  TempMount(const TempMount&) = delete;
  TempMount& operator=(const TempMount&) = delete;

  const std::string& path() const { return path_; }

  // Unmounts everything at path() and removes it. Idempotent. A mount that stays busy is
  // detached (lazily unmounted) so nothing stays visible, and the busy error is returned.
  absl::Status Release() {
    if (released_) return absl::OkStatus();
    released_ = true;
    absl::Status status = snapshots::UnmountAll(path_);
    if (!status.ok()) {
      absl::Status detached = snapshots::UnmountAll(path_, MNT_DETACH);
      if (!detached.ok()) return Annotate(detached, absl::StrCat("unmount ", path_));
    }
    if (rmdir(path_.c_str()) != 0 && errno != ENOENT) {
      return absl::ErrnoToStatus(errno, absl::StrCat("remove ", path_));
    }
    return status;
  }

 private:
  explicit TempMount(std::string path) : path_(std::move(path)) {}
  const std::string path_;
  bool released_ = false;
};

// Where a side of a call lives: a directory used in place, or one mounted for the call.
struct ResolvedDir {
  std::string path;
  std::unique_ptr<TempMount> mount;  // null when used in place
};

absl::StatusOr<ResolvedDir> Resolve(const std::string& scratch_dir,
                                    const std::vector<snapshots::Mount>& mounts) {
  if (std::optional<std::string> dir = SingleBind(mounts)) return ResolvedDir{*dir, nullptr};
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<TempMount> m, TempMount::Create(scratch_dir, mounts));
  std::string path = m->path();
  return ResolvedDir{std::move(path), std::move(m)};
}

void SetDescriptor(absl::string_view media_type, const std::string& digest, int64_t size,
                   berth::types::v1::Descriptor* out) {
  out->set_media_type(std::string(media_type));
  out->set_digest(digest);
  out->set_size(size);
}

std::string RandomRef() {
  absl::BitGen gen;
  return absl::StrFormat("diff-%016x", absl::Uniform<uint64_t>(gen));
}

}  // namespace

DiffService::DiffService(content::NamespacedStore* content, DiffServiceOptions options)
    : content_(content), options_(std::move(options)) {}

::grpc::ServerUnaryReactor* DiffService::Apply(::grpc::CallbackServerContext* ctx,
                                               const v1::ApplyRequest* req,
                                               v1::ApplyResponse* resp) {
  return server::ReplyOffThread(ctx, "diff.Apply", blocking_,
                                [=] { return DoApply(*ctx, *req, *resp); });
}

::grpc::ServerUnaryReactor* DiffService::Diff(::grpc::CallbackServerContext* ctx,
                                              const v1::DiffRequest* req, v1::DiffResponse* resp) {
  return server::ReplyOffThread(ctx, "diff.Diff", blocking_,
                                [=] { return DoDiff(*ctx, *req, *resp); });
}

absl::Status DiffService::DoApply(const ::grpc::CallbackServerContext& ctx,
                                  const v1::ApplyRequest& req, v1::ApplyResponse& resp) {
  BERTH_ASSIGN_OR_RETURN(const std::string ns, server::RequestNamespace(ctx));
  if (req.mounts_size() == 0) return absl::InvalidArgumentError("apply: no mounts given");
  if (req.diff().digest().empty()) return absl::InvalidArgumentError("apply: diff has no digest");
  BERTH_RETURN_IF_ERROR(LayerCompression(req.diff().media_type()).status(), "apply");
  const std::string& digest = req.diff().digest();
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<content::ReaderAt> reader,
                         content_->OpenReader(ns, digest), absl::StrCat("apply ", digest));
  if (req.diff().size() != 0 && req.diff().size() != reader->size()) {
    return absl::FailedPreconditionError(absl::StrCat("apply ", digest, ": blob has ",
                                                      reader->size(), " bytes, descriptor says ",
                                                      req.diff().size()));
  }
  int64_t pos = 0;
  const ReadFn read = [&](char* buf, size_t len) -> absl::StatusOr<size_t> {
    BERTH_ASSIGN_OR_RETURN(const size_t n, reader->ReadAt(pos, absl::MakeSpan(buf, len)));
    pos += static_cast<int64_t>(n);
    return n;
  };

  ApplyOptions apply;
  apply.allow_devices = options_.allow_devices;
  apply.preserve_ownership = options_.preserve_ownership;
  apply.sync = req.sync_fs();
  const std::vector<snapshots::Mount> mounts = FromProto(req.mounts());
  absl::StatusOr<AppliedLayer> applied;
  if (std::optional<OverlayDirs> overlay = SingleOverlay(mounts);
      overlay.has_value() && !overlay->upper.empty()) {
    apply.overlay = true;
    apply.lower_dirs = overlay->lower;
    applied = diff::Apply(read, overlay->upper, apply);
  } else {
    if (SingleBind(mounts).has_value() && HasOption(mounts[0], "ro")) {
      return absl::FailedPreconditionError(
          absl::StrCat("apply ", digest, ": mounts are read-only"));
    }
    apply.overlay = false;
    BERTH_ASSIGN_OR_RETURN(ResolvedDir target, Resolve(options_.scratch_dir, mounts),
                           absl::StrCat("apply ", digest));
    applied = diff::Apply(read, target.path, apply);
    if (target.mount != nullptr) {
      absl::Status released = target.mount->Release();
      if (applied.ok() && !released.ok()) return Annotate(released, "apply");
    }
  }
  if (!applied.ok()) return Annotate(applied.status(), absl::StrCat("apply ", digest));
  SetDescriptor(kLayerTar, applied->diff_id.ToString(), static_cast<int64_t>(applied->size),
                resp.mutable_applied());
  VLOG(2) << "applied layer digest=" << digest << " diff_id=" << applied->diff_id.ToString()
          << " entries=" << applied->entries << " skipped_devices=" << applied->skipped_devices;
  return absl::OkStatus();
}

absl::Status DiffService::DoDiff(const ::grpc::CallbackServerContext& ctx,
                                 const v1::DiffRequest& req, v1::DiffResponse& resp) {
  BERTH_ASSIGN_OR_RETURN(const std::string ns, server::RequestNamespace(ctx));
  BERTH_ASSIGN_OR_RETURN(const std::optional<std::string> lease, server::RequestLease(ctx));
  if (req.upper_mounts_size() == 0) return absl::InvalidArgumentError("diff: no upper mounts");
  const std::string media_type = req.media_type().empty() ? kLayerGzip : req.media_type();
  DiffOptions diff_options;
  BERTH_ASSIGN_OR_RETURN(diff_options.compression, LayerCompression(media_type), "diff");
  if (req.has_source_date_epoch()) {
    BERTH_ASSIGN_OR_RETURN(diff_options.source_date_epoch,
                           server::FromProtoTime(req.source_date_epoch()),
                           "diff: source_date_epoch");
  }
  metadata::Labels labels(req.labels().begin(), req.labels().end());

  // A fresh ingest: Diff never resumes (the proto), so an old one under the ref goes first.
  const std::string ref = req.ref().empty() ? RandomRef() : req.ref();
  if (absl::Status s = content_->Abort(ns, ref); !s.ok() && !absl::IsNotFound(s)) {
    return Annotate(s, absl::StrCat("diff: ingest ", ref));
  }
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<content::NamespacedWriter> writer,
                         content_->OpenWriter(ns, ref, lease, 0, std::nullopt),
                         absl::StrCat("diff: ingest ", ref));
  bool committed = false;
  absl::Cleanup abort_ingest = [&] {
    if (committed) return;
    writer.reset();
    if (absl::Status s = content_->Abort(ns, ref); !s.ok() && !absl::IsNotFound(s)) {
      LOG(WARNING) << "abort ingest ns=" << ns << " ref=" << ref << " error=\"" << s.message()
                   << "\"";
    }
  };
  int64_t offset = 0;
  const WriteFn write = [&](absl::string_view data) -> absl::Status {
    BERTH_RETURN_IF_ERROR(writer->Write(offset, data));
    offset += static_cast<int64_t>(data.size());
    return absl::OkStatus();
  };

  const std::vector<snapshots::Mount> lower = FromProto(req.lower_mounts());
  const std::vector<snapshots::Mount> upper = FromProto(req.upper_mounts());
  absl::StatusOr<DiffResult> result;
  std::optional<OverlayDirs> overlay = SingleOverlay(upper);
  if (overlay.has_value() && !overlay->upper.empty() && LowerLayers(lower) == overlay->lower) {
    // The upper dir holds exactly the changes against `lower`.
    result = diff::Diff(overlay->lower, overlay->upper, write, diff_options);
  } else {
    ResolvedDir lower_dir;
    if (!lower.empty()) {
      BERTH_ASSIGN_OR_RETURN(lower_dir, Resolve(options_.scratch_dir, ReadOnly(lower)),
                             "diff: lower");
    }
    BERTH_ASSIGN_OR_RETURN(ResolvedDir upper_dir, Resolve(options_.scratch_dir, ReadOnly(upper)),
                           "diff: upper");
    result = DiffDirs(lower_dir.path, upper_dir.path, write, diff_options);
    for (ResolvedDir* d : {&upper_dir, &lower_dir}) {
      if (d->mount == nullptr) continue;
      absl::Status released = d->mount->Release();
      if (result.ok() && !released.ok()) return Annotate(released, "diff");
    }
  }
  if (!result.ok()) return Annotate(result.status(), "diff");

  const std::string diff_id = result->diff_id.ToString();
  labels[kUncompressedLabel] = diff_id;
  absl::StatusOr<metadata::BlobInfo> info =
      writer->Commit(static_cast<int64_t>(result->size), result->digest, labels);
  committed = info.ok() || absl::IsAlreadyExists(info.status());
  if (absl::IsAlreadyExists(info.status())) {
    // The namespace holds these bytes already: success, with the existing blob (the proto).
    info = content_->Info(ns, result->digest.ToString());
  }
  if (!info.ok()) return Annotate(info.status(), "diff: commit");
  SetDescriptor(media_type, info->digest, info->size, resp.mutable_diff());
  resp.set_uncompressed_digest(diff_id);
  VLOG(2) << "wrote layer digest=" << info->digest << " diff_id=" << diff_id
          << " entries=" << result->entries;
  return absl::OkStatus();
}

}  // namespace berth::containerd::diff
