#include "tests/testing/ndjson.h"

namespace fivestar::testing {

// FIVESTAR_SOURCE_DIR is defined for this library's own sources only, so
// that no other test object depends on where the tree is checked out (and
// ccache can share them between checkouts).
std::string SourcePath(const std::string& relative) {
  return std::string(FIVESTAR_SOURCE_DIR) + "/" + relative;
}

}  // namespace fivestar::testing
