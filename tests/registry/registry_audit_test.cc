// The audit log on a real registry (composition root, real SQLite file,
// real gRPC on 127.0.0.1): what one write records, failed writes, reads
// left out, filters and paging of ListAuditEvents, who may list, no token
// text in the database, and a table that refuses UPDATE and DELETE.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/sql_engine.h"
#include "fivestar/audit/v1/audit.grpc.pb.h"
#include "tests/registry/registry_test_env.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_database.h"

namespace fivestar::registry {
namespace {

using ::fivestar::testing::NewContext;
using ::fivestar::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;
using namespace testing;  // NOLINT: the tokens of the cast.
using audit::v1::AuditEvent;
using audit::v1::ListAuditEventsRequest;
using audit::v1::ListAuditEventsResponse;

constexpr char kService[] = "/fivestar.registry.v1.RegistryService/";

class RegistryAuditTest : public ::testing::Test {
 protected:
  RegistryAuditTest()
      : audit_(audit::v1::AuditService::NewStub(env_.host().NewChannel())) {}

  grpc::Status List(const ListAuditEventsRequest& request,
                    ListAuditEventsResponse* response,
                    const std::string& token = kAdminToken) {
    return audit_->ListAuditEvents(NewContext(token).get(), request, response);
  }

  // Every event matching `request`'s filters, page by page.
  std::vector<AuditEvent> ListAll(ListAuditEventsRequest request) {
    std::vector<AuditEvent> events;
    while (true) {
      ListAuditEventsResponse response;
      grpc::Status status = List(request, &response);
      EXPECT_OK(status);
      if (!status.ok()) return events;
      events.insert(events.end(), response.events().begin(),
                    response.events().end());
      if (response.next_page_token().empty()) return events;
      request.set_page_token(response.next_page_token());
    }
  }

  static std::vector<std::string> Methods(const std::vector<AuditEvent>& all) {
    std::vector<std::string> methods;
    for (const AuditEvent& event : all) methods.push_back(event.method());
    return methods;
  }

  grpc::Status CreateVillage(const std::string& token, const std::string& id,
                             const std::string& region_id) {
    v1::CreateVillageRequest request;
    v1::Village* village = request.mutable_village();
    village->set_id(id);
    village->set_region_id(region_id);
    village->set_name("新村");
    village->set_kind(v1::VILLAGE);
    village->set_target_level(3);
    village->set_target_year(2022);
    v1::Village response;
    return env_.stub().CreateVillage(NewContext(token).get(), request,
                                     &response);
  }

  grpc::Status SetTarget(const std::string& token, const std::string& id,
                         int level) {
    v1::UpdateVillageRequest request;
    request.mutable_village()->set_id(id);
    request.mutable_village()->set_target_level(level);
    request.mutable_update_mask()->add_paths("target_level");
    v1::Village response;
    return env_.stub().UpdateVillage(NewContext(token).get(), request,
                                     &response);
  }

  RegistryTestEnv env_;
  std::unique_ptr<audit::v1::AuditService::Stub> audit_;
};

TEST_F(RegistryAuditTest, WriteIsRecordedWithExactlyItsFields) {
  ASSERT_OK(env_.Import(HuicheRecords()));
  env_.clock().Set(absl::FromUnixSeconds(1664600000));
  ASSERT_OK(CreateVillage(kHuicheOperatorToken, "411323-huiche-north-99",
                          "411323-huiche-north"));

  ListAuditEventsRequest request;
  request.set_page_size(1);
  ListAuditEventsResponse response;
  ASSERT_OK(List(request, &response));
  ASSERT_EQ(response.events_size(), 1);
  const AuditEvent& event = response.events(0);
  EXPECT_EQ(event.sequence(), 2);  // After the import.
  EXPECT_EQ(event.event_time().seconds(), 1664600000);
  EXPECT_EQ(event.event_time().nanos(), 0);
  EXPECT_EQ(event.principal(), "huiche-operator");
  EXPECT_EQ(event.role(), "operator");
  EXPECT_EQ(event.scope(), "411323-huiche");
  EXPECT_EQ(event.method(), absl::StrCat(kService, "CreateVillage"));
  EXPECT_THAT(
      event.target(),
      UnorderedElementsAre(Pair("village.id", "411323-huiche-north-99"),
                           Pair("village.region_id", "411323-huiche-north")));
  EXPECT_EQ(event.request_messages(), 0);
  EXPECT_EQ(event.request_id(), "");
  EXPECT_EQ(event.server_request_id(), "");
  EXPECT_THAT(event.peer(), StartsWith("ipv4:127.0.0.1:"));
  EXPECT_EQ(event.outcome_code(), "OK");
  EXPECT_EQ(event.outcome_message(), "");
  EXPECT_FALSE(response.next_page_token().empty());
}

TEST_F(RegistryAuditTest, OkMeansTheEventIsAlreadyCommitted) {
  ASSERT_OK(env_.Import(HuicheRecords()));
  ASSERT_OK(SetTarget(kAdminToken, "411323-huiche-north-01", 4));
  // A connection of its own, opened after the OK: it sees only what was
  // committed, and the event is there with no waiting.
  EXPECT_THAT(
      fivestar::testing::QueryInt64(
          env_.database(),
          absl::StrCat("SELECT COUNT(*) FROM audit_events WHERE method = '",
                       kService, "UpdateVillage' AND outcome_code = 'OK'")),
      fivestar::testing::IsOkAndHolds(1));
}

TEST_F(RegistryAuditTest, ImportIsRecordedWithItsChunkCountNotItsRecords) {
  const std::vector<v1::RegistryRecord> records = HuicheRecords();
  ASSERT_OK(env_.Import(records, kAdminToken, false, /*chunk_size=*/7));
  std::vector<AuditEvent> events = ListAll({});
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].method(), absl::StrCat(kService, "ImportRegistry"));
  EXPECT_EQ(events[0].principal(), "province-admin");
  EXPECT_EQ(events[0].request_messages(),
            static_cast<int64_t>((records.size() + 6) / 7));
  EXPECT_TRUE(events[0].target().empty());
  EXPECT_EQ(events[0].outcome_code(), "OK");
}

TEST_F(RegistryAuditTest, FailedWritesAreRecordedWithTheirOutcome) {
  ASSERT_OK(env_.Import(HuicheRecords()));
  const grpc::Status denied =
      SetTarget(kOtherTownshipOperatorToken, "411323-huiche-north-01", 4);
  ASSERT_EQ(denied.error_code(), grpc::PERMISSION_DENIED);
  const grpc::Status invalid =
      SetTarget(kAdminToken, "411323-huiche-north-01", 7);
  ASSERT_EQ(invalid.error_code(), grpc::INVALID_ARGUMENT);
  const grpc::Status anonymous = SetTarget("", "411323-huiche-north-01", 4);
  ASSERT_EQ(anonymous.error_code(), grpc::UNAUTHENTICATED);

  ListAuditEventsRequest request;
  request.set_method(absl::StrCat(kService, "UpdateVillage"));
  request.set_oldest_first(true);
  std::vector<AuditEvent> events = ListAll(request);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].principal(), "other-operator");
  EXPECT_EQ(events[0].outcome_code(), "PERMISSION_DENIED");
  EXPECT_EQ(events[0].outcome_message(), denied.error_message());
  EXPECT_THAT(events[0].target(),
              ElementsAre(Pair("village.id", "411323-huiche-north-01")));
  EXPECT_EQ(events[1].principal(), "province-admin");
  EXPECT_EQ(events[1].outcome_code(), "INVALID_ARGUMENT");
  EXPECT_EQ(events[1].outcome_message(), invalid.error_message());
  EXPECT_EQ(events[2].principal(), "");
  EXPECT_EQ(events[2].role(), "");
  EXPECT_EQ(events[2].scope(), "");
  EXPECT_EQ(events[2].outcome_code(), "UNAUTHENTICATED");
  EXPECT_EQ(events[2].outcome_message(), anonymous.error_message());
}

TEST_F(RegistryAuditTest, ReadsAreNotRecorded) {
  ASSERT_OK(env_.Import(HuicheRecords()));
  v1::GetVillageRequest get;
  get.set_id("411323-huiche-north-01");
  v1::Village village;
  ASSERT_OK(
      env_.stub().GetVillage(NewContext(kAdminToken).get(), get, &village));
  v1::ListVillagesRequest list;
  v1::ListVillagesResponse villages;
  ASSERT_OK(
      env_.stub().ListVillages(NewContext(kAdminToken).get(), list, &villages));
  v1::GetAncestorsRequest ancestors;
  ancestors.set_village_id("411323-huiche-north-01");
  v1::GetAncestorsResponse lineage;
  ASSERT_OK(env_.stub().GetAncestors(NewContext(kAdminToken).get(), ancestors,
                                     &lineage));
  ASSERT_OK(env_.Export().status());
  ListAuditEventsResponse response;
  ASSERT_OK(List({}, &response));

  EXPECT_THAT(Methods(ListAll({})),
              ElementsAre(absl::StrCat(kService, "ImportRegistry")));
}

TEST_F(RegistryAuditTest, FiltersAndPagesCombine) {
  ASSERT_OK(env_.Import(HuicheRecords()));  // 12:00:00, province-admin.
  env_.clock().Advance(absl::Hours(1));
  ASSERT_OK(SetTarget(kHuicheOperatorToken, "411323-huiche-north-01", 4));
  env_.clock().Advance(absl::Hours(1));
  ASSERT_EQ(
      SetTarget(kHuicheOperatorToken, "411323-huiche-north-02", 9).error_code(),
      grpc::INVALID_ARGUMENT);
  env_.clock().Advance(absl::Hours(1));
  ASSERT_OK(SetTarget(kHuicheOperatorToken, "411323-huiche-north-02", 5));
  ASSERT_OK(SetTarget(kAdminToken, "411323-huiche-north-01", 2));

  const std::string update = absl::StrCat(kService, "UpdateVillage");
  // Newest first by default, oldest first on request.
  std::vector<AuditEvent> all = ListAll({});
  ASSERT_EQ(all.size(), 5u);
  for (size_t i = 1; i < all.size(); ++i) {
    EXPECT_LT(all[i].sequence(), all[i - 1].sequence());
  }
  ListAuditEventsRequest oldest;
  oldest.set_oldest_first(true);
  oldest.set_page_size(2);
  std::vector<AuditEvent> ascending = ListAll(oldest);
  ASSERT_EQ(ascending.size(), 5u);
  EXPECT_EQ(ascending[0].method(), absl::StrCat(kService, "ImportRegistry"));
  for (size_t i = 0; i < ascending.size(); ++i) {
    EXPECT_EQ(ascending[i].sequence(), all[all.size() - 1 - i].sequence());
  }

  ListAuditEventsRequest by_principal;
  by_principal.set_principal("huiche-operator");
  by_principal.set_page_size(1);
  EXPECT_EQ(ListAll(by_principal).size(), 3u);

  ListAuditEventsRequest by_outcome;
  by_outcome.set_outcome_code("INVALID_ARGUMENT");
  std::vector<AuditEvent> invalid = ListAll(by_outcome);
  ASSERT_EQ(invalid.size(), 1u);
  EXPECT_EQ(invalid[0].target().at("village.id"), "411323-huiche-north-02");

  // [13:00, 15:00): the first two updates only.
  ListAuditEventsRequest window;
  window.set_method(update);
  window.mutable_start_time()->set_seconds(absl::ToUnixSeconds(
      absl::FromCivil(absl::CivilHour(2022, 9, 30, 13), absl::UTCTimeZone())));
  window.mutable_end_time()->set_seconds(window.start_time().seconds() + 7200);
  window.set_oldest_first(true);
  std::vector<AuditEvent> in_window = ListAll(window);
  ASSERT_EQ(in_window.size(), 2u);
  EXPECT_EQ(in_window[0].outcome_code(), "OK");
  EXPECT_EQ(in_window[1].outcome_code(), "INVALID_ARGUMENT");

  ListAuditEventsRequest admin_updates;
  admin_updates.set_principal("province-admin");
  admin_updates.set_method(update);
  std::vector<AuditEvent> mine = ListAll(admin_updates);
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_EQ(mine[0].target().at("village.id"), "411323-huiche-north-01");

  // A page token belongs to the filters it was made for.
  ListAuditEventsRequest first;
  first.set_page_size(2);
  ListAuditEventsResponse page;
  ASSERT_OK(List(first, &page));
  ASSERT_FALSE(page.next_page_token().empty());
  ListAuditEventsRequest other;
  other.set_page_size(2);
  other.set_principal("huiche-operator");
  other.set_page_token(page.next_page_token());
  EXPECT_THAT(List(other, &page),
              StatusIs(absl::StatusCode::kInvalidArgument, "page_token"));
}

TEST_F(RegistryAuditTest, OversizedIdsAreCutInTheLog) {
  ASSERT_OK(env_.Import(HuicheRecords()));
  const std::string long_id(300, 'x');
  ASSERT_EQ(
      CreateVillage(kAdminToken, long_id, "411323-huiche-north").error_code(),
      grpc::INVALID_ARGUMENT);
  ListAuditEventsRequest request;
  request.set_outcome_code("INVALID_ARGUMENT");
  std::vector<AuditEvent> events = ListAll(request);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].target().at("village.id"), std::string(128, 'x') + "…");
}

TEST_F(RegistryAuditTest, BadFiltersNameTheField) {
  ListAuditEventsResponse response;
  ListAuditEventsRequest method;
  method.set_method("UpdateVillage");
  EXPECT_THAT(List(method, &response),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "method: must be a full method name"));
  ListAuditEventsRequest outcome;
  outcome.set_outcome_code("DENIED");
  EXPECT_THAT(List(outcome, &response),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "outcome_code: must be a google.rpc.Code name"));
  ListAuditEventsRequest window;
  window.mutable_start_time()->set_seconds(1664600000);
  window.mutable_end_time()->set_seconds(1664600000);
  EXPECT_THAT(List(window, &response),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "end_time: must be after start_time"));
  ListAuditEventsRequest size;
  size.set_page_size(1001);
  EXPECT_THAT(List(size, &response),
              StatusIs(absl::StatusCode::kInvalidArgument, "page_size"));
}

TEST_F(RegistryAuditTest, OnlyAGlobalAdminMayList) {
  ListAuditEventsResponse response;
  EXPECT_OK(List({}, &response, kAdminToken));
  EXPECT_THAT(List({}, &response, kHuicheAdminToken),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "huiche-admin may not list audit events: needs the "
                       "global scope (*), has 411323-huiche"));
  EXPECT_THAT(List({}, &response, kHuicheOperatorToken),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "huiche-operator (operator) may not list audit events: "
                       "needs role admin"));
  EXPECT_THAT(List({}, &response, ""),
              StatusIs(absl::StatusCode::kUnauthenticated, ""));
  EXPECT_THAT(List({}, &response, "token-nobody-has"),
              StatusIs(absl::StatusCode::kUnauthenticated, ""));
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

TEST_F(RegistryAuditTest, NoTokenTextIsEverStored) {
  const std::vector<std::string> tokens = {
      kAdminToken,       kHuicheAdminToken,   kHuicheOperatorToken,
      kNorthViewerToken, kMaoheReporterToken, kOtherTownshipOperatorToken,
      "token-nobody-has"};
  ASSERT_OK(env_.Import(HuicheRecords()));
  for (const std::string& token : tokens) {
    SetTarget(token, "411323-huiche-north-01", 4).error_code();
    CreateVillage(token, "411323-huiche-north-98", "411323-huiche-north")
        .error_code();
  }
  std::vector<AuditEvent> events = ListAll({});
  ASSERT_EQ(events.size(), 1 + 2 * tokens.size());
  env_.host().Stop();  // Everything written; the files hold it all.

  for (const AuditEvent& event : events) {
    for (const std::string& token : tokens) {
      EXPECT_THAT(event.DebugString(), ::testing::Not(HasSubstr(token)));
    }
  }
  if (fivestar::testing::TestEngine() == SqlEngine::kSqlite) {
    // Every byte of the database's files.
    std::string stored = ReadFileOrEmpty(env_.database()) +
                         ReadFileOrEmpty(env_.database() + "-wal");
    ASSERT_THAT(stored, HasSubstr("411323-huiche-north-98"));  // Rows are here.
    for (const std::string& token : tokens) {
      EXPECT_THAT(stored, ::testing::Not(HasSubstr(token))) << token;
    }
    return;
  }
  // Every column of every audit row, as PostgreSQL prints the row.
  auto rows_holding = [&](const std::string& text) {
    return fivestar::testing::QueryInt64(
        env_.database(), absl::StrCat("SELECT count(*) FROM audit_events a "
                                      "WHERE strpos(a::text, '",
                                      text, "') > 0"));
  };
  ASSERT_THAT(rows_holding("411323-huiche-north-98"),
              fivestar::testing::IsOkAndHolds(::testing::Gt(0)));
  for (const std::string& token : tokens) {
    EXPECT_THAT(rows_holding(token), fivestar::testing::IsOkAndHolds(0))
        << token;
  }
}

TEST_F(RegistryAuditTest, TableRefusesUpdateAndDelete) {
  ASSERT_OK(env_.Import(HuicheRecords()));
  EXPECT_THAT(
      fivestar::testing::ExecuteSql(
          env_.database(), "UPDATE audit_events SET principal = 'someone'"),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               "audit_events is append-only"));
  EXPECT_THAT(fivestar::testing::ExecuteSql(env_.database(),
                                            "DELETE FROM audit_events"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "audit_events is append-only"));
  EXPECT_EQ(ListAll({}).size(), 1u);
}

}  // namespace
}  // namespace fivestar::registry
