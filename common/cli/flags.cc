#include "common/cli/flags.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace berth::cli {

void FlagSet::AddBool(bool* dst, const std::string& name, char shorthand,
                      const std::string& usage) {
  flags_.push_back({Kind::kBool, dst, name, shorthand, usage});
}
void FlagSet::AddString(std::string* dst, const std::string& name, char shorthand,
                        const std::string& usage) {
  flags_.push_back({Kind::kString, dst, name, shorthand, usage});
}
void FlagSet::AddInt(int64_t* dst, const std::string& name, char shorthand,
                     const std::string& usage) {
  flags_.push_back({Kind::kInt, dst, name, shorthand, usage});
}
void FlagSet::AddStringList(std::vector<std::string>* dst, const std::string& name,
                            char shorthand, const std::string& usage) {
  flags_.push_back({Kind::kStringList, dst, name, shorthand, usage});
}

FlagSet::Flag* FlagSet::FindLong(const std::string& name) {
  for (auto& f : flags_) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

FlagSet::Flag* FlagSet::FindShort(char c) {
  for (auto& f : flags_) {
    if (f.shorthand != 0 && f.shorthand == c) return &f;
  }
  return nullptr;
}

bool FlagSet::Changed(const std::string& name) const {
  for (const auto& f : flags_) {
    if (f.name == name) return f.changed;
  }
  return false;
}

absl::Status FlagSet::Set(Flag& f, const std::string& value, const std::string& as_typed) {
  f.changed = true;
  switch (f.kind) {
    case Kind::kBool: {
      const std::string v = absl::AsciiStrToLower(value);
      if (v == "true" || v == "1") {
        *static_cast<bool*>(f.dst) = true;
      } else if (v == "false" || v == "0") {
        *static_cast<bool*>(f.dst) = false;
      } else {
        return absl::InvalidArgumentError(absl::StrCat("invalid argument \"", value,
                                                       "\" for \"", as_typed,
                                                       "\" flag: want true or false"));
      }
      return absl::OkStatus();
    }
    case Kind::kString:
      *static_cast<std::string*>(f.dst) = value;
      return absl::OkStatus();
    case Kind::kInt:
      if (!absl::SimpleAtoi(value, static_cast<int64_t*>(f.dst))) {
        return absl::InvalidArgumentError(absl::StrCat("invalid argument \"", value, "\" for \"",
                                                       as_typed, "\" flag: not an integer"));
      }
      return absl::OkStatus();
    case Kind::kStringList:
      static_cast<std::vector<std::string>*>(f.dst)->push_back(value);
      return absl::OkStatus();
  }
  return absl::InternalError("unknown flag kind");
}

absl::StatusOr<std::vector<std::string>> FlagSet::Parse(const std::vector<std::string>& args,
                                                        bool interspersed) {
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      positional.insert(positional.end(), args.begin() + i + 1, args.end());
      break;
    }
    if (a.size() < 2 || a[0] != '-') {
      if (!interspersed) {
        positional.insert(positional.end(), args.begin() + i, args.end());
        break;
      }
      positional.push_back(a);
      continue;
    }
    if (a[1] == '-') {  // --name or --name=value
      std::string name = a.substr(2);
      std::string value;
      bool has_value = false;
      if (size_t eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        has_value = true;
      }
      Flag* f = FindLong(name);
      if (f == nullptr) return absl::InvalidArgumentError(absl::StrCat("unknown flag: --", name));
      if (f->kind == Kind::kBool && !has_value) {
        value = "true";
      } else if (!has_value) {
        if (i + 1 >= args.size()) {
          return absl::InvalidArgumentError(absl::StrCat("flag needs an argument: --", name));
        }
        value = args[++i];
      }
      if (auto s = Set(*f, value, "--" + name); !s.ok()) return s;
      continue;
    }
    // One or more shorthands: "-it", "-e" "X", "-eX".
    for (size_t j = 1; j < a.size(); ++j) {
      Flag* f = FindShort(a[j]);
      const std::string typed = std::string("-") + a[j];
      if (f == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat("unknown shorthand flag: '", std::string(1, a[j]), "' in ", a));
      }
      if (f->kind == Kind::kBool) {
        if (j + 1 < a.size() && a[j + 1] == '=') {
          if (auto s = Set(*f, a.substr(j + 2), typed); !s.ok()) return s;
          break;
        }
        if (auto s = Set(*f, "true", typed); !s.ok()) return s;
        continue;
      }
      std::string value;
      if (j + 1 < a.size()) {
        value = a.substr(a[j + 1] == '=' ? j + 2 : j + 1);
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return absl::InvalidArgumentError(absl::StrCat("flag needs an argument: ", typed));
      }
      if (auto s = Set(*f, value, typed); !s.ok()) return s;
      break;
    }
  }
  return positional;
}

std::string FlagSet::Usage() const {
  if (flags_.empty()) return "";
  std::vector<std::string> lines;
  for (const auto& f : flags_) {
    std::string left = f.shorthand != 0 ? absl::StrCat("  -", std::string(1, f.shorthand), ", ")
                                        : std::string("      ");
    absl::StrAppend(&left, "--", f.name);
    switch (f.kind) {
      case Kind::kString: absl::StrAppend(&left, " string"); break;
      case Kind::kInt: absl::StrAppend(&left, " int"); break;
      case Kind::kStringList: absl::StrAppend(&left, " list"); break;
      case Kind::kBool: break;
    }
    if (left.size() < 28) left.resize(28, ' ');
    else left += "  ";
    std::string def;
    if (f.kind == Kind::kString && !static_cast<std::string*>(f.dst)->empty()) {
      def = absl::StrCat(" (default \"", *static_cast<std::string*>(f.dst), "\")");
    } else if (f.kind == Kind::kInt && *static_cast<int64_t*>(f.dst) != 0) {
      def = absl::StrCat(" (default ", *static_cast<int64_t*>(f.dst), ")");
    }
    lines.push_back(absl::StrCat(left, f.usage, def));
  }
  return absl::StrCat("Options:\n", absl::StrJoin(lines, "\n"), "\n");
}

}  // namespace berth::cli
