#include "runc/spec/paths.h"

namespace berth::runc::spec {
namespace {

// Appends the components of `rel` (no leading '/') to *out, which is "" or ends without '/'
// (it holds "/x/y" style text; `floor` is the length of the prefix ".." may not remove).
// Returns false if a ".." would cut into the prefix.
bool AppendClean(absl::string_view rel, size_t floor, std::string* out) {
  size_t i = 0;
  while (i < rel.size()) {
    size_t j = rel.find('/', i);
    if (j == absl::string_view::npos) j = rel.size();
    const absl::string_view part = rel.substr(i, j - i);
    i = j + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (out->size() <= floor) return false;
      out->resize(out->rfind('/'));
      continue;
    }
    out->push_back('/');
    out->append(part.data(), part.size());
  }
  return true;
}

}  // namespace

PathCheck CleanContainerPath(absl::string_view path, std::string* out) {
  if (path.empty() || path[0] != '/') return PathCheck::kNotAbsolute;
  out->clear();
  out->reserve(path.size());
  if (!AppendClean(path.substr(1), 0, out)) return PathCheck::kEscapes;
  if (out->empty()) out->push_back('/');
  return PathCheck::kOk;
}

PathCheck ResolveBundlePath(absl::string_view bundle_dir, absl::string_view path,
                            std::string* out) {
  if (!path.empty() && path[0] == '/') {
    out->assign(path.data(), path.size());
    return PathCheck::kOk;
  }
  out->clear();
  out->reserve(bundle_dir.size() + 1 + path.size());
  out->append(bundle_dir.data(), bundle_dir.size());
  while (out->size() > 1 && out->back() == '/') out->pop_back();
  if (*out == "/") out->clear();  // bundle "/": components append to ""
  const size_t floor = out->size();
  if (!AppendClean(path, floor, out)) return PathCheck::kEscapes;
  if (out->empty()) out->push_back('/');  // bundle "/" and path "." (or "")
  return PathCheck::kOk;
}

}  // namespace berth::runc::spec
