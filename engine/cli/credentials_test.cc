#include "engine/cli/credentials.h"

#include <sys/stat.h>

#include <map>

#include "common/fs/atomic_file.h"
#include "common/fs/fs.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gtest/gtest.h"

namespace berth::cli {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;

EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& k) -> std::optional<std::string> {
    auto it = vars.find(k);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(ConfigDirTest, BerthConfigThenHome) {
  EXPECT_EQ(ConfigDir(Env({{"BERTH_CONFIG", "/x/cfg"}, {"HOME", "/home/u"}})), "/x/cfg");
  EXPECT_EQ(ConfigDir(Env({{"HOME", "/home/u/"}})), "/home/u/.berth");
  EXPECT_EQ(ConfigDir(Env({{"BERTH_CONFIG", ""}, {"HOME", "/root"}})), "/root/.berth");
}

TEST(RegistryKeyTest, LikeDockerLogin) {
  EXPECT_EQ(RegistryKey(""), kDockerHubKey);
  EXPECT_EQ(RegistryKey("docker.io"), kDockerHubKey);
  EXPECT_EQ(RegistryKey("https://index.docker.io/v1/"), kDockerHubKey);
  EXPECT_EQ(RegistryKey("registry-1.docker.io"), kDockerHubKey);
  EXPECT_EQ(RegistryKey("127.0.0.1:5000"), "127.0.0.1:5000");
  EXPECT_EQ(RegistryKey("https://Reg.Example.com:5000/v2/"), "reg.example.com:5000");
  EXPECT_EQ(RegistryKey("http://localhost:5000"), "localhost:5000");
}

TEST(RegistryKeyTest, ForImages) {
  EXPECT_EQ(*RegistryKeyForImage("busybox"), kDockerHubKey);
  EXPECT_EQ(*RegistryKeyForImage("user/app:1"), kDockerHubKey);
  EXPECT_EQ(*RegistryKeyForImage("127.0.0.1:5000/e2e/busybox:1"), "127.0.0.1:5000");
  EXPECT_EQ(*RegistryKeyForImage("localhost/app"), "localhost");
  EXPECT_THAT(RegistryKeyForImage("Bad Name"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ServerAddressTest, HubIsEmpty) {
  EXPECT_EQ(ServerAddressForKey(kDockerHubKey), "");
  EXPECT_EQ(ServerAddressForKey("127.0.0.1:5000"), "127.0.0.1:5000");
}

class CredentialStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = berth::testing::TempDir::Create();
    ASSERT_THAT(dir, IsOk());
    dir_.emplace(std::move(*dir));
    cfg_ = dir_->Sub("cfg");
  }
  std::optional<berth::testing::TempDir> dir_;
  std::string cfg_;
};

TEST_F(CredentialStoreTest, MissingFileIsEmpty) {
  auto s = CredentialStore::Load(cfg_);
  ASSERT_THAT(s, IsOk());
  EXPECT_FALSE(s->Get("127.0.0.1:5000").has_value());
  EXPECT_FALSE(s->AuthFor("127.0.0.1:5000").has_value());
  EXPECT_FALSE(s->Erase("127.0.0.1:5000"));
}

TEST_F(CredentialStoreTest, SavesDockerFormatWithMode0600AndReadsItBack) {
  auto s = CredentialStore::Load(cfg_);
  ASSERT_THAT(s, IsOk());
  s->Set("127.0.0.1:5000", {"alice", "p:w", ""});
  ASSERT_THAT(s->Save(), IsOk());
  struct stat st;
  ASSERT_EQ(stat((cfg_ + "/config.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat(cfg_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  auto data = fs::ReadFile(cfg_ + "/config.json");
  ASSERT_THAT(data, IsOk());
  nlohmann::json j = nlohmann::json::parse(*data);
  // base64("alice:p:w")
  EXPECT_EQ(j["auths"]["127.0.0.1:5000"]["auth"], "YWxpY2U6cDp3");

  auto again = CredentialStore::Load(cfg_);
  ASSERT_THAT(again, IsOk());
  auto c = again->Get("127.0.0.1:5000");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->username, "alice");
  EXPECT_EQ(c->password, "p:w");
  auto a = again->AuthFor("127.0.0.1:5000");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->username(), "alice");
  EXPECT_EQ(a->password(), "p:w");
  EXPECT_EQ(a->server_address(), "127.0.0.1:5000");
}

TEST_F(CredentialStoreTest, IdentityTokenReplacesThePassword) {
  auto s = CredentialStore::Load(cfg_);
  ASSERT_THAT(s, IsOk());
  s->Set(kDockerHubKey, {"bob", "secret", "refresh-token"});
  ASSERT_THAT(s->Save(), IsOk());
  nlohmann::json j = nlohmann::json::parse(*fs::ReadFile(cfg_ + "/config.json"));
  EXPECT_EQ(j["auths"][kDockerHubKey]["auth"], "Ym9iOg==");  // "bob:"
  EXPECT_EQ(j["auths"][kDockerHubKey]["identitytoken"], "refresh-token");
  auto a = CredentialStore::Load(cfg_)->AuthFor(kDockerHubKey);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->username(), "bob");
  EXPECT_EQ(a->password(), "");
  EXPECT_EQ(a->identity_token(), "refresh-token");
  EXPECT_EQ(a->server_address(), "");
}

TEST_F(CredentialStoreTest, KeepsOtherKeysAndEntries) {
  ASSERT_THAT(fs::MakeDirs(cfg_, 0700), IsOk());
  ASSERT_THAT(fs::WriteFileAtomically(
                  cfg_ + "/config.json",
                  R"({"psFormat": "table {{.ID}}", "auths": {"other:1": {"auth": "eDp5"}}})", 0600),
              IsOk());
  auto s = CredentialStore::Load(cfg_);
  ASSERT_THAT(s, IsOk());
  s->Set("127.0.0.1:5000", {"alice", "pw", ""});
  ASSERT_THAT(s->Save(), IsOk());
  nlohmann::json j = nlohmann::json::parse(*fs::ReadFile(cfg_ + "/config.json"));
  EXPECT_EQ(j["psFormat"], "table {{.ID}}");
  EXPECT_EQ(j["auths"]["other:1"]["auth"], "eDp5");
  EXPECT_TRUE(j["auths"].contains("127.0.0.1:5000"));

  auto t = CredentialStore::Load(cfg_);
  ASSERT_TRUE(t->Erase("127.0.0.1:5000"));
  ASSERT_THAT(t->Save(), IsOk());
  j = nlohmann::json::parse(*fs::ReadFile(cfg_ + "/config.json"));
  EXPECT_FALSE(j["auths"].contains("127.0.0.1:5000"));
  EXPECT_EQ(j["auths"]["other:1"]["auth"], "eDp5");
}

TEST_F(CredentialStoreTest, MalformedFileIsAnError) {
  ASSERT_THAT(fs::MakeDirs(cfg_, 0700), IsOk());
  ASSERT_THAT(fs::WriteFileAtomically(cfg_ + "/config.json", "{not json", 0600), IsOk());
  EXPECT_THAT(CredentialStore::Load(cfg_), StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_THAT(fs::WriteFileAtomically(cfg_ + "/config.json", R"({"auths": []})", 0600), IsOk());
  EXPECT_THAT(CredentialStore::Load(cfg_), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace berth::cli
