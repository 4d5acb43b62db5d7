// berth.containerd.content.v1.Content served on a unix socket and called through the generated
// stub: the Write protocol (commit, resume, mismatch, AlreadyExists), ranged reads, namespaces,
// labels, filters, delete and leases.
#include "containerd/content/content_service.h"

#include <sys/stat.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "berth/containerd/content/v1/content.grpc.pb.h"
#include "common/digest/digest.h"
#include "common/grpc/status_mapping.h"
#include "common/testing/child_process.h"
#include "common/testing/status_matchers.h"
#include "containerd/content/namespaced_store.h"
#include "containerd/events/fake_publisher.h"
#include "containerd/server/service_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::containerd::content {
namespace {

using ::berth::containerd::server::CallContext;
using ::berth::grpc_util::FromGrpcStatus;
using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

using WriteStream = ::grpc::ClientReaderWriter<v1::WriteRequest, v1::WriteResponse>;

// Deterministic bytes that do not repeat with any short period.
std::string Bytes(size_t n, uint32_t seed) {
  std::string out(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    out[i] = static_cast<char>(x >> 24);
  }
  return out;
}

std::string DigestOf(const std::string& data) {
  return digest::Digest::FromBytes(data)->ToString();
}

v1::WriteRequest Req(v1::WriteAction action, const std::string& ref = "", int64_t offset = 0,
                     const std::string& data = "") {
  v1::WriteRequest req;
  req.set_action(action);
  req.set_ref(ref);
  req.set_offset(offset);
  req.set_data(data);
  return req;
}

class ContentServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = server::ServiceTestEnv::Create();
    ASSERT_THAT(env, IsOk());
    env_ = std::move(*env);
    store_ = std::make_unique<NamespacedStore>(&env_->metadata(), &env_->blobs());
    service_ = std::make_unique<ContentService>(store_.get(), &publisher_);
    ASSERT_THAT(env_->Serve({service_.get()}), IsOk());
    stub_ = v1::Content::NewStub(env_->channel());
  }
  void TearDown() override {
    if (env_ != nullptr) env_->StopServing();
  }

  // One Write stream: WRITE `data` in 256 KiB pieces, then COMMIT with the given expectations.
  // Returns the stream's final status; `last` gets the COMMIT response when there is one.
  absl::Status WriteBlob(const std::string& ns, const std::string& ref, const std::string& data,
                         const std::string& expected,
                         const std::map<std::string, std::string>& labels = {},
                         const std::string& lease = "", v1::WriteResponse* last = nullptr) {
    auto ctx = CallContext(ns, lease);
    std::unique_ptr<WriteStream> stream = stub_->Write(ctx.get());
    constexpr size_t kPiece = 256 << 10;
    v1::WriteResponse resp;
    for (size_t at = 0; at < data.size(); at += kPiece) {
      v1::WriteRequest req =
          Req(v1::WRITE_ACTION_WRITE, at == 0 ? ref : "", at, data.substr(at, kPiece));
      if (!stream->Write(req) || !stream->Read(&resp)) return FromGrpcStatus(stream->Finish());
      EXPECT_EQ(resp.offset(), static_cast<int64_t>(std::min(data.size(), at + kPiece)));
    }
    v1::WriteRequest commit = Req(v1::WRITE_ACTION_COMMIT, data.empty() ? ref : "");
    commit.set_total(static_cast<int64_t>(data.size()));
    commit.set_expected(expected);
    commit.mutable_labels()->insert(labels.begin(), labels.end());
    if (stream->Write(commit) && stream->Read(&resp) && last != nullptr) *last = resp;
    stream->WritesDone();
    return FromGrpcStatus(stream->Finish());
  }

  // Read of [offset, offset+size); the chunks go to `chunks` when given.
  absl::StatusOr<std::string> Read(const std::string& ns, const std::string& digest,
                                   int64_t offset = 0, int64_t size = 0,
                                   std::vector<v1::ReadResponse>* chunks = nullptr) {
    auto ctx = CallContext(ns);
    v1::ReadRequest req;
    req.set_digest(digest);
    req.set_offset(offset);
    req.set_size(size);
    auto reader = stub_->Read(ctx.get(), req);
    std::string out;
    v1::ReadResponse resp;
    while (reader->Read(&resp)) {
      EXPECT_EQ(resp.offset(), offset + static_cast<int64_t>(out.size())) << "chunks out of order";
      out += resp.data();
      if (chunks != nullptr) chunks->push_back(resp);
    }
    absl::Status s = FromGrpcStatus(reader->Finish());
    if (!s.ok()) return s;
    return out;
  }

  absl::StatusOr<v1::Info> Info(const std::string& ns, const std::string& digest) {
    auto ctx = CallContext(ns);
    v1::InfoRequest req;
    req.set_digest(digest);
    v1::InfoResponse resp;
    absl::Status s = FromGrpcStatus(stub_->Info(ctx.get(), req, &resp));
    if (!s.ok()) return s;
    return resp.info();
  }

  absl::Status Delete(const std::string& ns, const std::string& digest) {
    auto ctx = CallContext(ns);
    v1::DeleteRequest req;
    req.set_digest(digest);
    v1::DeleteResponse resp;
    return FromGrpcStatus(stub_->Delete(ctx.get(), req, &resp));
  }

  absl::StatusOr<std::vector<std::string>> ListDigests(const std::string& ns,
                                                       const std::vector<std::string>& filters) {
    auto ctx = CallContext(ns);
    v1::ListRequest req;
    for (const auto& f : filters) req.add_filters(f);
    auto reader = stub_->List(ctx.get(), req);
    std::vector<std::string> out;
    v1::ListResponse resp;
    while (reader->Read(&resp)) {
      for (const auto& info : resp.infos()) out.push_back(info.digest());
    }
    absl::Status s = FromGrpcStatus(reader->Finish());
    if (!s.ok()) return s;
    return out;
  }

  absl::StatusOr<v1::IngestStatus> IngestStatus(const std::string& ns, const std::string& ref) {
    auto ctx = CallContext(ns);
    v1::StatusRequest req;
    req.set_ref(ref);
    v1::StatusResponse resp;
    absl::Status s = FromGrpcStatus(stub_->Status(ctx.get(), req, &resp));
    if (!s.ok()) return s;
    return resp.status();
  }

  absl::StatusOr<std::vector<std::string>> ListRefs(const std::string& ns,
                                                    const std::vector<std::string>& filters = {}) {
    auto ctx = CallContext(ns);
    v1::ListStatusesRequest req;
    for (const auto& f : filters) req.add_filters(f);
    v1::ListStatusesResponse resp;
    absl::Status s = FromGrpcStatus(stub_->ListStatuses(ctx.get(), req, &resp));
    if (!s.ok()) return s;
    std::vector<std::string> refs;
    for (const auto& st : resp.statuses()) refs.push_back(st.ref());
    return refs;
  }

  absl::Status Abort(const std::string& ns, const std::string& ref) {
    auto ctx = CallContext(ns);
    v1::AbortRequest req;
    req.set_ref(ref);
    v1::AbortResponse resp;
    return FromGrpcStatus(stub_->Abort(ctx.get(), req, &resp));
  }

  absl::StatusOr<v1::Info> Update(const std::string& ns, const std::string& digest,
                                  const std::map<std::string, std::string>& labels,
                                  const std::vector<std::string>& paths) {
    auto ctx = CallContext(ns);
    v1::UpdateRequest req;
    req.mutable_info()->set_digest(digest);
    req.mutable_info()->mutable_labels()->insert(labels.begin(), labels.end());
    for (const auto& p : paths) req.mutable_update_mask()->add_paths(p);
    v1::UpdateResponse resp;
    absl::Status s = FromGrpcStatus(stub_->Update(ctx.get(), req, &resp));
    if (!s.ok()) return s;
    return resp.info();
  }

  bool FileExists(const std::string& digest) {
    return env_->blobs().Info(*digest::Digest::Parse(digest)).ok();
  }

  std::unique_ptr<server::ServiceTestEnv> env_;
  events::FakePublisher publisher_;
  std::unique_ptr<NamespacedStore> store_;
  std::unique_ptr<ContentService> service_;
  std::unique_ptr<v1::Content::Stub> stub_;
};

TEST_F(ContentServiceTest, WriteCommitThenReadWholeAndRanges) {
  const std::string data = Bytes((3 << 20) + 12345, 1);  // a bit over 3 MiB: 4 read chunks
  const std::string digest = DigestOf(data);
  v1::WriteResponse committed;
  ASSERT_THAT(WriteBlob("", "layer-1", data, digest, {{"berth.io/gc.root", "x"}}, "", &committed),
              IsOk());
  EXPECT_EQ(committed.action(), v1::WRITE_ACTION_COMMIT);
  EXPECT_EQ(committed.digest(), digest);
  EXPECT_EQ(committed.offset(), static_cast<int64_t>(data.size()));
  EXPECT_EQ(committed.total(), static_cast<int64_t>(data.size()));

  auto info = Info("", digest);
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->size(), static_cast<int64_t>(data.size()));
  EXPECT_THAT(info->labels(), UnorderedElementsAre(Pair("berth.io/gc.root", "x")));
  EXPECT_GT(info->created_at().seconds(), 0);
  EXPECT_THAT(ListRefs(""), IsOk());
  EXPECT_THAT(*ListRefs(""), IsEmpty()) << "a committed ingest is released";

  std::vector<v1::ReadResponse> chunks;
  auto whole = Read("", digest, 0, 0, &chunks);
  ASSERT_THAT(whole, IsOk());
  EXPECT_TRUE(*whole == data);
  ASSERT_EQ(chunks.size(), 4u);
  for (const auto& c : chunks) EXPECT_LE(c.data().size(), size_t{1} << 20);

  auto range = Read("", digest, 1000, 5000);
  ASSERT_THAT(range, IsOk());
  EXPECT_TRUE(*range == data.substr(1000, 5000));
  auto spanning = Read("", digest, (1 << 20) - 10, 20);  // across a chunk boundary
  ASSERT_THAT(spanning, IsOk());
  EXPECT_TRUE(*spanning == data.substr((1 << 20) - 10, 20));
  auto tail = Read("", digest, static_cast<int64_t>(data.size()) - 7, 1000);  // cut at the end
  ASSERT_THAT(tail, IsOk());
  EXPECT_TRUE(*tail == data.substr(data.size() - 7));
  auto at_end = Read("", digest, static_cast<int64_t>(data.size()));
  ASSERT_THAT(at_end, IsOk());
  EXPECT_EQ(*at_end, "");

  EXPECT_THAT(Read("", digest, static_cast<int64_t>(data.size()) + 1),
              StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(Read("", digest, -1), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Read("", digest, 0, -1), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Read("", "sha256:nope"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Read("", DigestOf("absent")), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Info("", "md5:d41d8cd98f00b204e9800998ecf8427e"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(ContentServiceTest, InfoNamesTheBlobFileForLocalReaders) {
  const std::string data = Bytes((1 << 20) + 77, 9);
  const std::string digest = DigestOf(data);
  ASSERT_THAT(WriteBlob("", "local", data, digest, {}), IsOk());
  v1::InfoRequest req;
  req.set_digest(digest);
  v1::InfoResponse resp;
  {
    // Not asked for: not given.
    ::grpc::ClientContext plain;
    ASSERT_TRUE(stub_->Info(&plain, req, &resp).ok());
    EXPECT_EQ(resp.local_path(), "");
    EXPECT_EQ(resp.local_ino(), 0u);
  }
  ::grpc::ClientContext ctx;
  req.set_want_local_path(true);
  ASSERT_TRUE(stub_->Info(&ctx, req, &resp).ok());
  ASSERT_FALSE(resp.local_path().empty());
  struct stat st;
  ASSERT_EQ(stat(resp.local_path().c_str(), &st), 0);
  EXPECT_EQ(resp.local_dev(), static_cast<uint64_t>(st.st_dev));
  EXPECT_EQ(resp.local_ino(), static_cast<uint64_t>(st.st_ino));
  // The committed file itself: what a client on this host reads instead of the stream.
  std::ifstream in(resp.local_path(), std::ios::binary);
  std::string got((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(got == data);
  EXPECT_EQ(resp.info().size(), static_cast<int64_t>(data.size()));
  // Another namespace learns nothing, path included.
  EXPECT_THAT(Info("team-b", digest), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(ContentServiceTest, EmptyBlobCommitsAndReadsNothing) {
  const std::string digest = DigestOf("");
  ASSERT_THAT(WriteBlob("", "empty", "", digest), IsOk());
  auto got = Read("", digest);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(*got, "");
}

TEST_F(ContentServiceTest, ResumeAfterCancellingTheStreamMidway) {
  const std::string data = Bytes(600000, 2);
  const std::string first = data.substr(0, 250000);
  {
    auto ctx = CallContext("");
    auto stream = stub_->Write(ctx.get());
    v1::WriteRequest req = Req(v1::WRITE_ACTION_WRITE, "resume-me", 0, first);
    req.set_total(static_cast<int64_t>(data.size()));
    ASSERT_TRUE(stream->Write(req));
    v1::WriteResponse resp;
    ASSERT_TRUE(stream->Read(&resp));
    EXPECT_EQ(resp.offset(), 250000);
    EXPECT_EQ(resp.digest(), DigestOf(first));
    ctx->TryCancel();  // the connection "drops" mid-upload
    EXPECT_EQ(stream->Finish().error_code(), ::grpc::StatusCode::CANCELLED);
  }

  // The server releases the ref when it sees the cancellation; until then a new stream gets
  // Unavailable, which the proto tells clients to retry.
  auto ctx = std::make_unique<::grpc::ClientContext>();
  std::unique_ptr<WriteStream> stream;
  v1::WriteResponse stat;
  ASSERT_TRUE(berth::testing::WaitFor(
      [&] {
        ctx = CallContext("");
        stream = stub_->Write(ctx.get());
        if (stream->Write(Req(v1::WRITE_ACTION_STAT, "resume-me")) && stream->Read(&stat)) {
          return true;
        }
        ::grpc::Status s = stream->Finish();
        EXPECT_EQ(s.error_code(), ::grpc::StatusCode::UNAVAILABLE) << s.error_message();
        return false;
      },
      absl::Seconds(10)));
  EXPECT_EQ(stat.action(), v1::WRITE_ACTION_STAT);
  EXPECT_EQ(stat.offset(), 250000);
  EXPECT_EQ(stat.total(), static_cast<int64_t>(data.size()));
  EXPECT_EQ(stat.digest(), DigestOf(first)) << "the resuming client can check its prefix";

  auto status = IngestStatus("", "resume-me");
  ASSERT_THAT(status, IsOk());
  EXPECT_EQ(status->offset(), 250000);
  EXPECT_THAT(ListRefs("", {"ref==resume-me"}), IsOk());
  EXPECT_THAT(*ListRefs("", {"ref==resume-me"}), ElementsAre("resume-me"));
  EXPECT_THAT(*ListRefs("", {"ref==other"}), IsEmpty());
  // The ingest is held by this stream: Abort and a second stream are refused.
  EXPECT_THAT(Abort("", "resume-me"), StatusIs(absl::StatusCode::kUnavailable));
  {
    auto ctx2 = CallContext("");
    auto second = stub_->Write(ctx2.get());
    second->Write(Req(v1::WRITE_ACTION_STAT, "resume-me"));
    v1::WriteResponse r;
    EXPECT_FALSE(second->Read(&r));
    EXPECT_EQ(second->Finish().error_code(), ::grpc::StatusCode::UNAVAILABLE);
  }

  v1::WriteResponse resp;
  ASSERT_TRUE(stream->Write(Req(v1::WRITE_ACTION_WRITE, "", 250000, data.substr(250000))));
  ASSERT_TRUE(stream->Read(&resp));
  EXPECT_EQ(resp.offset(), static_cast<int64_t>(data.size()));
  v1::WriteRequest commit = Req(v1::WRITE_ACTION_COMMIT);
  commit.set_expected(DigestOf(data));
  ASSERT_TRUE(stream->Write(commit));
  ASSERT_TRUE(stream->Read(&resp));
  EXPECT_EQ(resp.digest(), DigestOf(data));
  EXPECT_FALSE(stream->Read(&resp)) << "the server ends the stream after COMMIT";
  EXPECT_THAT(FromGrpcStatus(stream->Finish()), IsOk());

  auto got = Read("", DigestOf(data));
  ASSERT_THAT(got, IsOk());
  EXPECT_TRUE(*got == data);
}

TEST_F(ContentServiceTest, WrongOffsetIsFailedPreconditionAndZeroRestarts) {
  auto ctx = CallContext("");
  auto stream = stub_->Write(ctx.get());
  v1::WriteResponse resp;
  ASSERT_TRUE(stream->Write(Req(v1::WRITE_ACTION_WRITE, "r", 0, "hello")));
  ASSERT_TRUE(stream->Read(&resp));
  ASSERT_TRUE(stream->Write(Req(v1::WRITE_ACTION_WRITE, "", 0, "HE")));  // 0 starts over
  ASSERT_TRUE(stream->Read(&resp));
  EXPECT_EQ(resp.offset(), 2);
  EXPECT_EQ(resp.digest(), DigestOf("HE"));
  stream->Write(Req(v1::WRITE_ACTION_WRITE, "", 7, "x"));
  EXPECT_FALSE(stream->Read(&resp));
  EXPECT_THAT(FromGrpcStatus(stream->Finish()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("offset")));
  auto status = IngestStatus("", "r");
  ASSERT_THAT(status, IsOk());
  EXPECT_EQ(status->offset(), 2) << "a failed write leaves the ingest as it was";
}

TEST_F(ContentServiceTest, DigestOrSizeMismatchStoresNothing) {
  const std::string data = Bytes(70000, 3);
  const std::string wrong = DigestOf("something else");
  EXPECT_THAT(WriteBlob("", "bad", data, wrong),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("digest mismatch")));
  EXPECT_THAT(Info("", wrong), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Info("", DigestOf(data)), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_FALSE(FileExists(wrong));
  EXPECT_FALSE(FileExists(DigestOf(data)));
  EXPECT_THAT(*ListDigests("", {}), IsEmpty());
  // The ingest is kept, to be restarted or aborted.
  auto status = IngestStatus("", "bad");
  ASSERT_THAT(status, IsOk());
  EXPECT_EQ(status->expected(), wrong);
  EXPECT_THAT(Abort("", "bad"), IsOk());
  EXPECT_THAT(IngestStatus("", "bad"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Abort("", "bad"), StatusIs(absl::StatusCode::kNotFound));

  // Size: COMMIT with a total the bytes do not reach.
  auto ctx = CallContext("");
  auto stream = stub_->Write(ctx.get());
  v1::WriteResponse resp;
  ASSERT_TRUE(stream->Write(Req(v1::WRITE_ACTION_WRITE, "short", 0, "abc")));
  ASSERT_TRUE(stream->Read(&resp));
  v1::WriteRequest commit = Req(v1::WRITE_ACTION_COMMIT);
  commit.set_total(4);
  stream->Write(commit);
  EXPECT_FALSE(stream->Read(&resp));
  EXPECT_THAT(FromGrpcStatus(stream->Finish()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("size mismatch")));
  EXPECT_FALSE(FileExists(DigestOf("abc")));
}

TEST_F(ContentServiceTest, AlreadyExistsFromExpectedOrAtCommit) {
  const std::string data = Bytes(1000, 4);
  const std::string digest = DigestOf(data);
  ASSERT_THAT(WriteBlob("", "first", data, digest, {{"keep", "me"}}), IsOk());

  // `expected` on the first request: refused at once, no ingest started.
  {
    auto ctx = CallContext("");
    auto stream = stub_->Write(ctx.get());
    v1::WriteRequest req = Req(v1::WRITE_ACTION_STAT, "again");
    req.set_expected(digest);
    stream->Write(req);
    v1::WriteResponse resp;
    EXPECT_FALSE(stream->Read(&resp));
    EXPECT_THAT(FromGrpcStatus(stream->Finish()), StatusIs(absl::StatusCode::kAlreadyExists));
    EXPECT_THAT(*ListRefs(""), IsEmpty());
  }
  // Found at COMMIT: the ingest is discarded and the existing labels stay.
  EXPECT_THAT(WriteBlob("", "again", data, "", {{"other", "labels"}}),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(*ListRefs(""), IsEmpty());
  EXPECT_THAT(Info("", digest)->labels(), UnorderedElementsAre(Pair("keep", "me")));
}

TEST_F(ContentServiceTest, NamespacesSeeOnlyTheirBlobs) {
  const std::string data = Bytes(5000, 5);
  const std::string digest = DigestOf(data);
  ASSERT_THAT(WriteBlob("team-a", "ref", data, digest, {{"who", "a"}}), IsOk());

  EXPECT_THAT(Info("team-b", digest), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Info("", digest), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Read("team-b", digest), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Update("team-b", digest, {{"x", "y"}}, {}), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Delete("team-b", digest), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(*ListDigests("team-b", {}), IsEmpty());
  EXPECT_THAT(*ListDigests("team-a", {}), ElementsAre(digest));

  // Naming the digest is not enough for team-b: it must send the bytes, then it holds the
  // blob too (stored once on disk), with its own labels.
  v1::WriteResponse committed;
  ASSERT_THAT(WriteBlob("team-b", "ref", data, digest, {{"who", "b"}}, "", &committed), IsOk());
  EXPECT_EQ(committed.digest(), digest);
  EXPECT_THAT(Info("team-b", digest)->labels(), UnorderedElementsAre(Pair("who", "b")));
  EXPECT_THAT(Info("team-a", digest)->labels(), UnorderedElementsAre(Pair("who", "a")));

  // Delete removes the namespace's record; the file goes with the last one.
  ASSERT_THAT(Delete("team-a", digest), IsOk());
  EXPECT_THAT(Info("team-a", digest), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_TRUE(FileExists(digest));
  auto still = Read("team-b", digest);
  ASSERT_THAT(still, IsOk());
  EXPECT_TRUE(*still == data);
  ASSERT_THAT(Delete("team-b", digest), IsOk());
  EXPECT_FALSE(FileExists(digest));
  EXPECT_THAT(Delete("team-b", digest), StatusIs(absl::StatusCode::kNotFound));

  // The same ref in two namespaces names two ingests.
  auto ca = CallContext("team-a");
  auto sa = stub_->Write(ca.get());
  auto cb = CallContext("team-b");
  auto sb = stub_->Write(cb.get());
  v1::WriteResponse ra, rb;
  ASSERT_TRUE(sa->Write(Req(v1::WRITE_ACTION_WRITE, "same-ref", 0, "aaaa")) && sa->Read(&ra));
  ASSERT_TRUE(sb->Write(Req(v1::WRITE_ACTION_WRITE, "same-ref", 0, "bb")) && sb->Read(&rb));
  EXPECT_EQ(ra.offset(), 4);
  EXPECT_EQ(rb.offset(), 2);
  sa->WritesDone();
  sb->WritesDone();
  EXPECT_TRUE(sa->Finish().ok());
  EXPECT_TRUE(sb->Finish().ok());
  EXPECT_THAT(*ListRefs("team-a"), ElementsAre("same-ref"));
  EXPECT_EQ(IngestStatus("team-b", "same-ref")->offset(), 2);
  EXPECT_THAT(*ListRefs("team-c"), IsEmpty());
}

TEST_F(ContentServiceTest, LabelsUpdateAndListFilters) {
  const std::string a = Bytes(10, 6), b = Bytes(20, 7);
  ASSERT_THAT(WriteBlob("", "a", a, DigestOf(a), {{"kind", "layer"}, {"n", "1"}}), IsOk());
  ASSERT_THAT(WriteBlob("", "b", b, DigestOf(b), {{"kind", "config"}}), IsOk());

  auto one = Update("", DigestOf(a), {{"n", "2"}}, {"labels.n"});
  ASSERT_THAT(one, IsOk());
  EXPECT_THAT(one->labels(), UnorderedElementsAre(Pair("kind", "layer"), Pair("n", "2")));
  auto removed = Update("", DigestOf(a), {}, {"labels.n"});
  ASSERT_THAT(removed, IsOk());
  EXPECT_THAT(removed->labels(), UnorderedElementsAre(Pair("kind", "layer")));
  auto replaced = Update("", DigestOf(a), {{"berth.io/gc.root", "1"}, {"kind", "layer"}}, {});
  ASSERT_THAT(replaced, IsOk());
  EXPECT_THAT(replaced->labels(),
              UnorderedElementsAre(Pair("berth.io/gc.root", "1"), Pair("kind", "layer")));
  EXPECT_GE(replaced->updated_at().seconds(), replaced->created_at().seconds());
  EXPECT_THAT(Update("", DigestOf(a), {}, {"size"}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Update("", DigestOf(a), {{"", "x"}}, {}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Update("", DigestOf(a), {{"k", std::string(5000, 'v')}}, {}),
              StatusIs(absl::StatusCode::kInvalidArgument));

  EXPECT_THAT(*ListDigests("", {"labels.kind==layer"}), ElementsAre(DigestOf(a)));
  EXPECT_THAT(*ListDigests("", {"labels.\"berth.io/gc.root\""}), ElementsAre(DigestOf(a)));
  EXPECT_THAT(*ListDigests("", {"size==20"}), ElementsAre(DigestOf(b)));
  EXPECT_THAT(*ListDigests("", {"digest==" + DigestOf(b)}), ElementsAre(DigestOf(b)));
  EXPECT_THAT(*ListDigests("", {"labels.kind==layer", "labels.kind==config"}),
              UnorderedElementsAre(DigestOf(a), DigestOf(b)));
  EXPECT_THAT(*ListDigests("", {"labels.kind~=^con,size==10"}), IsEmpty());
  EXPECT_THAT(*ListDigests("", {"nosuchfield==x"}), IsEmpty());
  EXPECT_THAT(ListDigests("", {"labels.kind=="}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ListRefs("", {"ref=="}), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(ContentServiceTest, ListStreamsManyBlobsInBatches) {
  std::vector<std::string> want;
  const std::string big_label(4000, 'l');
  for (int i = 0; i < 300; ++i) {
    const std::string data = "blob " + std::to_string(i);
    ASSERT_THAT(WriteBlob("", "r" + std::to_string(i), data, "", {{"big", big_label}}), IsOk());
    want.push_back(DigestOf(data));
  }
  std::sort(want.begin(), want.end());
  auto ctx = CallContext("");
  auto reader = stub_->List(ctx.get(), v1::ListRequest());
  std::vector<std::string> got;
  int batches = 0;
  v1::ListResponse resp;
  while (reader->Read(&resp)) {
    ++batches;
    for (const auto& info : resp.infos()) got.push_back(info.digest());
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(got, want);
  EXPECT_GT(batches, 1) << "1.2 MB of labels should not travel in one message";
}

TEST_F(ContentServiceTest, DeletePublishesAndValidates) {
  ASSERT_THAT(WriteBlob("ns1", "x", "x", DigestOf("x")), IsOk());
  ASSERT_THAT(Delete("ns1", DigestOf("x")), IsOk());
  EXPECT_FALSE(FileExists(DigestOf("x")));
  auto events = publisher_.events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].ns, "ns1");
  EXPECT_EQ(events[0].topic, "/content/delete");
  EXPECT_THAT(events[0].debug, HasSubstr(DigestOf("x")));
  EXPECT_THAT(Delete("ns1", "sha256:123"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(ContentServiceTest, WriteProtocolErrors) {
  auto expect_error = [&](std::vector<v1::WriteRequest> reqs, absl::StatusCode code,
                          const std::string& message) {
    auto ctx = CallContext("");
    auto stream = stub_->Write(ctx.get());
    v1::WriteResponse resp;
    size_t answered = 0;
    for (const auto& r : reqs) {
      if (!stream->Write(r) || !stream->Read(&resp)) break;
      ++answered;
    }
    EXPECT_EQ(answered, reqs.size() - 1) << message;
    stream->WritesDone();
    EXPECT_THAT(FromGrpcStatus(stream->Finish()), StatusIs(code, HasSubstr(message)));
  };
  expect_error({Req(v1::WRITE_ACTION_STAT)}, absl::StatusCode::kInvalidArgument, "must set ref");
  expect_error({Req(v1::WRITE_ACTION_UNSPECIFIED, "p")}, absl::StatusCode::kInvalidArgument,
               "action");
  expect_error({Req(v1::WRITE_ACTION_STAT, "p"), Req(v1::WRITE_ACTION_STAT, "q")},
               absl::StatusCode::kInvalidArgument, "differs");
  v1::WriteRequest bad_digest = Req(v1::WRITE_ACTION_STAT, "p");
  bad_digest.set_expected("sha256:xyz");
  expect_error({bad_digest}, absl::StatusCode::kInvalidArgument, "expected");
  v1::WriteRequest total = Req(v1::WRITE_ACTION_WRITE, "p", 0, "abc");
  total.set_total(3);
  v1::WriteRequest other_total = Req(v1::WRITE_ACTION_STAT);
  other_total.set_total(4);
  expect_error({total, other_total}, absl::StatusCode::kInvalidArgument, "");
  v1::WriteRequest past = Req(v1::WRITE_ACTION_WRITE, "p2", 0, "abcd");
  past.set_total(2);
  expect_error({past}, absl::StatusCode::kInvalidArgument, "past the total");

  // A bad namespace header fails the stream before anything is read.
  ::grpc::ClientContext ctx;
  ctx.AddMetadata("berth-namespace", "no/slashes");
  auto stream = stub_->Write(&ctx);
  stream->WritesDone();
  EXPECT_THAT(FromGrpcStatus(stream->Finish()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("berth-namespace")));
}

TEST_F(ContentServiceTest, LeaseHoldsTheIngestThenTheBlob) {
  ASSERT_THAT(env_->metadata().WithTransaction([](metadata::Transaction& tx) {
    return tx.CreateLease("default", metadata::Lease{"pull", {}, {}, std::nullopt}).status();
  }),
              IsOk());
  auto resources = [&] {
    return *env_->metadata().WithReadTransaction(
        [](metadata::Transaction& tx) { return tx.ListLeaseResources("default", "pull"); });
  };

  auto ctx = CallContext("", "pull");
  auto stream = stub_->Write(ctx.get());
  v1::WriteResponse resp;
  ASSERT_TRUE(stream->Write(Req(v1::WRITE_ACTION_WRITE, "leased", 0, "data")));
  ASSERT_TRUE(stream->Read(&resp));
  EXPECT_THAT(resources(), ElementsAre(metadata::LeaseResource{"ingests", "leased"}));
  v1::WriteRequest commit = Req(v1::WRITE_ACTION_COMMIT);
  commit.set_expected(DigestOf("data"));
  ASSERT_TRUE(stream->Write(commit));
  ASSERT_TRUE(stream->Read(&resp));
  stream->WritesDone();
  ASSERT_TRUE(stream->Finish().ok());
  EXPECT_THAT(resources(), ElementsAre(metadata::LeaseResource{"content", DigestOf("data")}));

  // An unknown lease fails the write before any ingest exists.
  EXPECT_THAT(WriteBlob("", "nolease", "zz", "", {}, "missing"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(IngestStatus("", "nolease"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(ContentServiceTest, CollectorRemovesOnlyUnreferencedFiles) {
  const std::string kept = "kept", dropped = "dropped";
  ASSERT_THAT(WriteBlob("", "k", kept, DigestOf(kept)), IsOk());
  ASSERT_THAT(WriteBlob("", "d", dropped, DigestOf(dropped)), IsOk());
  // Drop the record only, as a garbage collection sweep does, leaving the file behind.
  ASSERT_THAT(env_->metadata().WithTransaction([&](metadata::Transaction& tx) {
    return tx.DeleteBlob("default", DigestOf(dropped));
  }),
              IsOk());
  EXPECT_TRUE(FileExists(DigestOf(dropped)));
  EXPECT_THAT(store_->RemoveBlobIfUnreferenced(*digest::Digest::Parse(DigestOf(kept))), IsOk());
  EXPECT_TRUE(FileExists(DigestOf(kept)));
  auto removed = store_->RemoveBlobIfUnreferenced(*digest::Digest::Parse(DigestOf(dropped)));
  ASSERT_THAT(removed, IsOk());
  EXPECT_TRUE(*removed);
  EXPECT_FALSE(FileExists(DigestOf(dropped)));
  EXPECT_FALSE(*store_->RemoveBlobIfUnreferenced(*digest::Digest::Parse(DigestOf(dropped))));
}

TEST(NamespacedStoreTest, IngestKeysRoundTrip) {
  EXPECT_EQ(NamespacedStore::IngestKey("default", "layer-sha256:ab/c"),
            "default/layer-sha256:ab/c");
  auto split = NamespacedStore::SplitIngestKey("default/layer-sha256:ab/c");
  ASSERT_TRUE(split.has_value());
  EXPECT_EQ(split->first, "default");
  EXPECT_EQ(split->second, "layer-sha256:ab/c");
  EXPECT_FALSE(NamespacedStore::SplitIngestKey("no-namespace").has_value());
  EXPECT_FALSE(NamespacedStore::SplitIngestKey("/ref").has_value());
  EXPECT_FALSE(NamespacedStore::SplitIngestKey("ns/").has_value());
}

TEST_F(ContentServiceTest, DeleteRacingAnotherNamespacesCommitNeverLosesTheFile) {
  // Namespace a deletes the blob (its last holder, so the file goes) while namespace b commits
  // the same bytes; whatever the interleaving, if b ends up holding the blob, its file exists.
  const std::string data = Bytes(50000, 8);
  const std::string digest = DigestOf(data);
  for (int round = 0; round < 25; ++round) {
    ASSERT_THAT(WriteBlob("a", "r", data, digest), IsOk());
    absl::Status deleted, written;
    std::thread del([&] { deleted = Delete("a", digest); });
    std::thread write([&] { written = WriteBlob("b", "r", data, digest); });
    del.join();
    write.join();
    ASSERT_THAT(deleted, IsOk());
    ASSERT_THAT(written, IsOk());
    ASSERT_THAT(Info("b", digest), IsOk());
    ASSERT_TRUE(FileExists(digest)) << "round " << round;
    auto got = Read("b", digest);
    ASSERT_THAT(got, IsOk());
    ASSERT_TRUE(*got == data);
    ASSERT_THAT(Delete("b", digest), IsOk());
    ASSERT_FALSE(FileExists(digest));
  }
}

}  // namespace
}  // namespace berth::containerd::content
