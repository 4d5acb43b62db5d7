#include "engine/containers/store.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/fs/atomic_file.h"
#include "common/fs/fs.h"
#include "common/id/id.h"
#include "common/status/status_macros.h"
#include "glog/logging.h"

namespace berth::engine::containers {
namespace {

constexpr char kRecordFile[] = "container.json";

int64_t CreatedNanos(const ContainerRecord& r) {
  return r.container().created().seconds() * 1000000000LL + r.container().created().nanos();
}

}  // namespace

bool IsValidName(const std::string& name) {
  if (name.size() < 2 || name.size() > 255) return false;
  auto alnum = [](char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)); };
  if (!alnum(name[0])) return false;
  return std::all_of(name.begin() + 1, name.end(),
                     [&](char c) { return alnum(c) || c == '_' || c == '.' || c == '-'; });
}

std::string GenerateName() {
  // Word lists of berth's own; the shape ("adjective_surname") is Docker's.
  static const char* const kAdjectives[] = {
      "agile",   "bold",    "brave",   "bright",  "calm",    "clever",  "cool",    "eager",
      "fast",    "gentle",  "happy",   "keen",    "kind",    "lucid",   "merry",   "nimble",
      "noble",   "patient", "proud",   "quick",   "quiet",   "serene",  "sharp",   "steady",
      "swift",   "tender",  "upbeat",  "vivid",   "wise",    "witty",   "zealous", "jolly"};
  static const char* const kNames[] = {
      "babbage",  "bohr",      "curie",    "darwin",   "dijkstra", "einstein", "euler",
      "faraday",  "fermi",     "feynman",  "gauss",    "hopper",   "hypatia",  "kepler",
      "knuth",    "lamarr",    "lovelace", "maxwell",  "meitner",  "newton",   "noether",
      "pascal",   "planck",    "ritchie",  "shannon",  "tesla",    "thompson", "turing",
      "volta",    "wozniak",   "yalow",    "goodall"};
  static thread_local std::mt19937 rng{std::random_device{}()};
  std::uniform_int_distribution<size_t> a(0, std::size(kAdjectives) - 1);
  std::uniform_int_distribution<size_t> n(0, std::size(kNames) - 1);
  return absl::StrCat(kAdjectives[a(rng)], "_", kNames[n(rng)]);
}

absl::StatusOr<std::unique_ptr<ContainerStore>> ContainerStore::Open(const std::string& dir) {
  BERTH_RETURN_IF_ERROR(fs::MakeDirs(dir, 0710), "create container dir");
  std::unique_ptr<ContainerStore> store(new ContainerStore(dir));
  BERTH_ASSIGN_OR_RETURN(std::vector<std::string> entries, fs::ListDir(dir),
                         "list containers");
  absl::MutexLock lock(&store->mu_);
  for (const std::string& id : entries) {
    if (!id::IsValidId(id)) continue;
    const std::string path = absl::StrCat(dir, "/", id, "/", kRecordFile);
    absl::StatusOr<std::string> text = fs::ReadFile(path);
    if (!text.ok()) {
      LOG(WARNING) << "skipping container without record id=" << id << " error=\""
                   << text.status().message() << "\"";
      continue;
    }
    ContainerRecord record;
    google::protobuf::util::JsonParseOptions opts;
    opts.ignore_unknown_fields = true;  // written by a newer berthd
    auto st = google::protobuf::util::JsonStringToMessage(*text, &record, opts);
    if (!st.ok() || record.container().id() != id) {
      LOG(WARNING) << "skipping unreadable container record path=" << path;
      continue;
    }
    if (!record.container().name().empty()) store->names_[record.container().name()] = id;
    store->records_.emplace(id, std::move(record));
  }
  return store;
}

std::string ContainerStore::ContainerDir(const std::string& id) const {
  return absl::StrCat(dir_, "/", id);
}

absl::Status ContainerStore::Persist(const ContainerRecord& record) const {
  std::string json;
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  auto st = google::protobuf::util::MessageToJsonString(record, &json, opts);
  if (!st.ok()) return absl::InternalError(absl::StrCat("encode record: ", st.ToString()));
  const std::string dir = ContainerDir(record.container().id());
  const std::string path = absl::StrCat(dir, "/", kRecordFile);
  // Not fsync'd: a crash of the machine may lose the last state change, which berthd
  // recomputes from berth-containerd at start; rename keeps the file whole either way.
  // The directory exists after the first write: it is made only when missing (this runs under
  // the store's lock, several times per container start).
  absl::Status written = fs::WriteFileAtomically(path, json, 0600, {.durable = false});
  if (!absl::IsNotFound(written)) return written;
  BERTH_RETURN_IF_ERROR(fs::MakeDirs(dir, 0710));
  return fs::WriteFileAtomically(path, json, 0600, {.durable = false});
}

absl::Status ContainerStore::ReserveName(const std::string& name, const std::string& id) {
  if (!IsValidName(name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Invalid container name (", name, "), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"));
  }
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = names_.emplace(name, id);
  if (!inserted && it->second != id) {
    return absl::AlreadyExistsError(absl::StrCat(
        "Conflict. The container name \"/", name, "\" is already in use by container \"",
        it->second, "\". You have to remove (or rename) that container to be able to reuse "
        "that name."));
  }
  return absl::OkStatus();
}

void ContainerStore::ReleaseName(const std::string& name, const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto it = names_.find(name);
  if (it != names_.end() && it->second == id) names_.erase(it);
}

absl::Status ContainerStore::Add(const ContainerRecord& record) {
  const std::string& id = record.container().id();
  absl::MutexLock lock(&mu_);
  if (records_.contains(id)) {
    return absl::AlreadyExistsError(absl::StrCat("container ", id, " already exists"));
  }
  BERTH_RETURN_IF_ERROR(Persist(record), absl::StrCat("store container ", id));
  records_.emplace(id, record);
  if (!record.container().name().empty()) names_[record.container().name()] = id;
  return absl::OkStatus();
}

absl::StatusOr<std::string> ContainerStore::Resolve(const std::string& ref) const {
  std::string key(absl::StripPrefix(ref, "/"));
  absl::MutexLock lock(&mu_);
  if (!key.empty()) {
    if (records_.contains(key)) return key;
    if (auto it = names_.find(key); it != names_.end() && records_.contains(it->second)) {
      return it->second;
    }
    std::string found;
    int matches = 0;
    for (const auto& [id, r] : records_) {
      if (absl::StartsWith(id, key)) {
        found = id;
        ++matches;
      }
    }
    if (matches == 1) return found;
    if (matches > 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("multiple containers found with provided prefix: ", key));
    }
  }
  return absl::NotFoundError(absl::StrCat("No such container: ", ref));
}

absl::StatusOr<ContainerRecord> ContainerStore::Get(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  auto it = records_.find(id);
  if (it == records_.end()) return absl::NotFoundError(absl::StrCat("No such container: ", id));
  return it->second;
}

absl::Status ContainerStore::Update(const std::string& id,
                                    const std::function<absl::Status(ContainerRecord&)>& mutate) {
  absl::MutexLock lock(&mu_);
  auto it = records_.find(id);
  if (it == records_.end()) return absl::NotFoundError(absl::StrCat("No such container: ", id));
  ContainerRecord copy = it->second;
  BERTH_RETURN_IF_ERROR(mutate(copy));
  copy.mutable_container()->set_id(id);
  copy.mutable_container()->set_name(it->second.container().name());
  BERTH_RETURN_IF_ERROR(Persist(copy), absl::StrCat("store container ", id));
  it->second = std::move(copy);
  return absl::OkStatus();
}

absl::Status ContainerStore::Rename(const std::string& id, const std::string& new_name) {
  if (!IsValidName(new_name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Invalid container name (", new_name, "), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"));
  }
  absl::MutexLock lock(&mu_);
  auto it = records_.find(id);
  if (it == records_.end()) return absl::NotFoundError(absl::StrCat("No such container: ", id));
  const std::string old_name = it->second.container().name();
  if (old_name == new_name) {
    return absl::InvalidArgumentError(
        absl::StrCat("Renaming a container with the same name as its current name"));
  }
  if (auto n = names_.find(new_name); n != names_.end()) {
    return absl::AlreadyExistsError(absl::StrCat(
        "Conflict. The container name \"/", new_name, "\" is already in use by container \"",
        n->second, "\". You have to remove (or rename) that container to be able to reuse "
        "that name."));
  }
  ContainerRecord copy = it->second;
  copy.mutable_container()->set_name(new_name);
  BERTH_RETURN_IF_ERROR(Persist(copy), absl::StrCat("store container ", id));
  it->second = std::move(copy);
  names_.erase(old_name);
  names_[new_name] = id;
  return absl::OkStatus();
}

absl::Status ContainerStore::Remove(const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto it = records_.find(id);
  if (it == records_.end()) return absl::NotFoundError(absl::StrCat("No such container: ", id));
  BERTH_RETURN_IF_ERROR(fs::RemoveAll(ContainerDir(id)), absl::StrCat("remove container ", id));
  names_.erase(it->second.container().name());
  records_.erase(it);
  return absl::OkStatus();
}

std::vector<ContainerRecord> ContainerStore::List() const {
  std::vector<ContainerRecord> out;
  {
    absl::MutexLock lock(&mu_);
    out.reserve(records_.size());
    for (const auto& [id, r] : records_) out.push_back(r);
  }
  std::sort(out.begin(), out.end(), [](const ContainerRecord& a, const ContainerRecord& b) {
    if (CreatedNanos(a) != CreatedNanos(b)) return CreatedNanos(a) < CreatedNanos(b);
    return a.container().id() < b.container().id();
  });
  return out;
}

bool ContainerStore::ImageInUse(const std::string& image_id) const {
  absl::MutexLock lock(&mu_);
  for (const auto& [id, r] : records_) {
    if (r.container().image_id() == image_id) return true;
  }
  return false;
}

}  // namespace berth::engine::containers
