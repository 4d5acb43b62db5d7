#include "engine/cli/template.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace berth::cli {

using Json = nlohmann::ordered_json;

namespace {

// One operand of a command: a field path from dot (empty path = "."), a literal, or a
// function name.
struct Arg {
  enum Kind { kField, kString, kNumber, kFunc } kind = kField;
  std::vector<std::string> path;
  std::string text;
  double number = 0;
};

using Command = std::vector<Arg>;
using Pipeline = std::vector<Command>;

}  // namespace

struct Template::Node {
  enum Kind { kText, kAction, kIf, kRange } kind = kText;
  std::string text;
  Pipeline pipeline;
  std::vector<Node> body;
  std::vector<Node> else_body;
};

namespace {

using Node = Template::Node;

const char* const kFuncs[] = {"json",     "join", "split", "lower", "upper", "title",
                              "truncate", "pad",  "println", "index", "len"};

absl::Status ParseError(absl::string_view msg) {
  return absl::InvalidArgumentError(absl::StrCat("template parsing error: template: :1: ", msg));
}

absl::StatusOr<Pipeline> ParsePipeline(absl::string_view s) {
  Pipeline p;
  Command cmd;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (absl::ascii_isspace(c)) {
      ++i;
    } else if (c == '|') {
      if (cmd.empty()) return ParseError("missing command before '|'");
      p.push_back(std::move(cmd));
      cmd.clear();
      ++i;
    } else if (c == '"' || c == '`') {
      Arg a;
      a.kind = Arg::kString;
      size_t j = i + 1;
      for (; j < s.size() && s[j] != c; ++j) {
        if (c == '"' && s[j] == '\\' && j + 1 < s.size()) {
          ++j;
          switch (s[j]) {
            case 'n': a.text.push_back('\n'); break;
            case 't': a.text.push_back('\t'); break;
            default: a.text.push_back(s[j]);
          }
        } else {
          a.text.push_back(s[j]);
        }
      }
      if (j >= s.size()) return ParseError("unterminated quoted string");
      cmd.push_back(std::move(a));
      i = j + 1;
    } else if (c == '.') {
      Arg a;
      size_t j = i + 1;
      while (j < s.size() && !absl::ascii_isspace(s[j]) && s[j] != '|' && s[j] != ')') ++j;
      absl::string_view path = s.substr(i + 1, j - i - 1);
      if (!path.empty()) {
        for (absl::string_view part : absl::StrSplit(path, '.')) {
          if (part.empty()) return ParseError(absl::StrCat("bad field: .", path));
          a.path.emplace_back(part);
        }
      }
      cmd.push_back(std::move(a));
      i = j;
    } else if (absl::ascii_isdigit(c) || c == '-') {
      Arg a;
      a.kind = Arg::kNumber;
      size_t j = i + 1;
      while (j < s.size() && (absl::ascii_isdigit(s[j]) || s[j] == '.')) ++j;
      a.text = std::string(s.substr(i, j - i));
      a.number = std::strtod(a.text.c_str(), nullptr);
      cmd.push_back(std::move(a));
      i = j;
    } else if (absl::ascii_isalpha(c)) {
      size_t j = i;
      while (j < s.size() && (absl::ascii_isalnum(s[j]) || s[j] == '_')) ++j;
      Arg a;
      a.kind = Arg::kFunc;
      a.text = std::string(s.substr(i, j - i));
      bool known = false;
      for (const char* f : kFuncs) known = known || a.text == f;
      if (!known) return ParseError(absl::StrCat("function \"", a.text, "\" not defined"));
      cmd.push_back(std::move(a));
      i = j;
    } else {
      return ParseError(absl::StrCat("unexpected \"", std::string(1, c), "\" in command"));
    }
  }
  if (cmd.empty()) return ParseError("missing value for command");
  p.push_back(std::move(cmd));
  return p;
}

// Parses nodes until {{end}} or {{else}} (when inside a block) or the end of input.
absl::Status ParseNodes(absl::string_view text, size_t* pos, std::vector<Node>* out,
                        std::string* stopped_by) {
  std::string pending_text;
  auto flush = [&] {
    if (!pending_text.empty()) {
      Node n;
      n.kind = Node::kText;
      n.text = std::move(pending_text);
      out->push_back(std::move(n));
      pending_text.clear();
    }
  };
  while (*pos < text.size()) {
    size_t open = text.find("{{", *pos);
    if (open == absl::string_view::npos) {
      absl::StrAppend(&pending_text, text.substr(*pos));
      *pos = text.size();
      break;
    }
    absl::StrAppend(&pending_text, text.substr(*pos, open - *pos));
    size_t close = text.find("}}", open + 2);
    if (close == absl::string_view::npos) return ParseError("unclosed action");
    absl::string_view inner = text.substr(open + 2, close - open - 2);
    *pos = close + 2;
    if (!inner.empty() && inner[0] == '-' && inner.size() > 1 && inner[1] == ' ') {
      inner.remove_prefix(1);
      while (!pending_text.empty() && absl::ascii_isspace(pending_text.back())) {
        pending_text.pop_back();
      }
    }
    if (inner.size() > 1 && inner.back() == '-' && inner[inner.size() - 2] == ' ') {
      inner.remove_suffix(1);
      while (*pos < text.size() && absl::ascii_isspace(text[*pos])) ++*pos;
    }
    inner = absl::StripAsciiWhitespace(inner);
    flush();
    if (inner == "end" || inner == "else") {
      *stopped_by = std::string(inner);
      return absl::OkStatus();
    }
    Node n;
    absl::string_view pipe = inner;
    if (absl::ConsumePrefix(&pipe, "if ")) {
      n.kind = Node::kIf;
    } else if (absl::ConsumePrefix(&pipe, "range ")) {
      n.kind = Node::kRange;
    } else {
      n.kind = Node::kAction;
    }
    auto p = ParsePipeline(pipe);
    if (!p.ok()) return p.status();
    n.pipeline = std::move(*p);
    if (n.kind != Node::kAction) {
      std::string stop;
      if (auto s = ParseNodes(text, pos, &n.body, &stop); !s.ok()) return s;
      if (stop == "else") {
        if (auto s = ParseNodes(text, pos, &n.else_body, &stop); !s.ok()) return s;
      }
      if (stop != "end") return ParseError("unexpected EOF");
    }
    out->push_back(std::move(n));
  }
  flush();
  return absl::OkStatus();
}

bool Truthy(const Json& v) {
  if (v.is_null()) return false;
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number()) return v.get<double>() != 0;
  if (v.is_string()) return !v.get_ref<const std::string&>().empty();
  return !v.empty();
}

Json Lookup(const Json& dot, const std::vector<std::string>& path) {
  const Json* cur = &dot;
  for (const auto& p : path) {
    if (!cur->is_object()) return Json();
    auto it = cur->find(p);
    if (it == cur->end()) return Json();
    cur = &*it;
  }
  return *cur;
}

std::string AsString(const Json& v) { return v.is_string() ? v.get<std::string>() : GoPrint(v); }

absl::StatusOr<Json> Call(const std::string& fn, const std::vector<Json>& args) {
  auto want = [&](size_t n) -> absl::Status {
    if (args.size() != n) {
      return absl::InvalidArgumentError(absl::StrCat("template: wrong number of args for ", fn,
                                                     ": want ", n, " got ", args.size()));
    }
    return absl::OkStatus();
  };
  if (fn == "json") {
    if (auto s = want(1); !s.ok()) return s;
    return Json(args[0].dump(-1, ' ', false, Json::error_handler_t::replace));
  }
  if (fn == "lower" || fn == "upper" || fn == "title") {
    if (auto s = want(1); !s.ok()) return s;
    std::string s = AsString(args[0]);
    if (fn == "lower") return Json(absl::AsciiStrToLower(s));
    if (fn == "upper") return Json(absl::AsciiStrToUpper(s));
    bool start = true;
    for (char& c : s) {
      if (start && absl::ascii_isalpha(c)) c = absl::ascii_toupper(c);
      start = absl::ascii_isspace(c);
    }
    return Json(s);
  }
  if (fn == "join") {
    if (auto s = want(2); !s.ok()) return s;
    std::vector<std::string> parts;
    if (args[0].is_array()) {
      for (const auto& e : args[0]) parts.push_back(AsString(e));
    }
    return Json(absl::StrJoin(parts, AsString(args[1])));
  }
  if (fn == "split") {
    if (auto s = want(2); !s.ok()) return s;
    Json arr = Json::array();
    for (auto p : absl::StrSplit(AsString(args[0]), AsString(args[1]))) {
      arr.push_back(std::string(p));
    }
    return arr;
  }
  if (fn == "truncate") {
    if (auto s = want(2); !s.ok()) return s;
    std::string s = AsString(args[0]);
    if (!args[1].is_number()) return absl::InvalidArgumentError("truncate: length not a number");
    size_t n = static_cast<size_t>(args[1].get<double>());
    return Json(s.size() > n ? s.substr(0, n) : s);
  }
  if (fn == "pad") {
    if (auto s = want(3); !s.ok()) return s;
    if (!args[1].is_number() || !args[2].is_number()) {
      return absl::InvalidArgumentError("pad: widths must be numbers");
    }
    return Json(std::string(static_cast<size_t>(args[1].get<double>()), ' ') +
                AsString(args[0]) + std::string(static_cast<size_t>(args[2].get<double>()), ' '));
  }
  if (fn == "println") {
    std::vector<std::string> parts;
    for (const auto& a : args) parts.push_back(AsString(a));
    return Json(absl::StrJoin(parts, " ") + "\n");
  }
  if (fn == "len") {
    if (auto s = want(1); !s.ok()) return s;
    if (args[0].is_string()) return Json(args[0].get_ref<const std::string&>().size());
    if (args[0].is_array() || args[0].is_object()) return Json(args[0].size());
    return absl::InvalidArgumentError("len of a value without length");
  }
  if (fn == "index") {
    if (args.empty()) return absl::InvalidArgumentError("index: no arguments");
    Json cur = args[0];
    for (size_t i = 1; i < args.size(); ++i) {
      if (cur.is_object() && args[i].is_string()) {
        auto it = cur.find(args[i].get<std::string>());
        cur = it == cur.end() ? Json() : *it;
      } else if (cur.is_array() && args[i].is_number()) {
        size_t n = static_cast<size_t>(args[i].get<double>());
        if (n >= cur.size()) return absl::InvalidArgumentError("index out of range");
        cur = cur[n];
      } else {
        return absl::InvalidArgumentError("can't index item");
      }
    }
    return cur;
  }
  return absl::InvalidArgumentError(absl::StrCat("function \"", fn, "\" not defined"));
}

absl::StatusOr<Json> EvalArg(const Arg& a, const Json& dot) {
  switch (a.kind) {
    case Arg::kField: return a.path.empty() ? dot : Lookup(dot, a.path);
    case Arg::kString: return Json(a.text);
    case Arg::kNumber:
      if (a.text.find('.') == std::string::npos) return Json(static_cast<int64_t>(a.number));
      return Json(a.number);
    case Arg::kFunc: return Call(a.text, {});
  }
  return Json();
}

absl::StatusOr<Json> EvalPipeline(const Pipeline& p, const Json& dot) {
  Json prev;
  bool has_prev = false;
  for (const auto& cmd : p) {
    if (cmd[0].kind == Arg::kFunc) {
      std::vector<Json> args;
      for (size_t i = 1; i < cmd.size(); ++i) {
        auto v = EvalArg(cmd[i], dot);
        if (!v.ok()) return v.status();
        args.push_back(std::move(*v));
      }
      if (has_prev) args.push_back(prev);
      auto v = Call(cmd[0].text, args);
      if (!v.ok()) return v.status();
      prev = std::move(*v);
    } else {
      if (cmd.size() != 1 || has_prev) {
        return absl::InvalidArgumentError("template: can't give argument to non-function");
      }
      auto v = EvalArg(cmd[0], dot);
      if (!v.ok()) return v.status();
      prev = std::move(*v);
    }
    has_prev = true;
  }
  return prev;
}

absl::Status Exec(const std::vector<Node>& nodes, const Json& dot, std::string* out) {
  for (const auto& n : nodes) {
    if (n.kind == Node::kText) {
      out->append(n.text);
      continue;
    }
    auto v = EvalPipeline(n.pipeline, dot);
    if (!v.ok()) return v.status();
    switch (n.kind) {
      case Node::kAction: out->append(GoPrint(*v)); break;
      case Node::kIf: {
        auto s = Exec(Truthy(*v) ? n.body : n.else_body, dot, out);
        if (!s.ok()) return s;
        break;
      }
      case Node::kRange: {
        if ((v->is_array() || v->is_object()) && !v->empty()) {
          for (const auto& e : *v) {
            if (auto s = Exec(n.body, e, out); !s.ok()) return s;
          }
        } else if (auto s = Exec(n.else_body, dot, out); !s.ok()) {
          return s;
        }
        break;
      }
      default: break;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteFormatted(std::ostream& out, const std::string& format, const Json& items) {
  if (format.empty() || format == "json") {
    out << items.dump(4, ' ', false, Json::error_handler_t::replace) << "\n";
    return absl::OkStatus();
  }
  absl::StatusOr<Template> t = Template::Parse(format);
  if (!t.ok()) return t.status();
  for (const auto& item : items) {
    absl::StatusOr<std::string> line = t->Execute(item);
    if (!line.ok()) return line.status();
    out << *line << "\n";
  }
  return absl::OkStatus();
}

std::string GoPrint(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null: return "<no value>";
    case Json::value_t::string: return v.get<std::string>();
    case Json::value_t::boolean: return v.get<bool>() ? "true" : "false";
    case Json::value_t::number_integer: return absl::StrCat(v.get<int64_t>());
    case Json::value_t::number_unsigned: return absl::StrCat(v.get<uint64_t>());
    case Json::value_t::number_float: return absl::StrFormat("%g", v.get<double>());
    case Json::value_t::array: {
      std::vector<std::string> parts;
      for (const auto& e : v) parts.push_back(GoPrint(e));
      return absl::StrCat("[", absl::StrJoin(parts, " "), "]");
    }
    case Json::value_t::object: {
      std::vector<std::string> parts;
      for (auto it = v.begin(); it != v.end(); ++it) {
        parts.push_back(absl::StrCat(it.key(), ":", GoPrint(it.value())));
      }
      std::sort(parts.begin(), parts.end());
      return absl::StrCat("map[", absl::StrJoin(parts, " "), "]");
    }
    default: return v.dump();
  }
}

absl::StatusOr<Template> Template::Parse(const std::string& text) {
  auto nodes = std::make_shared<std::vector<Node>>();
  size_t pos = 0;
  std::string stop;
  if (auto s = ParseNodes(text, &pos, nodes.get(), &stop); !s.ok()) return s;
  if (!stop.empty()) return ParseError(absl::StrCat("unexpected {{", stop, "}}"));
  return Template(std::move(nodes));
}

absl::StatusOr<std::string> Template::Execute(const Json& data) const {
  std::string out;
  if (auto s = Exec(*nodes_, data, &out); !s.ok()) return s;
  return out;
}

std::vector<std::string> Template::TopLevelFields() const {
  std::vector<std::string> out;
  for (const auto& n : *nodes_) {
    if (n.kind != Node::kAction) continue;
    for (const auto& cmd : n.pipeline) {
      for (const auto& a : cmd) {
        if (a.kind == Arg::kField && !a.path.empty()) out.push_back(a.path[0]);
      }
    }
  }
  return out;
}

}  // namespace berth::cli
