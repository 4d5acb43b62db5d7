// Image references the way Docker reads them (the distribution/reference grammar):
//
//   reference := name [ ":" tag ] [ "@" digest ]
//   name      := [ domain "/" ] path-component *( "/" path-component )
//   domain    := host [ ":" port ], host = domain-name | "[" IPv6 "]"
//   path-component := [a-z0-9]+ *( separator [a-z0-9]+ ), separator := "." | "_" | "__" | "-"+
//   tag       := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
//   digest    := algorithm ":" hex (validated by common/digest)
//
// Normalization follows Docker: a first component without "." or ":" that is not "localhost"
// (and has no upper case) is not a registry, so the name goes to "docker.io", and one-component
// names on docker.io go under "library/". The familiar form is the reverse, for display.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::engine::reference {

inline constexpr char kDefaultDomain[] = "docker.io";
inline constexpr char kDefaultTag[] = "latest";
// Longest name (domain/path) Docker accepts.
inline constexpr size_t kNameTotalLengthMax = 255;

// A parsed, normalized reference. `domain` and `path` are always set; `tag` and `digest` may
// be empty (a bare name is allowed where a repository is meant).
struct Reference {
  std::string domain;  // "docker.io", "localhost:5000"
  std::string path;    // "library/busybox"
  std::string tag;     // "latest", or empty
  std::string digest;  // "sha256:<hex>", or empty

  // "docker.io/library/busybox".
  std::string Name() const;
  // Name()[":" tag]["@" digest], e.g. "docker.io/library/busybox:latest".
  std::string String() const;
  // "busybox", "localhost:5000/a/b", "user/app": the name as users type it.
  std::string FamiliarName() const;
  // FamiliarName()[":" tag]["@" digest].
  std::string FamiliarString() const;

  friend bool operator==(const Reference& a, const Reference& b) {
    return a.String() == b.String();
  }
};

// Parses `s` and normalizes it as Docker's ParseNormalizedNamed does; no tag is added.
// Errors (all InvalidArgument, with Docker's wording):
//   "invalid reference format" (grammar), "invalid reference format: repository name must be
//   lowercase", "repository name must have at least one component" (empty),
//   "repository name must not be more than 255 characters", "invalid reference format:
//   invalid tag" is folded into the first, digest errors from common/digest, and
//   "invalid repository name (<s>), cannot specify 64-byte hexadecimal strings".
absl::StatusOr<Reference> ParseNormalized(absl::string_view s);

// ParseNormalized, then Docker's default: a reference with neither tag nor digest gets
// ":latest". A reference with both keeps both.
absl::StatusOr<Reference> ParseWithDefaultTag(absl::string_view s);

// The form berth stores image records under (containerd's/Docker's ParseDockerRef): defaults
// the tag, and drops the tag when a digest is present (the digest alone identifies content).
absl::StatusOr<Reference> ParseDockerRef(absl::string_view s);

// Whether `s` is a syntactically valid tag.
bool IsValidTag(absl::string_view s);

// Shell-style match of `pattern` against `name` as Go's path.Match does ('*' and '?' never
// match '/'; [...] classes with ranges and '^'/'!' negation; '\' escapes). A malformed
// pattern matches nothing.
bool PathMatch(absl::string_view pattern, absl::string_view name);

}  // namespace berth::engine::reference
