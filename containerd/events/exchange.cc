#include "containerd/events/exchange.h"

#include <google/protobuf/descriptor.h>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status/status_macros.h"
#include "containerd/metadata/validation.h"
#include "containerd/server/proto_time.h"
#include "glog/logging.h"

namespace berth::containerd::events {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

bool IsTopicChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
}

absl::Status ValidateAny(const google::protobuf::Any& event) {
  if (event.type_url().empty()) {
    return absl::InvalidArgumentError("event is unset or has an empty type url");
  }
  return absl::OkStatus();
}

// A singular scalar field as filter text; nullopt for types that have no text form here.
std::optional<std::string> ScalarText(const Message& msg, const FieldDescriptor* f) {
  const Reflection* r = msg.GetReflection();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      return r->GetString(msg, f);
    case FieldDescriptor::CPPTYPE_INT32:
      return absl::StrCat(r->GetInt32(msg, f));
    case FieldDescriptor::CPPTYPE_INT64:
      return absl::StrCat(r->GetInt64(msg, f));
    case FieldDescriptor::CPPTYPE_UINT32:
      return absl::StrCat(r->GetUInt32(msg, f));
    case FieldDescriptor::CPPTYPE_UINT64:
      return absl::StrCat(r->GetUInt64(msg, f));
    case FieldDescriptor::CPPTYPE_BOOL:
      return r->GetBool(msg, f) ? "true" : "false";
    case FieldDescriptor::CPPTYPE_ENUM:
      return r->GetEnum(msg, f)->name();
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return absl::StrCat(r->GetDouble(msg, f));
    case FieldDescriptor::CPPTYPE_FLOAT:
      return absl::StrCat(r->GetFloat(msg, f));
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return std::nullopt;
  }
  return std::nullopt;
}

std::optional<std::string> LookupMessagePath(const Message& msg,
                                             absl::Span<const std::string> path) {
  if (path.empty()) return std::nullopt;
  const FieldDescriptor* f = msg.GetDescriptor()->FindFieldByName(path[0]);
  if (f == nullptr) return std::nullopt;
  const Reflection* r = msg.GetReflection();
  const absl::Span<const std::string> rest = path.subspan(1);
  if (f->is_map()) {
    // Map entries are a repeated message of (key, value) through reflection.
    const FieldDescriptor* key_f = f->message_type()->map_key();
    const FieldDescriptor* value_f = f->message_type()->map_value();
    if (key_f->cpp_type() != FieldDescriptor::CPPTYPE_STRING || rest.empty()) return std::nullopt;
    const std::string key = absl::StrJoin(rest, ".");
    for (int i = 0; i < r->FieldSize(msg, f); ++i) {
      const Message& entry = r->GetRepeatedMessage(msg, f, i);
      if (entry.GetReflection()->GetString(entry, key_f) == key) return ScalarText(entry, value_f);
    }
    return std::nullopt;
  }
  if (f->is_repeated()) return std::nullopt;
  if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
    if (rest.empty() || !r->HasField(msg, f)) return std::nullopt;
    return LookupMessagePath(r->GetMessage(msg, f), rest);
  }
  if (!rest.empty()) return std::nullopt;
  return ScalarText(msg, f);
}

// The payload of one event, unpacked at most once however many subscribers look at it.
class Payload {
 public:
  Payload(const v1::Envelope& envelope, const Message* known)
      : envelope_(envelope), known_(known) {}

  const Message* Get() {
    if (known_ != nullptr) return known_;
    if (tried_) return unpacked_.get();
    tried_ = true;
    std::string type_name;
    if (!google::protobuf::Any::ParseAnyTypeUrl(envelope_.event().type_url(), &type_name)) {
      return nullptr;
    }
    const google::protobuf::Descriptor* d =
        google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(type_name);
    if (d == nullptr) return nullptr;  // a client's own type: no `event` fields
    const Message* prototype =
        google::protobuf::MessageFactory::generated_factory()->GetPrototype(d);
    if (prototype == nullptr) return nullptr;
    std::unique_ptr<Message> msg(prototype->New());
    if (!envelope_.event().UnpackTo(msg.get())) return nullptr;
    unpacked_ = std::move(msg);
    return unpacked_.get();
  }

 private:
  const v1::Envelope& envelope_;
  const Message* const known_;
  bool tried_ = false;
  std::unique_ptr<Message> unpacked_;
};

std::optional<std::string> Lookup(const v1::Envelope& envelope, Payload& payload,
                                  absl::Span<const std::string> path) {
  if (path.size() == 1 && path[0] == "topic") return envelope.topic();
  if (path.size() == 1 && path[0] == "namespace") return envelope.namespace_();
  if (path.size() >= 2 && path[0] == "event") {
    const Message* msg = payload.Get();
    if (msg == nullptr) return std::nullopt;
    return LookupMessagePath(*msg, path.subspan(1));
  }
  return std::nullopt;
}

}  // namespace

absl::Status ValidateTopic(absl::string_view topic) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid topic \"", topic, "\": ", why,
                     " (want /<element>[/<element>...] with elements of [A-Za-z0-9_.-])"));
  };
  if (topic.empty() || topic[0] != '/') return bad("does not start with /");
  size_t element = 0;
  for (size_t i = 1; i <= topic.size(); ++i) {
    if (i == topic.size() || topic[i] == '/') {
      if (element == 0) return bad("empty element");
      element = 0;
    } else if (!IsTopicChar(topic[i])) {
      return bad(absl::StrCat("character '", topic.substr(i, 1), "' not allowed"));
    } else {
      ++element;
    }
  }
  return absl::OkStatus();
}

std::optional<std::string> LookupEventField(const v1::Envelope& envelope,
                                            const google::protobuf::Message* payload,
                                            absl::Span<const std::string> path) {
  Payload p(envelope, payload);
  return Lookup(envelope, p, path);
}

// ---- Subscription ----

Subscription::~Subscription() { Close(); }

absl::StatusOr<std::shared_ptr<const v1::Envelope>> Subscription::Next() {
  absl::MutexLock lock(&mu_);
  if (!status_.ok()) return status_;
  if (queue_.empty()) {
    armed_ = true;
    return nullptr;
  }
  std::shared_ptr<const v1::Envelope> next = std::move(queue_.front());
  queue_.pop_front();
  return next;
}

void Subscription::Close() {
  exchange_->Unregister(this);
  absl::MutexLock lock(&mu_);
  if (status_.ok()) status_ = absl::CancelledError("subscription closed");
  queue_.clear();
  armed_ = false;
}

size_t Subscription::queued() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

bool Subscription::Offer(std::shared_ptr<const v1::Envelope> event, size_t limit,
                         metrics::ContainerdMetrics* metrics) {
  absl::MutexLock lock(&mu_);
  if (!status_.ok()) return true;  // closed meanwhile; the exchange is unregistering it
  if (armed_) {
    armed_ = false;
    if (callbacks_.on_event) callbacks_.on_event(std::move(event));
    return true;
  }
  if (queue_.size() < limit) {
    queue_.push_back(std::move(event));
    return true;
  }
  status_ = absl::ResourceExhaustedError(
      absl::StrCat("subscriber fell more than ", limit,
                   " events behind and was dropped; resubscribe and resync"));
  if (metrics != nullptr) {
    metrics->events_subscribers_evicted.Increment();
    metrics->events_dropped.Add({{"topic", metrics::ContainerdMetrics::TopicLabel(event->topic())}})
        .Increment();
    for (const auto& lost : queue_) {
      metrics->events_dropped
          .Add({{"topic", metrics::ContainerdMetrics::TopicLabel(lost->topic())}})
          .Increment();
    }
  }
  queue_.clear();
  if (callbacks_.on_end) callbacks_.on_end(status_);
  return false;
}

// ---- Exchange ----

Exchange::Exchange(ExchangeOptions options) : options_(std::move(options)) {}

Exchange::~Exchange() {
  absl::MutexLock lock(&mu_);
  LOG_IF(ERROR, !subscriptions_.empty())
      << "event exchange destroyed with " << subscriptions_.size() << " live subscriptions";
}

absl::Status Exchange::Publish(absl::string_view ns, absl::string_view topic,
                               const google::protobuf::Message& event) {
  BERTH_RETURN_IF_ERROR(ValidateTopic(topic));
  BERTH_RETURN_IF_ERROR(metadata::ValidateNamespaceName(ns));
  auto envelope = std::make_shared<v1::Envelope>();
  *envelope->mutable_timestamp() = server::ToProtoTime(options_.clock());
  envelope->set_namespace_(std::string(ns));
  envelope->set_topic(std::string(topic));
  if (!envelope->mutable_event()->PackFrom(event)) {
    return absl::InternalError(absl::StrCat("pack event ", event.GetTypeName()));
  }
  Deliver(std::move(envelope), &event);
  return absl::OkStatus();
}

absl::Status Exchange::PublishAny(absl::string_view ns, absl::string_view topic,
                                  const google::protobuf::Any& event) {
  BERTH_RETURN_IF_ERROR(ValidateTopic(topic));
  BERTH_RETURN_IF_ERROR(ValidateAny(event));
  BERTH_RETURN_IF_ERROR(metadata::ValidateNamespaceName(ns));
  auto envelope = std::make_shared<v1::Envelope>();
  *envelope->mutable_timestamp() = server::ToProtoTime(options_.clock());
  envelope->set_namespace_(std::string(ns));
  envelope->set_topic(std::string(topic));
  *envelope->mutable_event() = event;
  Deliver(std::move(envelope), nullptr);
  return absl::OkStatus();
}

absl::Status Exchange::Forward(const v1::Envelope& envelope) {
  BERTH_RETURN_IF_ERROR(ValidateTopic(envelope.topic()));
  BERTH_RETURN_IF_ERROR(ValidateAny(envelope.event()));
  if (!envelope.has_timestamp()) return absl::InvalidArgumentError("envelope has no timestamp");
  BERTH_RETURN_IF_ERROR(server::FromProtoTime(envelope.timestamp()).status(), "envelope timestamp");
  if (envelope.namespace_().empty()) {
    return absl::InvalidArgumentError("envelope has no namespace");
  }
  BERTH_RETURN_IF_ERROR(metadata::ValidateNamespaceName(envelope.namespace_()));
  Deliver(std::make_shared<const v1::Envelope>(envelope), nullptr);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Subscription>> Exchange::Subscribe(
    absl::Span<const std::string> filters, SubscriptionCallbacks callbacks) {
  BERTH_ASSIGN_OR_RETURN(filters::Filter filter, filters::Filter::Parse(filters));
  std::unique_ptr<Subscription> sub(
      new Subscription(this, std::move(filter), std::move(callbacks)));
  absl::MutexLock lock(&mu_);
  subscriptions_.insert(sub.get());
  if (options_.metrics != nullptr) options_.metrics->events_subscribers.Increment();
  return sub;
}

size_t Exchange::subscriber_count() const {
  absl::MutexLock lock(&mu_);
  return subscriptions_.size();
}

void Exchange::Deliver(std::shared_ptr<const v1::Envelope> envelope,
                       const google::protobuf::Message* payload) {
  Payload lazy(*envelope, payload);
  std::vector<Subscription*> evicted;
  absl::MutexLock lock(&mu_);
  if (options_.metrics != nullptr) {
    options_.metrics->events_published
        .Add({{"topic", metrics::ContainerdMetrics::TopicLabel(envelope->topic())}})
        .Increment();
  }
  for (Subscription* sub : subscriptions_) {
    if (!sub->filter_.MatchesEverything() &&
        !sub->filter_.Matches(
            [&](absl::Span<const std::string> path) { return Lookup(*envelope, lazy, path); })) {
      continue;
    }
    if (!sub->Offer(envelope, options_.queue_limit, options_.metrics)) evicted.push_back(sub);
  }
  for (Subscription* sub : evicted) {
    subscriptions_.erase(sub);
    if (options_.metrics != nullptr) options_.metrics->events_subscribers.Decrement();
    LOG(WARNING) << "event subscriber dropped for falling behind queue_limit="
                 << options_.queue_limit;
  }
}

void Exchange::Unregister(Subscription* subscription) {
  absl::MutexLock lock(&mu_);
  if (subscriptions_.erase(subscription) > 0 && options_.metrics != nullptr) {
    options_.metrics->events_subscribers.Decrement();
  }
}

}  // namespace berth::containerd::events
