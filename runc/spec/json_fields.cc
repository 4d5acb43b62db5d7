#include "runc/spec/json_fields.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace berth::runc::spec::internal {
namespace {

// Whether a key can be shown as ".key" (else it is shown as ["key"]).
bool IsPlainKey(absl::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

// How a value is named in "got ...": numbers by value, the rest by JSON type.
std::string Describe(const Json& v) {
  if (v.is_number()) return v.dump();
  return v.type_name();
}

}  // namespace

void Path::Append(std::string* out) const {
  if (parent_ == nullptr) return;  // the root has no name
  parent_->Append(out);
  if (is_index_) {
    absl::StrAppend(out, "[", index_, "]");
  } else if (IsPlainKey(key_)) {
    if (!out->empty()) out->push_back('.');
    out->append(key_.data(), key_.size());
  } else {
    // Json::dump of a string escapes it the JSON way; the key came from valid JSON.
    absl::StrAppend(out, "[",
                    Json(std::string(key_)).dump(-1, ' ', false, Json::error_handler_t::replace),
                    "]");
  }
}

std::string Path::ToString() const {
  std::string out;
  Append(&out);
  if (out.empty()) return "config";
  return out;
}

absl::Status FieldError(const Path& path, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(path.ToString(), ": ", message));
}

absl::Status Missing(const Path& path) { return FieldError(path, "required"); }

absl::Status WrongType(const Path& path, absl::string_view want, const Json& v) {
  return FieldError(path, absl::StrCat("want ", want, ", got ", Describe(v)));
}

Json* Member(Json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

absl::Status CheckObject(const Json& v, const Path& path) {
  if (!v.is_object()) return WrongType(path, "object", v);
  return absl::OkStatus();
}

absl::Status CheckArray(const Json& v, const Path& path) {
  if (!v.is_array()) return WrongType(path, "array", v);
  return absl::OkStatus();
}

absl::Status ReadString(Json& v, const Path& path, std::string* out) {
  if (!v.is_string()) return WrongType(path, "string", v);
  std::string* s = v.get_ptr<std::string*>();
  // Every string ends up in a C API (execve, mount, sethostname, open): a NUL would cut it.
  if (s->find('\0') != std::string::npos) return FieldError(path, "contains a NUL byte");
  *out = std::move(*s);
  return absl::OkStatus();
}

absl::Status ReadBool(const Json& v, const Path& path, bool* out) {
  if (!v.is_boolean()) return WrongType(path, "boolean", v);
  *out = *v.get_ptr<const bool*>();
  return absl::OkStatus();
}

absl::Status ReadUnsigned(const Json& v, const Path& path, uint64_t max, uint64_t* out) {
  // nlohmann stores every non-negative integer literal as number_unsigned and every negative
  // one as number_integer; fractions and exponents (and integers beyond 64 bits) are floats.
  uint64_t x = 0;
  if (v.is_number_unsigned()) {
    x = *v.get_ptr<const uint64_t*>();
  } else if (v.is_number_integer() && *v.get_ptr<const int64_t*>() >= 0) {
    x = static_cast<uint64_t>(*v.get_ptr<const int64_t*>());  // not made by the parser
  } else {
    return WrongType(path, "unsigned integer", v);
  }
  if (x > max) return FieldError(path, absl::StrCat(x, " out of range (max ", max, ")"));
  *out = x;
  return absl::OkStatus();
}

absl::Status ReadSigned(const Json& v, const Path& path, int64_t min, int64_t max, int64_t* out) {
  int64_t x = 0;
  if (v.is_number_unsigned()) {
    const uint64_t u = *v.get_ptr<const uint64_t*>();
    if (u > static_cast<uint64_t>(max)) {
      return FieldError(path, absl::StrCat(u, " out of range [", min, ", ", max, "]"));
    }
    x = static_cast<int64_t>(u);
  } else if (v.is_number_integer()) {
    x = *v.get_ptr<const int64_t*>();
  } else {
    return WrongType(path, "integer", v);
  }
  if (x < min || x > max) {
    return FieldError(path, absl::StrCat(x, " out of range [", min, ", ", max, "]"));
  }
  *out = x;
  return absl::OkStatus();
}

absl::Status ReadStringMap(Json& v, const Path& path, std::map<std::string, std::string>* out) {
  BERTH_RETURN_IF_ERROR(CheckObject(v, path));
  out->clear();
  for (auto it = v.begin(); it != v.end(); ++it) {
    const std::string& key = it.key();
    const Path item = path.Key(key);
    if (key.empty()) return FieldError(path, "empty key");
    if (!it->is_string()) return WrongType(item, "string", *it);
    if (key.find('\0') != std::string::npos ||
        it->get_ptr<std::string*>()->find('\0') != std::string::npos) {
      return FieldError(item, "contains a NUL byte");
    }
    out->emplace_hint(out->end(), key, std::move(*it->get_ptr<std::string*>()));
  }
  return absl::OkStatus();
}

}  // namespace berth::runc::spec::internal
