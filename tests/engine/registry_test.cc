// berth pull / push / login / logout end to end: the real `berth` CLI against real
// berth-containerd and berthd processes and a real berth-registry (loopback, plain HTTP), plus
// Debian's docker-registry 2.8 when it is installed. A busybox image is imported from Debian's
// busybox-static, pushed, removed and pulled back: the image id and the manifest digest must
// survive the round trip. Root only.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/fs/atomic_file.h"
#include "common/fs/fs.h"
#include "common/testing/runfiles.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/daemon_harness.h"
#include "tests/interop/reference_daemons.h"
#include "tests/registry/registry_harness.h"

namespace berth::tests {
namespace {

using ::berth::testing::IsOk;
using ::testing::HasSubstr;
using ::testing::Not;
using nlohmann::json;
using interop::ToolRun;

// A fixed bcrypt hash ($2y$, as `htpasswd -B` writes) of "pw" (tests/registry uses the same).
constexpr char kHtpasswd[] = "alice:$2y$05$k2hgroof7v3SnwWSSEGJt.N/ikcSLUxPSrb5x2zcC70YekOLCJNWa\n";

class RegistryTest : public EngineTest {
 protected:
  void TearDown() override {
    EngineTest::TearDown();
    if (registry_.has_value()) (void)registry_->Stop();
  }

  // The CLI with stdout apart from stderr (progress and results are parsed) and a long timeout
  // (pulls and pushes).
  ToolRun Berth(const std::vector<std::string>& args) {
    auto r = interop::RunTool(env_.BerthArgv(args), absl::Seconds(120), env_.CliEnv());
    EXPECT_THAT(r, IsOk());
    return r.ok() ? *r : ToolRun{-1, "", ""};
  }

  void StartRegistry(const std::vector<std::string>& flags = {}) {
    auto reg = RegistryProcess::Start(env_.dir().Sub("registry-root"), env_.dir().path(), flags);
    ASSERT_THAT(reg, IsOk());
    registry_.emplace(std::move(*reg));
  }

  json Inspect(const std::string& image) { return env_.InspectImage(image); }

  // Removes every reference to the busybox image, so the next pull starts from nothing.
  void RemoveAll(const std::string& ref) {
    for (const std::string& r : {ref, std::string("busybox")}) {
      ToolRun rm = Berth({"rmi", r});
      EXPECT_EQ(ExitCode(rm), 0) << rm.Describe();
    }
    ToolRun left = Berth({"images", "-q"});
    EXPECT_EQ(left.out, "") << "images left after rmi";
  }

  // Tags busybox as `ref` and pushes it; returns the manifest digest push reported.
  std::string TagAndPush(const std::string& ref) {
    ToolRun r = Berth({"tag", "busybox", ref});
    EXPECT_EQ(ExitCode(r), 0) << r.Describe();
    r = Berth({"push", ref});
    EXPECT_EQ(ExitCode(r), 0) << r.Describe();
    const std::string repo = ref.substr(0, ref.rfind(':'));
    EXPECT_THAT(r.out, HasSubstr("The push refers to repository [" + repo + "]"));
    const std::string tag = ref.substr(ref.rfind(':') + 1);
    size_t at = r.out.find(tag + ": digest: sha256:");
    EXPECT_NE(at, std::string::npos) << r.out;
    if (at == std::string::npos) return "";
    return r.out.substr(at + tag.size() + 10, 71);
  }

  // Push, remove, pull back: same image id, and the pulled image records the pushed digest.
  void RoundTrip(const std::string& ref) {
    const std::string id = Inspect("busybox")["Id"];
    ASSERT_FALSE(id.empty());
    // "busybox@<local manifest digest>": the tag below points at the same manifest.
    const std::string local = Inspect("busybox")["RepoDigests"].at(0);
    const std::string local_digest = local.substr(local.find('@') + 1);
    const std::string digest = TagAndPush(ref);
    ASSERT_EQ(digest.size(), 71u) << digest;
    const std::string repo = ref.substr(0, ref.rfind(':'));
    // Right after the push, as docker shows it: the registry's digest for the pushed name
    // (the layers were compressed on the way, so not the local manifest's digest).
    const std::string after_push = Inspect(ref)["RepoDigests"].dump();
    EXPECT_THAT(after_push, HasSubstr(repo + "@" + digest));
    EXPECT_THAT(after_push, Not(HasSubstr(repo + "@" + local_digest)));
    RemoveAll(ref);
    ToolRun r = Berth({"pull", ref});
    ASSERT_EQ(ExitCode(r), 0) << r.Describe();
    EXPECT_TRUE(absl::EndsWith(r.out, "\n" + ref + "\n")) << r.out;
    EXPECT_THAT(r.out, HasSubstr(digest)) << "pull names the manifest digest";
    json j = Inspect(ref);
    EXPECT_EQ(j["Id"], id);
    EXPECT_THAT(j["RepoDigests"].dump(), HasSubstr(repo + "@" + digest));
  }

  std::optional<RegistryProcess> registry_;
};

TEST_F(RegistryTest, PushRmiPullKeepsIdAndDigest) {
  ASSERT_NO_FATAL_FAILURE(StartRegistry());
  const std::string ref = registry_->address() + "/e2e/busybox:1";
  ASSERT_NO_FATAL_FAILURE(RoundTrip(ref));
  // Pulling what is present downloads nothing and still succeeds; -q prints only the name.
  ToolRun r = Berth({"pull", "-q", ref});
  EXPECT_EQ(ExitCode(r), 0) << r.Describe();
  EXPECT_EQ(r.out, ref + "\n");
  // The events journal saw the pull and the push, with Docker's ids.
  r = Berth({"events", "--since", "0", "--until", "0s", "--filter", "type=image", "--format",
             "{{.Action}} {{.Actor.ID}}"});
  EXPECT_EQ(ExitCode(r), 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("push " + ref + "\n"));
  EXPECT_THAT(r.out, HasSubstr("pull " + ref + "\n"));
}

TEST_F(RegistryTest, RunPullsAMissingImage) {
  ASSERT_NO_FATAL_FAILURE(StartRegistry());
  const std::string ref = registry_->address() + "/e2e/busybox:1";
  ASSERT_EQ(TagAndPush(ref).size(), 71u);
  RemoveAll(ref);
  ToolRun r = Berth({"run", "--rm", ref, "echo", "hi"});
  EXPECT_EQ(ExitCode(r), 0) << r.Describe();
  EXPECT_EQ(r.out, "hi\n");
  EXPECT_THAT(r.err, HasSubstr("Unable to find image '" + ref + "' locally\n"));
  // --pull=never does not pull a missing image.
  ASSERT_EQ(ExitCode(Berth({"rmi", ref})), 0);
  r = Berth({"run", "--rm", "--pull=never", ref, "true"});
  EXPECT_EQ(ExitCode(r), 125);
  EXPECT_THAT(r.err, HasSubstr("No such image"));
}

TEST_F(RegistryTest, LoginPushPullLogout) {
  ASSERT_THAT(fs::WriteFileAtomically(env_.dir().Sub("htpasswd"), kHtpasswd, 0600), IsOk());
  ASSERT_NO_FATAL_FAILURE(
      StartRegistry({"--htpasswd=" + env_.dir().Sub("htpasswd"), "--auth_realm=berth test"}));
  const std::string server = registry_->address();
  const std::string ref = server + "/e2e/busybox:1";
  ASSERT_EQ(ExitCode(Berth({"tag", "busybox", ref})), 0);

  // Anonymous push is refused.
  ToolRun r = Berth({"push", ref});
  EXPECT_EQ(ExitCode(r), 1) << r.Describe();
  EXPECT_TRUE(absl::StartsWith(r.err, "berth: ")) << r.err;
  // Wrong password: refused, nothing stored.
  r = Berth({"login", "-u", "alice", "-p", "wrong", server});
  EXPECT_EQ(ExitCode(r), 1) << r.Describe();
  EXPECT_NE(access((env_.config_dir() + "/config.json").c_str(), F_OK), 0);

  r = Berth({"login", "-u", "alice", "-p", "pw", server});
  ASSERT_EQ(ExitCode(r), 0) << r.Describe();
  EXPECT_EQ(r.out, "Login Succeeded\n");
  EXPECT_THAT(r.err, HasSubstr("WARNING! Using --password via the CLI is insecure"));
  auto cfg = fs::ReadFile(env_.config_dir() + "/config.json");
  ASSERT_THAT(cfg, IsOk());
  EXPECT_TRUE(json::parse(*cfg)["auths"].contains(server)) << *cfg;

  r = Berth({"push", ref});
  ASSERT_EQ(ExitCode(r), 0) << r.Describe();
  RemoveAll(ref);
  r = Berth({"pull", ref});
  ASSERT_EQ(ExitCode(r), 0) << r.Describe();

  r = Berth({"logout", server});
  EXPECT_EQ(ExitCode(r), 0) << r.Describe();
  EXPECT_EQ(r.out, "Removing login credentials for " + server + "\n");
  ASSERT_EQ(ExitCode(Berth({"rmi", ref})), 0);
  r = Berth({"pull", ref});
  EXPECT_EQ(ExitCode(r), 1) << r.Describe();
  EXPECT_TRUE(absl::StartsWith(r.err, "berth: Error response from daemon: ")) << r.err;
  const std::string lower = absl::AsciiStrToLower(r.err);
  EXPECT_TRUE(absl::StrContains(lower, "auth") || absl::StrContains(lower, "401")) << r.err;
}

TEST_F(RegistryTest, PullOfAMissingTagOrRepositoryIsAClearError) {
  ASSERT_NO_FATAL_FAILURE(StartRegistry());
  const std::string repo = registry_->address() + "/e2e/busybox";
  ASSERT_EQ(TagAndPush(repo + ":1").size(), 71u);
  for (const std::string& ref : {repo + ":nope", registry_->address() + "/e2e/nothing:1"}) {
    ToolRun r = Berth({"pull", ref});
    EXPECT_EQ(ExitCode(r), 1) << r.Describe();
    EXPECT_TRUE(absl::StartsWith(r.err, "berth: Error response from daemon: ")) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
    const std::string lower = absl::AsciiStrToLower(r.err);
    // Docker's wordings: "manifest for …:nope not found: manifest unknown" for a tag, "pull
    // access denied for …, repository does not exist or may require 'berth login'" for a
    // repository.
    EXPECT_TRUE(absl::StrContains(lower, "not found") || absl::StrContains(lower, "does not exist"))
        << r.err;
    EXPECT_THAT(r.out, Not(HasSubstr(ref + "\n")));
  }
  // A registry nobody listens on: a daemon-side error, not "cannot connect to berthd".
  ToolRun r = Berth({"pull", "127.0.0.1:1/e2e/busybox:1"});
  EXPECT_EQ(ExitCode(r), 1) << r.Describe();
  EXPECT_TRUE(absl::StartsWith(r.err, "berth: Error response from daemon: ")) << r.err;
}

TEST_F(RegistryTest, PushToAndPullFromDockerRegistry) {
  auto reg = interop::DockerRegistryProcess::Start();
  if (absl::IsFailedPrecondition(reg.status())) GTEST_SKIP() << reg.status().message();
  ASSERT_THAT(reg, IsOk());
  const std::string ref = (*reg)->address() + "/e2e/busybox:1";
  ASSERT_NO_FATAL_FAILURE(RoundTrip(ref));
  EXPECT_THAT((*reg)->Stop(), IsOk());
}

}  // namespace
}  // namespace berth::tests
