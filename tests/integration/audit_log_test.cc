// The audit log across the three services: each server hosts
// fivestar.audit.v1.AuditService over its own log, each service's write
// list names every write and no read, and a write of projects and of
// scoring lands in its own service's log (not in another's).
#include <gmock/gmock.h>
#include <google/protobuf/descriptor.h>
#include <gtest/gtest.h>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fivestar/audit/v1/audit.grpc.pb.h"
#include "tests/scoring/scoring_test_env.h"
#include "tests/testing/status_matchers.h"

namespace fivestar::scoring {
namespace {

using ::fivestar::testing::NewContext;
using ::testing::ElementsAre;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;
using namespace testing;  // NOLINT: the tokens and places of the cast.
using audit::v1::AuditEvent;
using audit::v1::ListAuditEventsRequest;
using audit::v1::ListAuditEventsResponse;

// Each method of `service` is either in `writes` or named like a read;
// every entry of `writes` is a method of `service`.
void ExpectEveryMethodClassified(const std::string& service,
                                 const std::vector<std::string>& writes) {
  const google::protobuf::ServiceDescriptor* descriptor =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          service);
  ASSERT_NE(descriptor, nullptr) << service;
  absl::flat_hash_set<std::string> listed(writes.begin(), writes.end());
  size_t found = 0;
  for (int i = 0; i < descriptor->method_count(); ++i) {
    const std::string name = descriptor->method(i)->name();
    const std::string full = absl::StrCat("/", service, "/", name);
    bool read = false;
    for (const char* verb :
         {"Get", "List", "Watch", "Export", "BatchGet", "WhatIf"}) {
      read = read || absl::StartsWith(name, verb);
    }
    EXPECT_NE(listed.contains(full), read)
        << full
        << (read ? " is named like a read but audited"
                 : " is not named like a read and not audited");
    if (listed.contains(full)) ++found;
  }
  EXPECT_EQ(found, writes.size())
      << "a write of " << service << " names no method of it";
}

TEST(AuditWriteListsTest, EveryMethodIsAReadOrAnAuditedWrite) {
  ExpectEveryMethodClassified(
      registry::v1::RegistryService::service_full_name(),
      registry::RegistryWriteMethods());
  ExpectEveryMethodClassified(
      projects::v1::ProjectsService::service_full_name(),
      projects::ProjectsWriteMethods());
  ExpectEveryMethodClassified(v1::ScoringService::service_full_name(),
                              ScoringWriteMethods());
}

class AuditLogTest : public ::testing::Test {
 protected:
  AuditLogTest()
      : env_(ScoringEnvOptions{/*redis=*/false, /*load_projects=*/true,
                               /*follow_feeds=*/false}) {}

  std::vector<AuditEvent> ListAll(const std::string& address) {
    auto stub = audit::v1::AuditService::NewStub(
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    ListAuditEventsRequest request;
    request.set_oldest_first(true);
    request.set_page_size(1000);
    ListAuditEventsResponse response;
    EXPECT_OK(stub->ListAuditEvents(NewContext(kAdminToken).get(), request,
                                    &response));
    return {response.events().begin(), response.events().end()};
  }

  static std::vector<std::string> Methods(const std::vector<AuditEvent>& all) {
    std::vector<std::string> methods;
    for (const AuditEvent& event : all) methods.push_back(event.method());
    return methods;
  }

  ScoringTestEnv env_;
};

TEST_F(AuditLogTest, EachServiceLogsItsOwnWritesOnly) {
  // Reads on every service: none is recorded.
  ASSERT_OK(env_.Call(&v1::ScoringService::Stub::ListRubrics,
                      v1::ListRubricsRequest(), kViewerToken)
                .status());
  v1::GetGapRequest gap;
  gap.set_village_id(kMaohe);
  gap.set_period(kPeriod);
  env_.Call(&v1::ScoringService::Stub::GetGap, gap, kViewerToken)
      .status()
      .IgnoreError();  // A read: whatever its outcome, it is not recorded.

  ASSERT_OK(env_.Evaluate(kMaohe).status());
  v1::ApplyForAwardRequest apply;
  apply.set_village_id(kMaohe);
  apply.set_star(fivestar::common::v1::BRANCH_STRONG);
  apply.set_period(kPeriod);
  apply.set_note("申报");
  apply.set_request_id("apply-maohe-2022-09");
  const absl::Status applied =
      env_.Call(&v1::ScoringService::Stub::ApplyForAward, apply,
                kHuicheViewerToken)
          .status();
  ASSERT_EQ(applied.code(), absl::StatusCode::kPermissionDenied);

  // Registry: loaded in-process by the fixture, so nothing over gRPC.
  EXPECT_TRUE(ListAll(env_.registry().address()).empty());
  // Projects: the fixture's import of Huiche's tasks.
  std::vector<AuditEvent> projects = ListAll(env_.projects().address());
  EXPECT_THAT(
      Methods(projects),
      ElementsAre("/fivestar.projects.v1.ProjectsService/ImportProjects",
                  "/fivestar.projects.v1.ProjectsService/SetIndicatorValues"));
  // Scoring: the evaluation and the refused application, with its ids.
  std::vector<AuditEvent> scoring = ListAll(env_.scoring().address());
  ASSERT_THAT(Methods(scoring),
              ElementsAre("/fivestar.scoring.v1.ScoringService/Evaluate",
                          "/fivestar.scoring.v1.ScoringService/ApplyForAward"));
  EXPECT_THAT(scoring[0].target(),
              UnorderedElementsAre(Pair("village_id", kMaohe),
                                   Pair("period", kPeriod)));
  EXPECT_EQ(scoring[0].outcome_code(), "OK");
  EXPECT_THAT(scoring[1].target(),
              UnorderedElementsAre(Pair("village_id", kMaohe),
                                   Pair("period", kPeriod)));
  EXPECT_EQ(scoring[1].request_id(), "apply-maohe-2022-09");
  EXPECT_EQ(scoring[1].outcome_code(), "PERMISSION_DENIED");
  EXPECT_EQ(scoring[1].outcome_message(), applied.message());
}

}  // namespace
}  // namespace fivestar::scoring
