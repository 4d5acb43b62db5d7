#include "common/containerd/client.h"

#include <chrono>

#include "common/grpc/dial.h"

namespace berth::containerd_client {

absl::StatusOr<std::unique_ptr<Client>> Client::Dial(const std::string& address,
                                                     std::string ns) {
  auto channel = grpc_util::DialUnix(address);
  if (!channel.ok()) return channel.status();
  std::unique_ptr<Client> c(new Client());
  c->address_ = address;
  c->ns_ = std::move(ns);
  c->channel_ = *channel;
  c->containers_ = containers::v1::Containers::NewStub(c->channel_);
  c->content_ = content::v1::Content::NewStub(c->channel_);
  c->diff_ = diff::v1::Diff::NewStub(c->channel_);
  c->events_ = events::v1::Events::NewStub(c->channel_);
  c->images_ = images::v1::Images::NewStub(c->channel_);
  c->leases_ = leases::v1::Leases::NewStub(c->channel_);
  c->snapshots_ = snapshots::v1::Snapshots::NewStub(c->channel_);
  c->tasks_ = tasks::v1::Tasks::NewStub(c->channel_);
  c->version_ = version::v1::Version::NewStub(c->channel_);
  return c;
}

std::unique_ptr<::grpc::ClientContext> Client::Context(absl::Duration timeout,
                                                      bool wait_for_ready) const {
  auto ctx = std::make_unique<::grpc::ClientContext>();
  ctx->AddMetadata("berth-namespace", ns_);
  ctx->set_wait_for_ready(wait_for_ready);
  if (timeout != absl::InfiniteDuration()) {
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  }
  return ctx;
}

}  // namespace berth::containerd_client
