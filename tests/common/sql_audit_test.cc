// SqlAuditStore on both engines: the same test against SQLite and a real
// PostgreSQL 15.
#include "common/sql_audit.h"

#include <google/protobuf/util/time_util.h>

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/sql_engines.h"
#include "tests/testing/status_matchers.h"

namespace fivestar {
namespace {

using ::fivestar::testing::StatusIs;
using ::google::protobuf::util::TimeUtil;

audit::v1::AuditEvent Event(const std::string& principal,
                            const std::string& method, int64_t time_us,
                            const std::string& outcome) {
  audit::v1::AuditEvent event;
  *event.mutable_event_time() = TimeUtil::MicrosecondsToTimestamp(time_us);
  event.set_principal(principal);
  event.set_role("OPERATOR");
  event.set_scope("/henan/");
  event.set_method(method);
  (*event.mutable_target())["village.id"] = "垱子岭 \"quoted\"";
  event.set_request_messages(3);
  event.set_request_id("req-" + principal);
  event.set_server_request_id("srv-" + principal);
  event.set_peer("ipv4:127.0.0.1:5000");
  event.set_outcome_code(outcome);
  event.set_outcome_message(outcome == "OK" ? "" : "village.id: not found");
  return event;
}

template <typename Engine>
class SqlAuditStoreTest : public ::testing::Test {
 protected:
  using Pool = typename Engine::Pool;

  void SetUp() override {
    const SchemaMigration migrations[] = {
        {1, "audit log",
         Engine::kPostgres ? kPostgresAuditEventsSchema : kAuditEventsSchema}};
    absl::StatusOr<std::unique_ptr<Pool>> pool = engine_.Open(migrations);
    ASSERT_OK(pool.status());
    pool_ = *std::move(pool);
    store_ = std::make_unique<SqlAuditStore<Pool>>(pool_.get());
    events_ = {Event("alice", "/a/Create", 1'000, "OK"),
               Event("bob", "/a/Update", 2'000, "NOT_FOUND"),
               Event("alice", "/a/Update", 3'000, "OK")};
    ASSERT_OK(store_->Append(absl::MakeConstSpan(events_).first(2)));
    ASSERT_OK(store_->Append(absl::MakeConstSpan(events_).subspan(2)));
  }

  // The sequences a query lists.
  std::vector<int64_t> Sequences(const AuditQuery& query) {
    absl::StatusOr<std::vector<audit::v1::AuditEvent>> listed =
        store_->List(query);
    EXPECT_OK(listed.status());
    std::vector<int64_t> sequences;
    if (listed.ok()) {
      for (const audit::v1::AuditEvent& event : *listed) {
        sequences.push_back(event.sequence());
      }
    }
    return sequences;
  }

  Engine engine_;
  std::unique_ptr<Pool> pool_;
  std::unique_ptr<SqlAuditStore<Pool>> store_;
  std::vector<audit::v1::AuditEvent> events_;
};

TYPED_TEST_SUITE(SqlAuditStoreTest, testing::SqlEngines,
                 testing::SqlEngineNames);

TYPED_TEST(SqlAuditStoreTest, ReadsBackExactlyWhatWasAppended) {
  absl::StatusOr<std::vector<audit::v1::AuditEvent>> listed =
      this->store_->List({});
  ASSERT_OK(listed.status());
  ASSERT_EQ(listed->size(), 3u);
  for (int i = 0; i < 3; ++i) {
    audit::v1::AuditEvent expected = this->events_[2 - i];
    expected.set_sequence(3 - i);
    EXPECT_EQ((*listed)[i].DebugString(), expected.DebugString());
  }
}

TYPED_TEST(SqlAuditStoreTest, FiltersAndPagesCombine) {
  using Sequences = std::vector<int64_t>;
  AuditQuery by_principal;
  by_principal.principal = "alice";
  EXPECT_EQ(this->Sequences(by_principal), (Sequences{3, 1}));
  AuditQuery by_method;
  by_method.method = "/a/Update";
  EXPECT_EQ(this->Sequences(by_method), (Sequences{3, 2}));
  AuditQuery by_outcome;
  by_outcome.outcome_code = "NOT_FOUND";
  EXPECT_EQ(this->Sequences(by_outcome), (Sequences{2}));
  AuditQuery window;
  window.start = absl::FromUnixMicros(2'000);
  window.end = absl::FromUnixMicros(3'000);
  EXPECT_EQ(this->Sequences(window), (Sequences{2}));
  AuditQuery first_two;
  first_two.oldest_first = true;
  first_two.limit = 2;
  EXPECT_EQ(this->Sequences(first_two), (Sequences{1, 2}));
  AuditQuery after_two;
  after_two.oldest_first = true;
  after_two.after_sequence = 2;
  EXPECT_EQ(this->Sequences(after_two), (Sequences{3}));
  AuditQuery before_three;
  before_three.after_sequence = 3;
  before_three.limit = 1;
  EXPECT_EQ(this->Sequences(before_three), (Sequences{2}));
  AuditQuery nobody;
  nobody.principal = "carol";
  EXPECT_EQ(this->Sequences(nobody), Sequences{});
}

TYPED_TEST(SqlAuditStoreTest, TheTableRefusesUpdateAndDelete) {
  using Database = typename TypeParam::Pool::Database;
  EXPECT_THAT(this->pool_->Write([](Database& db) {
    return db.Execute("UPDATE audit_events SET principal = 'someone'");
  }),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "audit_events is append-only"));
  EXPECT_THAT(this->pool_->Write([](Database& db) {
    return db.Execute("DELETE FROM audit_events");
  }),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "audit_events is append-only"));
  EXPECT_EQ(this->Sequences({}), (std::vector<int64_t>{3, 2, 1}));
}

}  // namespace
}  // namespace fivestar
