#include "containerd/metadata/validation.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/digest/digest.h"

namespace berth::containerd::metadata {
namespace {

constexpr size_t kMaxIdentifierLength = 76;

bool IsSeparator(char c) { return c == '.' || c == '_' || c == '-'; }

// Runs of letters and digits joined by single separators, 1 to 76 characters.
absl::Status ValidateIdentifier(absl::string_view what, absl::string_view s) {
  if (s.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " must not be empty"));
  if (s.size() > kMaxIdentifierLength) {
    return absl::InvalidArgumentError(absl::StrFormat("%s %s is longer than %d characters", what,
                                                      s.substr(0, 20), kMaxIdentifierLength));
  }
  bool prev_separator = true;  // so a leading separator is rejected
  for (char c : s) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c))) {
      prev_separator = false;
    } else if (IsSeparator(c) && !prev_separator) {
      prev_separator = true;
    } else {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s %s is not valid: use letters and digits joined by single '.', '_' or '-'", what,
          absl::StrCat("\"", absl::CHexEscape(s), "\"")));
    }
  }
  if (prev_separator) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s \"%s\" must not end with a separator", what, absl::CHexEscape(s)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateNamespaceName(absl::string_view name) {
  return ValidateIdentifier("namespace", name);
}

absl::Status ValidateLeaseId(absl::string_view id) { return ValidateIdentifier("lease id", id); }

absl::Status ValidateContainerId(absl::string_view id) {
  if (id.empty()) return absl::InvalidArgumentError("container id must not be empty");
  bool ok =
      id.size() <= kMaxIdentifierLength && absl::ascii_isalnum(static_cast<unsigned char>(id[0]));
  for (size_t i = 1; ok && i < id.size(); ++i) {
    ok = absl::ascii_isalnum(static_cast<unsigned char>(id[i])) || IsSeparator(id[i]);
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrFormat("container id \"%s\" does not match [A-Za-z0-9][A-Za-z0-9_.-]{0,75}",
                        absl::CHexEscape(id.substr(0, 100))));
  }
  return absl::OkStatus();
}

absl::Status ValidateSnapshotterName(absl::string_view name) {
  bool ok = !name.empty() && name.size() <= kMaxIdentifierLength;
  for (char c : name) {
    ok = ok && (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-');
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrFormat("snapshotter name \"%s\" is not valid: use 1 to 76 of [A-Za-z0-9_-]",
                        absl::CHexEscape(name.substr(0, 100))));
  }
  return absl::OkStatus();
}

absl::Status ValidateLabels(const Labels& labels) {
  for (const auto& [key, value] : labels) {
    if (key.empty()) return absl::InvalidArgumentError("label key must not be empty");
    if (key.size() + value.size() > kMaxLabelSize) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "label %s: key plus value is %d bytes, more than %d", absl::CHexEscape(key.substr(0, 64)),
          key.size() + value.size(), kMaxLabelSize));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateDigest(absl::string_view digest) {
  absl::StatusOr<digest::Digest> parsed = digest::Digest::Parse(digest);
  if (parsed.ok()) return absl::OkStatus();
  // The store only holds digests it can verify; for callers an unsupported algorithm is bad
  // input like any other.
  return absl::InvalidArgumentError(parsed.status().message());
}

absl::Status ValidateDescriptor(const Descriptor& target) {
  if (target.media_type.empty()) {
    return absl::InvalidArgumentError("target media_type must not be empty");
  }
  if (absl::Status s = ValidateDigest(target.digest); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("target digest: ", s.message()));
  }
  if (target.size <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("target size must be positive, got ", target.size));
  }
  for (const auto& [key, value] : target.annotations) {
    if (key.empty()) return absl::InvalidArgumentError("target annotation key must not be empty");
  }
  return absl::OkStatus();
}

absl::Status ValidateLeaseResource(const LeaseResource& resource) {
  if (resource.id.empty()) return absl::InvalidArgumentError("resource id must not be empty");
  if (resource.type == "content" || resource.type == "ingests") return absl::OkStatus();
  if (absl::StartsWith(resource.type, "snapshots/")) {
    absl::string_view snapshotter = absl::string_view(resource.type).substr(10);
    if (absl::Status s = ValidateSnapshotterName(snapshotter); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("resource type \"", resource.type, "\": ", s.message()));
    }
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrFormat("unknown resource type \"%s\" (want content, ingests or "
                      "snapshots/<snapshotter>)",
                      absl::CHexEscape(resource.type)));
}

absl::Status TakeMapPaths(absl::string_view map_name, std::vector<std::string>* paths,
                          MapUpdate* update) {
  std::vector<std::string> rest;
  const std::string prefix = absl::StrCat(map_name, ".");
  for (std::string& path : *paths) {
    if (path == map_name) {
      update->replace_all = true;
    } else if (absl::StartsWith(path, prefix)) {
      // Everything after the first dot is the key: label keys are full of dots
      // ("labels.berth.io/gc.root").
      std::string key = path.substr(prefix.size());
      if (key.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("update mask path \"", path, "\" names no key"));
      }
      update->keys.push_back(std::move(key));
    } else {
      rest.push_back(std::move(path));
    }
  }
  *paths = std::move(rest);
  return absl::OkStatus();
}

}  // namespace berth::containerd::metadata
