#include "engine/containers/containers_service.h"

#include <unistd.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/fs/fs.h"
#include "common/grpc/status_mapping.h"
#include "common/grpc/stream_queue.h"
#include "engine/containers/manager_internal.h"
#include "engine/logs/json_log_reader.h"
#include "glog/logging.h"

namespace berth::engine::containers {
namespace {

namespace cd = ::berth::containerd;
using grpc_util::Outlet;
using grpc_util::ToGrpcStatus;
using internal::FromTs;
using internal::Ts;

// Runs `fn` (returning absl::Status) on the manager's executor and finishes the unary call
// with its result.
template <typename Fn>
::grpc::ServerUnaryReactor* RunUnary(ContainerManager* m, ::grpc::CallbackServerContext* ctx,
                                     Fn fn) {
  auto* reactor = ctx->DefaultReactor();
  if (!m->executor().Run([reactor, fn = std::move(fn)]() mutable {
        reactor->Finish(ToGrpcStatus(fn()));
      })) {
    reactor->Finish(::grpc::Status(::grpc::StatusCode::UNAVAILABLE, "berthd is shutting down"));
  }
  return reactor;
}

template <typename T>
absl::Status Assign(absl::StatusOr<T> v, T* out) {
  if (!v.ok()) return v.status();
  *out = std::move(*v);
  return absl::OkStatus();
}

class WaitReactor final : public grpc_util::QueuedWriteReactor<ev1::WaitContainerResponse> {
 public:
  WaitReactor(ContainerManager* m, const ev1::WaitContainerRequest& req) {
    Outlet<ev1::WaitContainerResponse> out = outlet();
    ev1::WaitContainerResponse registered;
    registered.mutable_registered();
    // `registered` is queued before the waiter can fire, so it is always first.
    out.Send(registered);
    absl::Status s = m->WaitFor(req.id(), req.condition(),
                                [out](absl::StatusOr<ev1::ExitStatus> exit) {
                                  if (!exit.ok()) {
                                    out.Close(exit.status());
                                    return;
                                  }
                                  ev1::WaitContainerResponse r;
                                  *r.mutable_exit() = *exit;
                                  out.Send(r);
                                  out.Close(absl::OkStatus());
                                });
    if (!s.ok()) out.Close(s);
  }
};

// The Docker stats sample from berth-containerd's cgroup metrics.
void ToDockerStats(const ::berth::types::v1::TaskMetrics& m, ev1::ContainerStats* s) {
  auto* cpu = s->mutable_cpu();
  cpu->set_total_usage_ns(static_cast<int64_t>(m.cpu().usage_total_ns()));
  cpu->set_user_mode_usage_ns(static_cast<int64_t>(m.cpu().usage_user_ns()));
  cpu->set_kernel_mode_usage_ns(static_cast<int64_t>(m.cpu().usage_system_ns()));
  for (uint64_t v : m.cpu().per_cpu_usages_ns()) cpu->add_per_cpu_usage_ns(static_cast<int64_t>(v));
  cpu->mutable_throttling()->set_periods(static_cast<int64_t>(m.cpu().throttling().periods()));
  cpu->mutable_throttling()->set_throttled_periods(
      static_cast<int64_t>(m.cpu().throttling().throttled_periods()));
  cpu->mutable_throttling()->set_throttled_time_ns(
      static_cast<int64_t>(m.cpu().throttling().throttled_time_ns()));
  cpu->set_online_cpus(static_cast<int32_t>(sysconf(_SC_NPROCESSORS_ONLN)));
  // Host CPU time from /proc/stat's first line, in ns (Docker's system_cpu_usage).
  if (auto stat = fs::ReadFile("/proc/stat"); stat.ok()) {
    std::vector<std::string> f = absl::StrSplit(
        stat->substr(0, stat->find('\n')), ' ', absl::SkipEmpty());
    int64_t ticks = 0;
    for (size_t i = 1; i < f.size() && i <= 8; ++i) {
      int64_t v = 0;
      if (absl::SimpleAtoi(f[i], &v)) ticks += v;
    }
    cpu->set_system_usage_ns(ticks * (1000000000LL / sysconf(_SC_CLK_TCK)));
  }
  auto* mem = s->mutable_memory();
  mem->set_usage(static_cast<int64_t>(m.memory().usage_bytes()));
  mem->set_max_usage(static_cast<int64_t>(m.memory().max_usage_bytes()));
  // No limit (0, or cgroup v1's "unlimited" near 2^63): Docker reports the host's memory.
  const int64_t host_mem =
      static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<int64_t>(sysconf(_SC_PAGESIZE));
  const uint64_t limit = m.memory().limit_bytes();
  mem->set_limit(limit == 0 || limit > static_cast<uint64_t>(host_mem)
                     ? host_mem
                     : static_cast<int64_t>(limit));
  mem->set_cache(static_cast<int64_t>(m.memory().cache_bytes()));
  mem->set_fail_count(static_cast<int64_t>(m.memory().failcnt()));
  for (const auto& [k, v] : m.memory().raw()) (*mem->mutable_stats())[k] = static_cast<int64_t>(v);
  s->mutable_pids()->set_current(static_cast<int64_t>(m.pids().current()));
  s->mutable_pids()->set_limit(static_cast<int64_t>(m.pids().limit()));
  *s->mutable_read() = m.timestamp();
}

}  // namespace

#define BERTH_UNARY(Method, Req, Resp, body)                                          \
  ::grpc::ServerUnaryReactor* ContainersService::Method(                              \
      ::grpc::CallbackServerContext* ctx, const ev1::Req* req, ev1::Resp* resp) {     \
    ContainerManager* m = manager_;                                                   \
    return RunUnary(m, ctx, [m, req, resp]() -> absl::Status { body });               \
  }

BERTH_UNARY(Create, CreateContainerRequest, CreateContainerResponse,
            { return Assign(m->Create(*req), resp); })
BERTH_UNARY(Start, StartContainerRequest, StartContainerResponse,
            { return Assign(m->StartContainer(req->id()), resp); })
BERTH_UNARY(Stop, StopContainerRequest, StopContainerResponse,
            { return Assign(m->Stop(*req), resp); })
BERTH_UNARY(Restart, RestartContainerRequest, RestartContainerResponse, {
  (void)resp;
  return m->Restart(*req);
})
BERTH_UNARY(Kill, KillContainerRequest, KillContainerResponse, {
  (void)resp;
  return m->Kill(req->id(), req->signal());
})
BERTH_UNARY(Pause, PauseContainerRequest, PauseContainerResponse, {
  (void)resp;
  return m->Pause(req->id());
})
BERTH_UNARY(Unpause, UnpauseContainerRequest, UnpauseContainerResponse, {
  (void)resp;
  return m->Unpause(req->id());
})
BERTH_UNARY(Remove, RemoveContainerRequest, RemoveContainerResponse, {
  (void)resp;
  return m->Remove(*req);
})
BERTH_UNARY(Rename, RenameContainerRequest, RenameContainerResponse, {
  (void)resp;
  return m->Rename(req->id(), req->new_name());
})
BERTH_UNARY(Update, UpdateContainerRequest, UpdateContainerResponse,
            { return Assign(m->Update(*req), resp); })
BERTH_UNARY(List, ListContainersRequest, ListContainersResponse,
            { return Assign(m->List(*req), resp); })
BERTH_UNARY(Inspect, InspectContainerRequest, InspectContainerResponse, {
  return Assign(m->Inspect(req->id()), resp->mutable_container());
})
BERTH_UNARY(InspectExec, InspectExecRequest, InspectExecResponse, {
  return Assign(m->InspectExec(req->exec_id()), resp->mutable_exec());
})
BERTH_UNARY(Top, ContainerTopRequest, ContainerTopResponse,
            { return Assign(m->Top(req->id()), resp); })
BERTH_UNARY(Prune, PruneContainersRequest, PruneContainersResponse,
            { return Assign(m->Prune(*req), resp); })

#undef BERTH_UNARY

::grpc::ServerWriteReactor<ev1::WaitContainerResponse>* ContainersService::Wait(
    ::grpc::CallbackServerContext*, const ev1::WaitContainerRequest* req) {
  return new WaitReactor(manager_, *req);
}

::grpc::ServerWriteReactor<ev1::ContainerLogsResponse>* ContainersService::Logs(
    ::grpc::CallbackServerContext*, const ev1::ContainerLogsRequest* req) {
  auto* reactor = new grpc_util::QueuedWriteReactor<ev1::ContainerLogsResponse>();
  Outlet<ev1::ContainerLogsResponse> out = reactor->outlet();
  ContainerManager* m = manager_;
  const ev1::ContainerLogsRequest r = *req;
  if (!m->executor().Run([m, out, r] {
        absl::StatusOr<std::string> id = m->ResolveId(r.id());
        if (!id.ok()) return out.Close(id.status());
        absl::StatusOr<ContainerRecord> rec = m->Record(*id);
        if (!rec.ok()) return out.Close(rec.status());
        const auto& lc = rec->container().host_config().log_config();
        if (!lc.type().empty() && lc.type() != "json-file") {
          return out.Close(absl::FailedPreconditionError(absl::StrCat(
              "configured logging driver does not support reading: ", lc.type())));
        }
        logs::LogReaderOptions o;
        o.path = rec->container().log_path();
        o.stdout = r.stdout();
        o.stderr = r.stderr();
        if (r.has_tail()) o.tail = r.tail();
        if (r.has_since()) o.since = FromTs(r.since());
        if (r.has_until()) o.until = FromTs(r.until());
        o.follow = r.follow();
        absl::StatusOr<std::unique_ptr<logs::LogReader>> opened = logs::LogReader::Open(o);
        if (!opened.ok()) return out.Close(opened.status());
        std::shared_ptr<logs::LogReader> reader = std::move(*opened);
        if (r.follow()) {
          // Following ends once the container stops and its output is drained.
          absl::Status w = m->WaitFor(*id, ev1::WAIT_CONDITION_NOT_RUNNING,
                                      [reader](absl::StatusOr<ev1::ExitStatus>) {
                                        reader->WriterDone();
                                      });
          if (!w.ok()) reader->WriterDone();
        }
        for (;;) {
          // Wake up now and then to notice a client that went away.
          absl::StatusOr<logs::LogEntry> e = reader->Next(absl::Now() + absl::Milliseconds(500));
          if (!out.alive()) return;
          if (absl::IsDeadlineExceeded(e.status())) continue;
          if (absl::IsOutOfRange(e.status())) return out.Close(absl::OkStatus());
          if (!e.ok()) return out.Close(e.status());
          ev1::ContainerLogsResponse resp;
          resp.set_stream(e->stream == logs::LogStream::kStderr ? ev1::STD_STREAM_STDERR
                                                                : ev1::STD_STREAM_STDOUT);
          resp.set_data(std::move(e->data));
          *resp.mutable_timestamp() = Ts(e->time);
          resp.set_partial(e->partial);
          if (!out.SendWait(std::move(resp))) return;  // paced by the client
        }
      })) {
    out.Close(absl::UnavailableError("berthd is shutting down"));
  }
  return reactor;
}

::grpc::ServerWriteReactor<ev1::ContainerStatsResponse>* ContainersService::Stats(
    ::grpc::CallbackServerContext*, const ev1::ContainerStatsRequest* req) {
  auto* reactor = new grpc_util::QueuedWriteReactor<ev1::ContainerStatsResponse>();
  Outlet<ev1::ContainerStatsResponse> out = reactor->outlet();
  ContainerManager* m = manager_;
  const ev1::ContainerStatsRequest r = *req;
  if (!m->executor().Run([m, out, r] {
        absl::StatusOr<std::string> id = m->ResolveId(r.id());
        if (!id.ok()) return out.Close(id.status());
        std::optional<ev1::ContainerStats> prev;
        const auto mode = r.mode();
        for (int i = 0; out.alive(); ++i) {
          absl::StatusOr<ContainerRecord> rec = m->Record(*id);
          if (!rec.ok()) return out.Close(absl::OkStatus());  // removed: the stream ends
          ev1::ContainerStatsResponse resp;
          ev1::ContainerStats* s = resp.mutable_stats();
          s->set_id(*id);
          s->set_name(rec->container().name());
          if (rec->container().state().running()) {
            cd::tasks::v1::MetricsRequest mr;
            mr.add_filters(absl::StrCat("container_id==", *id));
            cd::tasks::v1::MetricsResponse mresp;
            auto ctx = m->containerd().Context(absl::Seconds(10));
            ::grpc::Status st = m->containerd().tasks().Metrics(ctx.get(), mr, &mresp);
            if (st.ok() && mresp.metrics_size() > 0) ToDockerStats(mresp.metrics(0), s);
          }
          if (prev.has_value()) {
            *s->mutable_precpu() = prev->cpu();
            *s->mutable_preread() = prev->read();
          }
          const bool first_of_single = mode == ev1::STATS_MODE_SINGLE && !prev.has_value();
          if (!first_of_single) {
            if (!out.Send(resp)) return;
            if (mode == ev1::STATS_MODE_SINGLE || mode == ev1::STATS_MODE_ONE_SHOT) {
              return out.Close(absl::OkStatus());
            }
          }
          prev = *s;
          // About a second between samples; wake early when the client leaves.
          for (int t = 0; t < 10 && out.alive(); ++t) absl::SleepFor(absl::Milliseconds(100));
        }
      })) {
    out.Close(absl::UnavailableError("berthd is shutting down"));
  }
  return reactor;
}

}  // namespace berth::engine::containers
