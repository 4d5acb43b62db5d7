// NamespacedStore rules that need control over the interleaving: a Delete in one namespace
// racing a Commit of the same blob in another must never leave a record without its file.
#include "containerd/content/namespaced_store.h"

#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/digest/digest.h"
#include "common/testing/status_matchers.h"
#include "containerd/server/service_test_util.h"
#include "gtest/gtest.h"

namespace berth::containerd::content {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;

// A ContentStore that forwards to another, except that each Writer::Commit, once the
// underlying commit is done, announces it and then waits (up to a bound) for `release`.
class PausingStore final : public ContentStore {
 public:
  explicit PausingStore(ContentStore* inner) : inner_(inner) {}

  absl::Notification committed;  // the underlying commit is done
  absl::Notification release;    // let the commit return

  absl::StatusOr<BlobInfo> Info(const digest::Digest& d) override { return inner_->Info(d); }
  absl::Status Walk(const WalkCallback& fn) override { return inner_->Walk(fn); }
  absl::Status Delete(const digest::Digest& d) override { return inner_->Delete(d); }
  absl::StatusOr<std::unique_ptr<ReaderAt>> OpenReader(const digest::Digest& d) override {
    return inner_->OpenReader(d);
  }
  absl::Status Read(const digest::Digest& d, int64_t offset, int64_t size,
                    const ReadCallback& fn) override {
    return inner_->Read(d, offset, size, fn);
  }
  absl::StatusOr<std::unique_ptr<Writer>> OpenWriter(
      absl::string_view ref, int64_t total,
      const std::optional<digest::Digest>& expected) override {
    auto w = inner_->OpenWriter(ref, total, expected);
    if (!w.ok()) return w.status();
    return std::unique_ptr<Writer>(new PausingWriter(this, std::move(*w)));
  }
  absl::StatusOr<IngestStatus> Status(absl::string_view ref) override {
    return inner_->Status(ref);
  }
  absl::StatusOr<std::vector<IngestStatus>> ListStatuses(absl::string_view prefix) override {
    return inner_->ListStatuses(prefix);
  }
  absl::Status Abort(absl::string_view ref) override { return inner_->Abort(ref); }

 private:
  class PausingWriter final : public Writer {
   public:
    PausingWriter(PausingStore* store, std::unique_ptr<Writer> inner)
        : store_(store), inner_(std::move(inner)) {}
    const std::string& ref() const override { return inner_->ref(); }
    int64_t offset() const override { return inner_->offset(); }
    IngestStatus Status() const override { return inner_->Status(); }
    absl::StatusOr<digest::Digest> Digest() const override { return inner_->Digest(); }
    absl::Status SetExpected(int64_t total, const std::optional<digest::Digest>& e) override {
      return inner_->SetExpected(total, e);
    }
    absl::Status Write(int64_t offset, absl::string_view data) override {
      return inner_->Write(offset, data);
    }
    absl::StatusOr<BlobInfo> Commit(int64_t size, const std::optional<digest::Digest>& e) override {
      absl::StatusOr<BlobInfo> result = inner_->Commit(size, e);
      store_->committed.Notify();
      // With the digest lock, the racing Delete cannot finish meanwhile, so this wait runs out;
      // without it, the Delete would remove the file right here.
      store_->release.WaitForNotificationWithTimeout(absl::Milliseconds(500));
      return result;
    }
    absl::Status Close() override { return inner_->Close(); }

   private:
    PausingStore* store_;
    std::unique_ptr<Writer> inner_;
  };

  ContentStore* inner_;
};

TEST(NamespacedStoreRaceTest, DeleteWaitsForACommitOfTheSameDigest) {
  auto env = server::ServiceTestEnv::Create();
  ASSERT_THAT(env, IsOk());
  const std::string data = "shared bytes";
  const digest::Digest digest = *digest::Digest::FromBytes(data);

  // Namespace a holds the blob.
  {
    NamespacedStore plain(&(*env)->metadata(), &(*env)->blobs());
    auto w = plain.OpenWriter("a", "r", std::nullopt, 0, digest);
    ASSERT_THAT(w, IsOk());
    ASSERT_THAT((*w)->Write(0, data), IsOk());
    ASSERT_THAT((*w)->Commit(0, std::nullopt, {}), IsOk());
  }

  PausingStore pausing(&(*env)->blobs());
  NamespacedStore store(&(*env)->metadata(), &pausing);
  auto w = store.OpenWriter("b", "r", std::nullopt, 0, digest);
  ASSERT_THAT(w, IsOk());
  ASSERT_THAT((*w)->Write(0, data), IsOk());
  absl::StatusOr<metadata::BlobInfo> committed;
  std::thread commit([&] { committed = (*w)->Commit(0, std::nullopt, {}); });
  pausing.committed.WaitForNotification();
  // b's bytes are verified (the file already exists: a's) but b's record is not written yet.
  absl::Status deleted;
  std::thread del([&] {
    deleted = store.Delete("a", digest.ToString());
    pausing.release.Notify();
  });
  commit.join();
  del.join();
  ASSERT_THAT(committed, IsOk());
  ASSERT_THAT(deleted, IsOk());
  EXPECT_THAT(store.Info("a", digest.ToString()), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_THAT(store.Info("b", digest.ToString()), IsOk());
  EXPECT_THAT((*env)->blobs().Info(digest), IsOk()) << "b holds a blob whose file was deleted";
}

}  // namespace
}  // namespace berth::containerd::content
