// A small in-memory berth.engine.v1.Containers server for the CLI's tests: it records the
// requests it gets and plays a scripted container (output, exit code, start errors), so the
// CLI's commands are tested end to end over gRPC without berthd. Test-only; synchronous
// handlers are fine here.
#pragma once

#include <cstdlib>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "berth/engine/v1/containers.grpc.pb.h"

namespace berth::cli::testing {

class FakeContainersService final : public engine::v1::Containers::Service {
 public:
  using Status = ::grpc::Status;
  using Ctx = ::grpc::ServerContext;

  static std::string IdFor(const std::string& name) {
    std::string id = name;
    for (char& c : id) c = "0123456789abcdef"[static_cast<unsigned char>(c) % 16];
    while (id.size() < 64) id += "0";
    return id.substr(0, 64);
  }

  // --- Script. ---
  std::string stdout_data = "hello\n";
  std::string stderr_data = "oops\n";
  int exit_code = 3;
  // Returned by Start when set.
  Status start_error = Status::OK;
  // Attach echoes stdin back on stdout until the client closes stdin.
  bool echo_stdin = true;
  // Attach holds the exit until a Kill arrives (then exits with 128 + signal).
  bool exit_on_kill = false;

  // --- Recorded calls (guarded by mu). ---
  absl::Mutex mu;
  // Images Create answers NOT_FOUND for (as given in the request); a test's fake pull takes
  // them out.
  std::set<std::string> missing_images;
  std::vector<engine::v1::CreateContainerRequest> creates;
  std::vector<std::string> starts;
  std::vector<engine::v1::StopContainerRequest> stops;
  std::vector<engine::v1::KillContainerRequest> kills;
  std::vector<engine::v1::RemoveContainerRequest> removes;
  std::vector<engine::v1::WaitContainerRequest> waits;
  std::vector<engine::v1::AttachOptions> attaches;
  std::vector<engine::v1::ExecConfig> execs;
  std::vector<engine::v1::ListContainersRequest> lists;
  std::vector<engine::v1::ContainerLogsRequest> logs;
  std::vector<engine::v1::UpdateContainerRequest> updates;
  std::vector<std::string> pauses;
  std::vector<engine::v1::TtySize> resizes;

  // Containers that exist: "web" (running) and "db" (exited); other references are NOT_FOUND.
  static bool Known(const std::string& ref) {
    return ref == "web" || ref == "db" || ref == IdFor("web") || ref == IdFor("db") ||
           ref == IdFor("new");
  }
  static Status NoSuch(const std::string& ref) {
    return Status(::grpc::StatusCode::NOT_FOUND, absl::StrCat("No such container: ", ref));
  }
  // What most handlers do first: NOT_FOUND for an unknown container, else `entry` is recorded
  // in `calls`.
  template <typename T>
  Status Record(const std::string& ref, std::vector<T>& calls,
                typename std::vector<T>::value_type entry) {
    if (!Known(ref)) return NoSuch(ref);
    absl::MutexLock lock(&mu);
    calls.push_back(std::move(entry));
    return Status::OK;
  }

  Status Create(Ctx*, const engine::v1::CreateContainerRequest* req,
                engine::v1::CreateContainerResponse* resp) override {
    if (req->config().image() == "missing") {
      return Status(::grpc::StatusCode::NOT_FOUND, "No such image: missing:latest");
    }
    absl::MutexLock lock(&mu);
    if (missing_images.count(req->config().image()) > 0) {
      return Status(::grpc::StatusCode::NOT_FOUND,
                    absl::StrCat("No such image: ", req->config().image()));
    }
    creates.push_back(*req);
    resp->set_id(IdFor("new"));
    return Status::OK;
  }

  Status Start(Ctx*, const engine::v1::StartContainerRequest* req,
               engine::v1::StartContainerResponse*) override {
    if (!Known(req->id())) return NoSuch(req->id());
    absl::MutexLock lock(&mu);
    starts.push_back(req->id());
    if (!start_error.ok()) return start_error;
    started_ = true;
    return Status::OK;
  }

  Status Stop(Ctx*, const engine::v1::StopContainerRequest* req,
              engine::v1::StopContainerResponse*) override {
    return Record(req->id(), stops, *req);
  }

  Status Restart(Ctx*, const engine::v1::RestartContainerRequest* req,
                 engine::v1::RestartContainerResponse*) override {
    engine::v1::StopContainerRequest s;
    s.set_id("restart:" + req->id());
    return Record(req->id(), stops, s);
  }

  Status Kill(Ctx*, const engine::v1::KillContainerRequest* req,
              engine::v1::KillContainerResponse*) override {
    return Record(req->id(), kills, *req);
  }

  Status Pause(Ctx*, const engine::v1::PauseContainerRequest* req,
               engine::v1::PauseContainerResponse*) override {
    return Record(req->id(), pauses, "pause:" + req->id());
  }

  Status Unpause(Ctx*, const engine::v1::UnpauseContainerRequest* req,
                 engine::v1::UnpauseContainerResponse*) override {
    return Record(req->id(), pauses, "unpause:" + req->id());
  }

  Status Remove(Ctx*, const engine::v1::RemoveContainerRequest* req,
                engine::v1::RemoveContainerResponse*) override {
    return Record(req->id(), removes, *req);
  }

  Status Rename(Ctx*, const engine::v1::RenameContainerRequest* req,
                engine::v1::RenameContainerResponse*) override {
    if (!Known(req->id())) return NoSuch(req->id());
    if (req->new_name() == "db") {
      return Status(::grpc::StatusCode::ALREADY_EXISTS,
                    "Conflict. The container name \"db\" is already in use");
    }
    return Status::OK;
  }

  Status Update(Ctx*, const engine::v1::UpdateContainerRequest* req,
                engine::v1::UpdateContainerResponse*) override {
    return Record(req->id(), updates, *req);
  }

  Status Wait(Ctx* ctx, const engine::v1::WaitContainerRequest* req,
              ::grpc::ServerWriter<engine::v1::WaitContainerResponse>* w) override {
    if (Status st = Record(req->id(), waits, *req); !st.ok()) return st;
    engine::v1::WaitContainerResponse r;
    r.mutable_registered();
    w->Write(r);
    int code = 0;
    if (req->condition() == engine::v1::WAIT_CONDITION_NOT_RUNNING && req->id() == "db") {
      code = 7;
    } else {
      if (!AwaitOrCancelled(ctx, [this] { return exited_; })) {
        return Status(::grpc::StatusCode::CANCELLED, "wait gave up");
      }
      absl::MutexLock lock(&mu);
      code = final_code_;
    }
    engine::v1::WaitContainerResponse e;
    e.mutable_exit()->set_exit_code(code);
    w->Write(e);
    return Status::OK;
  }

  Status Attach(Ctx* ctx, ::grpc::ServerReaderWriter<engine::v1::AttachContainerResponse,
                                                     engine::v1::AttachContainerRequest>* s)
      override {
    engine::v1::AttachContainerRequest req;
    if (!s->Read(&req) || !req.has_options()) {
      return Status(::grpc::StatusCode::INVALID_ARGUMENT, "options first");
    }
    if (Status st = Record(req.options().id(), attaches, req.options()); !st.ok()) return st;
    engine::v1::AttachContainerResponse r;
    r.mutable_attached();
    s->Write(r);
    if (!AwaitOrCancelled(ctx, [this] { return started_; })) {
      return Status(::grpc::StatusCode::CANCELLED, "never started");
    }
    auto out = [&](engine::v1::StdStream st, const std::string& data) {
      engine::v1::AttachContainerResponse o;
      o.mutable_output()->set_stream(st);
      o.mutable_output()->set_data(data);
      s->Write(o);
    };
    out(engine::v1::STD_STREAM_STDOUT, stdout_data);
    out(engine::v1::STD_STREAM_STDERR, stderr_data);
    int code = exit_code;
    if (req.options().stdin() && echo_stdin) {
      engine::v1::AttachContainerRequest in;
      while (s->Read(&in)) {
        if (in.has_resize()) {
          absl::MutexLock lock(&mu);
          resizes.push_back(in.resize());
        }
        if (in.has_stdin()) {
          // The default detach keys, as berthd detects them.
          if (in.stdin().find("\x10\x11") != std::string::npos) {
            engine::v1::AttachContainerResponse d;
            d.mutable_detached();
            s->Write(d);
            return Status::OK;
          }
          out(engine::v1::STD_STREAM_STDOUT, in.stdin());
        }
        if (in.has_close_stdin()) break;
      }
    }
    if (exit_on_kill) {
      if (!AwaitOrCancelled(ctx, [this] { return !kills.empty(); })) {
        return Status(::grpc::StatusCode::CANCELLED, "never killed");
      }
      absl::MutexLock lock(&mu);
      code = 128 + std::atoi(kills.back().signal().c_str());
    }
    {
      absl::MutexLock lock(&mu);
      exited_ = true;
      final_code_ = code;
    }
    engine::v1::AttachContainerResponse e;
    e.mutable_exit()->set_exit_code(code);
    s->Write(e);
    return Status::OK;
  }

  Status Exec(Ctx*, ::grpc::ServerReaderWriter<engine::v1::ExecContainerResponse,
                                               engine::v1::ExecContainerRequest>* s) override {
    engine::v1::ExecContainerRequest req;
    if (!s->Read(&req) || !req.has_config()) {
      return Status(::grpc::StatusCode::INVALID_ARGUMENT, "config first");
    }
    if (!Known(req.config().id())) return NoSuch(req.config().id());
    if (req.config().id() == "db") {
      return Status(::grpc::StatusCode::FAILED_PRECONDITION, "container db is not running");
    }
    if (req.config().cmd(0) == "nope") {
      return Status(::grpc::StatusCode::FAILED_PRECONDITION,
                    "exec: \"nope\": executable file not found in $PATH");
    }
    {
      absl::MutexLock lock(&mu);
      execs.push_back(req.config());
    }
    engine::v1::ExecContainerResponse r;
    r.mutable_started()->set_exec_id("e1");
    s->Write(r);
    if (req.config().detach()) return Status::OK;
    engine::v1::ExecContainerResponse o;
    o.mutable_output()->set_stream(engine::v1::STD_STREAM_STDOUT);
    o.mutable_output()->set_data("exec output\n");
    s->Write(o);
    engine::v1::ExecContainerResponse e;
    e.mutable_exit()->set_exit_code(exit_code);
    s->Write(e);
    return Status::OK;
  }

  Status List(Ctx*, const engine::v1::ListContainersRequest* req,
              engine::v1::ListContainersResponse* resp) override {
    {
      absl::MutexLock lock(&mu);
      lists.push_back(*req);
    }
    auto* web = resp->add_containers();
    web->set_id(IdFor("web"));
    web->set_name("web");
    web->set_image("busybox");
    web->set_command("httpd -f");
    web->mutable_created()->set_seconds(absl::ToUnixSeconds(absl::Now()) - 3600);
    web->set_state(engine::v1::CONTAINER_STATUS_RUNNING);
    web->set_status("Up About an hour");
    if (req->all()) {
      auto* db = resp->add_containers();
      db->set_id(IdFor("db"));
      db->set_name("db");
      db->set_image("busybox:1.36");
      db->set_command("true");
      db->mutable_created()->set_seconds(absl::ToUnixSeconds(absl::Now()) - 7200);
      db->set_state(engine::v1::CONTAINER_STATUS_EXITED);
      db->set_status("Exited (7) 2 hours ago");
    }
    return Status::OK;
  }

  Status Inspect(Ctx*, const engine::v1::InspectContainerRequest* req,
                 engine::v1::InspectContainerResponse* resp) override {
    if (!Known(req->id())) return NoSuch(req->id());
    auto* c = resp->mutable_container();
    const bool web = req->id() == "web" || req->id() == IdFor("web");
    c->set_id(web ? IdFor("web") : IdFor("db"));
    c->set_name(web ? "web" : "db");
    c->set_path("httpd");
    c->add_args("-f");
    c->mutable_state()->set_status(web ? engine::v1::CONTAINER_STATUS_RUNNING
                                       : engine::v1::CONTAINER_STATUS_EXITED);
    c->mutable_state()->set_running(web);
    c->mutable_state()->set_pid(web ? 4242 : 0);
    c->mutable_state()->set_exit_code(web ? 0 : 7);
    c->mutable_config()->set_image("busybox");
    c->mutable_config()->set_open_stdin(true);
    return Status::OK;
  }

  Status Logs(Ctx*, const engine::v1::ContainerLogsRequest* req,
              ::grpc::ServerWriter<engine::v1::ContainerLogsResponse>* w) override {
    if (Status st = Record(req->id(), logs, *req); !st.ok()) return st;
    auto entry = [&](engine::v1::StdStream st, const std::string& data, int64_t secs,
                     bool partial) {
      engine::v1::ContainerLogsResponse e;
      e.set_stream(st);
      e.set_data(data);
      e.mutable_timestamp()->set_seconds(secs);
      e.set_partial(partial);
      (*e.mutable_attributes())["tag"] = "x";
      w->Write(e);
    };
    entry(engine::v1::STD_STREAM_STDOUT, "line one\n", 1700000000, false);
    entry(engine::v1::STD_STREAM_STDERR, "warn\n", 1700000001, false);
    entry(engine::v1::STD_STREAM_STDOUT, "long ", 1700000002, true);
    entry(engine::v1::STD_STREAM_STDOUT, "line\n", 1700000002, false);
    return Status::OK;
  }

  Status Stats(Ctx*, const engine::v1::ContainerStatsRequest* req,
               ::grpc::ServerWriter<engine::v1::ContainerStatsResponse>* w) override {
    if (!Known(req->id())) return NoSuch(req->id());
    engine::v1::ContainerStatsResponse r;
    auto* s = r.mutable_stats();
    s->set_id(IdFor("web"));
    s->set_name("web");
    s->mutable_cpu()->set_total_usage_ns(2000);
    s->mutable_cpu()->set_system_usage_ns(20000);
    s->mutable_cpu()->set_online_cpus(1);
    s->mutable_precpu()->set_total_usage_ns(1000);
    s->mutable_precpu()->set_system_usage_ns(10000);
    s->mutable_memory()->set_usage(1 << 20);
    s->mutable_memory()->set_limit(1 << 30);
    s->mutable_pids()->set_current(2);
    w->Write(r);
    return Status::OK;
  }

  Status Top(Ctx*, const engine::v1::ContainerTopRequest* req,
             engine::v1::ContainerTopResponse* resp) override {
    if (!Known(req->id())) return NoSuch(req->id());
    resp->add_titles("PID");
    resp->add_titles("CMD");
    auto* p = resp->add_processes();
    p->add_values("4242");
    p->add_values(req->ps_args().empty() ? "httpd -f" : "args=" + req->ps_args());
    return Status::OK;
  }

  Status Prune(Ctx*, const engine::v1::PruneContainersRequest* req,
               engine::v1::PruneContainersResponse* resp) override {
    resp->add_deleted_ids(IdFor("db"));
    resp->set_space_reclaimed(12000);
    return Status::OK;
  }

 private:
  // Polls `cond` (under mu) until it holds, the call is cancelled or 20s pass, so a handler
  // never outlives its client by long.
  bool AwaitOrCancelled(Ctx* ctx, const std::function<bool()>& cond) {
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (absl::Now() < deadline && !ctx->IsCancelled()) {
      {
        absl::MutexLock lock(&mu);
        if (cond()) return true;
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
    return false;
  }

  bool started_ ABSL_GUARDED_BY(mu) = false;
  bool exited_ ABSL_GUARDED_BY(mu) = false;
  int final_code_ ABSL_GUARDED_BY(mu) = 0;
};

}  // namespace berth::cli::testing
