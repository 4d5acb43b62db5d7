#include "common/metrics/metrics_server.h"

#include <dirent.h>
#include <unistd.h>

#include <exception>
#include <fstream>
#include <sstream>
#include <vector>

#include <prometheus/gauge.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/version/version.h"
#include "glog/logging.h"

namespace berth::metrics {
namespace {

class ProcessCollector : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> out;
    std::ifstream in("/proc/self/stat");
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string stat = ss.str();
    // Fields after the command name, which is in parentheses and may contain spaces.
    size_t close = stat.rfind(')');
    if (close == std::string::npos) return out;
    std::vector<std::string> f = absl::StrSplit(stat.substr(close + 2), ' ');
    // f[0] is field 3 (state): field N is f[N - 3].
    auto field = [&f](int n) -> double {
      double v = 0;
      if (n - 3 < static_cast<int>(f.size())) (void)absl::SimpleAtod(f[n - 3], &v);
      return v;
    };
    const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
    Add(out, "process_cpu_seconds_total", "User and system CPU time spent in seconds.",
        prometheus::MetricType::Counter, (field(14) + field(15)) / ticks);
    Add(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.",
        prometheus::MetricType::Gauge, field(23));
    Add(out, "process_resident_memory_bytes", "Resident memory size in bytes.",
        prometheus::MetricType::Gauge, field(24) * page);
    Add(out, "process_threads", "Number of OS threads in the process.",
        prometheus::MetricType::Gauge, field(20));
    Add(out, "process_start_time_seconds",
        "Start time of the process since unix epoch in seconds.",
        prometheus::MetricType::Gauge, BootTime() + field(22) / ticks);
    Add(out, "process_open_fds", "Number of open file descriptors.",
        prometheus::MetricType::Gauge, OpenFds());
    return out;
  }

 private:
  static void Add(std::vector<prometheus::MetricFamily>& out, const char* name, const char* help,
                  prometheus::MetricType type, double value) {
    prometheus::MetricFamily fam;
    fam.name = name;
    fam.help = help;
    fam.type = type;
    prometheus::ClientMetric m;
    if (type == prometheus::MetricType::Counter) {
      m.counter.value = value;
    } else {
      m.gauge.value = value;
    }
    fam.metric.push_back(std::move(m));
    out.push_back(std::move(fam));
  }

  static double BootTime() {
    std::ifstream in("/proc/stat");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("btime ", 0) == 0) {
        double v = 0;
        (void)absl::SimpleAtod(line.substr(6), &v);
        return v;
      }
    }
    return 0;
  }

  static double OpenFds() {
    DIR* d = opendir("/proc/self/fd");
    if (d == nullptr) return 0;
    int n = 0;
    while (readdir(d) != nullptr) ++n;
    closedir(d);
    return n - 3;  // ".", ".." and the directory's own fd
  }
};

}  // namespace

std::shared_ptr<prometheus::Collectable> NewProcessCollector() {
  return std::make_shared<ProcessCollector>();
}

void AddBuildInfo(prometheus::Registry& registry, absl::string_view daemon) {
  prometheus::BuildGauge()
      .Name(absl::StrCat("berth_", daemon, "_build_info"))
      .Help("Always 1; labels carry the version of this berth binary.")
      .Register(registry)
      .Add({{"version", kVersion}, {"api_version", kApiVersion}})
      .Set(1);
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& address, std::shared_ptr<prometheus::Registry> registry) {
  std::vector<std::string> parts = absl::StrSplit(address, absl::MaxSplits(':', 1));
  int port = 0;
  if (parts.size() != 2 || parts[0].empty() || !absl::SimpleAtoi(parts[1], &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address ", address, ": want host:port, e.g. 127.0.0.1:9323"));
  }
  auto server = std::unique_ptr<MetricsServer>(new MetricsServer());
  try {
    // civetweb throws on a bind failure; prometheus-cpp has no non-throwing constructor.
    server->exposer_ = std::make_unique<prometheus::Exposer>(address, 2);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("metrics: cannot listen on ", address, ": ",
                                               e.what()));
  }
  server->registry_ = std::move(registry);
  server->process_ = NewProcessCollector();
  server->exposer_->RegisterCollectable(server->registry_);
  server->exposer_->RegisterCollectable(server->process_);
  std::vector<int> ports = server->exposer_->GetListeningPorts();
  server->address_ = absl::StrCat(parts[0], ":", ports.empty() ? port : ports[0]);
  LOG(INFO) << "metrics listening address=" << server->address_;
  return server;
}

}  // namespace berth::metrics
