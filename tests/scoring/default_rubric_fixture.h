// The default rubric file (data/rubrics/default.textproto) as the domain
// tests use it: loaded, normalized, with a version set.
#ifndef FIVESTAR_TESTS_SCORING_DEFAULT_RUBRIC_FIXTURE_H_
#define FIVESTAR_TESTS_SCORING_DEFAULT_RUBRIC_FIXTURE_H_

#include "fivestar/scoring/v1/scoring.pb.h"

namespace fivestar::scoring::testing {

// The default rubric as version `version` (a test failure when the file
// does not load).
v1::Rubric DefaultRubric(int version = 1);

}  // namespace fivestar::scoring::testing

#endif  // FIVESTAR_TESTS_SCORING_DEFAULT_RUBRIC_FIXTURE_H_
