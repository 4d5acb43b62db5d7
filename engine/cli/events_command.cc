#include "engine/cli/events_command.h"

#include <map>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "berth/engine/v1/system.grpc.pb.h"
#include "engine/cli/container_commands.h"
#include "engine/cli/container_format.h"
#include "engine/cli/parse_options.h"
#include "engine/cli/template.h"
#include "engine/events/event.h"

namespace berth::cli {
namespace {

namespace v1 = ::berth::engine::v1;
using Json = nlohmann::ordered_json;

using engine::events::TypeName;

int64_t TimeNano(const v1::Event& e) { return e.time().seconds() * 1000000000 + e.time().nanos(); }

// The attributes sorted by key (proto maps have no order).
std::map<std::string, std::string> Attributes(const v1::Event& e) {
  return std::map<std::string, std::string>(e.attributes().begin(), e.attributes().end());
}

// Docker fills these deprecated fields for container and image events only.
struct Legacy {
  std::string status, id, from;
};
Legacy LegacyFields(const v1::Event& e) {
  Legacy l;
  if (e.type() == v1::EVENT_TYPE_CONTAINER || e.type() == v1::EVENT_TYPE_IMAGE) {
    l.status = e.action();
    l.id = e.actor_id();
  }
  if (e.type() == v1::EVENT_TYPE_CONTAINER) {
    auto it = e.attributes().find("image");
    if (it != e.attributes().end()) l.from = it->second;
  }
  return l;
}

class EventsCommand : public Command {
 public:
  std::string Name() const override { return "events"; }
  std::string Summary() const override { return "Get real time events from the server"; }
  std::string UsageLine() const override { return "berth events [OPTIONS]"; }
  void DefineFlags(FlagSet& f) override {
    f.AddStringList(&filters_, "filter", 'f', "Filter output based on conditions provided");
    f.AddString(&format_, "format", 0,
                "Format output using a custom template: 'json' prints one JSON object per "
                "event, 'TEMPLATE' a Go template (e.g. '{{.Type}} {{.Action}}')");
    f.AddString(&since_, "since", 0, "Show all events created since timestamp");
    f.AddString(&until_, "until", 0, "Stream events until this timestamp");
  }

  int Run(Cli& cli, const std::vector<std::string>& args) override {
    if (!args.empty()) {
      return ArgsError(cli, "events", UsageLine(), "accepts no arguments");
    }
    v1::EventsRequest req;
    auto filters = ParseFilters(filters_);
    if (!filters.ok()) {
      cli.err() << filters.status().message() << "\n";
      return kExitFailure;
    }
    for (auto& f : *filters) *req.add_filters() = std::move(f);
    // Relative times ("10m") are turned into absolute ones here, against the client's clock,
    // as the docker CLI does.
    const absl::Time now = absl::Now();
    for (auto [value, field] :
         {std::pair{&since_, req.mutable_since()}, std::pair{&until_, req.mutable_until()}}) {
      if (value->empty()) continue;
      auto t = ParseTimestamp(*value, now);
      if (!t.ok()) {
        cli.err() << t.status().message() << "\n";
        return kExitFailure;
      }
      *field = ToProtoTime(*t);
    }
    if (since_.empty()) req.clear_since();
    if (until_.empty()) req.clear_until();

    std::optional<Template> tmpl;
    if (!format_.empty() && format_ != "json") {
      auto t = Template::Parse(format_);
      if (!t.ok()) {
        cli.err() << t.status().message() << "\n";
        return kExitFailure;
      }
      tmpl = std::move(*t);
    }

    auto ch = cli.Channel();
    if (!ch.ok()) {
      cli.err() << ch.status().message() << "\n";
      return kExitFailure;
    }
    ::grpc::ClientContext ctx;
    // No deadline: the stream runs until `until` or Ctrl-C; an absent daemon fails at once.
    ctx.set_wait_for_ready(false);
    auto reader = v1::System::NewStub(*ch)->Events(&ctx, req);
    v1::Event e;
    while (reader->Read(&e)) {
      if (format_ == "json") {
        cli.out() << EventJson(e).dump() << "\n";
      } else if (tmpl.has_value()) {
        auto line = tmpl->Execute(EventTemplateData(e));
        if (!line.ok()) {
          ctx.TryCancel();
          (void)reader->Finish();
          cli.err() << line.status().message() << "\n";
          return kExitFailure;
        }
        cli.out() << *line << "\n";
      } else {
        cli.out() << EventLine(e) << "\n";
      }
      // A reader at the other end of a pipe sees each event when it happens.
      cli.out().flush();
    }
    ::grpc::Status st = reader->Finish();
    return st.ok() ? kExitOk : cli.ReportError(st);
  }

 private:
  std::vector<std::string> filters_;
  std::string format_, since_, until_;
};

}  // namespace

std::unique_ptr<Command> NewEventsCommand() { return std::make_unique<EventsCommand>(); }

std::string EventLine(const v1::Event& e) {
  std::string line = absl::StrCat(
      absl::FormatTime("%Y-%m-%dT%H:%M:%E9SZ", ToAbslTime(e.time()), absl::UTCTimeZone()), " ",
      TypeName(e.type()), " ", e.action(), " ", e.actor_id());
  if (!e.attributes().empty()) {
    std::vector<std::string> kv;
    for (const auto& [k, v] : Attributes(e)) kv.push_back(absl::StrCat(k, "=", v));
    absl::StrAppend(&line, " (", absl::StrJoin(kv, ", "), ")");
  }
  return line;
}

Json EventJson(const v1::Event& e) {
  const Legacy l = LegacyFields(e);
  Json j = Json::object();
  // Go's omitempty on these three.
  if (!l.status.empty()) j["status"] = l.status;
  if (!l.id.empty()) j["id"] = l.id;
  if (!l.from.empty()) j["from"] = l.from;
  j["Type"] = TypeName(e.type());
  j["Action"] = e.action();
  Json attrs = Json::object();
  for (const auto& [k, v] : Attributes(e)) attrs[k] = v;
  j["Actor"] = {{"ID", e.actor_id()}, {"Attributes", attrs}};
  j["scope"] = "local";
  j["time"] = e.time().seconds();
  j["timeNano"] = TimeNano(e);
  return j;
}

Json EventTemplateData(const v1::Event& e) {
  const Legacy l = LegacyFields(e);
  Json attrs = Json::object();
  for (const auto& [k, v] : Attributes(e)) attrs[k] = v;
  Json j = Json::object();
  j["Status"] = l.status;
  j["ID"] = l.id;
  j["From"] = l.from;
  j["Type"] = TypeName(e.type());
  j["Action"] = e.action();
  j["Actor"] = {{"ID", e.actor_id()}, {"Attributes", attrs}};
  j["Scope"] = "local";
  j["Time"] = e.time().seconds();
  j["TimeNano"] = TimeNano(e);
  return j;
}

}  // namespace berth::cli
