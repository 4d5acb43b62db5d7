// Commands that read container state: ps, inspect, logs, top and stats.
#include <unistd.h>

#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "berth/engine/v1/images.grpc.pb.h"
#include "engine/cli/container_commands.h"
#include "engine/cli/container_format.h"
#include "engine/cli/format.h"
#include "engine/cli/image_format.h"
#include "engine/cli/parse_options.h"
#include "engine/cli/template.h"

namespace berth::cli {
namespace {

namespace v1 = ::berth::engine::v1;
using Json = nlohmann::ordered_json;

constexpr char kPsFormat[] =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";
constexpr char kStatsFormat[] =
    "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t"
    "{{.BlockIO}}\t{{.PIDs}}";

class PsCommand : public Command {
 public:
  explicit PsCommand(std::string name) : name_(std::move(name)) {}
  std::string Name() const override { return name_; }
  std::string Summary() const override { return "List containers"; }
  std::string UsageLine() const override { return absl::StrCat("berth ", name_, " [OPTIONS]"); }
  void DefineFlags(FlagSet& f) override {
    f.AddBool(&all_, "all", 'a', "Show all containers (default shows just running)");
    f.AddStringList(&filters_, "filter", 'f', "Filter output based on conditions provided");
    f.AddString(&format_, "format", 0,
                "Format output using a custom template: 'table', 'table TEMPLATE', 'json', "
                "'TEMPLATE'");
    f.AddInt(&last_, "last", 'n', "Show n last created containers (includes all states)");
    f.AddBool(&latest_, "latest", 'l', "Show the latest created container (includes all states)");
    f.AddBool(&no_trunc_, "no-trunc", 0, "Don't truncate output");
    f.AddBool(&quiet_, "quiet", 'q', "Only display container IDs");
    f.AddBool(&size_, "size", 's', "Display total file sizes");
  }
  int Run(Cli& cli, const std::vector<std::string>& args) override {
    if (!args.empty()) return ArgsError(cli, name_, UsageLine(), "accepts no arguments");
    auto filters = ParseFilters(filters_);
    if (!filters.ok()) {
      cli.err() << filters.status().message() << "\n";
      return kExitUsage;
    }
    std::string format = format_ == "table" ? kPsFormat : format_;
    if (format.empty()) {
      format = kPsFormat;
      if (size_) format += "\t{{.Size}}";
    }
    // A bad template fails before any call, as in docker.
    if (auto check = FormatRows(format, {}, kPsFormat, false); !check.ok()) {
      cli.err() << check.status().message() << "\n";
      return kExitUsage;
    }
    v1::ListContainersRequest req;
    req.set_all(all_ || last_ > 0 || latest_);
    req.set_limit(latest_ ? 1 : static_cast<int32_t>(std::max<int64_t>(last_, 0)));
    req.set_size(size_ || format.find(".Size") != std::string::npos);
    for (auto& f : *filters) *req.add_filters() = std::move(f);
    auto stub = ContainersStub(cli);
    if (stub == nullptr) return kExitFailure;
    ::grpc::ClientContext ctx;
    Cli::Prepare(ctx, req.size() ? absl::Minutes(5) : absl::Seconds(30));
    v1::ListContainersResponse resp;
    ::grpc::Status st = stub->List(&ctx, req, &resp);
    if (!st.ok()) return cli.ReportError(st);
    if (quiet_) {
      for (const auto& c : resp.containers()) {
        cli.out() << (no_trunc_ ? c.id() : ShortId(c.id())) << "\n";
      }
      return kExitOk;
    }
    PsOptions o;
    o.no_trunc = no_trunc_;
    std::vector<Json> rows;
    for (const auto& c : resp.containers()) rows.push_back(PsRow(c, o));
    auto text = FormatRows(format, rows, kPsFormat, false);
    if (!text.ok()) {
      cli.err() << text.status().message() << "\n";
      return kExitUsage;
    }
    cli.out() << *text;
    return kExitOk;
  }

 private:
  std::string name_;
  bool all_ = false, latest_ = false, no_trunc_ = false, quiet_ = false, size_ = false;
  int64_t last_ = -1;
  std::vector<std::string> filters_;
  std::string format_;
};

// The image named `ref`, nullopt when there is none.
absl::StatusOr<std::optional<v1::Image>> InspectImage(Cli& cli, const std::string& ref) {
  auto ch = cli.Channel();
  if (!ch.ok()) return ch.status();
  auto stub = v1::Images::NewStub(*ch);
  ::grpc::ClientContext ctx;
  Cli::Prepare(ctx);
  v1::InspectImageRequest req;
  req.set_image(ref);
  v1::InspectImageResponse resp;
  ::grpc::Status st = stub->Inspect(&ctx, req, &resp);
  // A daemon without the images API (a test's fake) has no images either.
  if (st.error_code() == ::grpc::StatusCode::NOT_FOUND ||
      st.error_code() == ::grpc::StatusCode::UNIMPLEMENTED) {
    return std::nullopt;
  }
  if (!st.ok()) return absl::UnavailableError(st.error_message());
  return std::optional<v1::Image>(resp.image());
}

class InspectCommand : public Command {
 public:
  explicit InspectCommand(bool containers_only) : containers_only_(containers_only) {}
  std::string Name() const override { return "inspect"; }
  std::string Summary() const override {
    return "Display detailed information on one or more containers";
  }
  std::string UsageLine() const override {
    return "berth inspect [OPTIONS] CONTAINER [CONTAINER...]";
  }
  void DefineFlags(FlagSet& f) override {
    f.AddString(&format_, "format", 'f',
                "Format output using a custom template: 'json' or a Go template");
    f.AddBool(&size_, "size", 's', "Display total file sizes");
    f.AddString(&type_, "type", 0,
                "Return JSON for specified type (\"container\" or \"image\"; default: "
                "a container, else an image)");
  }
  int Run(Cli& cli, const std::vector<std::string>& args) override {
    if (args.empty()) return ArgsError(cli, "inspect", UsageLine(), "requires at least 1 argument");
    if (!type_.empty() && type_ != "container" && type_ != "image") {
      cli.err() << "\"" << type_ << "\" is not a valid value for --type\n";
      return kExitFailure;
    }
    if (!format_.empty() && format_ != "json") {
      if (auto t = Template::Parse(format_); !t.ok()) {
        cli.err() << t.status().message() << "\n";
        return kExitFailure;
      }
    }
    auto stub = ContainersStub(cli);
    if (stub == nullptr) return kExitFailure;
    Json all = Json::array();
    std::vector<std::string> errors;
    for (const auto& a : args) {
      ::grpc::ClientContext ctx;
      Cli::Prepare(ctx, size_ ? absl::Minutes(5) : absl::Seconds(30));
      v1::InspectContainerRequest req;
      req.set_id(a);
      req.set_size(size_);
      v1::InspectContainerResponse resp;
      ::grpc::Status st = type_ == "image"
                              ? ::grpc::Status(::grpc::StatusCode::NOT_FOUND, "")
                              : stub->Inspect(&ctx, req, &resp);
      if (st.error_code() == ::grpc::StatusCode::NOT_FOUND) {
        // Like docker's inspect: no container by that name, then an image.
        if (type_ != "container" && !containers_only_) {
          absl::StatusOr<std::optional<v1::Image>> image = InspectImage(cli, a);
          if (!image.ok()) {
            cli.err() << "berth: " << image.status().message() << "\n";
            return kExitFailure;
          }
          if (image->has_value()) {
            all.push_back(ImageJson(**image));
            continue;
          }
        }
        const std::string what =
            containers_only_ ? "container" : (type_.empty() ? "object" : type_);
        errors.push_back(absl::StrCat("Error: No such ", what, ": ", a));
        continue;
      }
      if (!st.ok()) return cli.ReportError(st);
      all.push_back(InspectJson(resp.container()));
    }
    int rc = errors.empty() ? kExitOk : kExitFailure;
    if (absl::Status s = WriteFormatted(cli.out(), format_, all); !s.ok()) {
      cli.err() << s.message() << "\n";
      return kExitFailure;
    }
    cli.out().flush();
    for (const auto& e : errors) cli.err() << e << "\n";
    return rc;
  }

 private:
  const bool containers_only_;
  std::string format_, type_;
  bool size_ = false;
};

class LogsCommand : public Command {
 public:
  std::string Name() const override { return "logs"; }
  std::string Summary() const override { return "Fetch the logs of a container"; }
  std::string UsageLine() const override { return "berth logs [OPTIONS] CONTAINER"; }
  void DefineFlags(FlagSet& f) override {
    f.AddBool(&details_, "details", 0, "Show extra details provided to logs");
    f.AddBool(&follow_, "follow", 'f', "Follow log output");
    f.AddString(&since_, "since", 0,
                "Show logs since timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. "
                "\"42m\" for 42 minutes)");
    f.AddString(&tail_, "tail", 'n', "Number of lines to show from the end of the logs");
    f.AddBool(&timestamps_, "timestamps", 't', "Show timestamps");
    f.AddString(&until_, "until", 0,
                "Show logs before a timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. "
                "\"42m\" for 42 minutes)");
  }
  int Run(Cli& cli, const std::vector<std::string>& args) override {
    if (args.size() != 1) return ArgsError(cli, "logs", UsageLine(), "requires 1 argument");
    v1::ContainerLogsRequest req;
    req.set_id(args[0]);
    req.set_stdout(true);
    req.set_stderr(true);
    req.set_follow(follow_);
    req.set_details(details_);
    if (!tail_.empty() && tail_ != "all") {
      int64_t n = 0;
      if (!absl::SimpleAtoi(tail_, &n)) {
        cli.err() << "invalid argument \"" << tail_ << "\" for \"-n, --tail\" flag\n";
        return kExitUsage;
      }
      if (n >= 0) req.set_tail(n);
    }
    const absl::Time now = absl::Now();
    for (auto [value, field] : {std::pair{&since_, req.mutable_since()},
                                std::pair{&until_, req.mutable_until()}}) {
      if (value->empty()) continue;
      auto t = ParseTimestamp(*value, now);
      if (!t.ok()) {
        cli.err() << t.status().message() << "\n";
        return kExitFailure;
      }
      *field = ToProtoTime(*t);
    }
    if (until_.empty()) req.clear_until();
    if (since_.empty()) req.clear_since();
    auto stub = ContainersStub(cli);
    if (stub == nullptr) return kExitFailure;
    ::grpc::ClientContext ctx;
    ctx.set_wait_for_ready(false);
    auto reader = stub->Logs(&ctx, req);
    v1::ContainerLogsResponse e;
    // A continuation of a partial entry gets no prefix of its own.
    std::map<int, bool> continuing;
    while (reader->Read(&e)) {
      std::ostream& os = e.stream() == v1::STD_STREAM_STDERR ? cli.err() : cli.out();
      bool& cont = continuing[e.stream()];
      if (!cont) {
        if (timestamps_) {
          os << absl::FormatTime("%Y-%m-%dT%H:%M:%E9SZ", ToAbslTime(e.timestamp()),
                                 absl::UTCTimeZone())
             << " ";
        }
        if (details_) {
          std::map<std::string, std::string> attrs(e.attributes().begin(),
                                                   e.attributes().end());
          std::vector<std::string> kv;
          for (const auto& [k, v] : attrs) kv.push_back(absl::StrCat(k, "=", v));
          os << absl::StrJoin(kv, ",") << " ";
        }
      }
      os << e.data();
      os.flush();
      cont = e.partial();
    }
    ::grpc::Status st = reader->Finish();
    return st.ok() ? kExitOk : cli.ReportError(st);
  }

 private:
  bool details_ = false, follow_ = false, timestamps_ = false;
  std::string since_, until_, tail_ = "all";
};

class TopCommand : public Command {
 public:
  std::string Name() const override { return "top"; }
  std::string Summary() const override { return "Display the running processes of a container"; }
  std::string UsageLine() const override { return "berth top CONTAINER [ps OPTIONS]"; }
  bool StopAtFirstArg() const override { return true; }
  void DefineFlags(FlagSet& f) override {}
  int Run(Cli& cli, const std::vector<std::string>& args) override {
    if (args.empty()) return ArgsError(cli, "top", UsageLine(), "requires at least 1 argument");
    auto stub = ContainersStub(cli);
    if (stub == nullptr) return kExitFailure;
    ::grpc::ClientContext ctx;
    Cli::Prepare(ctx);
    v1::ContainerTopRequest req;
    req.set_id(args[0]);
    req.set_ps_args(absl::StrJoin(args.begin() + 1, args.end(), " "));
    v1::ContainerTopResponse resp;
    ::grpc::Status st = stub->Top(&ctx, req, &resp);
    if (!st.ok()) return cli.ReportError(st);
    Table t(std::vector<std::string>(resp.titles().begin(), resp.titles().end()));
    for (const auto& p : resp.processes()) {
      t.Add(std::vector<std::string>(p.values().begin(), p.values().end()));
    }
    t.Print(cli.out());
    return kExitOk;
  }
};

class StatsCommand : public Command {
 public:
  std::string Name() const override { return "stats"; }
  std::string Summary() const override {
    return "Display a live stream of container(s) resource usage statistics";
  }
  std::string UsageLine() const override { return "berth stats [OPTIONS] [CONTAINER...]"; }
  void DefineFlags(FlagSet& f) override {
    f.AddBool(&all_, "all", 'a', "Show all containers (default shows just running)");
    f.AddString(&format_, "format", 0,
                "Format output using a custom template: 'table', 'table TEMPLATE', 'json', "
                "'TEMPLATE'");
    f.AddBool(&no_stream_, "no-stream", 0, "Disable streaming stats and only pull the first result");
    f.AddBool(&no_trunc_, "no-trunc", 0, "Do not truncate output");
  }
  int Run(Cli& cli, const std::vector<std::string>& args) override {
    std::string format = format_.empty() || format_ == "table" ? kStatsFormat : format_;
    auto stub = ContainersStub(cli);
    if (stub == nullptr) return kExitFailure;
    std::vector<std::string> targets = args;
    if (targets.empty()) {
      ::grpc::ClientContext ctx;
      Cli::Prepare(ctx);
      v1::ListContainersRequest req;
      req.set_all(all_);
      v1::ListContainersResponse resp;
      ::grpc::Status st = stub->List(&ctx, req, &resp);
      if (!st.ok()) return cli.ReportError(st);
      for (const auto& c : resp.containers()) targets.push_back(c.id());
    }

    // One stream per container, each keeping its latest sample.
    struct Slot {
      std::string target;
      std::optional<v1::ContainerStats> sample;
      ::grpc::Status status;
      bool done = false;
      ::grpc::ClientContext ctx;
    };
    std::vector<std::unique_ptr<Slot>> slots;
    absl::Mutex mu;
    std::vector<std::thread> threads;
    for (const auto& t : targets) {
      slots.push_back(std::make_unique<Slot>());
      slots.back()->target = t;
    }
    for (auto& slot : slots) {
      Slot* s = slot.get();
      threads.emplace_back([&, s] {
        s->ctx.set_wait_for_ready(false);
        v1::ContainerStatsRequest req;
        req.set_id(s->target);
        req.set_mode(no_stream_ ? v1::STATS_MODE_SINGLE : v1::STATS_MODE_STREAM);
        auto reader = stub->Stats(&s->ctx, req);
        v1::ContainerStatsResponse resp;
        while (reader->Read(&resp)) {
          absl::MutexLock lock(&mu);
          s->sample = resp.stats();
        }
        ::grpc::Status st = reader->Finish();
        absl::MutexLock lock(&mu);
        s->status = st;
        s->done = true;
      });
    }
    auto render = [&]() -> absl::StatusOr<std::string> {
      std::vector<Json> rows;
      absl::MutexLock lock(&mu);
      for (const auto& s : slots) {
        if (s->sample.has_value()) rows.push_back(StatsRow(*s->sample, s->target, no_trunc_));
      }
      return FormatRows(format, rows, kStatsFormat, true);
    };
    int rc = kExitOk;
    if (no_stream_) {
      for (auto& t : threads) t.join();
      for (const auto& s : slots) {
        if (!s->status.ok()) {
          cli.ReportError(s->status);
          rc = kExitFailure;
        }
      }
      auto text = render();
      if (!text.ok()) {
        cli.err() << text.status().message() << "\n";
        return kExitUsage;
      }
      cli.out() << *text;
      return rc;
    }
    const bool clear = format != "json" && isatty(STDOUT_FILENO) == 1;
    for (;;) {
      absl::SleepFor(absl::Seconds(1));
      auto text = render();
      if (!text.ok()) {
        cli.err() << text.status().message() << "\n";
        rc = kExitUsage;
        break;
      }
      if (clear) cli.out() << "\033[2J\033[H";
      cli.out() << *text;
      cli.out().flush();
      absl::MutexLock lock(&mu);
      bool all_done = true;
      for (const auto& s : slots) all_done = all_done && s->done;
      if (all_done) break;
    }
    for (auto& s : slots) s->ctx.TryCancel();
    for (auto& t : threads) t.join();
    for (const auto& s : slots) {
      if (!s->status.ok() && s->status.error_code() != ::grpc::StatusCode::CANCELLED) {
        cli.ReportError(s->status);
        rc = kExitFailure;
      }
    }
    return rc;
  }

 private:
  bool all_ = false, no_stream_ = false, no_trunc_ = false;
  std::string format_;
};

}  // namespace

std::unique_ptr<Command> NewPsCommand(std::string name) {
  return std::make_unique<PsCommand>(std::move(name));
}
std::unique_ptr<Command> NewInspectCommand(bool containers_only) {
  return std::make_unique<InspectCommand>(containers_only);
}
std::unique_ptr<Command> NewLogsCommand() { return std::make_unique<LogsCommand>(); }
std::unique_ptr<Command> NewTopCommand() { return std::make_unique<TopCommand>(); }
std::unique_ptr<Command> NewStatsCommand() { return std::make_unique<StatsCommand>(); }

}  // namespace berth::cli
