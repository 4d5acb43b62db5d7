// The filter language of berth-containerd's List calls (content, images, namespaces, leases,
// and later containers, snapshots, events): the `filters` field of a ListRequest, as the
// service comments of proto/berth/containerd/*/v1/*.proto define it, modelled on containerd's
// filters package.
//
//   filters   = zero or more strings; an object matches when it matches ANY of them (an empty
//               list matches everything)
//   filter    = selector *("," selector)            every selector must match (AND)
//   selector  = fieldpath [ op value ]              spaces around tokens are ignored
//   fieldpath = element *("." element)
//   element   = 1*(ALPHA / DIGIT / "_") / quoted
//   op        = "==" / "!=" / "~="
//   value     = quoted / 1*(any byte but "," DQUOTE, space, tab, CR, LF, control characters)
//   quoted    = DQUOTE *(any byte but DQUOTE and "\" / "\" DQUOTE / "\\" / "\" other) DQUOTE
//
// Semantics of one selector against an object's field (looked up by the service's FieldLookup):
//   `field`          the field is present and non-empty
//   `field==value`   present and equal to value
//   `field!=value`   present and different from value (an absent field matches no selector,
//                    as in containerd: "an unknown field simply matches nothing")
//   `field~=regexp`  present and RE2 finds the regexp anywhere in it (unanchored)
//
// Leniencies beyond the proto's grammar, all taken from containerd so its clients' filters work
// unchanged: an unquoted value may hold punctuation (`name==docker.io/library/alpine:3.19`);
// inside quotes a backslash before anything other than `"` or `\` is kept as written, so regexp
// escapes survive (`name~="alpine\.io"`); an empty filter string is an empty AND and matches
// everything.
//
// Regexps are RE2 (as the protos say): linear-time matching, so a client's pattern cannot make
// the daemon backtrack for ever, which std::regex could.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace re2 {
class RE2;
}  // namespace re2

namespace berth::containerd::filters {

// A parsed field path: `labels."berth.io/gc.root"` is {"labels", "berth.io/gc.root"}.
using FieldPath = std::vector<std::string>;

// Answers the value of the field `path` of the object being matched, or nullopt when the object
// has no such field (an unknown field, an absent label). Each service writes one per type.
using FieldLookup =
    absl::FunctionRef<std::optional<std::string>(absl::Span<const std::string> path)>;

enum class Operator { kPresent, kEqual, kNotEqual, kMatches };

struct Selector {
  FieldPath field;
  Operator op = Operator::kPresent;
  std::string value;  // empty for kPresent
  // Compiled value for kMatches; shared so Filters copy cheaply.
  std::shared_ptr<const re2::RE2> regexp;
};

// A parsed list of filters: any-of (the list) all-of (the selectors of each filter).
// Immutable after Parse; thread-safe to match from many threads.
class Filter {
 public:
  // Parses `filters`. InvalidArgument naming the filter and the byte offset of what does not
  // parse (an unterminated quote, a missing operator or value, a trailing comma, a regexp RE2
  // rejects). An empty list matches everything.
  static absl::StatusOr<Filter> Parse(absl::Span<const std::string> filters);
  // Convenience for repeated proto fields and other containers of strings.
  template <typename Container>
  static absl::StatusOr<Filter> ParseAll(const Container& filters) {
    return Parse(std::vector<std::string>(filters.begin(), filters.end()));
  }

  // A filter that matches everything.
  Filter() = default;

  // Whether the object whose fields `lookup` answers matches.
  bool Matches(FieldLookup lookup) const;
  // True when Matches is always true (no filters), so callers can skip building lookups.
  bool MatchesEverything() const { return alternatives_.empty(); }

  // The parsed form, for tests.
  const std::vector<std::vector<Selector>>& alternatives() const { return alternatives_; }

 private:
  std::vector<std::vector<Selector>> alternatives_;
};

// Looks a map field up the way every berth object's `labels.<key>` works: the path elements
// after the map's name, joined by ".", are the key, so `labels.a.b` and `labels."a.b"` both
// find key "a.b". nullopt when `rest` is empty or the key is absent.
std::optional<std::string> LookupMap(absl::Span<const std::string> rest,
                                     const std::map<std::string, std::string>& map);

}  // namespace berth::containerd::filters
