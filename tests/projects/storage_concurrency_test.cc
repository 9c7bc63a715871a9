// While the projects database is provably busy (a long read in progress, an
// import or a write waiting on the write lock), reads, writes and health
// checks still answer: the store's reads run on their own connections, not
// behind one lock with everything else. On both engines: the write lock is
// SQLite's (BEGIN IMMEDIATE) or PostgreSQL's writer lock, held by the test
// on a connection of its own as another process would.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/postgres.h"
#include "common/postgres_pool.h"
#include "common/sql_engine.h"
#include "common/sqlite.h"
#include "common/sqlite_pool.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/projects/projects_test_env.h"
#include "tests/testing/status_matchers.h"

namespace fivestar::projects {
namespace {

using ::fivestar::testing::IsOkAndHolds;
using namespace ::fivestar::projects::testing;

v1::ProjectRecord Record(const std::string& key, const std::string& village) {
  v1::ProjectRecord record;
  record.set_key(key);
  *record.mutable_project() = RoadProject(village);
  return record;
}

class StorageConcurrencyTest : public ::testing::Test {
 protected:
  // GetProject with a 2 s deadline.
  absl::StatusOr<v1::Project> GetProject(const std::string& id) {
    v1::GetProjectRequest request;
    request.set_id(id);
    v1::Project project;
    auto context = fivestar::testing::NewContext(kAdminToken, absl::Seconds(2));
    grpc::Status status =
        env_.stub().GetProject(context.get(), request, &project);
    if (!status.ok()) return FromGrpcStatus(status);
    return project;
  }

  // grpc.health.v1.Health/Check with a 2 s deadline.
  absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus>
  Health() {
    auto health =
        grpc::health::v1::Health::NewStub(env_.projects().NewChannel());
    grpc::health::v1::HealthCheckRequest check;
    grpc::health::v1::HealthCheckResponse response;
    auto context = fivestar::testing::NewContext("", absl::Seconds(2));
    grpc::Status status = health->Check(context.get(), check, &response);
    if (!status.ok()) return FromGrpcStatus(status);
    return response.status();
  }

  bool postgres() {
    return EngineOf(env_.database("projects")) == SqlEngine::kPostgres;
  }

  // Takes the database's write lock on a connection of the test's own.
  absl::Status HoldWriteLock() {
    if (postgres()) {
      ASSIGN_OR_RETURN(pg_holder_, PostgresConnection::Connect(
                                       env_.database("projects"), {}));
      return pg_holder_->Execute(PostgresPool::kBeginWrite);
    }
    ASSIGN_OR_RETURN(sqlite_holder_,
                     SqliteDatabase::Open(env_.database("projects")));
    return sqlite_holder_->Execute("BEGIN IMMEDIATE");
  }
  absl::Status ReleaseWriteLock() {
    return postgres() ? pg_holder_->Execute("ROLLBACK")
                      : sqlite_holder_->Execute("ROLLBACK");
  }

  // A read on the store's pool that holds its connection and snapshot
  // from `reading` until `release`.
  template <typename Pool>
  absl::Status HeldRead(absl::Notification& reading,
                        absl::Notification& release) {
    auto* store = env_.projects().server().sql_store<Pool>();
    if (store == nullptr) {
      reading.Notify();
      return absl::InternalError("the store is not on this engine");
    }
    return store->pool_for_testing()->ReadWork([&](typename Pool::Database&) {
      reading.Notify();
      release.WaitForNotification();
      return absl::OkStatus();
    });
  }

  ProjectsTestEnv env_;
  std::unique_ptr<SqliteDatabase> sqlite_holder_;
  std::unique_ptr<PostgresConnection> pg_holder_;
};

TEST_F(StorageConcurrencyTest, ReadsWritesAndHealthAnswerWhileALongReadRuns) {
  ASSERT_OK_AND_ASSIGN(v1::Project existing,
                       env_.CreateProject(RoadProject(kDangziling)));
  // A read as long as a province's summary: it holds a reader connection
  // and its snapshot until the test lets it go.
  absl::Notification reading;
  absl::Notification release;
  absl::Status long_read;
  std::thread reader([&] {
    long_read = postgres() ? HeldRead<PostgresPool>(reading, release)
                           : HeldRead<SqlitePool>(reading, release);
  });
  reading.WaitForNotification();

  ASSERT_OK_AND_ASSIGN(v1::Project read, GetProject(existing.id()));
  EXPECT_EQ(read.etag(), existing.etag());
  EXPECT_THAT(Health(),
              IsOkAndHolds(grpc::health::v1::HealthCheckResponse::SERVING));
  ASSERT_OK_AND_ASSIGN(v1::Project created,
                       env_.CreateProject(RoadProject(kMaohe)));
  EXPECT_EQ(created.village_id(), kMaohe);
  // All three answered while the long read was still in progress: it ends
  // only here (with one lock for everything, GetProject would have waited
  // for it past its 2 s deadline).
  release.Notify();
  reader.join();
  EXPECT_OK(long_read);
}

TEST_F(StorageConcurrencyTest, ReadsAndHealthAnswerWhileAnImportWaitsToApply) {
  ASSERT_OK_AND_ASSIGN(v1::Project existing,
                       env_.CreateProject(RoadProject(kDangziling)));
  // The test takes the database's write lock on a connection of its own, so
  // the import below cannot finish applying until the test lets it.
  ASSERT_OK(HoldWriteLock());

  std::atomic<bool> import_done{false};
  absl::StatusOr<v1::ImportProjectsResponse> imported;
  std::thread importer([&] {
    imported = env_.Import({Record("k1", kDangziling), Record("k2", kMaohe)});
    import_done = true;
  });

  ASSERT_OK_AND_ASSIGN(v1::Project read, GetProject(existing.id()));
  EXPECT_EQ(read.id(), existing.id());
  EXPECT_EQ(read.etag(), existing.etag());
  EXPECT_THAT(Health(),
              IsOkAndHolds(grpc::health::v1::HealthCheckResponse::SERVING));
  // Both answered while the import was still held up by the write lock.
  EXPECT_FALSE(import_done);

  ASSERT_OK(ReleaseWriteLock());
  importer.join();
  ASSERT_OK(imported);
  EXPECT_EQ(imported->phase(), v1::ImportProjectsResponse::DONE);
  EXPECT_EQ(imported->projects_created(), 2);
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Project> all, env_.ListAllProjects({}));
  EXPECT_EQ(all.size(), 3u);
}

TEST_F(StorageConcurrencyTest, ReadsAndHealthAnswerWhileAWriteWaitsToCommit) {
  ASSERT_OK_AND_ASSIGN(v1::Project existing,
                       env_.CreateProject(RoadProject(kDangziling)));
  ASSERT_OK(HoldWriteLock());

  std::atomic<bool> create_done{false};
  absl::StatusOr<v1::Project> created;
  std::thread creator([&] {
    created = env_.CreateProject(RoadProject(kMaohe));
    create_done = true;
  });

  ASSERT_OK_AND_ASSIGN(v1::Project read, GetProject(existing.id()));
  EXPECT_EQ(read.etag(), existing.etag());
  EXPECT_THAT(Health(),
              IsOkAndHolds(grpc::health::v1::HealthCheckResponse::SERVING));
  EXPECT_FALSE(create_done);

  ASSERT_OK(ReleaseWriteLock());
  creator.join();
  ASSERT_OK(created);
  EXPECT_EQ(created->village_id(), kMaohe);
}

}  // namespace
}  // namespace fivestar::projects
