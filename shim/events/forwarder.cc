#include "shim/events/forwarder.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "glog/logging.h"
#include "google/protobuf/util/time_util.h"
#include "shim/rpc/unix.h"

namespace berth::shim::events {
namespace {

namespace ev1 = ::berth::containerd::events::v1;
using ::google::protobuf::util::TimeUtil;

}  // namespace

absl::StatusOr<std::unique_ptr<Forwarder>> Forwarder::Create(ForwarderOptions options) {
  if (options.ns.empty()) return absl::InvalidArgumentError("events: empty namespace");
  BERTH_ASSIGN_OR_RETURN(auto channel, rpc::DialUnix(options.address), "events address");
  auto stub = ev1::Events::NewStub(channel);
  return std::unique_ptr<Forwarder>(new Forwarder(std::move(options), std::move(stub)));
}

Forwarder::Forwarder(ForwarderOptions options, std::unique_ptr<ev1::Events::Stub> stub)
    : options_(std::move(options)), stub_(std::move(stub)) {
  thread_ = std::thread([this] { Run(); });
}

Forwarder::~Forwarder() { Stop(absl::ZeroDuration()); }

void Forwarder::Publish(absl::string_view topic, const google::protobuf::Message& event) {
  ev1::Envelope e;
  const absl::Time now = options_.clock ? options_.clock() : absl::Now();
  *e.mutable_timestamp() = TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(now));
  e.set_namespace_(options_.ns);
  e.set_topic(std::string(topic));
  e.mutable_event()->PackFrom(event);
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  if (pending_.size() >= options_.max_pending) {
    LOG(WARNING) << "events pending over " << options_.max_pending
                 << ", dropping oldest topic=" << pending_.front().topic();
    pending_.pop_front();
    ++dropped_;
    ++front_generation_;
  }
  pending_.push_back(std::move(e));
}

void Forwarder::Stop(absl::Duration flush_timeout) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      stopping_ = true;
      flush_deadline_ = absl::Now() + flush_timeout;
    }
  }
  if (thread_.joinable()) thread_.join();
}

uint64_t Forwarder::delivered() const {
  absl::MutexLock lock(&mu_);
  return delivered_;
}

uint64_t Forwarder::dropped() const {
  absl::MutexLock lock(&mu_);
  return dropped_;
}

size_t Forwarder::pending() const {
  absl::MutexLock lock(&mu_);
  return pending_.size();
}

void Forwarder::Run() {
  absl::Duration backoff = options_.initial_backoff;
  for (;;) {
    ev1::ForwardRequest req;
    uint64_t generation;
    absl::Time deadline;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !pending_.empty();
      };
      mu_.Await(absl::Condition(&ready));
      if (pending_.empty() || (stopping_ && absl::Now() >= flush_deadline_)) {
        if (!pending_.empty()) {
          LOG(WARNING) << "events not delivered at shutdown count=" << pending_.size();
        }
        return;
      }
      *req.mutable_envelope() = pending_.front();
      generation = front_generation_;
      deadline = std::min(absl::Now() + options_.call_timeout,
                          stopping_ ? flush_deadline_ : absl::InfiniteFuture());
    }
    ::grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(deadline));
    ev1::ForwardResponse resp;
    const ::grpc::Status s = stub_->Forward(&ctx, req, &resp);
    absl::MutexLock lock(&mu_);
    if (s.ok() || s.error_code() == ::grpc::StatusCode::INVALID_ARGUMENT) {
      // An event berth-containerd refuses would be refused forever: drop it, do not block the
      // ones behind it.
      if (!s.ok()) {
        LOG(ERROR) << "event refused topic=" << req.envelope().topic() << " error=\""
                   << s.error_message() << "\"";
      } else {
        ++delivered_;
      }
      if (generation == front_generation_ && !pending_.empty()) {
        pending_.pop_front();
        ++front_generation_;
      }
      backoff = options_.initial_backoff;
      continue;
    }
    VLOG(1) << "event forward failed, retrying in " << backoff << " error=\"" << s.error_message()
            << "\"";
    // Sleep, but wake up when Stop is called (its flush deadline may be near).
    const bool was_stopping = stopping_;
    auto stop_called = [this, was_stopping]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stopping_ != was_stopping;
    };
    absl::Duration wait = backoff;
    if (stopping_) wait = std::min(wait, flush_deadline_ - absl::Now());
    if (wait > absl::ZeroDuration()) mu_.AwaitWithTimeout(absl::Condition(&stop_called), wait);
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

}  // namespace berth::shim::events
