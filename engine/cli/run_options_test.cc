#include "engine/cli/run_options.h"

#include <fstream>

#include <google/protobuf/text_format.h>
#include <google/protobuf/util/message_differencer.h>

#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::cli {
namespace {

namespace v1 = ::berth::engine::v1;
using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::HasSubstr;

// Parses `argv` (the words after "run") like RunCommand does and builds the request.
absl::StatusOr<v1::CreateContainerRequest> Build(const std::vector<std::string>& argv,
                                                 bool run = true, uint32_t rows = 0,
                                                 uint32_t cols = 0) {
  RunOptions o;
  FlagSet flags;
  o.Define(flags, run);
  auto args = flags.Parse(argv, /*interspersed=*/false);
  if (!args.ok()) return args.status();
  CreateInputs in;
  in.args = *args;
  in.env_lookup = [](const std::string& k) -> std::optional<std::string> {
    if (k == "FROM_CLI") return std::string("cli-value");
    return std::nullopt;
  };
  in.tty_height = rows;
  in.tty_width = cols;
  return BuildCreateRequest(o, flags, in);
}

v1::CreateContainerRequest Text(const std::string& text) {
  v1::CreateContainerRequest r;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &r)) << text;
  return r;
}

struct Case {
  std::vector<std::string> argv;
  std::string expected;  // text proto of the whole request
};

class RunFlagsTest : public ::testing::TestWithParam<Case> {};

TEST_P(RunFlagsTest, MapsToRequest) {
  auto got = Build(GetParam().argv);
  ASSERT_THAT(got, IsOk());
  v1::CreateContainerRequest want = Text(GetParam().expected);
  std::string diff;
  google::protobuf::util::MessageDifferencer d;
  d.ReportDifferencesToString(&diff);
  EXPECT_TRUE(d.Compare(want, *got)) << diff << "\ngot: " << got->DebugString();
}

// Every run request attaches stdout/stderr unless -d.
constexpr char kAttached[] = "attach_stdout: true attach_stderr: true ";

INSTANTIATE_TEST_SUITE_P(
    Table, RunFlagsTest,
    ::testing::Values(
        Case{{"busybox"},
             absl::StrCat("config { image: 'busybox' ", kAttached, "} host_config { resources {} }")},
        Case{{"busybox", "echo", "-n", "hi"},
             absl::StrCat("config { image: 'busybox' cmd { values: ['echo', '-n', 'hi'] } ",
                          kAttached, "} host_config { resources {} }")},
        // Flags after the image belong to the command.
        Case{{"-d", "--name", "web", "busybox", "ls", "-l"},
             "name: 'web' config { image: 'busybox' cmd { values: ['ls', '-l'] } } "
             "host_config { resources {} }"},
        Case{{"-it", "busybox", "sh"},
             absl::StrCat("config { image: 'busybox' cmd { values: 'sh' } tty: true "
                          "open_stdin: true attach_stdin: true stdin_once: true ",
                          kAttached, "} host_config { resources {} }")},
        Case{{"-d", "-i", "busybox"},
             "config { image: 'busybox' open_stdin: true } host_config { resources {} }"},
        Case{{"-e", "A=1", "--env", "FROM_CLI", "-e", "UNSET", "-eB=2", "busybox"},
             absl::StrCat("config { image: 'busybox' env: ['A=1', 'FROM_CLI=cli-value', 'B=2'] ",
                          kAttached, "} host_config { resources {} }")},
        Case{{"--entrypoint", "", "busybox"},
             absl::StrCat("config { image: 'busybox' entrypoint {} ", kAttached,
                          "} host_config { resources {} }")},
        Case{{"--entrypoint", "/bin/sh", "busybox", "-c", "true"},
             absl::StrCat("config { image: 'busybox' cmd { values: ['-c', 'true'] } "
                          "entrypoint { values: '/bin/sh' } ",
                          kAttached, "} host_config { resources {} }")},
        Case{{"-w", "/srv", "-u", "1000:1000", "--hostname", "box", "-l", "a=b", "--label",
              "flag", "--stop-signal", "SIGINT", "--stop-timeout", "3", "busybox"},
             absl::StrCat("config { image: 'busybox' working_dir: '/srv' user: '1000:1000' "
                          "hostname: 'box' labels { key: 'a' value: 'b' } "
                          "labels { key: 'flag' value: '' } stop_signal: 'SIGINT' "
                          "stop_timeout { seconds: 3 } ",
                          kAttached, "} host_config { resources {} }")},
        Case{{"-m", "512m", "--memory-swap", "-1", "--cpus", "1.5", "-c", "512",
              "--pids-limit", "100", "--ulimit", "nofile=1024:2048", "--ulimit", "nproc=64",
              "busybox"},
             absl::StrCat("config { image: 'busybox' ", kAttached,
                          "} host_config { resources { memory: 536870912 memory_swap: -1 "
                          "nano_cpus: 1500000000 cpu_shares: 512 pids_limit: 100 "
                          "ulimits { name: 'nofile' soft: 1024 hard: 2048 } "
                          "ulimits { name: 'nproc' soft: 64 hard: 64 } } }")},
        // --pids-limit 0 is sent (it is optional in the API: set means "set").
        Case{{"--pids-limit", "0", "busybox"},
             absl::StrCat("config { image: 'busybox' ", kAttached,
                          "} host_config { resources { pids_limit: 0 } }")},
        Case{{"--cap-add", "NET_ADMIN", "--cap-drop", "ALL", "--privileged", "--read-only",
              "--security-opt", "no-new-privileges", "--init", "busybox"},
             absl::StrCat("config { image: 'busybox' ", kAttached,
                          "} host_config { cap_add: 'NET_ADMIN' cap_drop: 'ALL' "
                          "privileged: true read_only_rootfs: true "
                          "security_opts: 'no-new-privileges' init: true resources {} }")},
        Case{{"--init=false", "busybox"},
             absl::StrCat("config { image: 'busybox' ", kAttached,
                          "} host_config { init: false resources {} }")},
        Case{{"--restart", "on-failure:5", "busybox"},
             absl::StrCat("config { image: 'busybox' ", kAttached,
                          "} host_config { restart_policy { name: RESTART_POLICY_NAME_ON_FAILURE "
                          "maximum_retry_count: 5 } resources {} }")},
        Case{{"--rm", "busybox"},
             absl::StrCat("config { image: 'busybox' ", kAttached,
                          "} host_config { auto_remove: true resources {} }")},
        Case{{"--rm", "--restart", "no", "busybox"},
             absl::StrCat("config { image: 'busybox' ", kAttached,
                          "} host_config { auto_remove: true restart_policy { name: "
                          "RESTART_POLICY_NAME_NO } resources {} }")},
        Case{{"--add-host", "db:10.0.0.2", "--add-host", "cache=10.0.0.3", "--dns", "1.1.1.1",
              "--network", "none", "-v", "/host:/data:ro", "-v", "/anon", "--tmpfs",
              "/run:size=64m", "--tmpfs", "/tmp", "--log-driver", "json-file", "--log-opt",
              "max-size=10m", "busybox"},
             absl::StrCat("config { image: 'busybox' volumes: '/anon' ", kAttached,
                          "} host_config { binds: '/host:/data:ro' "
                          "tmpfs { key: '/run' value: 'size=64m' } tmpfs { key: '/tmp' value: '' } "
                          "network_mode: 'none' dns: '1.1.1.1' "
                          "extra_hosts: ['db:10.0.0.2', 'cache:10.0.0.3'] "
                          "log_config { type: 'json-file' config { key: 'max-size' value: '10m' } } "
                          "resources {} }")}));

TEST(RunFlagsErrorTest, BadValuesAreDockerErrors) {
  EXPECT_THAT(Build({"-m", "lots", "busybox"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "invalid argument \"lots\" for \"-m, --memory\" flag: invalid size: "
                       "'lots'"));
  EXPECT_THAT(Build({"--cpus", "one", "busybox"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--cpus")));
  EXPECT_THAT(Build({"--ulimit", "nofile=9:1", "busybox"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("ulimit soft limit must be less than or equal to hard limit")));
  EXPECT_THAT(Build({"--restart", "always:2", "busybox"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'on-failure'")));
  EXPECT_THAT(Build({"--restart", "sometimes", "busybox"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown policy")));
  EXPECT_THAT(Build({"--rm", "--restart", "always", "busybox"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "Conflicting options: --restart and --rm"));
  EXPECT_THAT(Build({"-w", "relative", "busybox"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("absolute path")));
  EXPECT_THAT(Build({"--detach-keys", "ctrl-1", "busybox"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "Unknown character: 'ctrl-1'"));
  EXPECT_THAT(Build({"--pids-limit", "many", "busybox"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not an integer")));
  EXPECT_THAT(Build({}), StatusIs(absl::StatusCode::kInvalidArgument));
  // create has no -d / --rm.
  EXPECT_THAT(Build({"-d", "busybox"}, /*run=*/false),
              StatusIs(absl::StatusCode::kInvalidArgument, "unknown shorthand flag: 'd' in -d"));
}

TEST(RunFlagsTtyTest, ConsoleSizeOnlyWithTty) {
  auto r = Build({"-t", "busybox"}, true, 40, 120);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->host_config().console_size().height(), 40u);
  EXPECT_EQ(r->host_config().console_size().width(), 120u);
  r = Build({"busybox"}, true, 40, 120);
  ASSERT_THAT(r, IsOk());
  EXPECT_FALSE(r->host_config().has_console_size());
}

TEST(RunFlagsEnvFileTest, FilesFirstThenFlags) {
  auto dir = berth::testing::TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  std::ofstream(dir->Sub("a.env")) << "# settings\nA=from-file\nFROM_CLI\nB=file\n";
  std::ofstream(dir->Sub("labels")) << "tier=web\n";
  auto r = Build({"--env-file", dir->Sub("a.env"), "-e", "A=from-flag", "--label-file",
                  dir->Sub("labels"), "busybox"});
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(r->config().env(), ::testing::ElementsAre("A=from-file", "FROM_CLI=cli-value",
                                                        "B=file", "A=from-flag"));
  EXPECT_EQ(r->config().labels().at("tier"), "web");

  std::ofstream(dir->Sub("bad.env")) << "OK=1\nNOT OK=2\n";
  EXPECT_THAT(Build({"--env-file", dir->Sub("bad.env"), "busybox"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "poorly formatted environment: variable 'NOT OK' contains whitespaces"));
  EXPECT_THAT(Build({"--env-file", dir->Sub("none.env"), "busybox"}),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(ImageWithDefaultTagTest, LikeDocker) {
  EXPECT_EQ(ImageWithDefaultTag("busybox"), "busybox:latest");
  EXPECT_EQ(ImageWithDefaultTag("busybox:1.36"), "busybox:1.36");
  EXPECT_EQ(ImageWithDefaultTag("localhost:5000/app"), "localhost:5000/app:latest");
  EXPECT_EQ(ImageWithDefaultTag("app@sha256:abc"), "app@sha256:abc");
}

}  // namespace
}  // namespace berth::cli
