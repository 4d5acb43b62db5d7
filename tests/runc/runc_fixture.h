// The fixture of berth-runc's integration tests: a busybox bundle in a temp dir, a private
// --root, and after each test a forced delete of every container it made plus leak checks
// (mounts, cgroups).
#pragma once

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/testing/busybox.h"
#include "common/testing/child_process.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gtest/gtest.h"
#include "tests/runc/bundle.h"

namespace berth::tests {

using ::berth::testing::CommandResult;
using ::berth::testing::ExitCode;
using ::berth::testing::IsOk;
using ::berth::testing::TempDir;
using nlohmann::json;

class RuncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "berth-runc integration tests need root";
    auto d = TempDir::Create();
    ASSERT_THAT(d, IsOk());
    dir_.emplace(std::move(*d));
    bundle_ = dir_->Sub("bundle");
    root_ = dir_->Sub("state");
    ASSERT_THAT(berth::testing::MakeBusyboxRootfs(bundle_ + "/rootfs"), IsOk());
  }

  void TearDown() override {
    if (!dir_) return;
    // Whatever a failed test left: force-delete every container it made.
    for (const auto& id : ids_) (void)RunRuntime(root_, {"delete", "--force", id});
    for (const auto& id : ids_) {
      EXPECT_FALSE(MountsMention(bundle_)) << "mount leaked for " << id;
    }
    for (const auto& cg : cgroups_) EXPECT_FALSE(CgroupExists(cg)) << "cgroup leaked: " << cg;
  }

  std::string NewId() {
    ids_.push_back(absl::StrCat("t", getpid(), "-", ids_.size()));
    return ids_.back();
  }

  json Spec(const std::vector<std::string>& args) {
    json j = TestSpec(args);
    std::string cg = j["linux"]["cgroupsPath"];
    cgroups_.push_back(cg.substr(1));
    return j;
  }

  // `run` in the foreground; returns its result.
  CommandResult Run(const json& spec, const std::string& id = "") {
    EXPECT_THAT(WriteSpec(bundle_, spec), IsOk());
    auto r = RunRuntime(root_, {"run", "--bundle", bundle_, id.empty() ? NewId() : id});
    EXPECT_THAT(r, IsOk());
    return r.ok() ? *r : CommandResult{};
  }

  CommandResult Runtime(const std::vector<std::string>& args) {
    auto r = RunRuntime(root_, args);
    EXPECT_THAT(r, IsOk());
    return r.ok() ? *r : CommandResult{};
  }

  json State(const std::string& id) {
    CommandResult r = Runtime({"state", id});
    return json::parse(r.output, nullptr, false);
  }

  bool StateDirExists(const std::string& id) {
    return access((root_ + "/" + id).c_str(), F_OK) == 0;
  }

  std::optional<TempDir> dir_;
  std::string bundle_, root_;
  std::vector<std::string> ids_, cgroups_;
};

}  // namespace berth::tests
