#include "engine/images/changes.h"

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace berth::engine::images {
namespace {

// Splits on unquoted whitespace; quotes are removed, and a backslash escapes the next
// character outside single quotes (Dockerfile word rules).
absl::StatusOr<std::vector<std::string>> SplitWords(absl::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else if (c == '\\' && quote == '"' && i + 1 < s.size()) {
        cur += s[++i];
      } else {
        cur += c;
      }
      continue;
    }
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
      if (in_word) out.push_back(std::move(cur));
      cur.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '\\' && i + 1 < s.size()) {
      cur += s[++i];
    } else {
      cur += c;
    }
  }
  if (quote != 0) return absl::InvalidArgumentError(absl::StrCat("unmatched quote in: ", s));
  if (in_word) out.push_back(std::move(cur));
  return out;
}

// A JSON array of strings (exec form), or nullopt-like false when `args` is not one.
bool ParseJsonArray(absl::string_view args, std::vector<std::string>* out) {
  if (!absl::StartsWith(args, "[")) return false;
  nlohmann::json j = nlohmann::json::parse(args.begin(), args.end(), nullptr, false);
  if (j.is_discarded() || !j.is_array()) return false;
  for (const auto& e : j) {
    if (!e.is_string()) return false;
    out->push_back(e.get<std::string>());
  }
  return true;
}

// KEY=VALUE pairs (or the legacy "KEY VALUE" form) of ENV and LABEL.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> KeyValues(absl::string_view name,
                                                                           absl::string_view args) {
  std::vector<std::pair<std::string, std::string>> out;
  absl::StatusOr<std::vector<std::string>> words = SplitWords(args);
  if (!words.ok()) return words.status();
  if (words->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(name, " requires at least one argument"));
  }
  if (!absl::StrContains((*words)[0], '=')) {
    // Legacy form: the first word is the key, the rest of the line the value.
    absl::string_view rest = absl::StripLeadingAsciiWhitespace(args);
    size_t sp = rest.find_first_of(" \t");
    if (sp == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(name, " must have two arguments"));
    }
    absl::StatusOr<std::vector<std::string>> value =
        SplitWords(absl::StripLeadingAsciiWhitespace(rest.substr(sp)));
    if (!value.ok()) return value.status();
    std::string joined;
    for (const auto& w : *value) absl::StrAppend(&joined, joined.empty() ? "" : " ", w);
    out.emplace_back((*words)[0], joined);
    return out;
  }
  for (const auto& w : *words) {
    size_t eq = w.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(absl::StrCat(name, " names can not be blank"));
    }
    out.emplace_back(w.substr(0, eq), w.substr(eq + 1));
  }
  return out;
}

absl::Status SetCommand(absl::string_view key, absl::string_view args, nlohmann::json* config) {
  std::vector<std::string> argv;
  if (!ParseJsonArray(args, &argv)) {
    if (args.empty()) return absl::InvalidArgumentError(absl::StrCat(key, " requires an argument"));
    argv = {"/bin/sh", "-c", std::string(args)};
  }
  (*config)[std::string(key)] = argv;
  return absl::OkStatus();
}

absl::Status AddPorts(absl::string_view args, nlohmann::json* config) {
  absl::StatusOr<std::vector<std::string>> words = SplitWords(args);
  if (!words.ok()) return words.status();
  if (words->empty()) return absl::InvalidArgumentError("EXPOSE requires at least one argument");
  nlohmann::json& ports = (*config)["ExposedPorts"];
  if (!ports.is_object()) ports = nlohmann::json::object();
  for (const auto& w : *words) {
    std::string port = w, proto = "tcp";
    if (size_t slash = w.find('/'); slash != std::string::npos) {
      port = w.substr(0, slash);
      proto = absl::AsciiStrToLower(w.substr(slash + 1));
    }
    if (proto != "tcp" && proto != "udp" && proto != "sctp") {
      return absl::InvalidArgumentError(absl::StrCat("invalid proto: ", proto));
    }
    uint32_t lo = 0, hi = 0;
    if (size_t dash = port.find('-'); dash != std::string::npos) {
      if (!absl::SimpleAtoi(port.substr(0, dash), &lo) ||
          !absl::SimpleAtoi(port.substr(dash + 1), &hi) || hi < lo) {
        return absl::InvalidArgumentError(absl::StrCat("invalid range format for --expose: ", w));
      }
    } else if (absl::SimpleAtoi(port, &lo)) {
      hi = lo;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("invalid containerPort: ", port));
    }
    if (lo == 0 || hi > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("invalid containerPort: ", port));
    }
    for (uint32_t p = lo; p <= hi; ++p)
      ports[absl::StrCat(p, "/", proto)] = nlohmann::json::object();
  }
  return absl::OkStatus();
}

absl::Status ApplyOne(absl::string_view change, nlohmann::json* config) {
  absl::string_view line = absl::StripAsciiWhitespace(change);
  size_t sp = line.find_first_of(" \t");
  std::string instr = absl::AsciiStrToLower(line.substr(0, sp));
  absl::string_view args =
      sp == absl::string_view::npos ? "" : absl::StripAsciiWhitespace(line.substr(sp));
  if (instr.empty()) return absl::InvalidArgumentError("empty change");
  if (instr == "cmd") return SetCommand("Cmd", args, config);
  if (instr == "entrypoint") return SetCommand("Entrypoint", args, config);
  if (instr == "env" || instr == "label") {
    auto kvs = KeyValues(absl::AsciiStrToUpper(instr), args);
    if (!kvs.ok()) return kvs.status();
    if (instr == "label") {
      nlohmann::json& labels = (*config)["Labels"];
      if (!labels.is_object()) labels = nlohmann::json::object();
      for (const auto& [k, v] : *kvs) labels[k] = v;
      return absl::OkStatus();
    }
    nlohmann::json& env = (*config)["Env"];
    if (!env.is_array()) env = nlohmann::json::array();
    for (const auto& [k, v] : *kvs) {
      const std::string entry = absl::StrCat(k, "=", v);
      bool replaced = false;
      for (auto& e : env) {
        if (e.is_string() && absl::StartsWith(e.get<std::string>(), k + "=")) {
          e = entry;
          replaced = true;
        }
      }
      if (!replaced) env.push_back(entry);
    }
    return absl::OkStatus();
  }
  if (instr == "workdir") {
    if (args.empty()) return absl::InvalidArgumentError("WORKDIR requires exactly one argument");
    std::string dir(args);
    if (!absl::StartsWith(dir, "/")) {
      std::string base = config->value("WorkingDir", std::string("/"));
      if (!absl::EndsWith(base, "/")) base += "/";
      dir = base + dir;
    }
    (*config)["WorkingDir"] = dir;
    return absl::OkStatus();
  }
  if (instr == "user") {
    if (args.empty()) return absl::InvalidArgumentError("USER requires exactly one argument");
    (*config)["User"] = std::string(args);
    return absl::OkStatus();
  }
  if (instr == "stopsignal") {
    if (args.empty()) return absl::InvalidArgumentError("STOPSIGNAL requires exactly one argument");
    (*config)["StopSignal"] = std::string(args);
    return absl::OkStatus();
  }
  if (instr == "expose") return AddPorts(args, config);
  if (instr == "volume") {
    std::vector<std::string> paths;
    if (!ParseJsonArray(args, &paths)) {
      absl::StatusOr<std::vector<std::string>> words = SplitWords(args);
      if (!words.ok()) return words.status();
      paths = *words;
    }
    if (paths.empty()) return absl::InvalidArgumentError("VOLUME requires at least one argument");
    nlohmann::json& vols = (*config)["Volumes"];
    if (!vols.is_object()) vols = nlohmann::json::object();
    for (const auto& p : paths) {
      if (p.empty())
        return absl::InvalidArgumentError("VOLUME specified can not be an empty string");
      vols[p] = nlohmann::json::object();
    }
    return absl::OkStatus();
  }
  if (instr == "onbuild" || instr == "healthcheck") {
    return absl::InvalidArgumentError(
        absl::StrCat(absl::AsciiStrToUpper(instr), " is not supported by berth in --change"));
  }
  return absl::InvalidArgumentError(absl::StrCat(instr, " is not a valid change command"));
}

}  // namespace

absl::Status ApplyChanges(const std::vector<std::string>& changes, nlohmann::json* config) {
  if (!config->is_object()) *config = nlohmann::json::object();
  for (const auto& c : changes) {
    if (absl::Status s = ApplyOne(c, config); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace berth::engine::images
