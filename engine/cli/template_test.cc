#include "engine/cli/template.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::cli {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Json = nlohmann::ordered_json;

std::string Render(const std::string& tmpl, const Json& data) {
  auto t = Template::Parse(tmpl);
  EXPECT_THAT(t, IsOk()) << tmpl;
  if (!t.ok()) return "";
  auto out = t->Execute(data);
  EXPECT_THAT(out, IsOk()) << tmpl;
  return out.ok() ? *out : "";
}

const Json& Data() {
  static const Json* d = new Json(Json::parse(R"({
    "ID": "3f2a9c",
    "Names": "web",
    "State": {"Status": "running", "Pid": 812, "Running": true, "ExitCode": 0},
    "Config": {"Env": ["A=1", "B=2"], "Labels": {"tier": "front", "app": "shop"}, "Cmd": null},
    "Mounts": [{"Source": "/a", "Destination": "/x"}, {"Source": "/b", "Destination": "/y"}],
    "Empty": []
  })"));
  return *d;
}

TEST(TemplateTest, FieldsAndText) {
  EXPECT_EQ(Render("{{.ID}}", Data()), "3f2a9c");
  EXPECT_EQ(Render("id={{.ID}}\t{{.Names}}!", Data()), "id=3f2a9c\tweb!");
  EXPECT_EQ(Render("{{.State.Status}} {{.State.Pid}} {{.State.Running}}", Data()),
            "running 812 true");
  EXPECT_EQ(Render("{{ .State.ExitCode }}", Data()), "0");
  EXPECT_EQ(Render("{{.Nope}}", Data()), "<no value>");
  EXPECT_EQ(Render("{{.Config.Env}}", Data()), "[A=1 B=2]");
  EXPECT_EQ(Render("{{.Config.Labels}}", Data()), "map[app:shop tier:front]");
  EXPECT_EQ(Render("plain text", Data()), "plain text");
}

TEST(TemplateTest, Functions) {
  EXPECT_EQ(Render("{{json .State}}", Data()),
            R"({"Status":"running","Pid":812,"Running":true,"ExitCode":0})");
  EXPECT_EQ(Render("{{json .Config.Cmd}}", Data()), "null");
  EXPECT_EQ(Render("{{join .Config.Env \",\"}}", Data()), "A=1,B=2");
  EXPECT_EQ(Render("{{index .Config.Labels \"tier\"}}", Data()), "front");
  EXPECT_EQ(Render("{{index .Config.Env 1}}", Data()), "B=2");
  EXPECT_EQ(Render("{{len .Mounts}}", Data()), "2");
  EXPECT_EQ(Render("{{upper .Names}}|{{.Names | upper}}|{{title \"a b\"}}", Data()),
            "WEB|WEB|A B");
  EXPECT_EQ(Render("{{truncate .ID 3}}", Data()), "3f2");
  EXPECT_EQ(Render("{{split \"a:b\" \":\"}}", Data()), "[a b]");
  EXPECT_EQ(Render("{{println .Names}}", Data()), "web\n");
  EXPECT_EQ(Render("{{json .}}", Json::parse(R"({"a":1})")), R"({"a":1})");
}

TEST(TemplateTest, RangeAndIf) {
  EXPECT_EQ(Render("{{range .Mounts}}{{.Source}}->{{.Destination}};{{end}}", Data()),
            "/a->/x;/b->/y;");
  EXPECT_EQ(Render("{{range .Empty}}x{{else}}none{{end}}", Data()), "none");
  EXPECT_EQ(Render("{{if .State.Running}}up{{else}}down{{end}}", Data()), "up");
  EXPECT_EQ(Render("{{if .Empty}}yes{{else}}no{{end}}", Data()), "no");
  EXPECT_EQ(Render("{{range .Mounts}}\n  {{- .Source}}\n{{- end}}", Data()), "/a/b");
}

TEST(TemplateTest, ParseErrors) {
  EXPECT_THAT(Template::Parse("{{.ID"), StatusIs(absl::StatusCode::kInvalidArgument,
                                                 HasSubstr("template parsing error")));
  EXPECT_THAT(Template::Parse("{{frobnicate .ID}}"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("function \"frobnicate\" not defined")));
  EXPECT_THAT(Template::Parse("{{if .A}}x"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Template::Parse("{{end}}"), StatusIs(absl::StatusCode::kInvalidArgument));
  auto t = Template::Parse("{{join .ID}}");
  ASSERT_THAT(t, IsOk());
  EXPECT_THAT(t->Execute(Data()), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("wrong number of args")));
}

TEST(TemplateTest, TopLevelFieldsForHeaders) {
  auto t = Template::Parse("{{.ID}}\t{{.Names}}\t{{upper .Image}}");
  ASSERT_THAT(t, IsOk());
  EXPECT_THAT(t->TopLevelFields(), ElementsAre("ID", "Names", "Image"));
}

}  // namespace
}  // namespace berth::cli
