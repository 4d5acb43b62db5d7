#include "containerd/metadata/gc.h"

#include <algorithm>
#include <deque>
#include <map>
#include <set>
#include <utility>
#include <variant>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"

namespace berth::containerd::metadata {

std::optional<GcRef> ParseGcRefLabel(absl::string_view key, absl::string_view value) {
  if (value.empty()) return std::nullopt;
  if (absl::ConsumePrefix(&key, kGcRefContentLabel)) {
    // Exactly the prefix, or the prefix plus ".<suffix>"; "berth.io/gc.ref.contentx" is not a
    // reference.
    if (key.empty() || (key.size() > 1 && key[0] == '.')) {
      return GcRef{GcRef::Type::kContent, "", std::string(value)};
    }
    return std::nullopt;
  }
  if (absl::ConsumePrefix(&key, kGcRefSnapshotPrefix)) {
    absl::string_view snapshotter = key.substr(0, key.find('.'));
    if (snapshotter.empty()) return std::nullopt;
    if (snapshotter.size() < key.size() && snapshotter.size() + 1 == key.size()) {
      return std::nullopt;  // "<snapshotter>." with an empty suffix
    }
    return GcRef{GcRef::Type::kSnapshot, std::string(snapshotter), std::string(value)};
  }
  return std::nullopt;
}

namespace {

using Node = std::variant<BlobRef, SnapshotRef>;

class Marker {
 public:
  explicit Marker(const GcInput& input) {
    for (const auto& b : input.blobs) blobs_.emplace(BlobRef{b.ns, b.digest}, &b);
    for (const auto& s : input.snapshots) {
      snapshots_.emplace(SnapshotRef{s.ns, s.snapshotter, s.name}, &s);
    }
  }

  void MarkBlob(const std::string& ns, const std::string& digest) {
    BlobRef ref{ns, digest};
    // A reference to a blob the namespace does not hold keeps nothing: there is nothing to keep.
    if (blobs_.count(ref) == 0 || !marked_blobs_.insert(ref).second) return;
    work_.push_back(std::move(ref));
  }

  void MarkSnapshot(const std::string& ns, const std::string& snapshotter,
                    const std::string& name) {
    SnapshotRef ref{ns, snapshotter, name};
    if (snapshots_.count(ref) == 0 || !marked_snapshots_.insert(ref).second) return;
    work_.push_back(std::move(ref));
  }

  // Follows the GC reference labels of an object in `ns`.
  void MarkLabels(const std::string& ns, const Labels& labels) {
    // Only keys under berth.io/gc.ref. can be references; the map is ordered, so start there.
    for (auto it = labels.lower_bound("berth.io/gc.ref.");
         it != labels.end() && absl::StartsWith(it->first, "berth.io/gc.ref."); ++it) {
      std::optional<GcRef> ref = ParseGcRefLabel(it->first, it->second);
      if (!ref) continue;
      if (ref->type == GcRef::Type::kContent) {
        MarkBlob(ns, ref->id);
      } else {
        MarkSnapshot(ns, ref->snapshotter, ref->id);
      }
    }
  }

  void MarkRootLabelled() {
    for (const auto& [ref, node] : blobs_) {
      if (node->labels.count(std::string(kGcRootLabel))) MarkBlob(ref.ns, ref.digest);
    }
    for (const auto& [ref, node] : snapshots_) {
      if (node->labels.count(std::string(kGcRootLabel))) {
        MarkSnapshot(ref.ns, ref.snapshotter, ref.name);
      }
    }
  }

  // Follows edges until every reachable node is marked. Each node enters the work list once.
  void Propagate() {
    while (!work_.empty()) {
      Node node = std::move(work_.front());
      work_.pop_front();
      if (const auto* blob = std::get_if<BlobRef>(&node)) {
        MarkLabels(blob->ns, blobs_.at(*blob)->labels);
      } else {
        const auto& snap = std::get<SnapshotRef>(node);
        const GcInput::SnapshotNode* s = snapshots_.at(snap);
        if (!s->parent.empty()) MarkSnapshot(snap.ns, snap.snapshotter, s->parent);
        MarkLabels(snap.ns, s->labels);
      }
    }
  }

  std::vector<BlobRef> UnmarkedBlobs() const {
    std::vector<BlobRef> out;
    for (const auto& [ref, node] : blobs_) {
      if (marked_blobs_.count(ref) == 0) out.push_back(ref);
    }
    return out;  // sorted: map order
  }

  // Unmarked snapshots, deepest first: a child is always deeper than its parent, so removing
  // in this order never hits "snapshot still has children".
  std::vector<SnapshotRef> UnmarkedSnapshots() const {
    std::vector<std::pair<int, SnapshotRef>> by_depth;
    std::map<SnapshotRef, int> depth_cache;
    for (const auto& [ref, node] : snapshots_) {
      if (marked_snapshots_.count(ref) == 0) by_depth.emplace_back(Depth(ref, &depth_cache), ref);
    }
    std::sort(by_depth.begin(), by_depth.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    std::vector<SnapshotRef> out;
    out.reserve(by_depth.size());
    for (auto& [depth, ref] : by_depth) out.push_back(std::move(ref));
    return out;
  }

 private:
  // Number of ancestors that exist. Iterative with a bound, so a malformed input with a parent
  // cycle (impossible in the store, whose parents must pre-exist) cannot loop forever.
  int Depth(const SnapshotRef& start, std::map<SnapshotRef, int>* cache) const {
    std::vector<SnapshotRef> chain;
    SnapshotRef cur = start;
    int base = 0;
    while (chain.size() <= snapshots_.size()) {
      if (auto it = cache->find(cur); it != cache->end()) {
        base = it->second;
        break;
      }
      auto node = snapshots_.find(cur);
      if (node == snapshots_.end()) {
        base = -1;  // the parent of the last element does not exist
        break;
      }
      chain.push_back(cur);
      if (node->second->parent.empty()) {
        base = -1;
        break;
      }
      cur = SnapshotRef{cur.ns, cur.snapshotter, node->second->parent};
    }
    // chain[i]'s depth is base + (chain.size() - i).
    for (size_t i = 0; i < chain.size(); ++i) {
      (*cache)[chain[i]] = base + static_cast<int>(chain.size() - i);
    }
    return (*cache)[start];
  }

  std::map<BlobRef, const GcInput::BlobNode*> blobs_;
  std::map<SnapshotRef, const GcInput::SnapshotNode*> snapshots_;
  std::set<BlobRef> marked_blobs_;
  std::set<SnapshotRef> marked_snapshots_;
  std::deque<Node> work_;
};

}  // namespace

GcCandidates ComputeGarbage(const GcInput& input, absl::Time now) {
  Marker marker(input);
  GcCandidates out;

  for (const auto& image : input.images) {
    marker.MarkBlob(image.ns, image.target_digest);
    marker.MarkLabels(image.ns, image.labels);
  }
  for (const auto& c : input.containers) {
    if (!c.snapshot_key.empty()) marker.MarkSnapshot(c.ns, c.snapshotter, c.snapshot_key);
    marker.MarkLabels(c.ns, c.labels);
  }
  std::set<NamedRef> ingests;
  for (const auto& lease : input.leases) {
    if (lease.expires_at.has_value() && *lease.expires_at <= now) {
      out.expired_leases.push_back(NamedRef{lease.ns, lease.id});
      continue;
    }
    for (const LeaseResource& r : lease.resources) {
      absl::string_view type = r.type;
      if (type == kResourceContent) {
        marker.MarkBlob(lease.ns, r.id);
      } else if (type == kResourceIngests) {
        ingests.insert(NamedRef{lease.ns, r.id});
      } else if (absl::ConsumePrefix(&type, kResourceSnapshotsPrefix)) {
        marker.MarkSnapshot(lease.ns, std::string(type), r.id);
      }
    }
  }
  marker.MarkRootLabelled();
  marker.Propagate();

  out.blobs = marker.UnmarkedBlobs();
  out.snapshots = marker.UnmarkedSnapshots();
  std::sort(out.expired_leases.begin(), out.expired_leases.end());
  out.leased_ingests.assign(ingests.begin(), ingests.end());
  return out;
}

}  // namespace berth::containerd::metadata
