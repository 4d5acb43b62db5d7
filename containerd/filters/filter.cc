#include "containerd/filters/filter.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "re2/re2.h"

namespace berth::containerd::filters {
namespace {

bool IsFieldChar(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool IsControl(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

// A recursive-descent parser over one filter string. Positions in errors are byte offsets, so
// a client can find the problem in a long filter.
class Parser {
 public:
  explicit Parser(absl::string_view input) : in_(input) {}

  absl::StatusOr<std::vector<Selector>> ParseFilter() {
    std::vector<Selector> selectors;
    SkipSpaces();
    if (AtEnd()) return selectors;  // an empty AND: matches everything
    while (true) {
      absl::StatusOr<Selector> sel = ParseSelector();
      if (!sel.ok()) return sel.status();
      selectors.push_back(std::move(*sel));
      SkipSpaces();
      if (AtEnd()) return selectors;
      if (in_[pos_] != ',') return Error("expected ',' or the end of the filter");
      ++pos_;
      SkipSpaces();
      if (AtEnd()) return Error("expected a selector after ','");
    }
  }

 private:
  bool AtEnd() const { return pos_ >= in_.size(); }
  void SkipSpaces() {
    while (!AtEnd() && IsSpace(in_[pos_])) ++pos_;
  }

  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("filter \"", absl::CHexEscape(in_), "\": at byte ", pos_, ": ", what));
  }

  absl::StatusOr<Selector> ParseSelector() {
    Selector sel;
    while (true) {
      absl::StatusOr<std::string> element = ParseElement();
      if (!element.ok()) return element.status();
      sel.field.push_back(std::move(*element));
      if (AtEnd() || in_[pos_] != '.') break;
      ++pos_;
    }
    SkipSpaces();
    if (AtEnd() || in_[pos_] == ',') {
      sel.op = Operator::kPresent;
      return sel;
    }
    const absl::string_view op = in_.substr(pos_, 2);
    if (op == "==") {
      sel.op = Operator::kEqual;
    } else if (op == "!=") {
      sel.op = Operator::kNotEqual;
    } else if (op == "~=") {
      sel.op = Operator::kMatches;
    } else {
      return Error("expected an operator (==, != or ~=), ',' or the end of the filter");
    }
    pos_ += 2;
    SkipSpaces();
    const size_t value_at = pos_;
    absl::StatusOr<std::string> value = ParseValue();
    if (!value.ok()) return value.status();
    sel.value = std::move(*value);
    if (sel.op == Operator::kMatches) {
      RE2::Options options;
      options.set_log_errors(false);  // a client's bad pattern is its error, not a daemon log line
      auto re = std::make_shared<const RE2>(sel.value, options);
      if (!re->ok()) {
        pos_ = value_at;
        return Error(
            absl::StrCat("invalid regexp \"", absl::CHexEscape(sel.value), "\": ", re->error()));
      }
      sel.regexp = std::move(re);
    }
    return sel;
  }

  absl::StatusOr<std::string> ParseElement() {
    if (AtEnd()) return Error("expected a field name");
    if (in_[pos_] == '"') return ParseQuoted();
    const size_t start = pos_;
    while (!AtEnd() && IsFieldChar(in_[pos_])) ++pos_;
    if (pos_ == start) {
      return Error("expected a field name (letters, digits and '_', or a quoted string)");
    }
    return std::string(in_.substr(start, pos_ - start));
  }

  absl::StatusOr<std::string> ParseValue() {
    if (AtEnd()) return Error("expected a value");
    if (in_[pos_] == '"') return ParseQuoted();
    const size_t start = pos_;
    while (!AtEnd() && in_[pos_] != ',' && in_[pos_] != '"' && !IsSpace(in_[pos_])) {
      if (IsControl(in_[pos_])) return Error("control character in value");
      ++pos_;
    }
    if (pos_ == start) return Error("expected a value");
    return std::string(in_.substr(start, pos_ - start));
  }

  // At an opening quote.
  absl::StatusOr<std::string> ParseQuoted() {
    const size_t open = pos_++;
    std::string out;
    while (!AtEnd()) {
      const char c = in_[pos_++];
      if (c == '"') return out;
      if (c == '\\') {
        if (AtEnd()) break;
        const char next = in_[pos_++];
        // Only \" and \\ are escapes; any other backslash stays, so regexps keep theirs.
        if (next != '"' && next != '\\') out.push_back('\\');
        out.push_back(next);
        continue;
      }
      out.push_back(c);
    }
    pos_ = open;
    return Error("unterminated quoted string");
  }

  absl::string_view in_;
  size_t pos_ = 0;
};

bool SelectorMatches(const Selector& sel, FieldLookup lookup) {
  const std::optional<std::string> value = lookup(sel.field);
  if (!value.has_value()) return false;
  switch (sel.op) {
    case Operator::kPresent:
      return !value->empty();
    case Operator::kEqual:
      return *value == sel.value;
    case Operator::kNotEqual:
      return *value != sel.value;
    case Operator::kMatches:
      return RE2::PartialMatch(*value, *sel.regexp);
  }
  return false;
}

}  // namespace

absl::StatusOr<Filter> Filter::Parse(absl::Span<const std::string> filters) {
  Filter filter;
  bool any_empty = false;
  for (const std::string& text : filters) {
    absl::StatusOr<std::vector<Selector>> selectors = Parser(text).ParseFilter();
    if (!selectors.ok()) return selectors.status();
    any_empty = any_empty || selectors->empty();
    filter.alternatives_.push_back(std::move(*selectors));
  }
  // An empty filter matches everything, so the whole OR does (the others must still parse).
  if (any_empty) return Filter();
  return filter;
}

bool Filter::Matches(FieldLookup lookup) const {
  if (alternatives_.empty()) return true;
  for (const std::vector<Selector>& all : alternatives_) {
    bool ok = true;
    for (const Selector& sel : all) {
      if (!SelectorMatches(sel, lookup)) {
        ok = false;
        break;
      }
    }
    if (ok) return true;
  }
  return false;
}

std::optional<std::string> LookupMap(absl::Span<const std::string> rest,
                                     const std::map<std::string, std::string>& map) {
  if (rest.empty()) return std::nullopt;
  auto it = map.find(absl::StrJoin(rest, "."));
  if (it == map.end()) return std::nullopt;
  return it->second;
}

}  // namespace berth::containerd::filters
