// Parsers for the values of container flags, with the docker CLI's syntax and error wording:
// sizes ("512m"), CPU counts ("1.5"), Go durations ("1h30m"), --since/--until times, restart
// policies, ulimits, env and label files, and detach-key sequences. Each returns
// InvalidArgument with the message docker prints.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "berth/engine/v1/containers.pb.h"
#include "berth/engine/v1/types.pb.h"
#include "berth/types/v1/descriptor.pb.h"

namespace berth::cli {

// --platform "os[/arch[/variant]]" (pull, push, import, run, create). InvalidArgument
// "\"<value>\": unknown operating system or architecture" for an empty part or a fourth one.
absl::StatusOr<berth::types::v1::Platform> ParsePlatform(const std::string& value);

// --cpus: a decimal number of CPUs in units of 1e-9 CPUs ("1.5" -> 1500000000).
absl::StatusOr<int64_t> ParseNanoCpus(const std::string& value);

// Go's time.ParseDuration: "300ms", "-1.5h", "2h45m", units ns, us, µs, ms, s, m, h.
absl::StatusOr<absl::Duration> ParseGoDuration(const std::string& value);

// docker's timestamp syntax for --since/--until and time filters: a Go duration relative to
// `now` ("10m" means now minus ten minutes), RFC 3339 with or without fractional seconds and
// zone ("2024-01-02T15:04:05Z", "2024-01-02T15:04:05.5+02:00", "2024-01-02T15:04:05" is UTC),
// a date ("2024-01-02"), or Unix seconds with an optional fraction ("1700000000.5").
absl::StatusOr<absl::Time> ParseTimestamp(const std::string& value, absl::Time now);

// --restart: "no", "always", "unless-stopped", "on-failure[:N]".
absl::StatusOr<engine::v1::RestartPolicy> ParseRestartPolicy(const std::string& value);

// --ulimit "name=soft[:hard]"; hard defaults to soft.
absl::StatusOr<engine::v1::Ulimit> ParseUlimit(const std::string& value);

// Looks up a variable of the CLI's own environment (injectable for tests).
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup ProcessEnv();

// docker's env files: one KEY=VALUE per line, lines starting with '#' and blank lines
// skipped, leading whitespace ignored, a bare KEY takes the value from `lookup` (and is
// dropped when unset). Errors are "poorly formatted environment: ..." for a bad variable
// name, or the read error.
absl::StatusOr<std::vector<std::string>> ParseEnvFile(const std::string& path,
                                                      const EnvLookup& lookup);

// Label files: the same syntax without the environment lookup ("KEY" means an empty value).
absl::StatusOr<std::vector<std::string>> ParseLabelFile(const std::string& path);

// -e KEY=VALUE is kept as is; a bare -e KEY takes the CLI's value and is dropped when unset.
std::optional<std::string> ExpandEnv(const std::string& entry, const EnvLookup& lookup);

// --detach-keys: "ctrl-p,ctrl-q" -> "\x10\x11". Letters and @ [ \ ] ^ _ after "ctrl-", or
// single characters. Error: "Unknown character: '<key>'".
absl::StatusOr<std::string> ParseDetachKeys(const std::string& spec);

// Splits "key=value" (value may be empty; a bare "key" gives an empty value).
std::pair<std::string, std::string> SplitKeyValue(const std::string& kv);

// Turns --filter arguments into Filter messages; "key=value" is required.
absl::StatusOr<std::vector<engine::v1::Filter>> ParseFilters(
    const std::vector<std::string>& values);

}  // namespace berth::cli
