// How the berth CLI shows containers, shaped like the docker CLI's output: the JSON of
// `inspect` with Docker's field names, the rows of `ps` and `stats` (as JSON objects whose
// fields are what --format templates name, e.g. .ID, .Names, .CPUPerc) and the table headers
// for those fields.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <google/protobuf/timestamp.pb.h>
#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "berth/engine/v1/containers.pb.h"

namespace berth::cli {

// Go's time.RFC3339Nano in UTC ("2024-01-02T03:04:05.123456789Z"); an unset timestamp is
// Docker's zero time "0001-01-01T00:00:00Z".
std::string Rfc3339Nano(const google::protobuf::Timestamp& ts);
absl::Time ToAbslTime(const google::protobuf::Timestamp& ts);
google::protobuf::Timestamp ToProtoTime(absl::Time t);

// Docker's lower-case state names ("running", "exited", ...).
std::string StatusName(engine::v1::ContainerStatus s);

// One element of `docker inspect`'s array for a container.
nlohmann::ordered_json InspectJson(const engine::v1::Container& c);

struct PsOptions {
  bool no_trunc = false;
  absl::Time now = absl::Now();
};

// The fields of one `ps` row: ID, Image, Command, CreatedAt, RunningFor, Ports, State, Status,
// Size, Names, Labels, Mounts, Networks (strings, as docker's formatter gives them).
nlohmann::ordered_json PsRow(const engine::v1::ContainerSummary& c, const PsOptions& o);

// Docker's "80/tcp" and "0.0.0.0:8080->80/tcp" list, comma separated.
std::string FormatPorts(const google::protobuf::RepeatedPtrField<engine::v1::PortBinding>& ports);

// CPU % as docker computes it from a sample and its precpu: (delta container usage / delta
// system usage) * online CPUs * 100; 0 when either delta is not positive.
double CpuPercent(const engine::v1::ContainerStats& s);
// Memory used as docker shows it: usage minus inactive file pages.
double MemoryUsed(const engine::v1::MemoryStats& m);

// The fields of one `stats` row: ID (truncated), Container, Name, CPUPerc, MemUsage, MemPerc,
// NetIO, BlockIO, PIDs.
nlohmann::ordered_json StatsRow(const engine::v1::ContainerStats& s, const std::string& container,
                                bool no_trunc);

// Header of a table column for a template field, e.g. "ID" -> "CONTAINER ID" (ps) or
// "CPUPerc" -> "CPU %"; unknown fields are upper-cased.
std::string ColumnHeader(const std::string& field, bool stats);

// Renders rows for a --format value: "json" (one JSON object per line), "table TEMPLATE"
// (a header row from ColumnHeader, then aligned columns split at tabs), or a bare template
// (one line per row). An empty format means `default_format`. "\t" and "\n" written out in
// the format (as a shell passes them) mean a tab and a newline, as in docker's formatter.
absl::StatusOr<std::string> FormatRows(const std::string& format,
                                       const std::vector<nlohmann::ordered_json>& rows,
                                       const std::string& default_format, bool stats);
// The same with the table's column headers from `header` (e.g. images' "IMAGE ID"). A
// separate name: a function pointer would convert to FormatRows' `bool stats`.
absl::StatusOr<std::string> FormatRowsWith(
    const std::string& format, const std::vector<nlohmann::ordered_json>& rows,
    const std::string& default_format,
    const std::function<std::string(const std::string&)>& header);

// "CONTAINER ID" style 12-digit id.
std::string ShortId(const std::string& id);

}  // namespace berth::cli
