#include "engine/images/changes.h"

#include "common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace berth::engine::images {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::HasSubstr;

nlohmann::json Apply(const std::vector<std::string>& changes) {
  nlohmann::json c = nlohmann::json::object();
  absl::Status s = ApplyChanges(changes, &c);
  EXPECT_THAT(s, IsOk());
  return c;
}

TEST(ChangesTest, CmdAndEntrypointExecAndShellForms) {
  auto c = Apply({"CMD [\"sh\", \"-c\", \"echo hi\"]", "entrypoint /bin/run --fast"});
  EXPECT_EQ(c["Cmd"], nlohmann::json::array({"sh", "-c", "echo hi"}));
  EXPECT_EQ(c["Entrypoint"], nlohmann::json::array({"/bin/sh", "-c", "/bin/run --fast"}));
}

TEST(ChangesTest, EnvForms) {
  auto c = Apply({"ENV A=1 B=\"two words\"", "ENV C legacy value", "ENV A=3"});
  EXPECT_EQ(c["Env"], nlohmann::json::array({"A=3", "B=two words", "C=legacy value"}));
}

TEST(ChangesTest, LabelsWorkdirUserExposeVolumeStopsignal) {
  auto c = Apply({"LABEL a=b \"c d\"=e", "WORKDIR /app", "WORKDIR sub", "USER 1000:1000",
                  "EXPOSE 80 53/udp 8000-8001", "VOLUME [\"/data\", \"/logs\"]", "VOLUME /x",
                  "STOPSIGNAL SIGINT"});
  EXPECT_EQ(c["Labels"]["a"], "b");
  EXPECT_EQ(c["Labels"]["c d"], "e");
  EXPECT_EQ(c["WorkingDir"], "/app/sub");
  EXPECT_EQ(c["User"], "1000:1000");
  for (const char* p : {"80/tcp", "53/udp", "8000/tcp", "8001/tcp"}) {
    EXPECT_TRUE(c["ExposedPorts"].contains(p)) << p;
  }
  EXPECT_TRUE(c["Volumes"].contains("/data"));
  EXPECT_TRUE(c["Volumes"].contains("/logs"));
  EXPECT_TRUE(c["Volumes"].contains("/x"));
  EXPECT_EQ(c["StopSignal"], "SIGINT");
}

TEST(ChangesTest, RefusesWhatImportCannotDo) {
  nlohmann::json c = nlohmann::json::object();
  EXPECT_THAT(ApplyChanges({"RUN apt-get update"}, &c),
              StatusIs(absl::StatusCode::kInvalidArgument, "run is not a valid change command"));
  EXPECT_THAT(ApplyChanges({"ONBUILD RUN x"}, &c),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ONBUILD is not supported")));
  EXPECT_THAT(ApplyChanges({"COPY a b"}, &c), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ApplyChanges({"ENV"}, &c), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ApplyChanges({"ENV =x"}, &c), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ApplyChanges({"EXPOSE 70000"}, &c), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ApplyChanges({"EXPOSE 80/icmp"}, &c), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ApplyChanges({"CMD"}, &c), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ApplyChanges({"ENV A=\"open"}, &c), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ApplyChanges({""}, &c), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace berth::engine::images
