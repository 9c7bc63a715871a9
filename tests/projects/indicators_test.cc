// The indicator catalogue and indicator values over gRPC: the seeded
// catalogue, catalogue changes by a global admin only, values checked
// against their definitions (range, integrality, period), all-or-nothing
// writes, idempotent retries, listing with filters and paging.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/projects/projects_test_env.h"
#include "tests/testing/status_matchers.h"

namespace fivestar::projects {
namespace {

using ::fivestar::testing::StatusIs;
using ::testing::IsSupersetOf;
using Stub = v1::ProjectsService::Stub;
using namespace ::fivestar::projects::testing;

v1::IndicatorValue Value(const std::string& village, const std::string& key,
                         const std::string& period, double value,
                         const std::string& note = "") {
  v1::IndicatorValue out;
  out.set_village_id(village);
  out.set_indicator_key(key);
  out.set_period(period);
  out.set_value(value);
  out.set_note(note);
  return out;
}

class IndicatorsTest : public ::testing::Test {
 protected:
  absl::StatusOr<v1::SetIndicatorValuesResponse> Set(
      std::vector<v1::IndicatorValue> values,
      const std::string& token = kAdminToken,
      const std::string& request_id = "", bool validate_only = false) {
    v1::SetIndicatorValuesRequest request;
    for (auto& value : values) *request.add_values() = std::move(value);
    request.set_request_id(request_id);
    request.set_validate_only(validate_only);
    return env_.Call(&Stub::SetIndicatorValues, request, token);
  }

  std::vector<v1::IndicatorValue> ListAll(
      v1::ListIndicatorValuesRequest request,
      const std::string& token = kAdminToken) {
    std::vector<v1::IndicatorValue> out;
    for (int page = 0; page < 100; ++page) {
      auto response = env_.Call(&Stub::ListIndicatorValues, request, token);
      EXPECT_OK(response);
      if (!response.ok()) break;
      for (const auto& value : response->values()) out.push_back(value);
      if (response->next_page_token().empty()) break;
      request.set_page_token(response->next_page_token());
    }
    return out;
  }

  absl::StatusOr<v1::IndicatorDefinition> GetDefinition(
      const std::string& key) {
    v1::GetIndicatorDefinitionRequest request;
    request.set_key(key);
    return env_.Call(&Stub::GetIndicatorDefinition, request, kViewerToken);
  }

  ProjectsTestEnv env_;
};

// --- Catalogue ---------------------------------------------------------------

TEST_F(IndicatorsTest, CatalogueIsSeededWithWhatTheRubricNeeds) {
  v1::ListIndicatorDefinitionsRequest request;
  request.set_page_size(5);
  std::vector<std::string> keys;
  for (int page = 0; page < 20; ++page) {
    ASSERT_OK_AND_ASSIGN(
        auto response,
        env_.Call(&Stub::ListIndicatorDefinitions, request, kViewerToken));
    for (const auto& definition : response.definitions()) {
      keys.push_back(definition.key());
      EXPECT_FALSE(definition.name_zh().empty()) << definition.key();
      EXPECT_FALSE(definition.name_en().empty()) << definition.key();
      EXPECT_FALSE(definition.unit().empty()) << definition.key();
      EXPECT_NE(definition.kind(), v1::INDICATOR_KIND_UNSPECIFIED);
      EXPECT_LE(definition.min_value(), definition.max_value());
    }
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
  EXPECT_THAT(
      keys,
      IsSupersetOf(
          {"collective_income_yuan_ytd", "inspection_score", "petitions",
           "accidents", "criminal_cases", "hd_cameras_installed", "grids",
           "risks_removed", "disputes_received", "disputes_mediated",
           "civilized_families", "star_civilized_households", "moral_models",
           "civic_activities", "people_trained", "new_skilled_workers"}));

  ASSERT_OK_AND_ASSIGN(auto income,
                       GetDefinition("collective_income_yuan_ytd"));
  EXPECT_EQ(income.kind(), v1::STOCK);
  ASSERT_OK_AND_ASSIGN(auto score, GetDefinition("inspection_score"));
  EXPECT_EQ(score.min_value(), 0);
  EXPECT_EQ(score.max_value(), 100);
  ASSERT_OK_AND_ASSIGN(auto trained, GetDefinition("people_trained"));
  EXPECT_EQ(trained.kind(), v1::FLOW);
  EXPECT_TRUE(trained.integral());

  EXPECT_THAT(GetDefinition("no_such_metric"),
              StatusIs(absl::StatusCode::kNotFound,
                       "indicator no_such_metric is not in the catalogue"));
  EXPECT_THAT(GetDefinition("Bad-Key"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "key: must start with a letter a-z"));
}

TEST_F(IndicatorsTest, OnlyAGlobalAdminChangesTheCatalogue) {
  v1::CreateIndicatorDefinitionRequest create;
  auto* definition = create.mutable_definition();
  definition->set_key("street_lights");
  definition->set_name_zh("路灯");
  definition->set_name_en("Street lights");
  definition->set_unit("lights");
  definition->set_kind(v1::STOCK);
  definition->set_min_value(0);
  definition->set_max_value(10000);
  definition->set_integral(true);
  EXPECT_THAT(
      env_.Call(&Stub::CreateIndicatorDefinition, create, kHuicheAdminToken),
      StatusIs(absl::StatusCode::kPermissionDenied,
               "huiche-admin may not change the indicator catalogue: "
               "outside its scope"));
  EXPECT_THAT(
      env_.Call(&Stub::CreateIndicatorDefinition, create, kHuicheOperatorToken),
      StatusIs(absl::StatusCode::kPermissionDenied, "needs role admin"));
  ASSERT_OK_AND_ASSIGN(
      v1::IndicatorDefinition created,
      env_.Call(&Stub::CreateIndicatorDefinition, create, kAdminToken));
  EXPECT_FALSE(created.etag().empty());
  EXPECT_THAT(env_.Call(&Stub::CreateIndicatorDefinition, create, kAdminToken),
              StatusIs(absl::StatusCode::kAlreadyExists, "street_lights"));

  definition->set_key("bad_range");
  definition->set_min_value(5);
  definition->set_max_value(1);
  EXPECT_THAT(env_.Call(&Stub::CreateIndicatorDefinition, create, kAdminToken),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "definition.max_value: must be >= min_value 5, got 1"));
  definition->set_max_value(10);
  definition->set_kind(v1::INDICATOR_KIND_UNSPECIFIED);
  EXPECT_THAT(env_.Call(&Stub::CreateIndicatorDefinition, create, kAdminToken),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "definition.kind: required: STOCK or FLOW"));
  definition->set_kind(v1::FLOW);
  definition->set_key("9lives");
  EXPECT_THAT(env_.Call(&Stub::CreateIndicatorDefinition, create, kAdminToken),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "definition.key: must start with a letter"));
}

TEST_F(IndicatorsTest, UpdateDefinitionKeepsStoredValuesValid) {
  ASSERT_OK(Set({Value(kDangziling, "inspection_score", "2022-09", 93.5)}));
  ASSERT_OK_AND_ASSIGN(auto current, GetDefinition("inspection_score"));

  v1::UpdateIndicatorDefinitionRequest update;
  *update.mutable_definition() = current;
  update.mutable_definition()->set_name_en("Monthly inspection score");
  update.mutable_update_mask()->add_paths("name_en");
  ASSERT_OK_AND_ASSIGN(auto renamed, env_.Call(&Stub::UpdateIndicatorDefinition,
                                               update, kAdminToken));
  EXPECT_EQ(renamed.name_en(), "Monthly inspection score");
  EXPECT_NE(renamed.etag(), current.etag());

  // The etag sent is the old one.
  EXPECT_THAT(env_.Call(&Stub::UpdateIndicatorDefinition, update, kAdminToken),
              StatusIs(absl::StatusCode::kAborted, "etag mismatch"));
  update.mutable_definition()->clear_etag();

  update.mutable_update_mask()->set_paths(0, "kind");
  EXPECT_THAT(env_.Call(&Stub::UpdateIndicatorDefinition, update, kAdminToken),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "update_mask.paths[0]: \"kind\" cannot be changed"));

  update.mutable_update_mask()->set_paths(0, "max_value");
  update.mutable_definition()->set_max_value(90);
  EXPECT_THAT(env_.Call(&Stub::UpdateIndicatorDefinition, update, kAdminToken),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "the stored value 93.5 of village "
                       "411323-huiche-west-01 in 2022-09"));
  update.mutable_update_mask()->set_paths(0, "integral");
  update.mutable_definition()->set_integral(true);
  EXPECT_THAT(env_.Call(&Stub::UpdateIndicatorDefinition, update, kAdminToken),
              StatusIs(absl::StatusCode::kFailedPrecondition, "93.5"));
  update.mutable_update_mask()->set_paths(0, "max_value");
  update.mutable_definition()->set_max_value(95);
  EXPECT_OK(env_.Call(&Stub::UpdateIndicatorDefinition, update, kAdminToken));
  EXPECT_THAT(Set({Value(kDangziling, "inspection_score", "2022-09", 96)}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "values[0].value: must be 0..95 for inspection_score, "
                       "got 96"));

  update.mutable_definition()->set_key("no_such_metric");
  EXPECT_THAT(env_.Call(&Stub::UpdateIndicatorDefinition, update, kAdminToken),
              StatusIs(absl::StatusCode::kNotFound, "no_such_metric"));
  update.mutable_definition()->set_key("inspection_score");
  EXPECT_THAT(
      env_.Call(&Stub::UpdateIndicatorDefinition, update, kHuicheAdminToken),
      StatusIs(absl::StatusCode::kPermissionDenied, "outside its scope"));
}

// --- Values ------------------------------------------------------------------

TEST_F(IndicatorsTest, SetCreatesUpdatesAndLeavesEqualValuesAlone) {
  ASSERT_OK_AND_ASSIGN(
      auto first,
      Set({Value(kDangziling, "hd_cameras_installed", "2022-09", 16),
           Value(kDangziling, "collective_income_yuan_ytd", "2022-09", 96000,
                 "township finance office")}));
  EXPECT_EQ(first.created(), 2);
  ASSERT_EQ(first.values_size(), 2);
  EXPECT_EQ(first.values(0).reporter(), "province-admin");
  EXPECT_EQ(first.values(1).note(), "township finance office");

  env_.clock().Advance(absl::Hours(1));
  ASSERT_OK_AND_ASSIGN(
      auto second,
      Set({Value(kDangziling, "hd_cameras_installed", "2022-09", 17),
           Value(kDangziling, "collective_income_yuan_ytd", "2022-09", 96000,
                 "township finance office"),
           Value(kDangziling, "people_trained", "2022-08", 150)},
          kDangzilingReporterToken));
  EXPECT_EQ(second.created(), 1);
  EXPECT_EQ(second.updated(), 1);
  EXPECT_EQ(second.unchanged(), 1);
  // Unchanged keeps its reporter and time; replaced takes the new ones.
  EXPECT_EQ(second.values(1).reporter(), "province-admin");
  EXPECT_EQ(second.values(1).update_time().seconds(),
            first.values(1).update_time().seconds());
  EXPECT_EQ(second.values(0).reporter(), "dangziling-reporter");
  EXPECT_EQ(second.values(0).value(), 17);

  v1::ListIndicatorValuesRequest request;
  request.set_village_id(kDangziling);
  EXPECT_EQ(ListAll(request).size(), 3u);
}

struct BadValue {
  const char* name;
  v1::IndicatorValue value;
  absl::StatusCode code;
  const char* message;
};

class SetRejectsTest : public IndicatorsTest,
                       public ::testing::WithParamInterface<BadValue> {};

TEST_P(SetRejectsTest, NamesTheValueAndWritesNothing) {
  // A good value first: the whole request fails, so it is not written.
  EXPECT_THAT(
      Set({Value(kDangziling, "grids", "2022-09", 11), GetParam().value}),
      StatusIs(GetParam().code, GetParam().message));
  EXPECT_TRUE(ListAll({}).empty());
}

INSTANTIATE_TEST_SUITE_P(
    Rules, SetRejectsTest,
    ::testing::Values(
        BadValue{"AboveRange",
                 Value(kDangziling, "inspection_score", "2022-09", 120),
                 absl::StatusCode::kInvalidArgument,
                 "values[1].value: must be 0..100 for inspection_score, got "
                 "120"},
        BadValue{"Negative", Value(kDangziling, "petitions", "2022-09", -1),
                 absl::StatusCode::kInvalidArgument,
                 "values[1].value: must be 0..10000 for petitions, got -1"},
        BadValue{"NotWhole", Value(kDangziling, "moral_models", "2022-09", 1.5),
                 absl::StatusCode::kInvalidArgument,
                 "values[1].value: must be a whole number for moral_models"},
        BadValue{"NotFinite",
                 Value(kDangziling, "grids", "2022-08",
                       std::numeric_limits<double>::infinity()),
                 absl::StatusCode::kInvalidArgument,
                 "values[1].value: must be a finite number"},
        BadValue{"UnknownKey", Value(kDangziling, "happiness", "2022-09", 1),
                 absl::StatusCode::kInvalidArgument,
                 "values[1].indicator_key: indicator happiness is not in the "
                 "catalogue"},
        BadValue{"FuturePeriod", Value(kDangziling, "grids", "2022-11", 11),
                 absl::StatusCode::kInvalidArgument,
                 "values[1].period: must not be after the current month "
                 "2022-10, got 2022-11"},
        BadValue{"MalformedPeriod", Value(kDangziling, "grids", "2022-9", 11),
                 absl::StatusCode::kInvalidArgument,
                 "values[1].period: must be a month \"YYYY-MM\""},
        BadValue{"AncientPeriod", Value(kDangziling, "grids", "1999-12", 11),
                 absl::StatusCode::kInvalidArgument,
                 "values[1].period: must be from 2000-01"},
        BadValue{"Repeated", Value(kDangziling, "grids", "2022-09", 12),
                 absl::StatusCode::kInvalidArgument,
                 "values[1]: repeats the village, indicator and period of "
                 "values[0]"},
        BadValue{"UnknownVillage",
                 Value("411323-nowhere", "grids", "2022-09", 1),
                 absl::StatusCode::kInvalidArgument,
                 "values[1].village_id: village 411323-nowhere does not "
                 "exist in the registry"},
        BadValue{
            "LongNote",
            Value(kDangziling, "grids", "2022-08", 1, std::string(501, 'n')),
            absl::StatusCode::kInvalidArgument,
            "values[1].note: must be 0..500 characters"}),
    [](const ::testing::TestParamInfo<BadValue>& info) {
      return info.param.name;
    });

TEST_F(IndicatorsTest, SetNeedsValues) {
  EXPECT_THAT(Set({}), StatusIs(absl::StatusCode::kInvalidArgument,
                                "values: required: 1..10000 values"));
}

TEST_F(IndicatorsTest, RetriedSetReturnsTheOriginalResponse) {
  ASSERT_OK_AND_ASSIGN(
      auto first, Set({Value(kDangziling, "civic_activities", "2022-09", 9)},
                      kAdminToken, "sept-upload"));
  env_.clock().Advance(absl::Minutes(10));
  ASSERT_OK_AND_ASSIGN(
      auto retry, Set({Value(kDangziling, "civic_activities", "2022-09", 9)},
                      kAdminToken, "sept-upload"));
  EXPECT_EQ(retry.SerializeAsString(), first.SerializeAsString());
  EXPECT_EQ(retry.created(), 1);  // The original's counts, not "unchanged".
  EXPECT_THAT(Set({Value(kDangziling, "civic_activities", "2022-09", 10)},
                  kAdminToken, "sept-upload"),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       "request_id sept-upload was already used for different "
                       "values"));
  v1::ListIndicatorValuesRequest request;
  auto values = ListAll(request);
  ASSERT_EQ(values.size(), 1u);
  EXPECT_EQ(values[0].value(), 9);
}

TEST_F(IndicatorsTest, ValidateOnlyWritesNothing) {
  ASSERT_OK_AND_ASSIGN(
      auto dry, Set({Value(kDangziling, "grids", "2022-09", 11)}, kAdminToken,
                    "", /*validate_only=*/true));
  EXPECT_EQ(dry.created(), 1);
  EXPECT_TRUE(ListAll({}).empty());
}

TEST_F(IndicatorsTest, ReportersSetValuesOnlyInTheirScope) {
  EXPECT_OK(Set({Value(kDangziling, "grids", "2022-09", 11)},
                kDangzilingReporterToken));
  EXPECT_THAT(Set({Value(kDangziling, "grids", "2022-08", 11),
                   Value(kMaohe, "grids", "2022-09", 12)},
                  kDangzilingReporterToken),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "dangziling-reporter may not set indicator values of "
                       "village 411323-huiche-north-01"));
  EXPECT_THAT(
      Set({Value(kDangziling, "grids", "2022-09", 11)}, kHuicheViewerToken),
      StatusIs(absl::StatusCode::kPermissionDenied, "needs role reporter"));
  EXPECT_OK(Set({Value(kMaohe, "grids", "2022-09", 12)}, kHuicheReporterToken));
  EXPECT_THAT(
      Set({Value(kOtherVillage, "grids", "2022-09", 12)}, kHuicheReporterToken),
      StatusIs(absl::StatusCode::kPermissionDenied, "outside"));
}

TEST_F(IndicatorsTest, ListFiltersAndPages) {
  ASSERT_OK(Set({Value(kDangziling, "grids", "2022-07", 11),
                 Value(kDangziling, "grids", "2022-08", 11),
                 Value(kDangziling, "grids", "2022-09", 11),
                 Value(kDangziling, "petitions", "2022-09", 0),
                 Value(kMaohe, "grids", "2022-09", 12),
                 Value(kOtherVillage, "grids", "2022-09", 3)}));
  auto keys = [](const std::vector<v1::IndicatorValue>& values) {
    std::vector<std::string> out;
    for (const auto& value : values) {
      out.push_back(value.village_id() + "/" + value.indicator_key() + "/" +
                    value.period());
    }
    return out;
  };
  v1::ListIndicatorValuesRequest request;
  request.set_page_size(2);
  std::vector<std::string> all = keys(ListAll(request));
  EXPECT_EQ(all.size(), 6u);
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end()));

  request.set_ancestor_region_id(kHuiche);
  EXPECT_EQ(ListAll(request).size(), 5u);
  request.set_indicator_key("grids");
  request.set_start_period("2022-08");
  request.set_end_period("2022-09");
  EXPECT_EQ(keys(ListAll(request)),
            (std::vector<std::string>{"411323-huiche-north-01/grids/2022-09",
                                      "411323-huiche-west-01/grids/2022-08",
                                      "411323-huiche-west-01/grids/2022-09"}));
  // A district viewer naming the township above it lists its district; a
  // sibling district is refused.
  EXPECT_EQ(keys(ListAll(request, kWestViewerToken)),
            (std::vector<std::string>{"411323-huiche-west-01/grids/2022-08",
                                      "411323-huiche-west-01/grids/2022-09"}));
  request.set_ancestor_region_id(kNorth);
  EXPECT_THAT(env_.Call(&Stub::ListIndicatorValues, request, kWestViewerToken),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "west-viewer may not list indicator values: outside "
                       "its scope"));
  request.clear_ancestor_region_id();
  EXPECT_EQ(ListAll(request, kWestViewerToken).size(), 2u);
  EXPECT_EQ(ListAll(request, kHuicheViewerToken).size(), 3u);

  request.set_village_id(kDangziling);
  request.set_ancestor_region_id(kHuiche);
  EXPECT_THAT(env_.Call(&Stub::ListIndicatorValues, request, kAdminToken),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "ancestor_region_id: at most one of village_id and "
                       "ancestor_region_id may be set"));
  request.clear_ancestor_region_id();
  request.set_start_period("2022-10");
  EXPECT_THAT(env_.Call(&Stub::ListIndicatorValues, request, kAdminToken),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "end_period: must not be before start_period"));
}

TEST_F(IndicatorsTest, ListPagesThroughARegionAndAWindowOfMonths) {
  // Four Huiche villages and one elsewhere, two indicators, June to
  // September; a value encodes its village, indicator and month.
  const std::vector<std::string> villages = {
      kMaohe, kDangziling, kDougou, "411323-huiche-west-03", kOtherVillage};
  std::vector<v1::IndicatorValue> values;
  for (size_t v = 0; v < villages.size(); ++v) {
    for (int k = 0; k < 2; ++k) {
      for (int month = 6; month <= 9; ++month) {
        values.push_back(Value(villages[v], k == 0 ? "grids" : "petitions",
                               absl::StrCat("2022-0", month),
                               static_cast<double>(v * 100 + k * 10 + month)));
      }
    }
  }
  ASSERT_OK(Set(values));

  v1::ListIndicatorValuesRequest request;
  request.set_ancestor_region_id(kHuiche);
  request.set_start_period("2022-07");
  request.set_end_period("2022-08");
  request.set_page_size(3);
  std::vector<std::string> listed;
  std::vector<int> page_sizes;
  for (int page = 0; page < 20; ++page) {
    ASSERT_OK_AND_ASSIGN(
        v1::ListIndicatorValuesResponse response,
        env_.Call(&Stub::ListIndicatorValues, request, kHuicheViewerToken));
    page_sizes.push_back(response.values_size());
    for (const v1::IndicatorValue& value : response.values()) {
      listed.push_back(absl::StrCat(value.village_id(), " ",
                                    value.indicator_key(), " ", value.period(),
                                    " ", value.value()));
    }
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  // Village order: north-01 (v = 0), then west-01..03 (v = 1..3).
  std::vector<std::string> expected;
  for (size_t v = 0; v < 4; ++v) {
    for (int k = 0; k < 2; ++k) {
      for (int month = 7; month <= 8; ++month) {
        expected.push_back(
            absl::StrCat(villages[v], " ", k == 0 ? "grids" : "petitions",
                         " 2022-0", month, " ", v * 100 + k * 10 + month));
      }
    }
  }
  EXPECT_EQ(listed, expected);
  EXPECT_EQ(page_sizes, (std::vector<int>{3, 3, 3, 3, 3, 1}));

  // A district viewer lists its district, also when it names the township
  // above it.
  request.clear_page_token();
  request.set_page_size(5);
  std::vector<v1::IndicatorValue> below_township =
      ListAll(request, kWestViewerToken);
  request.set_ancestor_region_id(kWest);
  std::vector<v1::IndicatorValue> west = ListAll(request, kWestViewerToken);
  ASSERT_EQ(west.size(), 12u);
  ASSERT_EQ(below_township.size(), 12u);
  for (size_t i = 0; i < west.size(); ++i) {
    EXPECT_EQ(below_township[i].village_id(), west[i].village_id());
    EXPECT_EQ(below_township[i].value(), west[i].value());
  }
  EXPECT_EQ(west.front().village_id(), kDangziling);
  EXPECT_EQ(west.front().value(), 107);
  EXPECT_EQ(west.back().village_id(), "411323-huiche-west-03");
  EXPECT_EQ(west.back().value(), 318);
}

}  // namespace
}  // namespace fivestar::projects
