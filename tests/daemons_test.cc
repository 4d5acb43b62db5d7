// berthd, berth-containerd and the berth CLI as real processes: health, reflection, metrics,
// versions end to end, clean shutdown, and clear failures when a peer is missing.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <memory>

#include "berth/containerd/content/v1/content.grpc.pb.h"
#include "berth/containerd/events/v1/events.grpc.pb.h"
#include "berth/containerd/events/v1/payloads.pb.h"
#include "berth/containerd/images/v1/images.grpc.pb.h"
#include "berth/containerd/leases/v1/leases.grpc.pb.h"
#include "common/digest/digest.h"
#include "common/grpc/probe.h"
#include "common/grpc/server.h"
#include "common/testing/http_get.h"
#include "common/testing/runfiles.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "common/version/version.h"
#include "gtest/gtest.h"
#include "tests/daemon_harness.h"

namespace berth::tests {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::TempDir;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

void ExpectHealthyWithServices(const RunningDaemon& d, const std::vector<std::string>& services) {
  auto ch = grpc_util::DialUnix(d.socket);
  ASSERT_THAT(ch, IsOk());
  auto health = grpc_util::CheckHealth(*ch, "", absl::Seconds(5));
  ASSERT_THAT(health, IsOk());
  EXPECT_EQ(*health, grpc_util::ServingStatus::kServing);
  auto listed = grpc_util::ListServices(*ch, absl::Seconds(5));
  ASSERT_THAT(listed, IsOk());
  EXPECT_THAT(*listed, Contains("grpc.health.v1.Health"));
  for (const auto& s : services) EXPECT_THAT(*listed, Contains(s));
}

void ExpectMetrics(const RunningDaemon& d, const std::string& daemon) {
  EXPECT_THAT(d.metrics_addr, HasSubstr("127.0.0.1:"));
  auto resp = berth::testing::HttpGet(d.metrics_addr, "/metrics");
  ASSERT_THAT(resp, IsOk());
  EXPECT_EQ(resp->status, 200);
  EXPECT_THAT(resp->body, HasSubstr("berth_" + daemon + "_build_info{"));
  EXPECT_THAT(resp->body, HasSubstr("process_resident_memory_bytes"));
  // The health probe above went through the interceptor.
  EXPECT_THAT(resp->body, HasSubstr("berth_" + daemon + "_grpc_requests_total{"));
  EXPECT_THAT(berth::testing::PromtoolCheckMetrics(resp->body), IsOk());
}

void ExpectCleanStop(RunningDaemon& d) {
  auto st = d.Stop();
  ASSERT_THAT(st, IsOk());
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0)
      << "wait status " << *st << "\n" << berth::testing::ReadFileOrEmpty(d.log_path);
  EXPECT_FALSE(Exists(d.socket)) << "socket left behind: " << d.socket;
}

TEST(DaemonsTest, BothDaemonsServeAndCliShowsBothVersions) {
  auto dir = TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  auto cd = StartContainerd(*dir);
  ASSERT_THAT(cd, IsOk());
  auto bd = StartBerthd(*dir, cd->socket);
  ASSERT_THAT(bd, IsOk());

  ExpectHealthyWithServices(*cd, {"berth.containerd.version.v1.Version"});
  ExpectHealthyWithServices(*bd, {"berth.engine.v1.System"});
  ExpectMetrics(*cd, "containerd");
  ExpectMetrics(*bd, "engine");

  struct stat st;
  ASSERT_EQ(stat(bd->socket.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u) << "API socket must be 0660";

  auto version = RunBerth(bd->socket, {"version"});
  ASSERT_THAT(version, IsOk());
  EXPECT_TRUE(version->Succeeded()) << version->output;
  EXPECT_THAT(version->output, HasSubstr("Client:"));
  EXPECT_THAT(version->output, HasSubstr("Server: berth engine"));
  EXPECT_THAT(version->output, HasSubstr("berth-containerd:"));
  EXPECT_THAT(version->output, Not(HasSubstr("Error")));

  auto info = RunBerth(bd->socket, {"info"});
  ASSERT_THAT(info, IsOk());
  EXPECT_TRUE(info->Succeeded()) << info->output;
  EXPECT_THAT(info->output, HasSubstr(std::string("berthd version: ") + kVersion));
  EXPECT_THAT(info->output, HasSubstr(std::string("berth-containerd version: ") + kVersion));
  EXPECT_THAT(info->output, HasSubstr("Berth Root Dir: " + dir->Sub("b-root")));

  auto json = RunBerth(bd->socket, {"info", "--format", "json"});
  ASSERT_THAT(json, IsOk());
  EXPECT_TRUE(json->Succeeded()) << json->output;
  EXPECT_THAT(json->output, HasSubstr("\"liveRestoreEnabled\": true"));

  ExpectCleanStop(*bd);
  ExpectCleanStop(*cd);
}

TEST(DaemonsTest, EngineIdSurvivesRestart) {
  auto dir = TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  std::string ids[2];
  for (auto& id : ids) {
    auto bd = StartBerthd(*dir, dir->Sub("absent/containerd.sock"));
    ASSERT_THAT(bd, IsOk());
    auto info = RunBerth(bd->socket, {"info"});
    ASSERT_THAT(info, IsOk());
    size_t at = info->output.find(" ID: ");
    ASSERT_NE(at, std::string::npos) << info->output;
    id = info->output.substr(at + 5, 64);
    ExpectCleanStop(*bd);
  }
  EXPECT_EQ(ids[0], ids[1]);
}

TEST(DaemonsTest, BerthdReportsMissingContainerdButKeepsServing) {
  auto dir = TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  auto bd = StartBerthd(*dir, dir->Sub("absent/containerd.sock"));
  ASSERT_THAT(bd, IsOk());
  auto version = RunBerth(bd->socket, {"version"});
  ASSERT_THAT(version, IsOk());
  EXPECT_TRUE(version->Succeeded()) << version->output;
  EXPECT_THAT(version->output, HasSubstr("cannot reach berth-containerd"));
  auto info = RunBerth(bd->socket, {"info"});
  ASSERT_THAT(info, IsOk());
  EXPECT_THAT(info->output, HasSubstr("berth-containerd version: unavailable"));
  EXPECT_THAT(info->output, HasSubstr("WARNING: cannot reach berth-containerd"));
  ExpectCleanStop(*bd);
}

TEST(DaemonsTest, CliFailsClearlyWithoutDaemon) {
  auto dir = TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  for (const char* cmd : {"version", "info"}) {
    auto r = RunBerth(dir->Sub("none.sock"), {cmd});
    ASSERT_THAT(r, IsOk());
    EXPECT_TRUE(WIFEXITED(r->wait_status));
    EXPECT_EQ(WEXITSTATUS(r->wait_status), 1) << r->output;
    EXPECT_THAT(r->output, HasSubstr("Cannot connect to the berth daemon at unix://" +
                                     dir->Sub("none.sock") + ". Is berthd running?"));
  }
}

TEST(DaemonsTest, SecondDaemonOnSameSocketRefusesAndLeavesFirstAlone) {
  auto dir = TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  auto first = StartContainerd(*dir);
  ASSERT_THAT(first, IsOk());
  auto second = berth::testing::RunCommand(
      {berth::testing::RunfilePath("containerd/berth-containerd"), "--root=" + dir->Sub("r2"),
       "--state=" + dir->Sub("s2"), "--address=unix://" + first->socket,
       "--metrics-addr=127.0.0.1:0"});
  ASSERT_THAT(second, IsOk());
  EXPECT_FALSE(second->Succeeded());
  EXPECT_THAT(second->output, HasSubstr("another process is serving on " + first->socket));
  ExpectHealthyWithServices(*first, {});
  ExpectCleanStop(*first);
}

TEST(DaemonsTest, BadFlagsFailWithClearErrors) {
  auto dir = TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  const std::string berthd = berth::testing::RunfilePath("engine/berthd");
  auto r = berth::testing::RunCommand({berthd, "--host=tcp://0.0.0.0:2375",
                                       "--root=" + dir->Sub("r"), "--exec-root=" + dir->Sub("e"),
                                       "--metrics-addr=127.0.0.1:0"});
  ASSERT_THAT(r, IsOk());
  EXPECT_FALSE(r->Succeeded());
  EXPECT_THAT(r->output, HasSubstr("only unix:// sockets are supported"));

  r = berth::testing::RunCommand({berthd, "--metrics-addr=nonsense", "--root=" + dir->Sub("r"),
                                  "--exec-root=" + dir->Sub("e"),
                                  "--host=unix://" + dir->Sub("x.sock")});
  ASSERT_THAT(r, IsOk());
  EXPECT_FALSE(r->Succeeded());
  EXPECT_THAT(r->output, HasSubstr("want host:port"));
  EXPECT_FALSE(Exists(dir->Sub("x.sock")));

  r = berth::testing::RunCommand({berthd, "--no-such-flag"});
  ASSERT_THAT(r, IsOk());
  EXPECT_FALSE(r->Succeeded());
  EXPECT_THAT(r->output, HasSubstr("no_such_flag"));
}

// berth-containerd's content, images, namespaces and leases services are wired into the real
// daemon, and a blob written over gRPC survives a restart (it lives in --root: the content dir
// and metadata.db).
TEST(DaemonsTest, ContainerdServesContentAndKeepsBlobsAcrossRestart) {
  namespace contentpb = ::berth::containerd::content::v1;
  auto dir = TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  auto cd = StartContainerd(*dir);
  ASSERT_THAT(cd, IsOk());
  ExpectHealthyWithServices(*cd, {"berth.containerd.version.v1.Version",
                                  "berth.containerd.content.v1.Content",
                                  "berth.containerd.images.v1.Images",
                                  "berth.containerd.namespaces.v1.Namespaces",
                                  "berth.containerd.leases.v1.Leases"});

  // 2.5 MiB, so both the upload and the read take several messages.
  std::string blob((5 << 20) / 2, '\0');
  for (size_t i = 0; i < blob.size(); ++i) blob[i] = static_cast<char>((i * 131 + i / 977) & 0xff);
  const std::string digest = digest::Digest::FromBytes(blob)->ToString();
  auto call = [](const char* ns) {
    auto ctx = std::make_unique<::grpc::ClientContext>();
    ctx->AddMetadata("berth-namespace", ns);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return ctx;
  };
  auto read_back = [&](const RunningDaemon& d) -> std::string {
    auto ch = grpc_util::DialUnix(d.socket);
    if (!ch.ok()) return "dial: " + std::string(ch.status().message());
    auto stub = contentpb::Content::NewStub(*ch);
    auto ctx = call("berth");
    contentpb::ReadRequest req;
    req.set_digest(digest);
    auto reader = stub->Read(ctx.get(), req);
    std::string got;
    contentpb::ReadResponse chunk;
    while (reader->Read(&chunk)) got += chunk.data();
    ::grpc::Status st = reader->Finish();
    return st.ok() ? got : "read: " + st.error_message();
  };

  {
    auto ch = grpc_util::DialUnix(cd->socket);
    ASSERT_THAT(ch, IsOk());
    auto stub = contentpb::Content::NewStub(*ch);
    auto ctx = call("berth");
    auto stream = stub->Write(ctx.get());
    contentpb::WriteResponse resp;
    constexpr size_t kPiece = 1 << 20;
    for (size_t at = 0; at < blob.size(); at += kPiece) {
      contentpb::WriteRequest req;
      req.set_action(contentpb::WRITE_ACTION_WRITE);
      req.set_ref("daemons-test-blob");
      req.set_offset(static_cast<int64_t>(at));
      req.set_data(blob.substr(at, kPiece));
      ASSERT_TRUE(stream->Write(req) && stream->Read(&resp));
    }
    contentpb::WriteRequest commit;
    commit.set_action(contentpb::WRITE_ACTION_COMMIT);
    commit.set_total(static_cast<int64_t>(blob.size()));
    commit.set_expected(digest);
    (*commit.mutable_labels())["berth.io/gc.root"] = "daemons-test";
    ASSERT_TRUE(stream->Write(commit) && stream->Read(&resp));
    EXPECT_EQ(resp.digest(), digest);
    stream->WritesDone();
    ::grpc::Status st = stream->Finish();
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  EXPECT_TRUE(read_back(*cd) == blob);
  ExpectCleanStop(*cd);

  auto again = StartContainerd(*dir);
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(read_back(*again) == blob) << "blob lost across a restart";
  {
    auto ch = grpc_util::DialUnix(again->socket);
    ASSERT_THAT(ch, IsOk());
    auto stub = contentpb::Content::NewStub(*ch);
    contentpb::InfoRequest req;
    req.set_digest(digest);
    contentpb::InfoResponse resp;
    auto ctx = call("berth");
    ASSERT_TRUE(stub->Info(ctx.get(), req, &resp).ok());
    EXPECT_EQ(resp.info().size(), static_cast<int64_t>(blob.size()));
    EXPECT_EQ(resp.info().labels().at("berth.io/gc.root"), "daemons-test");
    auto other = call("default");  // another namespace does not see it
    EXPECT_EQ(stub->Info(other.get(), req, &resp).error_code(), ::grpc::StatusCode::NOT_FOUND);
  }
  ExpectCleanStop(*again);
}

// The Events service and garbage collection in the real daemon: a subscriber on the socket sees
// /images/create and /images/delete; a sync Images.Delete collects the image's blob before it
// returns, and the collection announces /content/delete; the events and GC metrics are
// exported and promtool accepts them.
TEST(DaemonsTest, ContainerdStreamsEventsAndCollectsGarbageOnSyncDelete) {
  namespace contentpb = ::berth::containerd::content::v1;
  namespace eventspb = ::berth::containerd::events::v1;
  namespace imagespb = ::berth::containerd::images::v1;
  auto dir = TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  auto cd = StartContainerd(*dir);
  ASSERT_THAT(cd, IsOk());
  ExpectHealthyWithServices(*cd, {"berth.containerd.events.v1.Events"});
  auto ch = grpc_util::DialUnix(cd->socket);
  ASSERT_THAT(ch, IsOk());
  auto call = [](const char* ns) {
    auto ctx = std::make_unique<::grpc::ClientContext>();
    ctx->AddMetadata("berth-namespace", ns);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return ctx;
  };

  auto events = eventspb::Events::NewStub(*ch);
  auto sub_ctx = call("ignored");
  eventspb::SubscribeRequest sub_req;
  sub_req.add_filters("namespace==e2e");
  auto sub = events->Subscribe(sub_ctx.get(), sub_req);
  sub->WaitForInitialMetadata();  // registered: nothing from here on is missed

  // A blob only the image will reference, written under a lease as a pull does, so no
  // collection (one runs at start) can take it before the image exists.
  namespace leasespb = ::berth::containerd::leases::v1;
  auto leases = leasespb::Leases::NewStub(*ch);
  {
    auto ctx = call("e2e");
    leasespb::CreateRequest req;
    req.set_id("e2e-pull");
    leasespb::CreateResponse resp;
    ::grpc::Status st = leases->Create(ctx.get(), req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  const std::string blob = "{\"schemaVersion\":2,\"berth\":\"daemons_test\"}";
  const std::string digest = digest::Digest::FromBytes(blob)->ToString();
  auto content = contentpb::Content::NewStub(*ch);
  {
    auto ctx = call("e2e");
    ctx->AddMetadata("berth-lease", "e2e-pull");
    auto stream = content->Write(ctx.get());
    contentpb::WriteRequest req;
    req.set_action(contentpb::WRITE_ACTION_COMMIT);
    req.set_ref("e2e-manifest");
    req.set_data(blob);
    req.set_total(static_cast<int64_t>(blob.size()));
    req.set_expected(digest);
    contentpb::WriteResponse resp;
    ASSERT_TRUE(stream->Write(req) && stream->Read(&resp));
    stream->WritesDone();
    ::grpc::Status st = stream->Finish();
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  auto images = imagespb::Images::NewStub(*ch);
  {
    auto ctx = call("e2e");
    imagespb::CreateRequest req;
    req.mutable_image()->set_name("example.com/e2e:1");
    req.mutable_image()->mutable_target()->set_media_type(
        "application/vnd.oci.image.manifest.v1+json");
    req.mutable_image()->mutable_target()->set_digest(digest);
    req.mutable_image()->mutable_target()->set_size(static_cast<int64_t>(blob.size()));
    imagespb::CreateResponse resp;
    ::grpc::Status st = images->Create(ctx.get(), req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  eventspb::SubscribeResponse ev;
  ASSERT_TRUE(sub->Read(&ev));
  EXPECT_EQ(ev.envelope().topic(), "/images/create");
  EXPECT_EQ(ev.envelope().namespace_(), "e2e");
  eventspb::ImageCreate created;
  ASSERT_TRUE(ev.envelope().event().UnpackTo(&created));
  EXPECT_EQ(created.name(), "example.com/e2e:1");

  // The image keeps its blob once the lease is gone (a sync lease delete collects first); a
  // sync image delete collects it before returning.
  auto blob_code = [&] {
    auto ctx = call("e2e");
    contentpb::InfoRequest req;
    req.set_digest(digest);
    contentpb::InfoResponse resp;
    return content->Info(ctx.get(), req, &resp).error_code();
  };
  {
    auto ctx = call("e2e");
    leasespb::DeleteRequest req;
    req.set_id("e2e-pull");
    req.set_sync(true);
    leasespb::DeleteResponse resp;
    ::grpc::Status st = leases->Delete(ctx.get(), req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  EXPECT_EQ(blob_code(), ::grpc::StatusCode::OK);
  {
    auto ctx = call("e2e");
    imagespb::DeleteRequest req;
    req.set_name("example.com/e2e:1");
    req.set_sync(true);
    imagespb::DeleteResponse resp;
    ::grpc::Status st = images->Delete(ctx.get(), req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  EXPECT_EQ(blob_code(), ::grpc::StatusCode::NOT_FOUND);
  std::vector<std::string> topics;
  while (topics.size() < 2 && sub->Read(&ev)) topics.push_back(ev.envelope().topic());
  EXPECT_THAT(topics, Contains("/images/delete"));
  EXPECT_THAT(topics, Contains("/content/delete"));

  auto resp = berth::testing::HttpGet(cd->metrics_addr, "/metrics");
  ASSERT_THAT(resp, IsOk());
  EXPECT_THAT(resp->body,
              HasSubstr("berth_containerd_events_published_total{topic=\"/images/create\"} 1"));
  EXPECT_THAT(resp->body, HasSubstr("berth_containerd_events_subscribers 1"));
  EXPECT_THAT(resp->body, HasSubstr("berth_containerd_gc_runs_total{result=\"ok\"}"));
  EXPECT_THAT(resp->body, HasSubstr("berth_containerd_gc_duration_seconds_count"));
  EXPECT_THAT(resp->body, HasSubstr("berth_containerd_content_blobs 0"));
  EXPECT_THAT(berth::testing::PromtoolCheckMetrics(resp->body), IsOk());

  // A subscriber that goes away is unregistered.
  sub_ctx->TryCancel();
  EXPECT_EQ(sub->Finish().error_code(), ::grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(berth::testing::WaitFor(
      [&] {
        auto m = berth::testing::HttpGet(cd->metrics_addr, "/metrics");
        return m.ok() && m->body.find("berth_containerd_events_subscribers 0") != std::string::npos;
      },
      absl::Seconds(10)));
  ExpectCleanStop(*cd);
}

}  // namespace
}  // namespace berth::tests
