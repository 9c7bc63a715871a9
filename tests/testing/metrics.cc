#include "tests/testing/metrics.h"

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>

namespace fivestar::testing {

double MetricValue(const std::weak_ptr<prometheus::Collectable>& metrics,
                   const std::string& name, const std::string& label,
                   const std::string& value) {
  std::shared_ptr<prometheus::Collectable> collectable = metrics.lock();
  if (collectable == nullptr) return -1;
  for (const prometheus::MetricFamily& family : collectable->Collect()) {
    if (family.name != name) continue;
    for (const prometheus::ClientMetric& metric : family.metric) {
      const bool match = label.empty() ? metric.label.empty()
                                       : metric.label.size() == 1 &&
                                             metric.label[0].name == label &&
                                             metric.label[0].value == value;
      if (!match) continue;
      return family.type == prometheus::MetricType::Counter
                 ? metric.counter.value
                 : metric.gauge.value;
    }
  }
  return -1;
}

}  // namespace fivestar::testing
