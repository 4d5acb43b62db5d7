// ContainerManager, part two: what happens when a container's task exits (exit records,
// waiters, restart policies with backoff, auto-remove) and how berthd catches up with
// berth-containerd (reconciliation, the event monitor).
#include <signal.h>

#include "absl/strings/str_cat.h"
#include "berth/containerd/events/v1/payloads.pb.h"
#include "common/grpc/status_mapping.h"
#include "common/status/status_macros.h"
#include "engine/containers/manager.h"
#include "engine/containers/manager_internal.h"
#include "glog/logging.h"

namespace berth::engine::containers {

namespace cd = ::berth::containerd;
namespace types = ::berth::types::v1;
using grpc_util::FromGrpcStatus;
using internal::FromTs;
using internal::IsRunning;
using internal::SetStatus;
using internal::ShortId;
using internal::Ts;

// ---------------------------------------------------------------------------------------------
// Exits, waits, restart policies

void ContainerManager::HandleExit(const std::string& id) {
  auto lock = LockFor(id);
  absl::MutexLock l(lock.get());
  HandleExitLocked(id, /*apply_policy=*/true);
}

void ContainerManager::HandleExitLocked(const std::string& id, bool apply_policy) {
  absl::StatusOr<ContainerRecord> r = store_->Get(id);
  if (!r.ok()) return;
  cd::tasks::v1::DeleteRequest d;
  d.set_container_id(id);
  cd::tasks::v1::DeleteResponse dr;
  ::grpc::Status st = containerd_->tasks().Delete(Ctx().get(), d, &dr);
  ev1::ExitStatus exit;
  if (st.ok()) {
    exit.set_exit_code(static_cast<int32_t>(dr.exit_status()));
    *exit.mutable_exited_at() = dr.has_exited_at() ? dr.exited_at() : Ts(absl::Now());
  } else if (st.error_code() == ::grpc::StatusCode::NOT_FOUND) {
    if (!IsRunning(r->container().state())) return;  // already handled
    // The task vanished (berth-containerd lost it): report it as Docker reports a lost task.
    exit.set_exit_code(255);
    *exit.mutable_exited_at() = Ts(absl::Now());
  } else {
    // FailedPrecondition: still running (a stale event) or containerd unreachable: the next
    // reconciliation catches up.
    VLOG(1) << "exit not handled id=" << ShortId(id) << " error=" << st.error_message();
    return;
  }
  bool oom = false;
  {
    absl::MutexLock ml(&mu_);
    oom = oom_.erase(id) > 0;
  }
  bool restart = false;
  absl::Duration delay;
  (void)store_->Update(id, [&](ContainerRecord& rec) {
    auto* s = rec.mutable_container()->mutable_state();
    SetStatus(s, ev1::CONTAINER_STATUS_EXITED);
    s->set_pid(0);
    s->set_exit_code(exit.exit_code());
    *s->mutable_finished_at() = exit.exited_at();
    s->set_oom_killed(oom);
    rec.clear_execs();
    if (apply_policy && !rec.container().host_config().auto_remove() &&
        ShouldRestart(rec, exit.exit_code())) {
      restart = true;
      SetStatus(s, ev1::CONTAINER_STATUS_RESTARTING);
      absl::MutexLock ml(&mu_);
      RestartState& rs = restarts_[id];
      const absl::Duration ran = FromTs(s->finished_at()) - FromTs(s->started_at());
      if (rs.next_delay == absl::ZeroDuration() || ran >= options_.restart_reset_after) {
        rs.next_delay = options_.restart_backoff_initial;
      } else {
        rs.next_delay = std::min(rs.next_delay * 2, options_.restart_backoff_max);
      }
      delay = rs.next_delay;
      rec.mutable_container()->set_restart_count(rec.container().restart_count() + 1);
    }
    return absl::OkStatus();
  });
  if (oom) Emit("oom", id);
  Emit("die", id, {{"exitCode", absl::StrCat(exit.exit_code())}});
  LOG(INFO) << "container exited id=" << ShortId(id) << " code=" << exit.exit_code()
            << (oom ? " oom=true" : "") << (restart ? " restarting_in=" : "")
            << (restart ? absl::FormatDuration(delay) : "");
  NotifyWaiters(id, exit, /*removed=*/false);
  if (r->container().host_config().auto_remove()) {
    absl::Status s = RemoveLocked(id, /*force=*/true, /*task_deleted=*/true);
    if (!s.ok()) LOG(WARNING) << "auto-remove id=" << ShortId(id) << " error=" << s.message();
    ev1::ExitStatus gone = exit;
    if (!s.ok()) gone.set_error(std::string(s.message()));
    NotifyWaiters(id, gone, /*removed=*/true);
  } else if (restart) {
    ScheduleRestart(id, delay);
  }
}

bool ContainerManager::ShouldRestart(const ContainerRecord& r, int exit_code) {
  if (r.manually_stopped()) return false;
  const auto& p = r.container().host_config().restart_policy();
  switch (p.name()) {
    case ev1::RESTART_POLICY_NAME_ALWAYS:
    case ev1::RESTART_POLICY_NAME_UNLESS_STOPPED:
      return true;
    case ev1::RESTART_POLICY_NAME_ON_FAILURE:
      return exit_code != 0 && (p.maximum_retry_count() == 0 ||
                                r.container().restart_count() < p.maximum_retry_count());
    default:
      return false;
  }
}

void ContainerManager::ScheduleRestart(const std::string& id, absl::Duration delay) {
  executor_.Run([this, id, delay] {
    absl::Time deadline = absl::Now() + delay;
    {
      absl::MutexLock ml(&mu_);
      auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
      mu_.AwaitWithDeadline(absl::Condition(&stopping), deadline);
      if (stopping_) return;
    }
    auto lock = LockFor(id);
    absl::MutexLock l(lock.get());
    absl::StatusOr<ContainerRecord> r = store_->Get(id);
    if (!r.ok() || r->container().state().status() != ev1::CONTAINER_STATUS_RESTARTING ||
        r->manually_stopped()) {
      return;
    }
    absl::Status s = StartLocked(id, /*by_policy=*/true);
    if (!s.ok()) {
      LOG(WARNING) << "restart failed id=" << ShortId(id) << " error=\"" << s.message() << "\"";
      // Try again with the next backoff step, as if it had exited at once.
      absl::Duration next;
      {
        absl::MutexLock ml(&mu_);
        RestartState& rs = restarts_[id];
        rs.next_delay = std::min(std::max(rs.next_delay * 2, options_.restart_backoff_initial),
                                 options_.restart_backoff_max);
        next = rs.next_delay;
      }
      (void)store_->Update(id, [](ContainerRecord& rec) {
        SetStatus(rec.mutable_container()->mutable_state(), ev1::CONTAINER_STATUS_RESTARTING);
        return absl::OkStatus();
      });
      ScheduleRestart(id, next);
    }
  });
}

void ContainerManager::NotifyWaiters(const std::string& id, const ev1::ExitStatus& exit,
                                     bool removed) {
  std::vector<Waiter> ready;
  {
    absl::MutexLock ml(&mu_);
    auto it = waiters_.find(id);
    if (it == waiters_.end()) return;
    auto& list = it->second;
    for (auto w = list.begin(); w != list.end();) {
      if (removed || w->condition != ev1::WAIT_CONDITION_REMOVED) {
        ready.push_back(std::move(*w));
        w = list.erase(w);
      } else {
        ++w;
      }
    }
    if (list.empty()) waiters_.erase(it);
  }
  for (auto& w : ready) w.done(exit);
}

absl::Status ContainerManager::WaitFor(
    const std::string& ref, ev1::WaitCondition condition,
    std::function<void(absl::StatusOr<ev1::ExitStatus>)> done) {
  BERTH_ASSIGN_OR_RETURN(std::string id, store_->Resolve(ref));
  BERTH_ASSIGN_OR_RETURN(ContainerRecord r, store_->Get(id));
  if (condition == ev1::WAIT_CONDITION_UNSPECIFIED) condition = ev1::WAIT_CONDITION_NOT_RUNNING;
  const auto status = r.container().state().status();
  if (condition == ev1::WAIT_CONDITION_NOT_RUNNING && status != ev1::CONTAINER_STATUS_RUNNING &&
      status != ev1::CONTAINER_STATUS_PAUSED && status != ev1::CONTAINER_STATUS_RESTARTING) {
    ev1::ExitStatus exit;
    exit.set_exit_code(r.container().state().exit_code());
    if (r.container().state().has_finished_at()) {
      *exit.mutable_exited_at() = r.container().state().finished_at();
    }
    done(exit);
    return absl::OkStatus();
  }
  absl::MutexLock ml(&mu_);
  waiters_[id].push_back(Waiter{condition, std::move(done)});
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Reconciliation and events

absl::Status ContainerManager::Reconcile(bool at_start) {
  for (const ContainerRecord& r : store_->List()) {
    const std::string& id = r.container().id();
    cd::tasks::v1::GetRequest g;
    g.set_container_id(id);
    cd::tasks::v1::GetResponse gr;
    ::grpc::Status st = containerd_->tasks().Get(Ctx(absl::Seconds(10)).get(), g, &gr);
    if (st.error_code() == ::grpc::StatusCode::UNAVAILABLE ||
        st.error_code() == ::grpc::StatusCode::DEADLINE_EXCEEDED) {
      return Annotate(FromGrpcStatus(st), "reach berth-containerd");
    }
    const auto status = r.container().state().status();
    if (st.ok()) {
      const auto ps = gr.process().status();
      if (ps == types::PROCESS_STATUS_STOPPED) {
        HandleExit(id);  // exited while berthd was away
      } else if (ps == types::PROCESS_STATUS_RUNNING || ps == types::PROCESS_STATUS_PAUSED) {
        (void)store_->Update(id, [&](ContainerRecord& rec) {
          auto* s = rec.mutable_container()->mutable_state();
          SetStatus(s, ps == types::PROCESS_STATUS_PAUSED ? ev1::CONTAINER_STATUS_PAUSED
                                                          : ev1::CONTAINER_STATUS_RUNNING);
          s->set_pid(static_cast<int32_t>(gr.process().pid()));
          return absl::OkStatus();
        });
      }
      continue;
    }
    if (st.error_code() != ::grpc::StatusCode::NOT_FOUND) continue;
    bool start = false;
    {
      auto lock = LockFor(id);
      absl::MutexLock l(lock.get());
      if (status == ev1::CONTAINER_STATUS_RUNNING || status == ev1::CONTAINER_STATUS_PAUSED ||
          status == ev1::CONTAINER_STATUS_RESTARTING) {
        HandleExitLocked(id, /*apply_policy=*/false);  // lost task: exit 255
      }
      if (status == ev1::CONTAINER_STATUS_REMOVING) {
        (void)RemoveLocked(id, true);  // finish an interrupted removal
        continue;
      }
      // Daemon start: Docker restarts `always` containers even if the user stopped them,
      // `unless-stopped` unless the user did, `on-failure` after a failed exit.
      absl::StatusOr<ContainerRecord> now = store_->Get(id);
      if (at_start && now.ok() && now->has_been_started()) {
        const auto& p = now->container().host_config().restart_policy();
        const int code = now->container().state().exit_code();
        start = p.name() == ev1::RESTART_POLICY_NAME_ALWAYS ||
                (p.name() == ev1::RESTART_POLICY_NAME_UNLESS_STOPPED &&
                 !now->manually_stopped()) ||
                (p.name() == ev1::RESTART_POLICY_NAME_ON_FAILURE && !now->manually_stopped() &&
                 code != 0 &&
                 (p.maximum_retry_count() == 0 ||
                  now->container().restart_count() < p.maximum_retry_count()));
      }
      if (start) {
        absl::Status s = StartLocked(id, /*by_policy=*/true);
        if (!s.ok()) {
          LOG(WARNING) << "restart at daemon start failed id=" << ShortId(id) << " error=\""
                       << s.message() << "\"";
        }
      }
    }
  }
  return absl::OkStatus();
}

void ContainerManager::MonitorLoop() {
  absl::Duration backoff = absl::Milliseconds(100);
  for (;;) {
    ::grpc::ClientContext ctx;
    {
      absl::MutexLock ml(&mu_);
      if (stopping_) return;
      monitor_ctx_ = &ctx;
    }
    ctx.AddMetadata("berth-namespace", options_.ns);
    cd::events::v1::SubscribeRequest sub;
    sub.add_filters(absl::StrCat("namespace==", options_.ns, ",topic==\"/tasks/exit\""));
    sub.add_filters(absl::StrCat("namespace==", options_.ns, ",topic==\"/tasks/oom\""));
    auto reader = containerd_->events().Subscribe(&ctx, sub);
    // The headers arrive once the subscription is registered: only then is a reconciliation
    // guaranteed to see every exit that the stream will not.
    // Reconcile after every (re)subscription, the first included: exits that happened while
    // berthd or berth-containerd was down, or between two subscriptions, are found here.
    reader->WaitForInitialMetadata();
    if (absl::Status s = Reconcile(!first_reconcile_.HasBeenNotified()); s.ok()) {
      VLOG(1) << "containers reconciled with berth-containerd";
      if (!first_reconcile_.HasBeenNotified()) first_reconcile_.Notify();
    }
    cd::events::v1::SubscribeResponse ev;
    while (reader->Read(&ev)) {
      backoff = absl::Milliseconds(100);
      const auto& env = ev.envelope();
      if (env.topic() == "/tasks/oom") {
        cd::events::v1::TaskOOM oom;
        if (env.event().UnpackTo(&oom)) {
          absl::MutexLock ml(&mu_);
          oom_[oom.container_id()] = true;
        }
        continue;
      }
      cd::events::v1::TaskExit exit;
      if (!env.event().UnpackTo(&exit)) continue;
      if (!store_->Get(exit.container_id()).ok()) continue;  // not one of berthd's
      if (!exit.id().empty() && exit.id() != exit.container_id()) {
        ExecExited(exit.container_id(), exit.id(), static_cast<int>(exit.exit_status()));
        continue;
      }
      const std::string id = exit.container_id();
      executor_.Run([this, id] { HandleExit(id); });
    }
    ::grpc::Status st = reader->Finish();
    {
      absl::MutexLock ml(&mu_);
      monitor_ctx_ = nullptr;
      if (stopping_) return;
      auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
      mu_.AwaitWithTimeout(absl::Condition(&stopping), backoff);
      if (stopping_) return;
    }
    VLOG(1) << "event stream ended, resubscribing error=" << st.error_message();
    backoff = std::min(backoff * 2, absl::Seconds(2));
  }
}

}  // namespace berth::engine::containers
