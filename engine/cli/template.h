// A subset of Go's text/template, enough for the docker CLI's --format flags, evaluated over
// JSON data: {{.Field.Sub}}, {{.}}, pipelines ({{.Name | upper}}), the functions docker adds
// (json, join, split, lower, upper, title, truncate, pad, println) plus index and len, and the
// {{if}}/{{else}}/{{range}}/{{end}} actions. "{{-" and "-}}" trim the white space around an
// action as in Go. A missing field prints "<no value>", as Go does for maps.
#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"

namespace berth::cli {

class Template {
 public:
  // InvalidArgument "template parsing error: ..." on a bad template.
  static absl::StatusOr<Template> Parse(const std::string& text);

  // Renders the template with `data` as ".". InvalidArgument on an evaluation error (e.g. a
  // function given the wrong kind of value).
  absl::StatusOr<std::string> Execute(const nlohmann::ordered_json& data) const;

  // The fields named at the top level, in order ({{.ID}}\t{{.Names}} -> {"ID", "Names"}); used
  // to build the header row of "table ..." formats.
  std::vector<std::string> TopLevelFields() const;

  struct Node;

 private:
  explicit Template(std::shared_ptr<const std::vector<Node>> nodes) : nodes_(std::move(nodes)) {}
  std::shared_ptr<const std::vector<Node>> nodes_;
};

// What `inspect --format` prints for `items` (a JSON array): with "" or "json" the array,
// indented like docker's; otherwise the template executed on each item, one line each.
// InvalidArgument for a bad template or a failed evaluation (nothing printed for a bad one).
absl::Status WriteFormatted(std::ostream& out, const std::string& format,
                            const nlohmann::ordered_json& items);

// Go's default printing of a value inside a template: strings as is, numbers and booleans
// plainly, arrays as "[a b]", objects as "map[k:v]", null as "<no value>".
std::string GoPrint(const nlohmann::ordered_json& v);

}  // namespace berth::cli
