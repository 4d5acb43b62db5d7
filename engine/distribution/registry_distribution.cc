#include "engine/distribution/registry_distribution.h"

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/daemon/memory.h"
#include "common/digest/hasher.h"
#include "common/status/status_macros.h"
#include "engine/distribution/http_client.h"
#include "engine/distribution/puller.h"
#include "engine/distribution/pusher.h"
#include "engine/distribution/registry_client.h"
#include "engine/reference/reference.h"

namespace berth::engine::distribution {
namespace {

namespace oci = images::oci;

// The reference domain of a login server address: "" and Docker Hub's v1 URL mean docker.io;
// a scheme and path are dropped ("https://host:5000/v2/" -> "host:5000").
std::string LoginDomain(absl::string_view server) {
  absl::ConsumePrefix(&server, "https://") || absl::ConsumePrefix(&server, "http://");
  server = server.substr(0, server.find('/'));
  if (server.empty() || server == "index.docker.io" || server == "registry-1.docker.io" ||
      server == "docker.io") {
    return reference::kDefaultDomain;
  }
  return std::string(server);
}

class RegistryDistribution final : public images::Distribution {
 public:
  RegistryDistribution(const Options& options, images::ImageStore* store)
      : options_(options),
        store_(store),
        http_(options.user_agent),
        puller_(store, &http_, options),
        pusher_(store, &http_, options) {}

  absl::Status Pull(const v1::PullImageRequest& req, const PullSink& out,
                    const std::atomic<bool>& cancelled) override {
    absl::Cleanup trim = [] { berth::daemon::TrimSoon(); };  // the layers' buffers are free now
    return puller_.Pull(req, out, cancelled);
  }

  absl::Status Push(const v1::PushImageRequest& req, const PushSink& out,
                    const std::atomic<bool>& cancelled) override {
    absl::Cleanup trim = [] { berth::daemon::TrimSoon(); };
    return pusher_.Push(req, out, cancelled);
  }

  absl::StatusOr<v1::LoginResponse> Login(const v1::LoginRequest& req) override {
    const std::string domain = LoginDomain(req.auth().server_address());
    BERTH_ASSIGN_OR_RETURN(std::unique_ptr<RegistryClient> client,
                           NewClient(&http_, options_, domain, req.auth()));
    const std::string what = absl::StrCat("login to ", domain);
    BERTH_RETURN_IF_ERROR(client->Ping(nullptr), what);
    v1::LoginResponse out;
    out.set_status("Login Succeeded");
    if (!client->authorizer().Required()) return out;
    // Bearer: a token for no repository proves the credentials (and, with offline_token,
    // yields a refresh token to keep instead of the password).
    absl::Status s = client->authorizer().FetchToken({}, /*offline=*/true, nullptr);
    if (absl::IsUnauthenticated(s)) {
      return absl::UnauthenticatedError(
          absl::StrCat(what, ": unauthorized: incorrect username or password"));
    }
    BERTH_RETURN_IF_ERROR(s, what);
    HttpRequest ping;
    ping.url = "/v2/";
    BERTH_ASSIGN_OR_RETURN(HttpResponse resp, client->Do(ping, {}), what);
    if (resp.status == 401) {
      return absl::UnauthenticatedError(
          absl::StrCat(what, ": unauthorized: incorrect username or password"));
    }
    if (resp.status != 200) return ErrorFromResponse(resp, what);
    out.set_identity_token(client->authorizer().RefreshToken());
    return out;
  }

  absl::StatusOr<v1::InspectDistributionResponse> InspectDistribution(
      const v1::InspectDistributionRequest& req) override {
    BERTH_ASSIGN_OR_RETURN(reference::Reference ref,
                           reference::ParseWithDefaultTag(req.reference()));
    BERTH_ASSIGN_OR_RETURN(std::unique_ptr<RegistryClient> client,
                           NewClient(&http_, options_, ref.domain, req.auth()));
    const std::string tag_or_digest = ref.digest.empty() ? ref.tag : ref.digest;
    BERTH_ASSIGN_OR_RETURN(FetchedManifest m, client->GetManifest(ref.path, tag_or_digest,
                                                                  ref.FamiliarName(), nullptr));
    v1::InspectDistributionResponse out;
    *out.mutable_target() = m.descriptor;
    if (oci::IsIndex(m.descriptor.media_type())) {
      BERTH_ASSIGN_OR_RETURN(oci::Index index, oci::ParseIndex(m.body));
      for (const auto& d : index.manifests) {
        if (d.has_platform()) *out.add_platforms() = d.platform();
      }
      return out;
    }
    // A single manifest: its platform is in the config.
    BERTH_ASSIGN_OR_RETURN(oci::Manifest manifest, oci::ParseManifest(m.body));
    HttpRequest get;
    get.url = absl::StrCat("/v2/", ref.path, "/blobs/", manifest.config.digest());
    get.max_body = 8 << 20;
    BERTH_ASSIGN_OR_RETURN(HttpResponse resp, client->Do(get, {PullScope(ref.path)}));
    if (resp.status != 200) {
      return ErrorFromResponse(resp, absl::StrCat("image config ", manifest.config.digest()));
    }
    BERTH_ASSIGN_OR_RETURN(digest::Digest want, digest::Digest::Parse(manifest.config.digest()));
    if (!digest::VerifyBytes(want, resp.body).ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("image config ", manifest.config.digest(), ": digest mismatch"));
    }
    BERTH_ASSIGN_OR_RETURN(nlohmann::json config, oci::ParseJson(resp.body, "image config"));
    if (config.is_object()) {
      berth::types::v1::Platform* p = out.add_platforms();
      if (auto it = config.find("os"); it != config.end() && it->is_string()) {
        p->set_os(it->get<std::string>());
      }
      if (auto it = config.find("architecture"); it != config.end() && it->is_string()) {
        p->set_architecture(it->get<std::string>());
      }
      if (auto it = config.find("variant"); it != config.end() && it->is_string()) {
        p->set_variant(it->get<std::string>());
      }
    }
    return out;
  }

 private:
  const Options options_;
  images::ImageStore* const store_;
  HttpClient http_;
  Puller puller_;
  Pusher pusher_;
};

}  // namespace

std::unique_ptr<images::Distribution> NewRegistryDistribution(const Options& options,
                                                              images::ImageStore* store) {
  return std::make_unique<RegistryDistribution>(options, store);
}

}  // namespace berth::engine::distribution
