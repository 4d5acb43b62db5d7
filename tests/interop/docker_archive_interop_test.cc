// Image archives between berth and Debian's docker 20.10 (root): what `berth save` writes,
// `docker load` reads and runs; what `docker save` writes, `berth load` reads and runs; and an
// image going berth -> docker -> berth keeps its id and layers. berthd and berth-containerd
// are the real daemons (tests/daemon_harness); dockerd is started by the test on its own
// containerd, data root and socket (tests/interop/reference_daemons).
#include <unistd.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/testing/busybox.h"
#include "common/testing/child_process.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/daemon_harness.h"
#include "tests/interop/reference_daemons.h"

namespace berth::tests::interop {
namespace {

using ::berth::testing::ExitCode;
using ::berth::testing::IsOk;
using ::testing::HasSubstr;
using nlohmann::json;

class DockerArchiveInteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (absl::Status s : {RequireRoot(), RequireTool(kDockerdBin, "docker.io"),
                           RequireTool(kDockerBin, "docker.io"),
                           RequireTool(kContainerdBin, "containerd"),
                           RequireTool("/bin/busybox", "busybox-static")}) {
      if (absl::IsFailedPrecondition(s)) GTEST_SKIP() << s.message();
      ASSERT_THAT(s, IsOk());
    }
    EngineEnv::Options options;
    options.import_busybox = false;  // imported by each test, with its own name and changes
    ASSERT_THAT(env_.Start(options), IsOk());
    ASSERT_THAT(berth::testing::MakeBusyboxTar(env_.dir().path(), env_.dir().Sub("busybox.tar")),
                IsOk());
    auto containerd = ContainerdProcess::Start();
    ASSERT_THAT(containerd, IsOk());
    containerd_ = std::move(*containerd);
    auto dockerd = DockerdProcess::Start(*containerd_);
    ASSERT_THAT(dockerd, IsOk());
    dockerd_ = std::move(*dockerd);
  }

  void TearDown() override {
    if (dockerd_ != nullptr) {
      EXPECT_THAT(dockerd_->Stop(), IsOk()) << dockerd_->Log();
    }
    if (containerd_ != nullptr) {
      EXPECT_THAT(containerd_->Stop(), IsOk());
    }
    env_.Stop();
  }

  berth::testing::CommandResult Berth(const std::vector<std::string>& args) {
    return env_.Berth(args);
  }

  ToolRun Docker(const std::vector<std::string>& args) {
    auto r = dockerd_->Docker(args);
    EXPECT_THAT(r, IsOk());
    return r.ok() ? *r : ToolRun{-1, "", ""};
  }

  // `inspect` of one image as JSON (empty object when it fails).
  json BerthImage(const std::string& ref) { return env_.InspectImage(ref); }
  json DockerImage(const std::string& ref) {
    auto r = Docker({"image", "inspect", ref});
    json j = json::parse(r.out, nullptr, false);
    return j.is_array() && j.size() == 1 ? j[0] : json::object();
  }

  EngineEnv env_;
  std::unique_ptr<ContainerdProcess> containerd_;
  std::unique_ptr<DockerdProcess> dockerd_;
};

TEST_F(DockerArchiveInteropTest, DockerLoadsAndRunsWhatBerthSaves) {
  auto r = Berth({"import", "--change", "CMD [\"echo\", \"hello from a berth archive\"]",
                  "--change", "ENV GREETING=hi", env_.dir().Sub("busybox.tar"), "berth/busybox:1"});
  ASSERT_EQ(ExitCode(r), 0) << r.output;
  ASSERT_THAT(Berth({"tag", "berth/busybox:1", "berth/busybox:also"}).wait_status, 0);
  const json berth_image = BerthImage("berth/busybox:1");
  ASSERT_TRUE(berth_image.contains("Id")) << berth_image.dump();

  const std::string archive = env_.dir().Sub("berth-save.tar");
  r = Berth({"save", "-o", archive, "berth/busybox:1", "berth/busybox:also"});
  ASSERT_EQ(ExitCode(r), 0) << r.output;

  ToolRun load = Docker({"load", "-i", archive});
  ASSERT_TRUE(load.Succeeded()) << load.Describe();
  EXPECT_THAT(load.out, HasSubstr("Loaded image: berth/busybox:1"));
  EXPECT_THAT(load.out, HasSubstr("Loaded image: berth/busybox:also"));

  // Same image: docker computes the id from the config bytes berth wrote.
  const json docker_image = DockerImage("berth/busybox:1");
  EXPECT_EQ(docker_image.value("Id", ""), berth_image.value("Id", "")) << docker_image.dump();
  EXPECT_EQ(docker_image["RootFS"]["Layers"], berth_image["RootFS"]["Layers"]);
  EXPECT_EQ(DockerImage("berth/busybox:also").value("Id", ""), berth_image.value("Id", ""));

  // And it runs there with the config berth gave it.
  ToolRun run = Docker({"run", "--rm", "--network", "none", "berth/busybox:1"});
  ASSERT_TRUE(run.Succeeded()) << run.Describe();
  EXPECT_EQ(run.out, "hello from a berth archive\n");
  run = Docker({"run", "--rm", "--network", "none", "berth/busybox:1", "sh", "-c",
                "echo $GREETING; cat /etc/passwd | head -1"});
  ASSERT_TRUE(run.Succeeded()) << run.Describe();
  EXPECT_EQ(run.out, "hi\nroot:x:0:0:root:/root:/bin/sh\n");
}

TEST_F(DockerArchiveInteropTest, BerthLoadsAndRunsWhatDockerSaves) {
  // docker's own image (made by `docker import`, saved by `docker save`).
  ToolRun imp = Docker({"import", "--change", "CMD [\"echo\", \"hello from docker\"]",
                        env_.dir().Sub("busybox.tar"), "docker/busybox:1"});
  ASSERT_TRUE(imp.Succeeded()) << imp.Describe();
  const json docker_image = DockerImage("docker/busybox:1");
  const std::string archive = env_.dir().Sub("docker-save.tar");
  ToolRun save = Docker({"save", "-o", archive, "docker/busybox:1"});
  ASSERT_TRUE(save.Succeeded()) << save.Describe();

  auto r = Berth({"load", "-i", archive});
  ASSERT_EQ(ExitCode(r), 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("Loaded image: docker/busybox:1"));
  const json berth_image = BerthImage("docker/busybox:1");
  EXPECT_EQ(berth_image.value("Id", ""), docker_image.value("Id", "")) << berth_image.dump();
  EXPECT_EQ(berth_image["RootFS"]["Layers"], docker_image["RootFS"]["Layers"]);

  r = Berth({"run", "--rm", "docker/busybox:1"});
  EXPECT_EQ(ExitCode(r), 0) << r.output;
  EXPECT_EQ(r.output, "hello from docker\n");

  // Back to docker from berth: still the same image (id and layers), nothing re-derived.
  const std::string again = env_.dir().Sub("berth-resave.tar");
  r = Berth({"save", "-o", again, "docker/busybox:1"});
  ASSERT_EQ(ExitCode(r), 0) << r.output;
  ToolRun rmi = Docker({"rmi", "docker/busybox:1"});
  ASSERT_TRUE(rmi.Succeeded()) << rmi.Describe();
  ToolRun load = Docker({"load", "-i", again});
  ASSERT_TRUE(load.Succeeded()) << load.Describe();
  EXPECT_EQ(DockerImage("docker/busybox:1").value("Id", ""), docker_image.value("Id", ""));
}

}  // namespace
}  // namespace berth::tests::interop
