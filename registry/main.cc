// berth-registry: an OCI distribution registry daemon (distribution spec v1.1 plus what Docker
// clients expect of the v2 API), storing content under --root, exporting Prometheus metrics
// and draining on SIGTERM. `berth-registry garbage-collect` removes unreferenced blobs.
#include <prometheus/registry.h>
#include <sys/stat.h>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/fs/fs.h"
#include "common/init/init.h"
#include "common/metrics/metrics_server.h"
#include "common/status/status_macros.h"
#include "common/version/version.h"
#include "glog/logging.h"
#include "registry/api/api.h"
#include "registry/api/routes.h"
#include "registry/auth/access_controller.h"
#include "registry/auth/acl.h"
#include "registry/auth/htpasswd.h"
#include "registry/auth/jwt.h"
#include "registry/auth/token_server.h"
#include "registry/http/router.h"
#include "registry/http/server.h"
#include "registry/metrics.h"
#include "registry/storage/gc.h"
#include "registry/storage/storage.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:5000",
          "host:port for the registry HTTP API; port 0 picks a free port");
ABSL_FLAG(std::string, root, "/var/lib/berth-registry",
          "directory holding the registry's content (created with mode 0700 if missing)");
ABSL_FLAG(std::string, metrics_addr, "127.0.0.1:5001", "host:port serving /metrics");
ABSL_FLAG(std::string, config, "",
          "path of a configuration file; it must be readable, but no setting is read from it "
          "yet (flags are the only configuration for now)");
ABSL_FLAG(bool, read_only, false,
          "serve pulls only: pushes and deletes get 405 UNSUPPORTED (maintenance mode)");
ABSL_FLAG(absl::Duration, upload_ttl, absl::Hours(24),
          "upload sessions idle for longer than this are removed");
ABSL_FLAG(absl::Duration, upload_sweep_interval, absl::Minutes(10),
          "how often expired upload sessions are looked for (0: never)");
ABSL_FLAG(uint64_t, max_manifest_bytes, 4 << 20, "largest manifest accepted (413 beyond)");
ABSL_FLAG(uint64_t, max_blob_bytes, uint64_t{1} << 40, "largest blob accepted (413 beyond)");
ABSL_FLAG(int, threads, 4, "HTTP I/O threads");
ABSL_FLAG(bool, fsync, true, "flush blobs and metadata to disk before they become visible");
ABSL_FLAG(std::string, auth, "",
          "access control: none, htpasswd (HTTP basic credentials from --htpasswd) or token "
          "(Docker token flow: bearer JWTs); empty: htpasswd when --htpasswd is set, else none");
ABSL_FLAG(std::string, htpasswd, "",
          "htpasswd file with bcrypt hashes (htpasswd -B): the users of --auth=htpasswd, and "
          "whom the token endpoint (--token_key) signs in");
ABSL_FLAG(std::string, auth_realm, "berth-registry",
          "realm named in 'WWW-Authenticate: Basic' challenges");
ABSL_FLAG(std::string, acl, "",
          "JSON file of per-repository permissions, e.g. [{\"account\":\"alice\",\"name\":"
          "\"alice/*\",\"actions\":[\"pull\",\"push\"]}] (account \"*\": any signed-in "
          "user, \"\": everyone incl. anonymous; see registry/auth/acl.h); without it every "
          "signed-in user may do everything");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain for the API listener; with --tls_key it serves HTTPS only "
          "(TLS 1.2+); /metrics stays plain HTTP");
ABSL_FLAG(std::string, tls_key, "", "PEM private key (RSA or EC) of --tls_cert");
ABSL_FLAG(std::string, token_realm, "",
          "--auth=token: the token endpoint named in challenges; empty: "
          "<scheme>://<Host of the request>/token, i.e. this registry's own /token");
ABSL_FLAG(std::string, token_service, "berth-registry",
          "--auth=token: the service name in challenges; tokens must have it as audience");
ABSL_FLAG(std::string, token_issuer, "berth-registry",
          "--auth=token: tokens must have this issuer (and /token issues with it)");
ABSL_FLAG(std::string, token_rootcertbundle, "",
          "--auth=token: PEM certificates whose keys (by libtrust kid, or an x5c chain) may sign "
          "tokens; optional when --token_key is set");
ABSL_FLAG(std::string, token_key, "",
          "--auth=token: PEM private key (RSA or EC P-256) with which this registry serves "
          "GET/POST /token itself, signing in users from --htpasswd; its tokens are trusted");
ABSL_FLAG(absl::Duration, token_expiration, absl::Minutes(5),
          "lifetime of tokens issued by /token");
ABSL_FLAG(bool, dry_run, false, "garbage-collect: report what would be deleted, delete nothing");
ABSL_FLAG(absl::Duration, gc_grace, absl::Hours(1),
          "garbage-collect: keep unreferenced blobs younger than this (pushes in flight)");

namespace berth::registry {
namespace {

constexpr char kUsage[] =
    "berth-registry [--listen=host:port] [--root=dir] [--metrics-addr=host:port] "
    "[--read-only] [--upload-ttl=24h] [--tls-cert=pem --tls-key=pem] "
    "[--auth=none|htpasswd|token] [--htpasswd=file] [--acl=file] [--token-key=pem] "
    "[--token-rootcertbundle=pem] [--config=file]\n"
    "berth-registry garbage-collect --root=dir [--dry-run] [--gc-grace=1h]\n\n"
    "Serves the OCI distribution API, or removes blobs no manifest references.";

// Access control built from the flags; everything the controller points to lives here.
struct AuthSetup {
  std::string mode = "none";
  std::unique_ptr<auth::Htpasswd> htpasswd;
  std::unique_ptr<auth::Acl> acl;
  std::unique_ptr<auth::TokenVerifier> verifier;
  std::unique_ptr<auth::TokenServer> token_server;
  std::unique_ptr<auth::AccessController> controller;
};

absl::StatusOr<AuthSetup> SetUpAuth(RegistryMetrics& metrics) {
  AuthSetup out;
  const std::string htpasswd_path = absl::GetFlag(FLAGS_htpasswd);
  out.mode = absl::GetFlag(FLAGS_auth);
  if (out.mode.empty()) out.mode = htpasswd_path.empty() ? "none" : "htpasswd";
  if (out.mode != "none" && out.mode != "htpasswd" && out.mode != "token") {
    return absl::InvalidArgumentError(
        absl::StrCat("--auth=", out.mode, ": want none, htpasswd or token"));
  }
  if (!htpasswd_path.empty()) {
    BERTH_ASSIGN_OR_RETURN(out.htpasswd, auth::Htpasswd::Load(htpasswd_path), "--htpasswd");
  }
  if (const std::string path = absl::GetFlag(FLAGS_acl); !path.empty()) {
    if (out.mode == "none") {
      return absl::InvalidArgumentError("--acl needs --auth=htpasswd or --auth=token");
    }
    BERTH_ASSIGN_OR_RETURN(out.acl, auth::Acl::Load(path), "--acl");
  } else {
    out.acl = auth::Acl::AuthenticatedMayDoAll();
  }
  if (out.mode == "none") return out;
  const std::string listen = absl::GetFlag(FLAGS_listen);
  if (absl::GetFlag(FLAGS_tls_cert).empty() && !absl::StartsWith(listen, "127.") &&
      !absl::StartsWith(listen, "localhost:") && !absl::StartsWith(listen, "[::1]:")) {
    // Basic credentials (and /token's) are only base64: readable by anyone on the path.
    LOG(WARNING) << "auth without tls: passwords travel in clear text listen=" << listen
                 << " (set --tls_cert/--tls_key)";
  }
  if (out.mode == "htpasswd") {
    if (out.htpasswd == nullptr)
      return absl::InvalidArgumentError("--auth=htpasswd needs --htpasswd");
    out.controller = std::make_unique<auth::BasicAccessController>(
        out.htpasswd.get(), out.acl.get(), absl::GetFlag(FLAGS_auth_realm), &metrics);
    return out;
  }

  // Token mode.
  auth::TokenVerifierOptions verify;
  verify.issuer = absl::GetFlag(FLAGS_token_issuer);
  verify.audience = absl::GetFlag(FLAGS_token_service);
  if (verify.issuer.empty() || verify.audience.empty()) {
    return absl::InvalidArgumentError("--auth=token needs --token_issuer and --token_service");
  }
  if (const std::string path = absl::GetFlag(FLAGS_token_rootcertbundle); !path.empty()) {
    BERTH_ASSIGN_OR_RETURN(verify.trusted_certificates_pem, fs::ReadFile(path),
                           "--token_rootcertbundle");
    BERTH_ASSIGN_OR_RETURN(verify.trusted_keys,
                           auth::PublicKeysFromCertificateBundle(verify.trusted_certificates_pem),
                           absl::StrCat("--token_rootcertbundle ", path));
  }
  if (const std::string path = absl::GetFlag(FLAGS_token_key); !path.empty()) {
    BERTH_ASSIGN_OR_RETURN(std::string pem, fs::ReadFile(path), "--token_key");
    BERTH_ASSIGN_OR_RETURN(auth::Key key, auth::Key::PrivateFromPem(pem),
                           absl::StrCat("--token_key ", path));
    auth::TokenServerOptions issue;
    issue.issuer = verify.issuer;
    issue.service = verify.audience;
    issue.lifetime = absl::GetFlag(FLAGS_token_expiration);
    issue.htpasswd = out.htpasswd.get();
    issue.acl = out.acl.get();
    issue.observer = &metrics;
    BERTH_ASSIGN_OR_RETURN(out.token_server,
                           auth::TokenServer::Create(std::move(key), std::move(issue)));
    BERTH_ASSIGN_OR_RETURN(auth::Key pub, out.token_server->PublicKey());
    verify.trusted_keys.push_back(std::move(pub));
  }
  if (verify.trusted_keys.empty()) {
    return absl::InvalidArgumentError(
        "--auth=token needs --token_rootcertbundle (tokens from another server) or "
        "--token_key (this registry issues them)");
  }
  BERTH_ASSIGN_OR_RETURN(out.verifier, auth::TokenVerifier::Create(std::move(verify)));
  auth::TokenAccessOptions access;
  access.realm = absl::GetFlag(FLAGS_token_realm);
  access.scheme = absl::GetFlag(FLAGS_tls_cert).empty() ? "http" : "https";
  access.fallback_address = absl::GetFlag(FLAGS_listen);
  access.service = absl::GetFlag(FLAGS_token_service);
  out.controller = std::make_unique<auth::TokenAccessController>(out.verifier.get(),
                                                                 std::move(access), &metrics);
  return out;
}

absl::Status Serve() {
  const std::string config = absl::GetFlag(FLAGS_config);
  if (!config.empty()) {
    // Optional, and nothing is read from it yet; but naming a file that cannot be read is a
    // mistake worth failing on now rather than when settings start coming from it.
    BERTH_RETURN_IF_ERROR(fs::ReadFile(config).status(), "--config");
  }
  const std::string root = absl::GetFlag(FLAGS_root);
  // 0700: registry content and upload state are private to the daemon.
  BERTH_RETURN_IF_ERROR(fs::MakeDirs(root, 0700), "create --root");

  auto prometheus_registry = std::make_shared<prometheus::Registry>();
  RegistryMetrics metrics(*prometheus_registry);
  metrics::AddBuildInfo(*prometheus_registry, "registry");

  storage::StorageOptions storage_options;
  storage_options.root = root;
  storage_options.upload_ttl = absl::GetFlag(FLAGS_upload_ttl);
  storage_options.sweep_interval = absl::GetFlag(FLAGS_upload_sweep_interval);
  storage_options.fsync = absl::GetFlag(FLAGS_fsync);
  storage_options.observer = &metrics;
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<storage::Storage> storage,
                         storage::Storage::Open(storage_options));

  BERTH_ASSIGN_OR_RETURN(AuthSetup auth_setup, SetUpAuth(metrics));
  api::ApiOptions api_options;
  api_options.access = auth_setup.controller.get();
  api_options.read_only = absl::GetFlag(FLAGS_read_only);
  api_options.max_manifest_bytes = absl::GetFlag(FLAGS_max_manifest_bytes);
  api_options.max_blob_bytes = absl::GetFlag(FLAGS_max_blob_bytes);
  api::Api api(*storage, api_options);
  http::Router router;
  BERTH_RETURN_IF_ERROR(api::RegisterRoutes(router, api, auth_setup.token_server.get()));
  http::ServerOptions options;
  options.tls_cert_file = absl::GetFlag(FLAGS_tls_cert);
  options.tls_key_file = absl::GetFlag(FLAGS_tls_key);
  options.address = absl::GetFlag(FLAGS_listen);
  options.threads = absl::GetFlag(FLAGS_threads);
  // Manifests and uploads set their own limits; other requests have no business with a body.
  options.max_request_body_bytes = 1 << 20;
  options.observer = &metrics;
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<http::Server> server,
                         http::Server::Start(options, router));
  LOG(INFO) << "registry listening address=" << server->address();
  BERTH_ASSIGN_OR_RETURN(
      auto metrics_server,
      metrics::MetricsServer::Start(absl::GetFlag(FLAGS_metrics_addr), prometheus_registry));
  LOG(INFO) << "registry started version=" << kVersion << " root=" << root
            << " read_only=" << (api_options.read_only ? "true" : "false")
            << " tls=" << (server->tls() ? "true" : "false") << " auth=" << auth_setup.mode
            << " token_endpoint=" << (auth_setup.token_server ? "true" : "false")
            << " blobs=" << storage->blobs().count() << " uploads=" << storage->uploads().count();

  WaitForTerminationSignal();
  server->Stop();
  LOG(INFO) << "registry stopped";
  return absl::OkStatus();
}

absl::Status GarbageCollect() {
  const std::string root = absl::GetFlag(FLAGS_root);
  struct stat st;
  if (stat(root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::NotFoundError(absl::StrCat("--root ", root, " is not a directory"));
  }
  storage::StorageOptions storage_options;
  storage_options.root = root;
  storage_options.sweep_interval = absl::ZeroDuration();
  storage_options.clear_tmp = false;  // a daemon may be writing there
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<storage::Storage> storage,
                         storage::Storage::Open(storage_options));
  storage::GcOptions options;
  options.dry_run = absl::GetFlag(FLAGS_dry_run);
  options.grace = absl::GetFlag(FLAGS_gc_grace);
  BERTH_ASSIGN_OR_RETURN(storage::GcResult result, storage::CollectGarbage(*storage, options));
  for (const digest::Digest& d : result.deleted) {
    std::cout << (options.dry_run ? "would delete " : "deleted ") << d << "\n";
  }
  std::cout << "manifests=" << result.manifests << " blobs_marked=" << result.blobs_marked
            << " blobs_deleted=" << result.blobs_deleted
            << " bytes_deleted=" << result.bytes_deleted
            << " links_removed=" << result.links_removed
            << " dry_run=" << (options.dry_run ? "true" : "false") << std::endl;
  return absl::OkStatus();
}

}  // namespace
}  // namespace berth::registry

int main(int argc, char** argv) {
  const std::vector<char*> positional = berth::InitProcess(argc, argv, berth::registry::kUsage);
  absl::Status s;
  if (positional.size() == 2 && std::string(positional[1]) == "garbage-collect") {
    s = berth::registry::GarbageCollect();
  } else if (positional.size() > 1) {
    LOG(ERROR) << "berth-registry: unexpected argument \"" << positional[1]
               << "\" (the only command is garbage-collect; settings are --flags)";
    return 2;
  } else {
    s = berth::registry::Serve();
  }
  if (!s.ok()) {
    LOG(ERROR) << "berth-registry: " << s.message();
    return 1;
  }
  return 0;
}
