// Internal to the parser: typed, exception-free reads from a parsed nlohmann::json document,
// with errors that name the field ("process.user.uid: want unsigned integer, got string").
//
// Rules shared by every field:
//   - a member that is absent or JSON null is "not set" (Go's encoding/json, which runc and
//     every spec writer use, treats null the same way); a required one is then an error;
//   - unknown members are ignored (runtime spec "Extensibility");
//   - integers must be JSON integers (no fractions, no exponents) in the field's range; a
//     negative value for an unsigned field is an error;
//   - strings are moved out of the document, which is parsed once and thrown away.
// Every type is checked before nlohmann's get(), so nothing here throws.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/status/status_macros.h"
#include "nlohmann/json.hpp"

namespace berth::runc::spec::internal {

using Json = nlohmann::json;

// Where a value sits in config.json: "mounts[4].destination". Each node lives on the caller's
// stack and points at its parent; the text is only built when an error needs it.
class Path {
 public:
  Path() = default;  // the document root
  Path Key(absl::string_view key) const { return Path(this, key, 0); }
  Path Index(size_t index) const { return Path(this, absl::string_view(), index); }
  std::string ToString() const;

 private:
  Path(const Path* parent, absl::string_view key, size_t index)
      : parent_(parent), key_(key), index_(index), is_index_(key.data() == nullptr) {}
  void Append(std::string* out) const;

  const Path* parent_ = nullptr;
  absl::string_view key_;
  size_t index_ = 0;
  bool is_index_ = false;
};

// InvalidArgument "<path>: <message>".
absl::Status FieldError(const Path& path, absl::string_view message);
// "<path>: required".
absl::Status Missing(const Path& path);
// "<path>: want <want>, got <what v is>" (a number is shown by value, other values by type).
absl::Status WrongType(const Path& path, absl::string_view want, const Json& v);

// obj[key] when present and not null, else nullptr. `obj` must be an object.
Json* Member(Json& obj, const char* key);

absl::Status CheckObject(const Json& v, const Path& path);
absl::Status CheckArray(const Json& v, const Path& path);

absl::Status ReadString(Json& v, const Path& path, std::string* out);
absl::Status ReadBool(const Json& v, const Path& path, bool* out);
absl::Status ReadUnsigned(const Json& v, const Path& path, uint64_t max, uint64_t* out);
absl::Status ReadSigned(const Json& v, const Path& path, int64_t min, int64_t max, int64_t* out);
// A JSON object of strings (annotations, sysctl, unified). Keys must not be empty.
absl::Status ReadStringMap(Json& v, const Path& path, std::map<std::string, std::string>* out);

template <typename T>
struct IsOptional : std::false_type {};
template <typename T>
struct IsOptional<std::optional<T>> : std::true_type {};
template <typename T>
struct IsVector : std::false_type {};
template <typename T>
struct IsVector<std::vector<T>> : std::true_type {};
template <typename T>
inline constexpr bool kAlwaysFalse = false;

// Reads a scalar, an optional scalar, a vector of scalars or a string map, by the C++ type
// of *out (integer ranges come from the type).
template <typename T>
absl::Status Read(Json& v, const Path& path, T* out) {
  if constexpr (std::is_same_v<T, std::string>) {
    return ReadString(v, path, out);
  } else if constexpr (std::is_same_v<T, bool>) {
    return ReadBool(v, path, out);
  } else if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T>) {
    uint64_t x = 0;
    BERTH_RETURN_IF_ERROR(ReadUnsigned(v, path, std::numeric_limits<T>::max(), &x));
    *out = static_cast<T>(x);
    return absl::OkStatus();
  } else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
    int64_t x = 0;
    BERTH_RETURN_IF_ERROR(
        ReadSigned(v, path, std::numeric_limits<T>::min(), std::numeric_limits<T>::max(), &x));
    *out = static_cast<T>(x);
    return absl::OkStatus();
  } else if constexpr (IsOptional<T>::value) {
    typename T::value_type x{};
    BERTH_RETURN_IF_ERROR(Read(v, path, &x));
    *out = std::move(x);
    return absl::OkStatus();
  } else if constexpr (IsVector<T>::value) {
    BERTH_RETURN_IF_ERROR(CheckArray(v, path));
    out->clear();
    out->reserve(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
      BERTH_RETURN_IF_ERROR(Read(v[i], path.Index(i), &out->emplace_back()));
    }
    return absl::OkStatus();
  } else if constexpr (std::is_same_v<T, std::map<std::string, std::string>>) {
    return ReadStringMap(v, path, out);
  } else {
    static_assert(kAlwaysFalse<T>, "no Read for this type");
  }
}

// Reads obj[key] into *out when it is set; leaves *out alone otherwise.
template <typename T>
absl::Status Optional(Json& obj, const Path& path, const char* key, T* out) {
  Json* v = Member(obj, key);
  if (v == nullptr) return absl::OkStatus();
  return Read(*v, path.Key(key), out);
}

// Reads obj[key] into *out; an error when it is not set.
template <typename T>
absl::Status Required(Json& obj, const Path& path, const char* key, T* out) {
  Json* v = Member(obj, key);
  if (v == nullptr) return Missing(path.Key(key));
  return Read(*v, path.Key(key), out);
}

// Reads an array of objects: checks `v` is an array and each element an object, then calls
// fn(Json& element, const Path& element_path, T* out_element) for each.
template <typename T, typename Fn>
absl::Status ReadObjects(Json& v, const Path& path, std::vector<T>* out, Fn fn) {
  BERTH_RETURN_IF_ERROR(CheckArray(v, path));
  out->clear();
  out->reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    const Path element_path = path.Index(i);
    BERTH_RETURN_IF_ERROR(CheckObject(v[i], element_path));
    BERTH_RETURN_IF_ERROR(fn(v[i], element_path, &out->emplace_back()));
  }
  return absl::OkStatus();
}

}  // namespace berth::runc::spec::internal
