#include "runc/spec/spec.h"

namespace berth::runc::spec {

const Namespace* Spec::FindNamespace(NamespaceType t) const {
  for (const auto& ns : linux.namespaces) {
    if (ns.type == t) return &ns;
  }
  return nullptr;
}

bool Spec::HasNamespace(NamespaceType t) const { return FindNamespace(t) != nullptr; }

}  // namespace berth::runc::spec
