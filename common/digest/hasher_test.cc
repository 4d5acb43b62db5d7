#include "common/digest/hasher.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gtest/gtest.h"

namespace berth::digest {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::berth::testing::TempDir;
using ::testing::AllOf;
using ::testing::HasSubstr;

// FIPS 180-2 / NIST test vectors.
constexpr char kSha256Empty[] =
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr char kSha256Abc[] =
    "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr char kSha256MillionA[] =
    "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
constexpr char kSha512Empty[] =
    "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
    "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";
constexpr char kSha512Abc[] =
    "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

void WriteFile(const std::string& path, const std::string& data) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0) << path;
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = write(fd, data.data() + off, data.size() - off);
    ASSERT_GT(n, 0);
    off += static_cast<size_t>(n);
  }
  ASSERT_EQ(close(fd), 0);
}

TEST(FromBytesTest, KnownSha256Vectors) {
  absl::StatusOr<Digest> empty = Digest::FromBytes("");
  ASSERT_THAT(empty, IsOk());
  EXPECT_EQ(empty->ToString(), kSha256Empty);
  absl::StatusOr<Digest> abc = Digest::FromBytes("abc");
  ASSERT_THAT(abc, IsOk());
  EXPECT_EQ(abc->ToString(), kSha256Abc);
  EXPECT_EQ(*abc, *Digest::Parse(kSha256Abc));
}

TEST(HasherTest, KnownSha512Vectors) {
  Sha512Hasher empty;
  EXPECT_EQ(empty.Finish()->ToString(), kSha512Empty);
  Sha512Hasher abc;
  abc.Update("abc");
  EXPECT_EQ(abc.Finish()->ToString(), kSha512Abc);
}

// The NIST "one million 'a'" vector, fed in uneven pieces to exercise streaming.
TEST(HasherTest, StreamingMatchesOneShot) {
  const std::string million(1000000, 'a');
  Sha256Hasher hasher;
  size_t off = 0;
  for (size_t step = 1; off < million.size(); step = step * 3 + 1) {
    const size_t n = std::min(step, million.size() - off);
    hasher.Update(absl::string_view(million).substr(off, n));
    off += n;
  }
  EXPECT_EQ(hasher.size(), 1000000u);
  absl::StatusOr<Digest> d = hasher.Finish();
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(d->ToString(), kSha256MillionA);
  EXPECT_EQ(*d, *Digest::FromBytes(million));
}

TEST(HasherTest, CreateByNameCoversEverySupportedAlgorithm) {
  for (absl::string_view name : SupportedAlgorithms()) {
    SCOPED_TRACE(name);
    absl::StatusOr<Hasher> hasher = Hasher::Create(std::string(name));  // a short-lived string
    ASSERT_THAT(hasher, IsOk());
    EXPECT_EQ(hasher->algorithm(), name);
    hasher->Update("abc");
    absl::StatusOr<Digest> d = hasher->Finish();
    ASSERT_THAT(d, IsOk());
    EXPECT_EQ(d->algorithm(), name);
    // What a hasher makes, Parse accepts unchanged.
    EXPECT_THAT(Digest::Parse(d->ToString()), IsOk());
  }
}

TEST(HasherTest, CreateRejectsUnsupportedAlgorithms) {
  EXPECT_THAT(Hasher::Create("md5"), StatusIs(absl::StatusCode::kUnimplemented,
                                              HasSubstr("unsupported digest algorithm \"md5\"")));
  EXPECT_THAT(Hasher::Create(""), StatusIs(absl::StatusCode::kUnimplemented));
  EXPECT_THAT(Hasher::Create("SHA256"), StatusIs(absl::StatusCode::kUnimplemented));
}

TEST(HasherTest, ForDigestUsesTheDigestsAlgorithm) {
  Hasher hasher = Hasher::ForDigest(*Digest::Parse(kSha512Abc));
  EXPECT_EQ(hasher.algorithm(), "sha512");
  hasher.Update("abc");
  EXPECT_EQ(hasher.Finish()->ToString(), kSha512Abc);
}

TEST(HasherTest, FinishIsOneShot) {
  Sha256Hasher hasher;
  hasher.Update("abc");
  ASSERT_THAT(hasher.Finish(), IsOk());
  hasher.Update("more");  // ignored
  EXPECT_THAT(hasher.Finish(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("already finished")));
}

TEST(HasherTest, MovedHasherKeepsItsState) {
  Sha256Hasher first;
  first.Update("a");
  Hasher second = std::move(first);
  second.Update("bc");
  EXPECT_EQ(second.Finish()->ToString(), kSha256Abc);
  EXPECT_THAT(first.Finish(), StatusIs(absl::StatusCode::kFailedPrecondition));  // NOLINT
}

TEST(VerifierTest, AcceptsMatchingContent) {
  Verifier verifier(*Digest::Parse(kSha256Abc));
  verifier.Update("a");
  verifier.Update("bc");
  EXPECT_EQ(verifier.size(), 3u);
  EXPECT_THAT(verifier.Verify(), IsOk());
  EXPECT_THAT(VerifyBytes(*Digest::Parse(kSha512Abc), "abc"), IsOk());
}

TEST(VerifierTest, RejectsOtherContentNamingBothDigests) {
  EXPECT_THAT(
      VerifyBytes(*Digest::Parse(kSha256Abc), "abd"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               AllOf(HasSubstr("content digest mismatch"),
                     HasSubstr(absl::StrCat("expected ", kSha256Abc)), HasSubstr("got sha256:"))));
  // Truncated content is a mismatch too.
  EXPECT_THAT(VerifyBytes(*Digest::Parse(kSha512Abc), "ab"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("got sha512:")));
}

TEST(VerifierTest, VerifyIsOneShot) {
  Verifier verifier(*Digest::Parse(kSha256Empty));
  EXPECT_THAT(verifier.Verify(), IsOk());
  EXPECT_THAT(verifier.Verify(), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(DigestFileTest, MultiMegabyteFileMatchesFromBytes) {
  absl::StatusOr<TempDir> dir = TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  // Not a multiple of the read chunk, so the last read is partial.
  const std::string data = RandomBytes(5 * 1024 * 1024 + 12345, 42);
  const std::string path = dir->Sub("blob");
  WriteFile(path, data);

  absl::StatusOr<Digest> from_file = DigestFile(path);
  ASSERT_THAT(from_file, IsOk());
  EXPECT_EQ(*from_file, *Digest::FromBytes(data));

  absl::StatusOr<Digest> sha512 = DigestFile(path, kSha512);
  ASSERT_THAT(sha512, IsOk());
  Sha512Hasher hasher;
  hasher.Update(data);
  EXPECT_EQ(*sha512, *hasher.Finish());
}

TEST(DigestFileTest, EmptyFile) {
  absl::StatusOr<TempDir> dir = TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  WriteFile(dir->Sub("empty"), "");
  EXPECT_EQ(DigestFile(dir->Sub("empty"))->ToString(), kSha256Empty);
}

TEST(DigestFileTest, ErrorsNameThePath) {
  absl::StatusOr<TempDir> dir = TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  const std::string missing = dir->Sub("missing");
  EXPECT_THAT(DigestFile(missing), StatusIs(absl::StatusCode::kNotFound, HasSubstr(missing)));
  // A directory opens but cannot be read.
  EXPECT_THAT(DigestFile(dir->path()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(dir->path())));
  WriteFile(dir->Sub("f"), "x");
  EXPECT_THAT(DigestFile(dir->Sub("f"), "md5"),
              StatusIs(absl::StatusCode::kUnimplemented,
                       AllOf(HasSubstr(dir->Sub("f")), HasSubstr("unsupported"))));
}


std::string OneShot(absl::string_view alg, absl::string_view data) {
  absl::StatusOr<Hasher> h = Hasher::Create(alg);
  h->Update(data);
  return h->Finish()->ToString();
}

TEST(HasherPeekTest, PeekDoesNotEndTheStream) {
  for (absl::string_view alg : SupportedAlgorithms()) {
    absl::StatusOr<Hasher> d = Hasher::Create(alg);
    ASSERT_THAT(d, IsOk());
    EXPECT_EQ(d->Peek()->ToString(), OneShot(alg, ""));
    d->Update("ab");
    EXPECT_EQ(d->Peek()->ToString(), OneShot(alg, "ab"));
    EXPECT_EQ(d->Peek()->ToString(), OneShot(alg, "ab"));
    d->Update("c");
    EXPECT_EQ(d->Peek()->ToString(), OneShot(alg, "abc"));
    EXPECT_EQ(d->size(), 3u);
    ASSERT_THAT(d->Reset(), IsOk());
    EXPECT_EQ(d->size(), 0u);
    d->Update("xyz");
    EXPECT_EQ(d->Peek()->ToString(), OneShot(alg, "xyz"));
    EXPECT_EQ(d->Finish()->ToString(), OneShot(alg, "xyz"));
    EXPECT_THAT(d->Peek(), StatusIs(absl::StatusCode::kFailedPrecondition));
    ASSERT_THAT(d->Reset(), IsOk());
    d->Update("again");
    EXPECT_EQ(d->Finish()->ToString(), OneShot(alg, "again"));
  }
}

TEST(HasherPeekTest, PeekSurvivesMove) {
  absl::StatusOr<Hasher> d = Hasher::Create(kSha256);
  ASSERT_THAT(d, IsOk());
  d->Update("abc");
  Hasher moved = *std::move(d);
  moved.Update("def");
  EXPECT_EQ(moved.Peek()->ToString(), OneShot(kSha256, "abcdef"));
}

}  // namespace
}  // namespace berth::digest
