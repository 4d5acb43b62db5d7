// Attach and Exec of berth.engine.v1.Containers: bidirectional relays between the client's call
// and berth-containerd's Tasks.Attach of the container's (or exec's) process. The berthd side is
// a QueuedBidiReactor; the berth-containerd side is a synchronous client stream whose reads run
// on an executor thread. Shared state lives in a Relay that outlives both.
#include <signal.h>

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "common/grpc/status_mapping.h"
#include "common/grpc/stream_queue.h"
#include "engine/containers/containers_service.h"
#include "engine/oci/capabilities.h"
#include "engine/oci/user.h"
#include "glog/logging.h"

namespace berth::engine::containers {
namespace {

namespace cd = ::berth::containerd;
namespace types = ::berth::types::v1;
using grpc_util::FromGrpcStatus;
using grpc_util::Outlet;
using TaskStream = ::grpc::ClientReaderWriter<cd::tasks::v1::AttachRequest,
                                              cd::tasks::v1::AttachResponse>;

// "ctrl-p,ctrl-q" -> {0x10, 0x11}; letters, "@", "[", "\\", "]", "^", "_" after "ctrl-", or
// single characters. InvalidArgument otherwise (Docker's rules).
absl::StatusOr<std::string> ParseDetachKeys(const std::string& spec) {
  std::string keys = spec.empty() ? "ctrl-p,ctrl-q" : spec;
  std::string out;
  for (absl::string_view k : absl::StrSplit(keys, ',')) {
    std::string key = absl::AsciiStrToLower(k);
    if (key.size() == 1) {
      out.push_back(key[0]);
    } else if (absl::StartsWith(key, "ctrl-") && key.size() == 6) {
      char c = key[5];
      if (c >= 'a' && c <= 'z') {
        out.push_back(static_cast<char>(c - 'a' + 1));
      } else if (c == '@' || c == '[' || c == '\\' || c == ']' || c == '^' || c == '_') {
        out.push_back(static_cast<char>(c == '@' ? 0 : c - '@'));
      } else {
        return absl::InvalidArgumentError(absl::StrCat("Unknown character: '", key, "'"));
      }
    } else {
      return absl::InvalidArgumentError(absl::StrCat("Unknown character: '", key, "'"));
    }
  }
  return out;
}

// Finds the detach sequence in stdin; bytes that may start it are held back until it is clear
// whether they do.
class DetachScanner {
 public:
  explicit DetachScanner(std::string seq) : seq_(std::move(seq)) {}
  // Returns the bytes to forward; sets *detach when the sequence was typed.
  std::string Feed(absl::string_view in, bool* detach) {
    std::string out;
    for (char c : in) {
      if (!seq_.empty() && c == seq_[held_.size()]) {
        held_.push_back(c);
        if (held_.size() == seq_.size()) {
          *detach = true;
          return out;
        }
        continue;
      }
      out += held_;
      held_.clear();
      if (!seq_.empty() && c == seq_[0]) {
        held_.push_back(c);
      } else {
        out.push_back(c);
      }
    }
    return out;
  }

 private:
  std::string seq_;
  std::string held_;
};

ev1::StdStream ToStdStream(types::StdioStream s) {
  return s == types::STDIO_STREAM_STDERR ? ev1::STD_STREAM_STDERR : ev1::STD_STREAM_STDOUT;
}

// The berth-containerd side of one relay.
class TaskRelay {
 public:
  explicit TaskRelay(containerd_client::Client* c) : client_(c) {}

  // Opens Tasks.Attach and waits for `attached`; later writes go straight to the stream.
  absl::Status Open(const std::string& container_id, const std::string& exec_id,
                    const std::vector<types::StdioStream>& streams) {
    absl::MutexLock lock(&mu_);
    if (cancelled_) return absl::CancelledError("client went away");
    ctx_ = client_->Context(absl::InfiniteDuration());
    stream_ = client_->tasks().Attach(ctx_.get());
    cd::tasks::v1::AttachRequest start;
    start.mutable_start()->set_container_id(container_id);
    start.mutable_start()->set_exec_id(exec_id);
    for (auto s : streams) start.mutable_start()->add_streams(s);
    cd::tasks::v1::AttachResponse first;
    if (!stream_->Write(start) || !stream_->Read(&first) || !first.has_attached()) {
      ctx_->TryCancel();
      absl::Status s = FromGrpcStatus(stream_->Finish());
      stream_.reset();
      return s.ok() ? absl::InternalError("attach ended before it was confirmed") : s;
    }
    for (auto& f : pending_) stream_->Write(f);
    pending_.clear();
    return absl::OkStatus();
  }

  // Client frames: queued until the stream is open.
  void Write(const cd::tasks::v1::AttachRequest& f) {
    absl::MutexLock lock(&mu_);
    if (cancelled_ || finished_) return;
    if (!stream_) {
      pending_.push_back(f);
      return;
    }
    stream_->Write(f);
  }

  // Reads output until the process exits or the call breaks; forwards to `out`.
  template <typename Resp, typename MakeOutput, typename MakeExit>
  void Pump(const Outlet<Resp>& out, MakeOutput make_output, MakeExit make_exit) {
    cd::tasks::v1::AttachResponse msg;
    bool exited = false;
    while (stream_->Read(&msg)) {
      if (msg.has_output()) {
        if (!out.Send(make_output(msg.output()))) break;
      } else if (msg.has_exit()) {
        exited = true;
        out.Send(make_exit(msg.exit()));
      }
    }
    absl::Status s;
    {
      absl::MutexLock lock(&mu_);
      finished_ = true;
      if (!exited) ctx_->TryCancel();
    }
    s = FromGrpcStatus(stream_->Finish());
    out.Close(exited || s.code() == absl::StatusCode::kCancelled ? absl::OkStatus() : s);
  }

  void Cancel() {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    if (ctx_) ctx_->TryCancel();
  }
  bool open() {
    absl::MutexLock lock(&mu_);
    return stream_ != nullptr;
  }

 private:
  containerd_client::Client* const client_;
  absl::Mutex mu_;
  std::unique_ptr<::grpc::ClientContext> ctx_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<TaskStream> stream_;  // set under mu_, then read by the pump only
  std::vector<cd::tasks::v1::AttachRequest> pending_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

ev1::ExitStatus ToExit(const types::ProcessExit& e) {
  ev1::ExitStatus x;
  x.set_exit_code(static_cast<int32_t>(e.exit_status()));
  *x.mutable_exited_at() = e.exited_at();
  return x;
}

// Handles stdin/resize/close frames common to Attach and Exec: returns false after a detach.
template <typename Req, typename Resp, typename MakeDetached>
bool ForwardClientFrame(const Req& req, TaskRelay& relay, DetachScanner& detach,
                        const Outlet<Resp>& out, MakeDetached make_detached) {
  cd::tasks::v1::AttachRequest f;
  if (req.has_resize()) {
    f.mutable_resize()->set_width(req.resize().width());
    f.mutable_resize()->set_height(req.resize().height());
    relay.Write(f);
  } else if (req.has_close_stdin()) {
    f.mutable_close_stdin();
    relay.Write(f);
  } else if (!req.stdin().empty()) {
    bool detached = false;
    std::string data = detach.Feed(req.stdin(), &detached);
    if (!data.empty()) {
      f.set_stdin(data);
      relay.Write(f);
    }
    if (detached) {
      out.Send(make_detached());
      out.Close(absl::OkStatus());
      relay.Cancel();
      return false;
    }
  }
  return true;
}

class AttachReactor final : public grpc_util::QueuedBidiReactor<ev1::AttachContainerRequest,
                                                                ev1::AttachContainerResponse> {
 public:
  explicit AttachReactor(ContainerManager* m)
      : m_(m), relay_(std::make_shared<TaskRelay>(&m->containerd())), detach_("") {
    StartReading();
  }

 private:
  bool OnMessage(const ev1::AttachContainerRequest& req) override {
    Outlet<ev1::AttachContainerResponse> out = outlet();
    if (!started_) {
      started_ = true;
      if (!req.has_options()) {
        out.Close(absl::InvalidArgumentError("the first attach message must be options"));
        return false;
      }
      return Begin(req.options());
    }
    if (!req.stdin().empty() && !stdin_) return true;  // stdin not attached: dropped
    return ForwardClientFrame(req, *relay_, detach_, out, [] {
      ev1::AttachContainerResponse r;
      r.mutable_detached();
      return r;
    });
  }

  bool Begin(const ev1::AttachOptions& o) {
    Outlet<ev1::AttachContainerResponse> out = outlet();
    absl::StatusOr<std::string> keys = ParseDetachKeys(o.detach_keys());
    if (!keys.ok()) return out.Close(keys.status()), false;
    detach_ = DetachScanner(*keys);
    absl::StatusOr<std::string> id = m_->ResolveId(o.id());
    if (!id.ok()) return out.Close(id.status()), false;
    absl::StatusOr<ContainerRecord> rec = m_->Record(*id);
    if (!rec.ok()) return out.Close(rec.status()), false;
    if (o.logs()) {
      out.Close(absl::UnimplementedError("attach --logs: use `berth logs` instead"));
      return false;
    }
    const auto status = rec->container().state().status();
    // An exited container may be attached to: the attachment waits for its next start, which
    // is how `start -a` of a stopped container works (like dockerd; the "cannot attach to a
    // stopped container" refusal of `berth attach` is the CLI's, as in Docker's).
    if (status == ev1::CONTAINER_STATUS_DEAD) {
      out.Close(absl::FailedPreconditionError(
          "You cannot attach to a stopped container, start it first"));
      return false;
    }
    if (status == ev1::CONTAINER_STATUS_PAUSED) {
      out.Close(absl::FailedPreconditionError(
          "You cannot attach to a paused container, unpause it first"));
      return false;
    }
    stdin_ = o.stdin() && rec->container().config().open_stdin();
    std::vector<types::StdioStream> streams;
    const bool none = !o.stdin() && !o.stdout() && !o.stderr();
    if (stdin_) streams.push_back(types::STDIO_STREAM_STDIN);
    if (o.stdout() || none) streams.push_back(types::STDIO_STREAM_STDOUT);
    if (o.stderr() || none) streams.push_back(types::STDIO_STREAM_STDERR);

    std::shared_ptr<TaskRelay> relay = relay_;
    const std::string cid = *id;
    auto attach_and_pump = [relay, out, cid, streams, m = m_](bool from_hook) {
      absl::Status s = relay->Open(cid, "", streams);
      if (!s.ok()) return out.Close(s);
      if (!from_hook) {  // a hook's client was told `attached` when it registered
        ev1::AttachContainerResponse attached;
        attached.mutable_attached();
        out.Send(attached);
      }
      auto pump = [relay, out] {
        relay->Pump(
            out,
            [](const types::OutputChunk& c) {
              ev1::AttachContainerResponse r;
              r.mutable_output()->set_stream(ToStdStream(c.stream()));
              r.mutable_output()->set_data(c.data());
              return r;
            },
            [](const types::ProcessExit& e) {
              ev1::AttachContainerResponse r;
              *r.mutable_exit() = ToExit(e);
              return r;
            });
      };
      if (from_hook) {
        if (!m->executor().Run(pump)) out.Close(absl::UnavailableError("shutting down"));
      } else {
        pump();
      }
    };
    // Before its start, a container has no task: connect when the start creates it, so the
    // client sees the very first output (`berth run`).
    uint64_t token = 0;
    if (m_->AddStartHook(cid, [attach_and_pump] { attach_and_pump(true); }, &token)) {
      hook_token_ = token;
      hook_id_ = cid;
      ev1::AttachContainerResponse waiting;
      waiting.mutable_attached();
      out.Send(waiting);  // the attachment is in place: Start may be called now
      return true;
    }
    if (!m_->executor().Run([attach_and_pump] { attach_and_pump(false); })) {
      out.Close(absl::UnavailableError("berthd is shutting down"));
      return false;
    }
    return true;
  }

  void OnClientDone() override {
    // Half-close means close_stdin (the proto's rule), then keep streaming output.
    if (stdin_) {
      cd::tasks::v1::AttachRequest f;
      f.mutable_close_stdin();
      relay_->Write(f);
    }
  }

  void OnFinished() override {
    if (hook_token_ != 0) m_->RemoveStartHook(hook_id_, hook_token_);
    relay_->Cancel();
  }

  ContainerManager* const m_;
  std::shared_ptr<TaskRelay> relay_;
  DetachScanner detach_;
  bool started_ = false;
  bool stdin_ = false;
  uint64_t hook_token_ = 0;
  std::string hook_id_;
};

class ExecReactor final : public grpc_util::QueuedBidiReactor<ev1::ExecContainerRequest,
                                                              ev1::ExecContainerResponse> {
 public:
  explicit ExecReactor(ContainerManager* m)
      : m_(m), relay_(std::make_shared<TaskRelay>(&m->containerd())), detach_("") {
    StartReading();
  }

 private:
  bool OnMessage(const ev1::ExecContainerRequest& req) override {
    Outlet<ev1::ExecContainerResponse> out = outlet();
    if (!started_) {
      started_ = true;
      if (!req.has_config()) {
        out.Close(absl::InvalidArgumentError("the first exec message must be its config"));
        return false;
      }
      absl::StatusOr<std::string> keys = ParseDetachKeys(req.config().detach_keys());
      if (!keys.ok()) return out.Close(keys.status()), false;
      detach_ = DetachScanner(*keys);
      stdin_ = req.config().stdin();
      std::shared_ptr<TaskRelay> relay = relay_;
      ContainerManager* m = m_;
      const ev1::ExecConfig config = req.config();
      if (!m_->executor().Run([m, relay, out, config] { Run(m, relay, out, config); })) {
        out.Close(absl::UnavailableError("berthd is shutting down"));
        return false;
      }
      return true;
    }
    if (!req.stdin().empty() && !stdin_) return true;
    return ForwardClientFrame(req, *relay_, detach_, out, [] {
      ev1::ExecContainerResponse r;
      r.mutable_detached();
      return r;
    });
  }

  static void Run(ContainerManager* m, std::shared_ptr<TaskRelay> relay,
                  Outlet<ev1::ExecContainerResponse> out, const ev1::ExecConfig& config) {
    absl::StatusOr<std::string> id = m->ResolveId(config.id());
    if (!id.ok()) return out.Close(id.status());
    absl::StatusOr<std::string> exec_id = m->NewExec(*id, config);
    if (!exec_id.ok()) return out.Close(exec_id.status());
    absl::StatusOr<std::string> spec = ProcessSpec(m, *id, config);
    if (!spec.ok()) {
      m->ExecExited(*id, *exec_id, 126);
      return out.Close(spec.status());
    }
    cd::tasks::v1::ExecRequest er;
    er.set_container_id(*id);
    er.set_exec_id(*exec_id);
    er.set_spec(*spec);
    er.set_terminal(config.tty());
    er.set_stdin_mode(config.stdin() ? types::STDIN_MODE_ONCE : types::STDIN_MODE_NULL);
    cd::tasks::v1::ExecResponse eresp;
    auto& tasks = m->containerd().tasks();
    absl::Status s = FromGrpcStatus(tasks.Exec(m->containerd().Context().get(), er, &eresp));
    if (!s.ok()) {
      m->ExecExited(*id, *exec_id, 126);
      return out.Close(s);
    }
    auto forget = [m, cid = *id, eid = *exec_id] {
      cd::tasks::v1::DeleteProcessRequest d;
      d.set_container_id(cid);
      d.set_exec_id(eid);
      cd::tasks::v1::DeleteProcessResponse dr;
      (void)m->containerd().tasks().DeleteProcess(m->containerd().Context().get(), d, &dr);
    };
    if (!config.detach()) {
      std::vector<types::StdioStream> streams = {types::STDIO_STREAM_STDOUT,
                                                 types::STDIO_STREAM_STDERR};
      if (config.stdin()) streams.push_back(types::STDIO_STREAM_STDIN);
      s = relay->Open(*id, *exec_id, streams);
      if (!s.ok()) {
        forget();
        return out.Close(s);
      }
      if (config.tty() && config.console_size().width() > 0) {
        cd::tasks::v1::AttachRequest f;
        f.mutable_resize()->set_width(config.console_size().width());
        f.mutable_resize()->set_height(config.console_size().height());
        relay->Write(f);
      }
    }
    cd::tasks::v1::StartRequest sr;
    sr.set_container_id(*id);
    sr.set_exec_id(*exec_id);
    cd::tasks::v1::StartResponse sresp;
    s = FromGrpcStatus(tasks.Start(m->containerd().Context().get(), sr, &sresp));
    if (!s.ok()) {
      relay->Cancel();
      forget();
      m->ExecExited(*id, *exec_id, absl::StrContains(s.message(), "not found") ? 127 : 126);
      return out.Close(s);
    }
    m->ExecStarted(*id, *exec_id, static_cast<int>(sresp.pid()));
    ev1::ExecContainerResponse started;
    started.mutable_started()->set_exec_id(*exec_id);
    started.mutable_started()->set_pid(static_cast<int32_t>(sresp.pid()));
    out.Send(started);
    if (config.detach()) return out.Close(absl::OkStatus());
    relay->Pump(
        out,
        [](const types::OutputChunk& c) {
          ev1::ExecContainerResponse r;
          r.mutable_output()->set_stream(ToStdStream(c.stream()));
          r.mutable_output()->set_data(c.data());
          return r;
        },
        [m, cid = *id, eid = *exec_id, forget](const types::ProcessExit& e) {
          m->ExecExited(cid, eid, static_cast<int>(e.exit_status()));
          forget();
          ev1::ExecContainerResponse r;
          *r.mutable_exit() = ToExit(e);
          return r;
        });
  }

  // The exec's OCI `process`: the container's, with the exec's command, env, dir and user.
  static absl::StatusOr<std::string> ProcessSpec(ContainerManager* m, const std::string& id,
                                                 const ev1::ExecConfig& config) {
    cd::containers::v1::GetRequest g;
    g.set_id(id);
    cd::containers::v1::GetResponse gr;
    absl::Status s = FromGrpcStatus(
        m->containerd().containers().Get(m->containerd().Context().get(), g, &gr));
    if (!s.ok()) return s;
    nlohmann::json spec = nlohmann::json::parse(gr.container().spec(), nullptr, false);
    if (spec.is_discarded() || !spec["process"].is_object()) {
      return absl::InternalError("container spec has no process");
    }
    nlohmann::json p = spec["process"];
    p["args"] = std::vector<std::string>(config.cmd().begin(), config.cmd().end());
    p["terminal"] = config.tty();
    if (config.tty() && config.console_size().width() > 0) {
      p["consoleSize"] = {{"width", config.console_size().width()},
                          {"height", config.console_size().height()}};
    } else {
      p.erase("consoleSize");
    }
    std::vector<std::string> env = p.value("env", std::vector<std::string>{});
    for (const std::string& e : config.env()) {
      const std::string key = e.substr(0, e.find('='));
      env.erase(std::remove_if(env.begin(), env.end(),
                               [&](const std::string& x) {
                                 return x.substr(0, x.find('=')) == key;
                               }),
                env.end());
      env.push_back(e);
    }
    p["env"] = env;
    if (!config.working_dir().empty()) p["cwd"] = config.working_dir();
    if (!config.user().empty()) {
      absl::StatusOr<ContainerRecord> rec = m->Record(id);
      if (!rec.ok()) return rec.status();
      // The running container's root, seen through its init process.
      const std::string rootfs = absl::StrCat("/proc/", rec->container().state().pid(), "/root");
      absl::StatusOr<oci::ExecUser> u = oci::ResolveUser(rootfs, config.user(), {});
      if (!u.ok()) return u.status();
      p["user"] = {{"uid", u->uid}, {"gid", u->gid}, {"additionalGids", u->additional_gids}};
    }
    if (config.privileged()) {
      nlohmann::json all = oci::AllCapabilityNames();
      p["capabilities"] = {{"bounding", all}, {"effective", all}, {"permitted", all}};
    }
    return p.dump();
  }

  void OnClientDone() override {
    if (stdin_) {
      cd::tasks::v1::AttachRequest f;
      f.mutable_close_stdin();
      relay_->Write(f);
    }
  }
  void OnFinished() override { relay_->Cancel(); }

  ContainerManager* const m_;
  std::shared_ptr<TaskRelay> relay_;
  DetachScanner detach_;
  bool started_ = false;
  bool stdin_ = false;
};

}  // namespace

::grpc::ServerBidiReactor<ev1::AttachContainerRequest, ev1::AttachContainerResponse>*
ContainersService::Attach(::grpc::CallbackServerContext*) {
  return new AttachReactor(manager_);
}

::grpc::ServerBidiReactor<ev1::ExecContainerRequest, ev1::ExecContainerResponse>*
ContainersService::Exec(::grpc::CallbackServerContext*) {
  return new ExecReactor(manager_);
}

}  // namespace berth::engine::containers
