#include "containerd/metadata/map_tables.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status/status_macros.h"

namespace berth::containerd::metadata::internal {
namespace {

void BindValue(Stmt& stmt, int index, absl::string_view value, ValueType type) {
  if (type == ValueType::kBlob) {
    stmt.BindBlob(index, value);
  } else {
    stmt.BindText(index, value);
  }
}

std::string ReadValue(const Stmt& stmt, int index, ValueType type) {
  return type == ValueType::kBlob ? stmt.ColumnBlob(index) : stmt.ColumnText(index);
}

absl::Status SetKey(Db& db, absl::string_view table, int64_t owner, absl::string_view key,
                    absl::string_view value, ValueType type) {
  BERTH_ASSIGN_OR_RETURN(
      Stmt stmt, db.Prepare(absl::StrCat("INSERT INTO ", table,
                                         " (owner, key, value) VALUES (?1, ?2, ?3) "
                                         "ON CONFLICT (owner, key) DO UPDATE SET value = ?3")));
  stmt.BindInt64(1, owner).BindText(2, key);
  BindValue(stmt, 3, value, type);
  return stmt.Run();
}

absl::Status DeleteKey(Db& db, absl::string_view table, int64_t owner, absl::string_view key) {
  BERTH_ASSIGN_OR_RETURN(
      Stmt stmt, db.Prepare(absl::StrCat("DELETE FROM ", table, " WHERE owner = ?1 AND key = ?2")));
  stmt.BindInt64(1, owner).BindText(2, key);
  return stmt.Run();
}

}  // namespace

absl::StatusOr<StringMap> LoadMap(Db& db, absl::string_view table, int64_t owner, ValueType type) {
  BERTH_ASSIGN_OR_RETURN(
      Stmt stmt, db.Prepare(absl::StrCat("SELECT key, value FROM ", table, " WHERE owner = ?1")));
  stmt.BindInt64(1, owner);
  StringMap out;
  while (true) {
    BERTH_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    out.emplace(stmt.ColumnText(0), ReadValue(stmt, 1, type));
  }
  return out;
}

absl::Status LoadMaps(Db& db, absl::string_view table, absl::string_view owner_table,
                      absl::string_view where, const std::vector<std::string>& params,
                      const std::function<void(int64_t, std::string, std::string)>& sink,
                      ValueType type) {
  BERTH_ASSIGN_OR_RETURN(
      Stmt stmt, db.Prepare(absl::StrCat("SELECT m.owner, m.key, m.value FROM ", table, " m JOIN ",
                                         owner_table, " o ON o.pk = m.owner WHERE ", where)));
  for (size_t i = 0; i < params.size(); ++i) stmt.BindText(static_cast<int>(i + 1), params[i]);
  while (true) {
    BERTH_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    sink(stmt.ColumnInt64(0), stmt.ColumnText(1), ReadValue(stmt, 2, type));
  }
  return absl::OkStatus();
}

absl::Status ReplaceMap(Db& db, absl::string_view table, int64_t owner, const StringMap& values,
                        ValueType type) {
  {
    BERTH_ASSIGN_OR_RETURN(Stmt stmt,
                           db.Prepare(absl::StrCat("DELETE FROM ", table, " WHERE owner = ?1")));
    stmt.BindInt64(1, owner);
    BERTH_RETURN_IF_ERROR(stmt.Run());
  }
  for (const auto& [key, value] : values) {
    BERTH_RETURN_IF_ERROR(SetKey(db, table, owner, key, value, type));
  }
  return absl::OkStatus();
}

absl::Status ApplyMapUpdate(Db& db, absl::string_view table, int64_t owner, const MapUpdate& update,
                            const StringMap& values, ValueType type) {
  if (update.replace_all) BERTH_RETURN_IF_ERROR(ReplaceMap(db, table, owner, values, type));
  for (const std::string& key : update.keys) {
    auto it = values.find(key);
    if (it == values.end() || it->second.empty()) {
      BERTH_RETURN_IF_ERROR(DeleteKey(db, table, owner, key));
    } else {
      BERTH_RETURN_IF_ERROR(SetKey(db, table, owner, key, it->second, type));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<int64_t>> QueryPk(Db& db, absl::string_view sql,
                                               const std::vector<std::string>& params) {
  BERTH_ASSIGN_OR_RETURN(Stmt stmt, db.Prepare(sql));
  for (size_t i = 0; i < params.size(); ++i) stmt.BindText(static_cast<int>(i + 1), params[i]);
  BERTH_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return std::optional<int64_t>();
  return std::optional<int64_t>(stmt.ColumnInt64(0));
}

absl::Status Execute(Db& db, absl::string_view sql, const std::vector<std::string>& params) {
  BERTH_ASSIGN_OR_RETURN(Stmt stmt, db.Prepare(sql));
  for (size_t i = 0; i < params.size(); ++i) stmt.BindText(static_cast<int>(i + 1), params[i]);
  return stmt.Run();
}

absl::Status UnknownPaths(absl::string_view object, const std::vector<std::string>& paths) {
  if (paths.empty()) return absl::OkStatus();
  std::vector<std::string> quoted;
  for (const std::string& p : paths) quoted.push_back(Quote(p));
  return absl::InvalidArgumentError(absl::StrCat("cannot update ", object, " field",
                                                 paths.size() > 1 ? "s " : " ",
                                                 absl::StrJoin(quoted, ", ")));
}

std::string Quote(absl::string_view s) { return absl::StrCat("\"", absl::CHexEscape(s), "\""); }

}  // namespace berth::containerd::metadata::internal
