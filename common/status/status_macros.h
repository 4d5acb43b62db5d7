// Control-flow helpers for absl::Status / absl::StatusOr, which Abseil 20220623 lacks.
//
//   BERTH_RETURN_IF_ERROR(WriteState(s));
//   BERTH_ASSIGN_OR_RETURN(auto fd, OpenFile(path));
//   BERTH_RETURN_IF_ERROR(Mount(m), "mount overlay");   // adds context: "mount overlay: <msg>"
#pragma once

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace berth {

// Returns `s` with `context` prepended to its message ("context: message"), keeping its code
// and payloads. OK stays OK.
absl::Status Annotate(const absl::Status& s, absl::string_view context);

namespace status_internal {
inline const absl::Status& AsStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& AsStatus(const absl::StatusOr<T>& s) {
  return s.status();
}
inline absl::Status WithContext(absl::Status s) { return s; }
inline absl::Status WithContext(const absl::Status& s, absl::string_view context) {
  return Annotate(s, context);
}
}  // namespace status_internal

}  // namespace berth

#define BERTH_STATUS_CONCAT_INNER_(a, b) a##b
#define BERTH_STATUS_CONCAT_(a, b) BERTH_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (a Status or StatusOr); if not OK, returns its status from the current
// function, optionally annotated with a context string.
#define BERTH_RETURN_IF_ERROR(expr, ...)                                                  \
  do {                                                                                    \
    const auto& berth_status_ = (expr);                                                   \
    if (!::berth::status_internal::AsStatus(berth_status_).ok()) {                        \
      return ::berth::status_internal::WithContext(                                       \
          ::berth::status_internal::AsStatus(berth_status_), ##__VA_ARGS__);              \
    }                                                                                     \
  } while (0)

// Evaluates `rexpr` (a StatusOr<T>); if OK, moves its value into `lhs` (which may be a
// declaration such as `auto x`); otherwise returns the status, optionally annotated.
#define BERTH_ASSIGN_OR_RETURN(lhs, rexpr, ...)                                               \
  BERTH_ASSIGN_OR_RETURN_IMPL_(BERTH_STATUS_CONCAT_(berth_statusor_, __LINE__), lhs, rexpr, \
                               ##__VA_ARGS__)

#define BERTH_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr, ...)                       \
  auto statusor = (rexpr);                                                            \
  if (!statusor.ok()) {                                                               \
    return ::berth::status_internal::WithContext(statusor.status(), ##__VA_ARGS__);   \
  }                                                                                   \
  lhs = std::move(statusor).value()
