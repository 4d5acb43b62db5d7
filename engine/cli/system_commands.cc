// `berth version` and `berth info`.
#include <sys/utsname.h>

#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "berth/engine/v1/system.grpc.pb.h"
#include "common/version/version.h"
#include "engine/cli/commands.h"

namespace berth::cli {
namespace {

namespace v1 = ::berth::engine::v1;

std::string ToJson(const google::protobuf::Message& m) {
  std::string s;
  google::protobuf::util::JsonPrintOptions o;
  o.add_whitespace = true;
  o.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(m, &s, o);
  return s;
}

std::string ClientArch() {
  utsname u;
  if (uname(&u) != 0) return "linux/unknown";
  std::string m = u.machine;
  if (m == "x86_64") m = "amd64";
  if (m == "aarch64") m = "arm64";
  return absl::StrCat("linux/", m);
}

// One "Key: value" line with the value column aligned like docker's output.
void Row(std::ostream& os, int indent, const std::string& key, const std::string& value,
         size_t width = 19) {
  std::string k = std::string(indent, ' ') + key + ":";
  if (k.size() < width) k.resize(width, ' ');
  else k += " ";
  os << k << value << "\n";
}

absl::Status CheckFormat(const std::string& format) {
  if (format.empty() || format == "json") return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("unsupported --format \"", format, "\": use \"json\" (templates: #5)"));
}

class VersionCommand : public Command {
 public:
  std::string Name() const override { return "version"; }
  std::string Summary() const override { return "Show the berth version information"; }
  std::string UsageLine() const override { return "berth version [OPTIONS]"; }
  void DefineFlags(FlagSet& flags) override {
    flags.AddString(&format_, "format", 'f', "Format output: \"json\"");
  }

  int Run(Cli& cli, const std::vector<std::string>& args) override {
    if (!args.empty()) {
      cli.err() << "\"berth version\" accepts no arguments.\n";
      return kExitUsage;
    }
    if (auto s = CheckFormat(format_); !s.ok()) {
      cli.err() << s.message() << "\n";
      return kExitUsage;
    }
    v1::VersionResponse resp;
    ::grpc::Status st = Call(cli, &resp);
    if (format_ == "json") {
      cli.out() << "{\"client\": {\"version\": \"" << kVersion << "\", \"apiVersion\": \""
                << kApiVersion << "\", \"osArch\": \"" << ClientArch() << "\"}";
      if (st.ok()) cli.out() << ",\n \"server\": " << ToJson(resp);
      cli.out() << "}\n";
      return st.ok() ? kExitOk : cli.ReportError(st);
    }
    std::ostream& o = cli.out();
    o << "Client:\n";
    Row(o, 1, "Version", kVersion);
    Row(o, 1, "API version", kApiVersion);
    Row(o, 1, "Built with", absl::StrCat("gcc ", __VERSION__));
    Row(o, 1, "OS/Arch", ClientArch());
    if (!st.ok()) {
      o.flush();
      return cli.ReportError(st);
    }
    o << "\nServer: berth engine\n Engine:\n";
    Row(o, 2, "Version", resp.engine().version());
    Row(o, 2, "API version", resp.engine().api_version());
    Row(o, 2, "OS/Arch", absl::StrCat(resp.os(), "/", resp.arch()));
    Row(o, 2, "Kernel version", resp.kernel_version());
    Row(o, 2, "Built with", resp.build_info());
    o << " berth-containerd:\n";
    if (resp.containerd().error().empty()) {
      Row(o, 2, "Version", resp.containerd().version());
      Row(o, 2, "API version", resp.containerd().api_version());
    } else {
      Row(o, 2, "Error", resp.containerd().error());
    }
    if (!resp.runtime().name().empty()) {
      o << " " << resp.runtime().name() << ":\n";
      Row(o, 2, "Version", resp.runtime().version());
    }
    return kExitOk;
  }

 private:
  static ::grpc::Status Call(Cli& cli, v1::VersionResponse* resp) {
    auto ch = cli.Channel();
    if (!ch.ok()) return ::grpc::Status(::grpc::StatusCode::INVALID_ARGUMENT,
                                        std::string(ch.status().message()));
    ::grpc::ClientContext ctx;
    Cli::Prepare(ctx);
    return v1::System::NewStub(*ch)->Version(&ctx, v1::VersionRequest(), resp);
  }

  std::string format_;
};

class InfoCommand : public Command {
 public:
  std::string Name() const override { return "info"; }
  std::string Summary() const override { return "Display system-wide information"; }
  std::string UsageLine() const override { return "berth info [OPTIONS]"; }
  void DefineFlags(FlagSet& flags) override {
    flags.AddString(&format_, "format", 'f', "Format output: \"json\"");
  }

  int Run(Cli& cli, const std::vector<std::string>& args) override {
    if (!args.empty()) {
      cli.err() << "\"berth info\" accepts no arguments.\n";
      return kExitUsage;
    }
    if (auto s = CheckFormat(format_); !s.ok()) {
      cli.err() << s.message() << "\n";
      return kExitUsage;
    }
    auto ch = cli.Channel();
    if (!ch.ok()) {
      cli.err() << ch.status().message() << "\n";
      return kExitUsage;
    }
    ::grpc::ClientContext ctx;
    Cli::Prepare(ctx);
    v1::InfoResponse r;
    ::grpc::Status st = v1::System::NewStub(*ch)->Info(&ctx, v1::InfoRequest(), &r);
    if (format_ == "json") {
      if (!st.ok()) return cli.ReportError(st);
      cli.out() << ToJson(r) << "\n";
      return kExitOk;
    }
    std::ostream& o = cli.out();
    o << "Client:\n Version:    " << kVersion << "\n Host:       " << cli.host() << "\n\n";
    if (!st.ok()) {
      o << "Server:\n";
      o.flush();
      cli.err() << "ERROR: ";
      return cli.ReportError(st);
    }
    o << "Server:\n";
    o << " Containers: " << r.containers() << "\n";
    o << "  Running: " << r.containers_running() << "\n";
    o << "  Paused: " << r.containers_paused() << "\n";
    o << "  Stopped: " << r.containers_stopped() << "\n";
    o << " Images: " << r.images() << "\n";
    o << " Volumes: " << r.volumes() << "\n";
    o << " Networks: " << r.networks() << "\n";
    o << " Server Version: " << r.server_version() << "\n";
    o << " Storage Driver: " << r.storage_driver() << "\n";
    o << " Logging Driver: " << r.logging_driver() << "\n";
    o << " Cgroup Driver: " << r.cgroup_driver() << "\n";
    o << " Cgroup Version: " << r.cgroup_version() << "\n";
    o << " Runtimes: " << absl::StrJoin(r.runtimes(), " ") << "\n";
    o << " Default Runtime: " << r.default_runtime() << "\n";
    o << " berthd version: " << r.engine().version() << "\n";
    if (r.containerd().error().empty()) {
      o << " berth-containerd version: " << r.containerd().version() << "\n";
    } else {
      o << " berth-containerd version: unavailable\n";
    }
    o << " Kernel Version: " << r.kernel_version() << "\n";
    o << " Operating System: " << r.operating_system() << "\n";
    o << " OSType: " << r.os_type() << "\n";
    o << " Architecture: " << r.architecture() << "\n";
    o << " CPUs: " << r.ncpu() << "\n";
    o << " Total Memory: " << HumanBytes(static_cast<double>(r.mem_total())) << "\n";
    o << " Name: " << r.name() << "\n";
    o << " ID: " << r.id() << "\n";
    o << " Berth Root Dir: " << r.root_dir() << "\n";
    o << " Exec Root: " << r.exec_root() << "\n";
    o << " Live Restore Enabled: " << (r.live_restore_enabled() ? "true" : "false") << "\n";
    for (const auto& w : r.warnings()) cli.err() << "WARNING: " << w << "\n";
    return kExitOk;
  }

 private:
  std::string format_;
};

}  // namespace

std::unique_ptr<Command> NewVersionCommand() { return std::make_unique<VersionCommand>(); }
std::unique_ptr<Command> NewInfoCommand() { return std::make_unique<InfoCommand>(); }

}  // namespace berth::cli
