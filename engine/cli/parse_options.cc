#include "engine/cli/parse_options.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace berth::cli {
namespace {

namespace v1 = ::berth::engine::v1;

absl::Status Invalid(absl::string_view msg) { return absl::InvalidArgumentError(msg); }

// Parses an unsigned decimal "12", "1.5", ".5" at the start of `s`; returns chars consumed
// (0 when there is no number).
size_t ParseDecimal(absl::string_view s, double* out) {
  size_t i = 0;
  bool digits = false;
  while (i < s.size() && absl::ascii_isdigit(s[i])) {
    ++i;
    digits = true;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && absl::ascii_isdigit(s[i])) {
      ++i;
      digits = true;
    }
  }
  if (!digits) return 0;
  *out = std::strtod(std::string(s.substr(0, i)).c_str(), nullptr);
  return i;
}

bool IsUtf8(absl::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = s[i];
    const int n = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2
                : (c & 0xF8) == 0xF0 ? 3 : -1;
    if (n < 0 || i + n >= s.size()) return false;
    for (int k = 1; k <= n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n + 1;
  }
  return true;
}

// Shared reader of env and label files; `lookup` null means a bare key is kept as is.
absl::StatusOr<std::vector<std::string>> ParseKeyValueFile(const std::string& path,
                                                           const EnvLookup* lookup) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("open ", path, ": no such file or directory"));
  }
  std::vector<std::string> out;
  std::string raw;
  int line_no = 0;
  while (std::getline(in, raw)) {
    ++line_no;
    if (!raw.empty() && raw.back() == '\r') raw.pop_back();
    if (!IsUtf8(raw)) {
      return Invalid(absl::StrCat("env file ", path, " contains invalid utf8 bytes at line ",
                                  line_no));
    }
    absl::string_view line = raw;
    if (line_no == 1) absl::ConsumePrefix(&line, "\xEF\xBB\xBF");
    line = absl::StripLeadingAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    size_t eq = line.find('=');
    absl::string_view key = line.substr(0, eq);
    if (key.empty()) {
      return Invalid(
          absl::StrCat("poorly formatted environment: no variable name on line '", line, "'"));
    }
    for (char c : key) {
      if (absl::ascii_isspace(c)) {
        return Invalid(absl::StrCat("poorly formatted environment: variable '", key,
                                    "' contains whitespaces"));
      }
    }
    if (eq != absl::string_view::npos) {
      out.emplace_back(line);
    } else if (lookup == nullptr) {
      out.emplace_back(line);
    } else if (auto v = (*lookup)(std::string(key)); v.has_value()) {
      out.push_back(absl::StrCat(key, "=", *v));
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<berth::types::v1::Platform> ParsePlatform(const std::string& value) {
  std::vector<std::string> parts = absl::StrSplit(value, '/');
  bool ok = parts.size() <= 3;
  for (const auto& p : parts) ok = ok && !p.empty();
  if (!ok) {
    return Invalid(absl::StrCat("\"", value, "\": unknown operating system or architecture"));
  }
  berth::types::v1::Platform p;
  p.set_os(parts[0]);
  if (parts.size() > 1) p.set_architecture(parts[1]);
  if (parts.size() > 2) p.set_variant(parts[2]);
  return p;
}

absl::StatusOr<int64_t> ParseNanoCpus(const std::string& value) {
  double cpus = 0;
  size_t n = ParseDecimal(value, &cpus);
  if (n == 0 || n != value.size()) {
    return Invalid(absl::StrCat("failed to parse ", value, " as a rational number"));
  }
  double nano = cpus * 1e9;
  if (nano != std::floor(nano) && std::fabs(nano - std::round(nano)) > 1e-3) {
    return Invalid("value is too precise");
  }
  return static_cast<int64_t>(std::llround(nano));
}

absl::StatusOr<absl::Duration> ParseGoDuration(const std::string& value) {
  absl::string_view s = value;
  const absl::Status bad = Invalid(absl::StrCat("time: invalid duration \"", value, "\""));
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return absl::ZeroDuration();
  if (s.empty()) return bad;
  absl::Duration total;
  while (!s.empty()) {
    double num = 0;
    size_t n = ParseDecimal(s, &num);
    if (n == 0) return bad;
    s.remove_prefix(n);
    size_t u = 0;
    while (u < s.size() && !absl::ascii_isdigit(s[u]) && s[u] != '.') ++u;
    absl::string_view unit = s.substr(0, u);
    s.remove_prefix(u);
    absl::Duration one;
    if (unit == "ns") one = absl::Nanoseconds(1);
    else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") one = absl::Microseconds(1);
    else if (unit == "ms") one = absl::Milliseconds(1);
    else if (unit == "s") one = absl::Seconds(1);
    else if (unit == "m") one = absl::Minutes(1);
    else if (unit == "h") one = absl::Hours(1);
    else if (unit.empty()) return Invalid(absl::StrCat("time: missing unit in duration \"", value, "\""));
    else return Invalid(absl::StrCat("time: unknown unit \"", unit, "\" in duration \"", value, "\""));
    total += one * num;
  }
  return neg ? -total : total;
}

absl::StatusOr<absl::Time> ParseTimestamp(const std::string& value, absl::Time now) {
  if (value != "0") {
    if (auto d = ParseGoDuration(value); d.ok()) return now - *d;
  }
  // Unix seconds, optionally with a fraction.
  {
    absl::string_view s = value;
    double secs = 0;
    size_t n = ParseDecimal(s, &secs);
    if (n > 0 && n == s.size()) {
      std::vector<std::string> parts = absl::StrSplit(value, '.');
      int64_t whole = 0;
      if (!absl::SimpleAtoi(parts[0].empty() ? "0" : parts[0], &whole)) {
        return Invalid(absl::StrCat("failed to parse value as time or duration: \"", value, "\""));
      }
      absl::Time t = absl::FromUnixSeconds(whole);
      if (parts.size() == 2 && !parts[1].empty()) {
        std::string frac = parts[1].substr(0, 9);
        frac.resize(9, '0');
        int64_t ns = 0;
        (void)absl::SimpleAtoi(frac, &ns);
        t += absl::Nanoseconds(ns);
      }
      return t;
    }
  }
  // Times with a zone ("Z", "+hh:mm"), else in the local zone, as docker does.
  static const char* kZoned[] = {"%Y-%m-%dT%H:%M:%E*S%Ez", "%Y-%m-%dT%H:%M%Ez", "%Y-%m-%dT%H%Ez",
                                 "%Y-%m-%d%Ez"};
  static const char* kLocal[] = {"%Y-%m-%dT%H:%M:%E*S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H",
                                 "%Y-%m-%d"};
  std::string v = value;
  if (!v.empty() && (v.back() == 'Z' || v.back() == 'z')) {
    v.pop_back();
    v += "+00:00";
  }
  absl::Time t;
  std::string err;
  for (const char* f : kZoned) {
    if (absl::ParseTime(f, v, &t, &err)) return t;
  }
  for (const char* f : kLocal) {
    if (absl::ParseTime(f, v, absl::LocalTimeZone(), &t, &err)) return t;
  }
  return Invalid(absl::StrCat("failed to parse value as time or duration: \"", value, "\""));
}

absl::StatusOr<v1::RestartPolicy> ParseRestartPolicy(const std::string& value) {
  v1::RestartPolicy p;
  std::string name = value;
  std::string count;
  if (size_t colon = value.find(':'); colon != std::string::npos) {
    name = value.substr(0, colon);
    count = value.substr(colon + 1);
    if (name.empty()) {
      return Invalid("invalid restart policy format: no policy provided before colon");
    }
  }
  int retries = 0;
  if (!count.empty() && !absl::SimpleAtoi(count, &retries)) {
    return Invalid("invalid restart policy format: maximum retry count must be an integer");
  }
  if (name.empty() || name == "no") {
    p.set_name(v1::RESTART_POLICY_NAME_NO);
  } else if (name == "always") {
    p.set_name(v1::RESTART_POLICY_NAME_ALWAYS);
  } else if (name == "unless-stopped") {
    p.set_name(v1::RESTART_POLICY_NAME_UNLESS_STOPPED);
  } else if (name == "on-failure") {
    p.set_name(v1::RESTART_POLICY_NAME_ON_FAILURE);
  } else {
    return Invalid(absl::StrCat("invalid restart policy: unknown policy '", name,
                                "'; use one of 'no', 'always', 'on-failure', or "
                                "'unless-stopped'"));
  }
  if (retries != 0 && p.name() != v1::RESTART_POLICY_NAME_ON_FAILURE) {
    return Invalid("invalid restart policy: maximum retry count can only be used with "
                   "'on-failure'");
  }
  if (retries < 0) {
    return Invalid("invalid restart policy: maximum retry count cannot be negative");
  }
  p.set_maximum_retry_count(retries);
  return p;
}

absl::StatusOr<v1::Ulimit> ParseUlimit(const std::string& value) {
  static const char* kNames[] = {"as",     "core",       "cpu",   "data",   "fsize",
                                 "locks",  "memlock",    "msgqueue", "nice", "nofile",
                                 "nproc",  "rss",        "rtprio", "rttime", "sigpending",
                                 "stack"};
  size_t eq = value.find('=');
  if (eq == std::string::npos) return Invalid(absl::StrCat("invalid ulimit argument: ", value));
  std::string name = value.substr(0, eq);
  bool known = false;
  for (const char* n : kNames) known = known || name == n;
  if (!known) return Invalid(absl::StrCat("invalid ulimit type: ", name));
  std::vector<std::string> limits = absl::StrSplit(value.substr(eq + 1), absl::MaxSplits(':', 1));
  int64_t soft = 0, hard = 0;
  if (!absl::SimpleAtoi(limits[0], &soft)) {
    return Invalid(absl::StrCat("invalid ulimit value: ", limits[0]));
  }
  hard = soft;
  if (limits.size() == 2 && !absl::SimpleAtoi(limits[1], &hard)) {
    return Invalid(absl::StrCat("invalid ulimit value: ", limits[1]));
  }
  if (soft > hard) {
    return Invalid(absl::StrCat("ulimit soft limit must be less than or equal to hard limit: ",
                                soft, " > ", hard));
  }
  v1::Ulimit u;
  u.set_name(name);
  u.set_soft(soft);
  u.set_hard(hard);
  return u;
}

EnvLookup ProcessEnv() {
  return [](const std::string& key) -> std::optional<std::string> {
    const char* v = std::getenv(key.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

absl::StatusOr<std::vector<std::string>> ParseEnvFile(const std::string& path,
                                                      const EnvLookup& lookup) {
  return ParseKeyValueFile(path, &lookup);
}

absl::StatusOr<std::vector<std::string>> ParseLabelFile(const std::string& path) {
  return ParseKeyValueFile(path, nullptr);
}

std::optional<std::string> ExpandEnv(const std::string& entry, const EnvLookup& lookup) {
  if (entry.find('=') != std::string::npos) return entry;
  auto v = lookup(entry);
  if (!v.has_value()) return std::nullopt;
  return absl::StrCat(entry, "=", *v);
}

absl::StatusOr<std::string> ParseDetachKeys(const std::string& spec) {
  std::string out;
  for (absl::string_view k : absl::StrSplit(spec, ',')) {
    std::string key = absl::AsciiStrToLower(k);
    if (key.size() == 1) {
      out.push_back(key[0]);
      continue;
    }
    if (key.size() == 6 && absl::StartsWith(key, "ctrl-")) {
      char c = key[5];
      if (c >= 'a' && c <= 'z') {
        out.push_back(static_cast<char>(c - 'a' + 1));
        continue;
      }
      static const std::string kPunct = "@[\\]^_";
      if (kPunct.find(c) != std::string::npos) {
        out.push_back(static_cast<char>(c - '@'));
        continue;
      }
    }
    return Invalid(absl::StrCat("Unknown character: '", key, "'"));
  }
  return out;
}

std::pair<std::string, std::string> SplitKeyValue(const std::string& kv) {
  size_t eq = kv.find('=');
  if (eq == std::string::npos) return {kv, ""};
  return {kv.substr(0, eq), kv.substr(eq + 1)};
}

absl::StatusOr<std::vector<v1::Filter>> ParseFilters(const std::vector<std::string>& values) {
  std::vector<v1::Filter> out;
  for (const auto& v : values) {
    size_t eq = v.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Invalid(absl::StrCat("bad format of filter (expected name=value): ", v));
    }
    v1::Filter f;
    f.set_key(absl::AsciiStrToLower(v.substr(0, eq)));
    f.set_value(v.substr(eq + 1));
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace berth::cli
