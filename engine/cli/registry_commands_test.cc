// pull, push, login, logout and run's implicit pull over gRPC against FakeImagesService and
// FakeContainersService: what each command line sends (references, AuthConfig, flags), what it
// prints, what it stores in the config dir, and its exit code.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "common/fs/fs.h"
#include "common/grpc/server.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "engine/cli/commands.h"
#include "engine/cli/fake_server.h"
#include "engine/cli/credentials.h"
#include "engine/cli/fake_containers_service.h"
#include "engine/cli/fake_images_service.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::cli {
namespace {

namespace v1 = ::berth::engine::v1;
using ::berth::cli::testing::FakeContainersService;
using ::berth::cli::testing::FakeImagesService;
using ::berth::testing::IsOk;
using ::testing::HasSubstr;
using ::testing::Not;

using Result = ::berth::cli::testing::CliResult;

v1::PullImageResponse PullLine(const std::string& id, const std::string& status,
                               int64_t current = 0, int64_t total = 0) {
  v1::PullImageResponse m;
  m.mutable_progress()->set_id(id);
  m.mutable_progress()->set_status(status);
  m.mutable_progress()->set_current(current);
  m.mutable_progress()->set_total(total);
  return m;
}

// Replaces stdin with `data` (or /dev/null) for one scope.
class StdinFrom {
 public:
  explicit StdinFrom(const std::string* data) {
    saved_ = dup(STDIN_FILENO);
    int fd;
    if (data == nullptr) {
      fd = open("/dev/null", O_RDONLY);
    } else {
      int p[2];
      EXPECT_EQ(pipe(p), 0);
      EXPECT_EQ(write(p[1], data->data(), data->size()), static_cast<ssize_t>(data->size()));
      close(p[1]);
      fd = p[0];
    }
    dup2(fd, STDIN_FILENO);
    close(fd);
  }
  ~StdinFrom() {
    dup2(saved_, STDIN_FILENO);
    close(saved_);
  }

 private:
  int saved_;
};

class RegistryCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_THAT(server_.Start({&images_, &containers_}), IsOk());
    config_ = server_.dir().Sub("berth-config");
    setenv("BERTH_CONFIG", config_.c_str(), 1);
  }
  void TearDown() override {
    server_.Shutdown();
    unsetenv("BERTH_CONFIG");
  }

  Result Run(std::vector<std::string> args, const std::string* stdin_data = nullptr) {
    StdinFrom in(stdin_data);
    return server_.Run(std::move(args));
  }
  nlohmann::json Config() {
    auto data = fs::ReadFile(config_ + "/config.json");
    EXPECT_THAT(data, IsOk());
    return data.ok() ? nlohmann::json::parse(*data) : nlohmann::json();
  }
  void ScriptBusyboxPull() {
    images_.pull_stream = {
        PullLine("latest", "Pulling from library/busybox"),
        PullLine("a3ed95caeb02", "Pulling fs layer"),
        PullLine("a3ed95caeb02", "Downloading", 1000, 772000),
        PullLine("a3ed95caeb02", "Download complete"),
        PullLine("a3ed95caeb02", "Extracting", 32768, 772000),
        PullLine("a3ed95caeb02", "Pull complete"),
        PullLine("", "Digest: sha256:" + std::string(64, 'd')),
        PullLine("", "Status: Downloaded newer image for busybox:latest"),
    };
    v1::PullImageResponse result;
    result.mutable_result()->set_reference("docker.io/library/busybox:latest");
    images_.pull_stream.push_back(result);
  }
  std::string Login(const std::string& server, const std::string& user, const std::string& pw) {
    std::string in = pw + "\n";
    Result r = Run({"login", "-u", user, "--password-stdin", server}, &in);
    EXPECT_EQ(r.rc, 0) << r.err;
    return r.out;
  }

  FakeImagesService images_;
  FakeContainersService containers_;
  ::berth::cli::testing::FakeServer server_;
  std::string config_;
};

TEST_F(RegistryCommandsTest, PullPrintsPhasesWithoutBarsAndTheFullReference) {
  ScriptBusyboxPull();
  Result r = Run({"pull", "busybox"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out,
            "Using default tag: latest\n"
            "latest: Pulling from library/busybox\n"
            "a3ed95caeb02: Pulling fs layer\n"
            "a3ed95caeb02: Download complete\n"
            "a3ed95caeb02: Pull complete\n"
            "Digest: sha256:" +
                std::string(64, 'd') +
                "\n"
                "Status: Downloaded newer image for busybox:latest\n"
                "docker.io/library/busybox:latest\n");
  EXPECT_EQ(r.err, "");
  absl::MutexLock l(&images_.mu);
  ASSERT_EQ(images_.pulls.size(), 1u);
  EXPECT_EQ(images_.pulls[0].reference(), "busybox:latest");
  EXPECT_FALSE(images_.pulls[0].all_tags());
  EXPECT_FALSE(images_.pulls[0].has_auth());
}

TEST_F(RegistryCommandsTest, PullQuietPrintsOnlyTheReference) {
  ScriptBusyboxPull();
  Result r = Run({"image", "pull", "-q", "127.0.0.1:5000/e2e/busybox:1"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "127.0.0.1:5000/e2e/busybox:1\n");
  absl::MutexLock l(&images_.mu);
  ASSERT_EQ(images_.pulls.size(), 1u);
  EXPECT_EQ(images_.pulls[0].reference(), "127.0.0.1:5000/e2e/busybox:1");
}

TEST_F(RegistryCommandsTest, PullAllTagsAndPlatform) {
  Result r = Run({"pull", "-a", "busybox:1"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "berth: tag can't be used with --all-tags/-a\n");
  r = Run({"pull", "-a", "--platform", "linux/arm64/v8", "localhost:5000/app"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "localhost:5000/app\n");
  absl::MutexLock l(&images_.mu);
  ASSERT_EQ(images_.pulls.size(), 1u);
  EXPECT_TRUE(images_.pulls[0].all_tags());
  EXPECT_EQ(images_.pulls[0].reference(), "localhost:5000/app");
  EXPECT_EQ(images_.pulls[0].platform().os(), "linux");
  EXPECT_EQ(images_.pulls[0].platform().architecture(), "arm64");
  EXPECT_EQ(images_.pulls[0].platform().variant(), "v8");
}

TEST_F(RegistryCommandsTest, PullErrorsAreOneLineWithExit1) {
  images_.pull_status = ::grpc::Status(
      ::grpc::StatusCode::NOT_FOUND, "manifest for 127.0.0.1:5000/a:nope not found: manifest unknown");
  Result r = Run({"pull", "127.0.0.1:5000/a:nope"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err,
            "berth: Error response from daemon: manifest for 127.0.0.1:5000/a:nope not found: "
            "manifest unknown\n");
  EXPECT_THAT(r.out, Not(HasSubstr("127.0.0.1:5000/a:nope\n")));
  // A registry that cannot be reached is not mistaken for an absent daemon.
  images_.pull_status =
      ::grpc::Status(::grpc::StatusCode::UNAVAILABLE, "connect 127.0.0.1:1: connection refused");
  r = Run({"pull", "127.0.0.1:1/a"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "berth: Error response from daemon: connect 127.0.0.1:1: connection refused\n");
  r = Run({"pull", "Bad:Ref:x"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_THAT(r.err, HasSubstr("berth: invalid reference format"));
  r = Run({"pull"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_THAT(r.err, HasSubstr("\"berth pull\" requires exactly 1 argument"));
}

TEST_F(RegistryCommandsTest, UnreachableDaemonIsReported) {
  std::ostringstream out, err;
  int rc = RunCli({"-H", "unix://" + server_.dir().Sub("nobody.sock"), "pull", "busybox"}, out, err);
  EXPECT_EQ(rc, 1);
  EXPECT_THAT(err.str(), HasSubstr("Cannot connect to the berth daemon"));
}

TEST_F(RegistryCommandsTest, LoginStoresCredentialsThatPullAndPushSend) {
  std::string out = Login("127.0.0.1:5000", "alice", "pw");
  EXPECT_EQ(out, "Login Succeeded\n");
  {
    absl::MutexLock l(&images_.mu);
    ASSERT_EQ(images_.logins.size(), 1u);
    EXPECT_EQ(images_.logins[0].auth().username(), "alice");
    EXPECT_EQ(images_.logins[0].auth().password(), "pw");
    EXPECT_EQ(images_.logins[0].auth().server_address(), "127.0.0.1:5000");
  }
  nlohmann::json j = Config();
  EXPECT_EQ(j["auths"]["127.0.0.1:5000"]["auth"], absl::Base64Escape("alice:pw"));
  struct stat st;
  ASSERT_EQ(stat((config_ + "/config.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  ScriptBusyboxPull();
  ASSERT_EQ(Run({"pull", "-q", "127.0.0.1:5000/e2e/busybox:1"}).rc, 0);
  ASSERT_EQ(Run({"pull", "-q", "127.0.0.1:6000/other:1"}).rc, 0);
  ASSERT_EQ(Run({"push", "-q", "127.0.0.1:5000/e2e/busybox:1"}).rc, 0);
  absl::MutexLock l(&images_.mu);
  ASSERT_EQ(images_.pulls.size(), 2u);
  EXPECT_EQ(images_.pulls[0].auth().username(), "alice");
  EXPECT_EQ(images_.pulls[0].auth().password(), "pw");
  EXPECT_EQ(images_.pulls[0].auth().server_address(), "127.0.0.1:5000");
  EXPECT_FALSE(images_.pulls[1].has_auth());
  ASSERT_EQ(images_.pushes.size(), 1u);
  EXPECT_EQ(images_.pushes[0].auth().username(), "alice");
}

TEST_F(RegistryCommandsTest, LoginWithPasswordFlagWarnsAndRejectedLoginStoresNothing) {
  Result r = Run({"login", "-u", "alice", "-p", "wrong", "127.0.0.1:5000"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_THAT(r.err, HasSubstr("WARNING! Using --password via the CLI is insecure"));
  EXPECT_THAT(r.err, HasSubstr("berth: Error response from daemon: login attempt to "
                               "http://127.0.0.1:5000/v2/ failed with status: 401 Unauthorized"));
  EXPECT_NE(access((config_ + "/config.json").c_str(), F_OK), 0);
  r = Run({"login", "-u", "alice", "-p", "pw", "127.0.0.1:5000"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("stored unencrypted in " + config_ + "/config.json"));
}

TEST_F(RegistryCommandsTest, LoginFlagErrorsAndNonTtyPrompt) {
  std::string in = "pw\n";
  Result r = Run({"login", "--password-stdin", "127.0.0.1:5000"}, &in);
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "berth: Must provide --username with --password-stdin\n");
  r = Run({"login", "-u", "a", "-p", "x", "--password-stdin"}, &in);
  EXPECT_EQ(r.rc, 1);
  EXPECT_THAT(r.err, HasSubstr("--password and --password-stdin are mutually exclusive"));
  r = Run({"login", "127.0.0.1:5000"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "berth: Cannot perform an interactive login from a non TTY device\n");
  absl::MutexLock l(&images_.mu);
  EXPECT_TRUE(images_.logins.empty());
}

TEST_F(RegistryCommandsTest, LoginKeepsTheIdentityTokenInsteadOfThePassword) {
  images_.login_identity_token = "refresh-1";
  Login("https://index.docker.io/v1/", "alice", "pw");
  nlohmann::json j = Config();
  EXPECT_EQ(j["auths"][kDockerHubKey]["auth"], absl::Base64Escape("alice:"));
  EXPECT_EQ(j["auths"][kDockerHubKey]["identitytoken"], "refresh-1");
  ScriptBusyboxPull();
  ASSERT_EQ(Run({"pull", "busybox"}).rc, 0);
  // With stored credentials, a bare `login` re-checks them instead of prompting.
  Result r = Run({"login"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "Authenticating with existing credentials...\nLogin Succeeded\n");
  absl::MutexLock l(&images_.mu);
  ASSERT_EQ(images_.pulls.size(), 1u);
  EXPECT_EQ(images_.pulls[0].auth().identity_token(), "refresh-1");
  EXPECT_EQ(images_.pulls[0].auth().password(), "");
  EXPECT_EQ(images_.pulls[0].auth().server_address(), "");
  ASSERT_EQ(images_.logins.size(), 2u);
  EXPECT_EQ(images_.logins[0].auth().server_address(), "");
  EXPECT_EQ(images_.logins[1].auth().identity_token(), "refresh-1");
}

TEST_F(RegistryCommandsTest, LogoutRemovesCredentials) {
  Login("127.0.0.1:5000", "alice", "pw");
  Login("127.0.0.1:6000", "alice", "pw");
  Result r = Run({"logout", "http://127.0.0.1:5000/"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "Removing login credentials for 127.0.0.1:5000\n");
  nlohmann::json j = Config();
  EXPECT_FALSE(j["auths"].contains("127.0.0.1:5000"));
  EXPECT_TRUE(j["auths"].contains("127.0.0.1:6000"));
  r = Run({"logout", "127.0.0.1:5000"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.out, "Not logged in to 127.0.0.1:5000\n");
  ScriptBusyboxPull();
  ASSERT_EQ(Run({"pull", "127.0.0.1:5000/a:1"}).rc, 0);
  absl::MutexLock l(&images_.mu);
  EXPECT_FALSE(images_.pulls.back().has_auth());
}

TEST_F(RegistryCommandsTest, PushPrintsRepositoryLayersAndDigest) {
  v1::PushImageResponse m;
  m.mutable_progress()->set_id("a3ed95caeb02");
  m.mutable_progress()->set_status("Preparing");
  images_.push_stream.push_back(m);
  m.mutable_progress()->set_status("Pushing");
  m.mutable_progress()->set_current(100);
  m.mutable_progress()->set_total(1000);
  images_.push_stream.push_back(m);
  m.mutable_progress()->set_status("Pushed");
  m.mutable_progress()->set_current(0);
  m.mutable_progress()->set_total(0);
  images_.push_stream.push_back(m);
  v1::PushImageResponse res;
  res.mutable_result()->set_reference("127.0.0.1:5000/e2e/busybox:1");
  res.mutable_result()->set_digest("sha256:" + std::string(64, 'e'));
  res.mutable_result()->set_size(527);
  images_.push_stream.push_back(res);
  Result r = Run({"push", "127.0.0.1:5000/e2e/busybox:1"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out,
            "The push refers to repository [127.0.0.1:5000/e2e/busybox]\n"
            "a3ed95caeb02: Preparing\n"
            "a3ed95caeb02: Pushed\n"
            "1: digest: sha256:" +
                std::string(64, 'e') + " size: 527\n");
  r = Run({"push", "-q", "127.0.0.1:5000/e2e/busybox:1"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "127.0.0.1:5000/e2e/busybox:1\n");
  images_.push_status =
      ::grpc::Status(::grpc::StatusCode::NOT_FOUND, "An image does not exist locally with the tag: x");
  r = Run({"push", "x"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_THAT(r.err, HasSubstr("berth: Error response from daemon: An image does not exist"));
  absl::MutexLock l(&images_.mu);
  ASSERT_EQ(images_.pushes.size(), 3u);
  EXPECT_EQ(images_.pushes[2].reference(), "x:latest");
}

TEST_F(RegistryCommandsTest, RunPullsAMissingImageThenCreates) {
  const std::string image = "127.0.0.1:5000/e2e/busybox:1";
  {
    absl::MutexLock l(&containers_.mu);
    containers_.missing_images.insert(image);
  }
  ScriptBusyboxPull();
  images_.on_pull = [this](const std::string& ref) {
    absl::MutexLock l(&containers_.mu);
    containers_.missing_images.erase(ref);
  };
  Result r = Run({"run", "-d", image, "true"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, FakeContainersService::IdFor("new") + "\n");
  EXPECT_THAT(r.err, HasSubstr("Unable to find image '" + image + "' locally\n"
                               "latest: Pulling from library/busybox\n"));
  EXPECT_THAT(r.err, HasSubstr("Status: Downloaded newer image for busybox:latest\n"));
  {
    absl::MutexLock l(&images_.mu);
    ASSERT_EQ(images_.pulls.size(), 1u);
    EXPECT_EQ(images_.pulls[0].reference(), image);
  }
  absl::MutexLock l(&containers_.mu);
  EXPECT_EQ(containers_.creates.size(), 1u);
}

TEST_F(RegistryCommandsTest, RunPullPolicies) {
  const std::string image = "127.0.0.1:5000/e2e/busybox:1";
  {
    absl::MutexLock l(&containers_.mu);
    containers_.missing_images.insert(image);
  }
  Result r = Run({"run", "-d", "--pull=never", image});
  EXPECT_EQ(r.rc, 125);
  EXPECT_EQ(r.err, "berth: Error response from daemon: No such image: " + image + "\n");
  r = Run({"create", "--pull", "bogus", image});
  EXPECT_EQ(r.rc, 125);
  EXPECT_THAT(r.err, HasSubstr("invalid pull option: 'bogus'"));
  {
    absl::MutexLock l(&images_.mu);
    EXPECT_TRUE(images_.pulls.empty());
  }
  // A failed pull fails the run with 125 (create: 1) and creates nothing.
  images_.pull_status = ::grpc::Status(::grpc::StatusCode::UNAUTHENTICATED, "authentication required");
  r = Run({"run", "-d", image});
  EXPECT_EQ(r.rc, 125);
  EXPECT_THAT(r.err, HasSubstr("berth: Error response from daemon: authentication required\n"));
  r = Run({"create", image});
  EXPECT_EQ(r.rc, 1);
  // --pull=always pulls a present image too.
  images_.pull_status = ::grpc::Status::OK;
  r = Run({"create", "--pull=always", "--platform", "linux/amd64", "busybox"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_THAT(r.err, Not(HasSubstr("Unable to find image")));
  absl::MutexLock l(&images_.mu);
  ASSERT_EQ(images_.pulls.size(), 3u);
  EXPECT_EQ(images_.pulls[2].reference(), "busybox:latest");
  EXPECT_EQ(images_.pulls[2].platform().architecture(), "amd64");
  absl::MutexLock c(&containers_.mu);
  EXPECT_EQ(containers_.creates.size(), 1u);
}

}  // namespace
}  // namespace berth::cli
