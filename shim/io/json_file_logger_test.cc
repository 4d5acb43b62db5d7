#include "shim/io/json_file_logger.h"

#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::shim::io {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::berth::testing::TempDir;
using nlohmann::json;
using ::testing::ElementsAre;

const absl::Time kTime = absl::FromUnixNanos(1714564800123456789);  // 2024-05-01T12:00:00.123...

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> Lines(const std::string& path) {
  return absl::StrSplit(Read(path), '\n', absl::SkipEmpty());
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

uint64_t SizeOf(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

std::string Escaped(absl::string_view s) {
  std::string out;
  AppendJsonString(&out, s);
  return out;
}

class JsonFileLoggerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = TempDir::Create();
    ASSERT_THAT(d, IsOk());
    dir_.emplace(std::move(*d));
    path_ = dir_->Sub("c-json.log");
  }

  std::unique_ptr<JsonFileLogger> Open(uint64_t max_size = 0, uint32_t max_files = 0) {
    auto l = JsonFileLogger::Create({path_, max_size, max_files, [] { return kTime; }});
    EXPECT_THAT(l, IsOk());
    return l.ok() ? std::move(*l) : nullptr;
  }

  std::optional<TempDir> dir_;
  std::string path_;
};

TEST(FormatTest, TimeHasNineDigitsInUtc) {
  EXPECT_EQ(FormatLogTime(kTime), "2024-05-01T12:00:00.123456789Z");
  EXPECT_EQ(FormatLogTime(absl::FromUnixSeconds(0)), "1970-01-01T00:00:00.000000000Z");
}

TEST(FormatTest, EntryMatchesDocker) {
  EXPECT_EQ(EncodeJsonLogEntry("hello\n", LogStream::kStdout, kTime),
            "{\"log\":\"hello\\n\",\"stream\":\"stdout\","
            "\"time\":\"2024-05-01T12:00:00.123456789Z\"}\n");
  EXPECT_EQ(EncodeJsonLogEntry("x", LogStream::kStderr, kTime),
            "{\"log\":\"x\",\"stream\":\"stderr\",\"time\":\"2024-05-01T12:00:00.123456789Z\"}\n");
}

TEST(EscapeTest, ControlCharactersQuotesAndHtml) {
  EXPECT_EQ(Escaped("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(Escaped("\n\r\t"), R"("\n\r\t")");
  EXPECT_EQ(Escaped(std::string("\x00\x01\x1f\x7f", 4)), "\"\\u0000\\u0001\\u001f\x7f\"");
  EXPECT_EQ(Escaped("\x1b[31m"), R"("\u001b[31m")");
  EXPECT_EQ(Escaped("<a&b>"), R"("\u003ca\u0026b\u003e")");
}

TEST(EscapeTest, ValidUtf8KeptAsIs) {
  const std::string s = "h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x98\x80";  // héllo 世界 😀
  EXPECT_EQ(Escaped(s), "\"" + s + "\"");
  EXPECT_EQ(json::parse(Escaped(s)).get<std::string>(), s);
  EXPECT_EQ(Escaped("\xe2\x80\xa8\xe2\x80\xa9"), R"("\u2028\u2029")");
}

TEST(EscapeTest, InvalidUtf8BecomesReplacementCharacter) {
  EXPECT_EQ(Escaped("a\xff"
                    "b"),
            R"("a\ufffdb")");
  EXPECT_EQ(Escaped("\xc3("), R"("\ufffd(")");                              // truncated sequence
  EXPECT_EQ(Escaped("\xc0\xaf"), R"("\ufffd\ufffd")");                      // overlong '/'
  EXPECT_EQ(Escaped("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");            // surrogate
  EXPECT_EQ(Escaped("\xf4\x90\x80\x80"), R"("\ufffd\ufffd\ufffd\ufffd")");  // > U+10FFFF
  EXPECT_EQ(Escaped("\xe4\xb8"), R"("\ufffd\ufffd")");                      // cut at the end
  // Whatever the input, the output is valid JSON.
  std::mt19937 rng(7);
  std::string junk(4096, '\0');
  for (char& c : junk) c = static_cast<char>(rng());
  EXPECT_NO_THROW(json::parse(Escaped(junk)));
}

TEST_F(JsonFileLoggerTest, OneEntryPerLinePartialLinesKept) {
  auto log = Open();
  ASSERT_NE(log, nullptr);
  EXPECT_THAT(log->Write(LogStream::kStdout, "one\ntwo\nthr"), IsOk());
  EXPECT_THAT(log->Write(LogStream::kStderr, "err\n"), IsOk());
  EXPECT_THAT(log->Write(LogStream::kStdout, "ee\n"), IsOk());
  EXPECT_THAT(log->Write(LogStream::kStdout, ""), IsOk());
  std::vector<std::pair<std::string, std::string>> got;
  for (const auto& line : Lines(path_)) {
    json j = json::parse(line);
    EXPECT_EQ(j.size(), 3u);
    EXPECT_EQ(j["time"], "2024-05-01T12:00:00.123456789Z");
    got.emplace_back(j["log"], j["stream"]);
  }
  EXPECT_THAT(got, ElementsAre(std::pair<std::string, std::string>{"one\n", "stdout"},
                               std::pair<std::string, std::string>{"two\n", "stdout"},
                               std::pair<std::string, std::string>{"thr", "stdout"},
                               std::pair<std::string, std::string>{"err\n", "stderr"},
                               std::pair<std::string, std::string>{"ee\n", "stdout"}));
}

TEST_F(JsonFileLoggerTest, LongLinesSplitAt16KiB) {
  auto log = Open();
  ASSERT_NE(log, nullptr);
  ASSERT_THAT(log->Write(LogStream::kStdout, std::string(40000, 'a') + "\n"), IsOk());
  std::vector<size_t> sizes;
  std::string joined;
  for (const auto& line : Lines(path_)) {
    std::string s = json::parse(line)["log"];
    sizes.push_back(s.size());
    joined += s;
  }
  EXPECT_THAT(sizes, ElementsAre(16384, 16384, 40000 - 2 * 16384 + 1));
  EXPECT_EQ(joined, std::string(40000, 'a') + "\n");
}

TEST_F(JsonFileLoggerTest, SplitKeepsUtf8CharactersWhole) {
  auto log = Open();
  ASSERT_NE(log, nullptr);
  // 16383 ASCII bytes, then a 3-byte character straddling the 16 KiB cut.
  const std::string line = std::string(16383, 'a') + "\xe4\xb8\x96" + "z\n";
  ASSERT_THAT(log->Write(LogStream::kStdout, line), IsOk());
  auto lines = Lines(path_);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(json::parse(lines[0])["log"].get<std::string>(), std::string(16383, 'a'));
  EXPECT_EQ(json::parse(lines[1])["log"].get<std::string>(), "\xe4\xb8\x96z\n");
}

TEST_F(JsonFileLoggerTest, RejectsBadOptions) {
  EXPECT_THAT(JsonFileLogger::Create({"relative.log"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(JsonFileLogger::Create({dir_->Sub("missing/c.log")}),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(JsonFileLogger::Create({path_, 100}), StatusIs(absl::StatusCode::kInvalidArgument));
  auto l = JsonFileLogger::Create({path_});
  ASSERT_THAT(l, IsOk());
  EXPECT_EQ((*l)->max_size_bytes(), 10485760u);
  EXPECT_EQ((*l)->max_files(), 3u);
}

TEST_F(JsonFileLoggerTest, RotatesAndDropsOldest) {
  constexpr uint64_t kMax = 4096;
  auto log = Open(kMax, 3);
  ASSERT_NE(log, nullptr);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_THAT(log->Write(LogStream::kStdout, absl::StrCat("line ", i, "\n")), IsOk());
  }
  EXPECT_TRUE(Exists(path_));
  EXPECT_TRUE(Exists(path_ + ".1"));
  EXPECT_TRUE(Exists(path_ + ".2"));
  EXPECT_FALSE(Exists(path_ + ".3"));
  EXPECT_FALSE(Exists(path_ + ".rotating"));
  // Oldest to newest, the kept entries are consecutive and end with the last one.
  std::vector<int> numbers;
  for (const std::string& f : {path_ + ".2", path_ + ".1", path_}) {
    EXPECT_LE(SizeOf(f), kMax) << f;
    for (const auto& line : Lines(f)) {
      std::string s = json::parse(line)["log"];
      numbers.push_back(std::stoi(s.substr(5)));
    }
  }
  ASSERT_FALSE(numbers.empty());
  EXPECT_EQ(numbers.back(), 999);
  for (size_t i = 1; i < numbers.size(); ++i) EXPECT_EQ(numbers[i], numbers[i - 1] + 1);
}

TEST_F(JsonFileLoggerTest, OneFileTruncates) {
  auto log = Open(4096, 1);
  ASSERT_NE(log, nullptr);
  for (int i = 0; i < 500; ++i) {
    ASSERT_THAT(log->Write(LogStream::kStdout, absl::StrCat("line ", i, "\n")), IsOk());
  }
  EXPECT_LE(SizeOf(path_), 4096u);
  EXPECT_FALSE(Exists(path_ + ".1"));
  auto lines = Lines(path_);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(json::parse(lines.back())["log"], "line 499\n");
}

// A chatty container: 10 MB from two pumps at once, in random chunk sizes with long lines and
// escapes, must never take more than max_size × max_files on disk, and every entry stays whole.
TEST_F(JsonFileLoggerTest, FloodStaysWithinBounds) {
  constexpr uint64_t kMax = 64 * 1024;
  constexpr uint32_t kFiles = 3;
  auto log = Open(kMax, kFiles);
  ASSERT_NE(log, nullptr);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> worst{0};
  std::thread watcher([&] {
    while (!stop.load()) {
      uint64_t total = 0;
      for (const std::string& f :
           {path_, path_ + ".1", path_ + ".2", path_ + ".3", path_ + ".rotating"}) {
        total += SizeOf(f);
      }
      uint64_t w = worst.load();
      while (total > w && !worst.compare_exchange_weak(w, total)) {
      }
    }
  });
  auto pump = [&](LogStream stream, unsigned seed) {
    std::mt19937 rng(seed);
    uint64_t written = 0;
    while (written < 5 * 1000 * 1000) {
      std::string chunk(1 + rng() % 40000, 'x');
      for (char& c : chunk) {
        const unsigned r = rng() % 100;
        c = r < 3 ? '\n' : r < 5 ? '\x01' : r < 6 ? '"' : static_cast<char>('a' + r % 26);
      }
      ASSERT_THAT(log->Write(stream, chunk), IsOk());
      written += chunk.size();
    }
  };
  std::thread out(pump, LogStream::kStdout, 1);
  std::thread err(pump, LogStream::kStderr, 2);
  out.join();
  err.join();
  stop = true;
  watcher.join();
  EXPECT_LE(worst.load(), kMax * kFiles);
  EXPECT_FALSE(Exists(path_ + ".3"));
  for (const std::string& f : {path_, path_ + ".1", path_ + ".2"}) {
    EXPECT_LE(SizeOf(f), kMax) << f;
    EXPECT_GT(SizeOf(f), 0u) << f;
    for (const auto& line : Lines(f)) {
      json j = json::parse(line);
      EXPECT_TRUE(j["stream"] == "stdout" || j["stream"] == "stderr");
      EXPECT_LE(j["log"].get<std::string>().size(), JsonFileLogger::kMaxEntryBytes);
    }
  }
}

TEST_F(JsonFileLoggerTest, ReopenContinuesAndRemovesExtraFiles) {
  {
    auto log = Open(4096, 4);
    ASSERT_NE(log, nullptr);
    for (int i = 0; i < 400; ++i) {
      ASSERT_THAT(log->Write(LogStream::kStdout, absl::StrCat("a", i, "\n")), IsOk());
    }
    ASSERT_TRUE(Exists(path_ + ".3"));
  }
  const auto before = Lines(path_);
  auto log = Open(4096, 2);
  ASSERT_NE(log, nullptr);
  EXPECT_FALSE(Exists(path_ + ".2"));
  EXPECT_FALSE(Exists(path_ + ".3"));
  ASSERT_THAT(log->Write(LogStream::kStdout, "again\n"), IsOk());
  auto after = Lines(path_);
  if (after.size() == before.size() + 1) {  // no rotation was needed
    EXPECT_EQ(std::vector<std::string>(after.begin(), after.end() - 1), before);
  } else {  // the live file was full: the old one moved to .1
    EXPECT_EQ(Lines(path_ + ".1"), before);
  }
  EXPECT_EQ(json::parse(after.back())["log"], "again\n");
}

}  // namespace
}  // namespace berth::shim::io
