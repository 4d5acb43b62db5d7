// Schema versions of metadata.db and the migrations between them. The tables themselves are
// described in store.h. Internal to //containerd/metadata.
#pragma once

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "containerd/metadata/sqlite.h"

namespace berth::containerd::metadata::internal {

// The schema version this build writes.
inline constexpr int kSchemaVersion = 1;

// Brings the database to kSchemaVersion inside one BEGIN IMMEDIATE transaction, so a crash
// mid-migration leaves the previous version intact, and records each applied version with `now`
// in schema_version. Returns the version found before migrating (0 for a new database).
// FailedPrecondition when the database is newer than this build (a downgrade): berth never
// guesses how to read a schema it does not know.
absl::StatusOr<int> Migrate(Db& db, absl::Time now);

}  // namespace berth::containerd::metadata::internal
