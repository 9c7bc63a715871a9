// Reading a component's Prometheus metrics in tests (the Collectable a
// component exposes on its server's /metrics).
#ifndef FIVESTAR_TESTS_TESTING_METRICS_H_
#define FIVESTAR_TESTS_TESTING_METRICS_H_

#include <prometheus/collectable.h>

#include <memory>
#include <string>

namespace fivestar::testing {

// The value of the counter or gauge `name` in `metrics`: the one whose only
// label is `label`="`value`" when `label` is given, else the one without
// labels. -1 when there is no such metric (or `metrics` is gone).
double MetricValue(const std::weak_ptr<prometheus::Collectable>& metrics,
                   const std::string& name, const std::string& label = "",
                   const std::string& value = "");

}  // namespace fivestar::testing

#endif  // FIVESTAR_TESTS_TESTING_METRICS_H_
