// Helpers for the `<object>_<map>(owner, key, value)` tables that hold every object's labels,
// annotations and extensions (see store.h). Table names are constants of this package, never
// user input. Internal to //containerd/metadata.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "containerd/metadata/sqlite.h"
#include "containerd/metadata/validation.h"

namespace berth::containerd::metadata::internal {

using StringMap = std::map<std::string, std::string>;

// How a map table's values are stored: TEXT for labels and annotations, BLOB for extensions.
enum class ValueType { kText, kBlob };

// The map of one owner.
absl::StatusOr<StringMap> LoadMap(Db& db, absl::string_view table, int64_t owner,
                                  ValueType type = ValueType::kText);

// The maps of many owners in one query: every row of `table` (alias m) joined to its owner in
// `owner_table` (alias o) that satisfies `where`, whose `?1`, `?2`, ... are `params` (bound as
// text). Calls sink(owner pk, key, value) per row.
absl::Status LoadMaps(Db& db, absl::string_view table, absl::string_view owner_table,
                      absl::string_view where, const std::vector<std::string>& params,
                      const std::function<void(int64_t, std::string, std::string)>& sink,
                      ValueType type = ValueType::kText);

// Replaces the owner's whole map with `values`.
absl::Status ReplaceMap(Db& db, absl::string_view table, int64_t owner, const StringMap& values,
                        ValueType type = ValueType::kText);

// Applies a parsed update mask: replace the map if asked, then set each named key to its value
// in `values`, or delete it when `values` has none or an empty one.
absl::Status ApplyMapUpdate(Db& db, absl::string_view table, int64_t owner, const MapUpdate& update,
                            const StringMap& values, ValueType type = ValueType::kText);

// Runs a query whose first column of the first row is a pk; nullopt when there is no row.
absl::StatusOr<std::optional<int64_t>> QueryPk(Db& db, absl::string_view sql,
                                               const std::vector<std::string>& params);

// Runs a statement with text parameters ?1, ?2, ... and no result rows.
absl::Status Execute(Db& db, absl::string_view sql, const std::vector<std::string>& params);

// Converts leftover update-mask paths into the InvalidArgument every Update returns for them.
absl::Status UnknownPaths(absl::string_view object, const std::vector<std::string>& paths);

// Quotes a user string for an error message.
std::string Quote(absl::string_view s);

}  // namespace berth::containerd::metadata::internal
