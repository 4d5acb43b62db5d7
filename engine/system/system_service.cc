#include "engine/system/system_service.h"

#include <google/protobuf/util/time_util.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/grpc/stream_queue.h"
#include "common/version/version.h"
#include "glog/logging.h"

namespace berth::engine::system {
namespace {

namespace cdv = ::berth::containerd::version::v1;

// State of one outgoing Version call to berth-containerd; deletes itself when done.
struct ContainerdVersionCall {
  ::grpc::ClientContext ctx;
  cdv::VersionRequest req;
  cdv::VersionResponse resp;
};

// One Events call. The replay may block on a slow client (SendWait), and the stream must end
// when `until` passes even if no event comes, so a worker thread owned by the call subscribes
// and then waits for `until`; it is joined when the call is done.
class EventsReactor final : public grpc_util::QueuedWriteReactor<v1::Event> {
 public:
  EventsReactor(events::EventJournal* journal, const v1::EventsRequest& req) {
    if (journal == nullptr) {
      outlet().Close(absl::UnavailableError("berthd keeps no event journal"));
      return;
    }
    absl::StatusOr<events::EventFilter> filter = events::EventFilter::Parse(req.filters());
    if (!filter.ok()) {
      outlet().Close(filter.status());
      return;
    }
    events::SubscribeOptions o;
    o.filter = std::move(*filter);
    using google::protobuf::util::TimeUtil;
    if (req.has_since()) {
      o.since = absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(req.since()));
    }
    if (req.has_until()) {
      o.until = absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(req.until()));
    }
    if (o.since.has_value() && o.until.has_value() && *o.since > *o.until) {
      outlet().Close(absl::InvalidArgumentError("since must not be after until"));
      return;
    }
    VLOG(1) << "rpc=System.Events filters=" << req.filters_size()
            << " since=" << (o.since ? absl::FormatTime(*o.since) : "-")
            << " until=" << (o.until ? absl::FormatTime(*o.until) : "-");
    worker_ = std::thread([this, journal, o = std::move(o)] { Run(journal, o); });
  }

 private:
  void Run(events::EventJournal* journal, const events::SubscribeOptions& o) {
    grpc_util::Outlet<v1::Event> out = outlet();
    events::EventHandlers h;
    h.replay = [out](const events::Event& e) { return out.SendWait(events::ToProto(e)); };
    h.live = [out](const events::Event& e) { return out.Send(events::ToProto(e)); };
    h.end = [out](const absl::Status& s) { out.Close(s); };
    absl::StatusOr<std::unique_ptr<events::EventJournal::Subscription>> sub =
        journal->Subscribe(o, std::move(h));
    if (!sub.ok()) {
      out.Close(sub.status());
      return;
    }
    if (!o.until.has_value()) {
      // Live until the client goes away: OnFinished cancels the subscription.
      absl::MutexLock l(&mu_);
      sub_ = std::move(*sub);
      return;
    }
    // Events stamped up to `until` were delivered under the journal's lock before Cancel
    // returns, so none of them is cut off by the Close.
    call_done_.WaitForNotificationWithDeadline(*o.until);
    (*sub)->Cancel();
    out.Close(absl::OkStatus());
  }

  void OnFinished() override {
    call_done_.Notify();
    if (worker_.joinable()) worker_.join();
    absl::MutexLock l(&mu_);
    sub_.reset();
  }

  std::thread worker_;
  absl::Notification call_done_;
  absl::Mutex mu_;
  std::unique_ptr<events::EventJournal::Subscription> sub_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

SystemService::SystemService(Options options, std::shared_ptr<::grpc::Channel> containerd)
    : options_(std::move(options)),
      host_(ReadHostInfo()),
      containerd_(cdv::Version::NewStub(containerd)) {}

void SystemService::FillEngineVersion(v1::ComponentVersion* out) const {
  out->set_name("berthd");
  out->set_version(kVersion);
  out->set_api_version(kApiVersion);
}

void SystemService::FetchContainerdVersion(v1::ComponentVersion* out,
                                           std::function<void()> done) {
  out->set_name("berth-containerd");
  auto* call = new ContainerdVersionCall;
  call->ctx.set_deadline(absl::ToChronoTime(absl::Now() + options_.containerd_timeout));
  // Fail fast while berth-containerd is down instead of queueing until the deadline.
  call->ctx.set_wait_for_ready(false);
  containerd_->async()->Version(
      &call->ctx, &call->req, &call->resp,
      [this, call, out, done = std::move(done)](::grpc::Status st) {
        if (st.ok()) {
          out->set_version(call->resp.version());
          out->set_revision(call->resp.revision());
          out->set_api_version(call->resp.api_version());
        } else {
          out->set_error(absl::StrCat("cannot reach berth-containerd at ",
                                      options_.containerd_address, ": ", st.error_message()));
          VLOG(1) << "containerd version failed code=" << st.error_code()
                  << " msg=" << st.error_message();
        }
        delete call;
        done();
      });
}

::grpc::ServerUnaryReactor* SystemService::Ping(::grpc::CallbackServerContext* ctx,
                                                const v1::PingRequest*,
                                                v1::PingResponse* resp) {
  resp->set_api_version(kApiVersion);
  auto* reactor = ctx->DefaultReactor();
  reactor->Finish(::grpc::Status::OK);
  return reactor;
}

::grpc::ServerUnaryReactor* SystemService::Version(::grpc::CallbackServerContext* ctx,
                                                   const v1::VersionRequest*,
                                                   v1::VersionResponse* resp) {
  FillEngineVersion(resp->mutable_engine());
  resp->set_os(host_.os_type);
  resp->set_arch(host_.architecture);
  resp->set_kernel_version(host_.kernel_version);
  resp->set_build_info(absl::StrCat("gcc ", __VERSION__));
  // `runtime` stays unset until berthd runs containers and can ask the runtime itself (#5).
  auto* reactor = ctx->DefaultReactor();
  FetchContainerdVersion(resp->mutable_containerd(),
                         [reactor] { reactor->Finish(::grpc::Status::OK); });
  return reactor;
}

::grpc::ServerUnaryReactor* SystemService::Info(::grpc::CallbackServerContext* ctx,
                                                const v1::InfoRequest*,
                                                v1::InfoResponse* resp) {
  resp->set_id(options_.daemon_id);
  resp->set_name(host_.hostname);
  resp->set_kernel_version(host_.kernel_version);
  resp->set_operating_system(host_.operating_system);
  resp->set_os_type(host_.os_type);
  resp->set_architecture(host_.architecture);
  resp->set_ncpu(host_.ncpu);
  resp->set_mem_total(host_.mem_total);
  resp->set_cgroup_version(host_.cgroup_version);
  resp->set_cgroup_driver("cgroupfs");
  resp->set_storage_driver("overlayfs");
  resp->set_logging_driver("json-file");
  resp->set_root_dir(options_.root_dir);
  resp->set_exec_root(options_.exec_root);
  resp->add_runtimes("berth-runc");
  resp->add_runtimes("runc");
  resp->set_default_runtime("berth-runc");
  resp->set_live_restore_enabled(true);
  resp->set_server_version(kVersion);
  *resp->mutable_system_time() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(absl::Now()));
  // Volumes and networks do not exist yet (other issues): their counts are real zeros.
  if (options_.fill_counts) options_.fill_counts(resp);
  FillEngineVersion(resp->mutable_engine());
  auto* reactor = ctx->DefaultReactor();
  FetchContainerdVersion(resp->mutable_containerd(), [reactor, resp] {
    if (!resp->containerd().error().empty()) resp->add_warnings(resp->containerd().error());
    reactor->Finish(::grpc::Status::OK);
  });
  return reactor;
}

::grpc::ServerWriteReactor<v1::Event>* SystemService::Events(::grpc::CallbackServerContext*,
                                                             const v1::EventsRequest* req) {
  return new EventsReactor(options_.events, *req);
}

}  // namespace berth::engine::system
