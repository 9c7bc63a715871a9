#include "tests/scoring/default_rubric_fixture.h"

#include <gtest/gtest.h>

#include "services/scoring/rubric.h"
#include "tests/testing/ndjson.h"

namespace fivestar::scoring::testing {

v1::Rubric DefaultRubric(int version) {
  absl::StatusOr<v1::Rubric> rubric = LoadRubricFile(
      fivestar::testing::SourcePath("data/rubrics/default.textproto"));
  EXPECT_TRUE(rubric.ok()) << rubric.status();
  if (!rubric.ok()) return v1::Rubric();
  v1::Rubric normal = NormalizeRubric(*rubric);
  normal.set_version(version);
  return normal;
}

}  // namespace fivestar::scoring::testing
