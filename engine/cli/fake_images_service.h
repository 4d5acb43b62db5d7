// A small in-memory berth.engine.v1.Images server for the CLI's registry command tests: it
// records Pull, Push and Login requests and plays scripted streams, so pull/push/login/run are
// tested over gRPC without berthd or a registry. Test-only; synchronous handlers are fine here.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/synchronization/mutex.h"
#include "berth/engine/v1/images.grpc.pb.h"

namespace berth::cli::testing {

class FakeImagesService final : public engine::v1::Images::Service {
 public:
  using Status = ::grpc::Status;
  using Ctx = ::grpc::ServerContext;

  // --- Script. ---
  std::vector<engine::v1::PullImageResponse> pull_stream;
  Status pull_status = Status::OK;
  // Runs after a successful scripted pull, with the request's reference.
  std::function<void(const std::string&)> on_pull;
  std::vector<engine::v1::PushImageResponse> push_stream;
  Status push_status = Status::OK;
  // Login accepts these credentials (or this identity token) and answers with
  // `login_identity_token`.
  std::string login_user = "alice";
  std::string login_password = "pw";
  std::string login_identity_token;

  // --- Recorded calls (guarded by mu). ---
  absl::Mutex mu;
  std::vector<engine::v1::PullImageRequest> pulls;
  std::vector<engine::v1::PushImageRequest> pushes;
  std::vector<engine::v1::LoginRequest> logins;

  Status Pull(Ctx*, const engine::v1::PullImageRequest* req,
              ::grpc::ServerWriter<engine::v1::PullImageResponse>* w) override {
    RecordAndPlay(*req, pulls, pull_stream, w);
    if (pull_status.ok() && on_pull) on_pull(req->reference());
    return pull_status;
  }

  Status Push(Ctx*, const engine::v1::PushImageRequest* req,
              ::grpc::ServerWriter<engine::v1::PushImageResponse>* w) override {
    RecordAndPlay(*req, pushes, push_stream, w);
    return push_status;
  }

  Status Login(Ctx*, const engine::v1::LoginRequest* req,
               engine::v1::LoginResponse* resp) override {
    {
      absl::MutexLock lock(&mu);
      logins.push_back(*req);
    }
    const auto& a = req->auth();
    const bool token_ok =
        !login_identity_token.empty() && a.identity_token() == login_identity_token;
    if (a.username() != login_user || (a.password() != login_password && !token_ok)) {
      return Status(::grpc::StatusCode::UNAUTHENTICATED,
                    "login attempt to http://" + a.server_address() +
                        "/v2/ failed with status: 401 Unauthorized");
    }
    resp->set_status("Login Succeeded");
    resp->set_identity_token(login_identity_token);
    return Status::OK;
  }

 private:
  // Records `req` in `calls`, then writes the scripted `stream`.
  template <typename Req, typename Resp>
  void RecordAndPlay(const Req& req, std::vector<Req>& calls, const std::vector<Resp>& stream,
                     ::grpc::ServerWriter<Resp>* w) {
    {
      absl::MutexLock lock(&mu);
      calls.push_back(req);
    }
    for (const auto& m : stream) w->Write(m);
  }
};

}  // namespace berth::cli::testing
