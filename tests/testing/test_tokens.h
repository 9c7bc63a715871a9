// Token tables for tests: a cast of principals, each with a plain token the
// test sends and the hash the server keeps.
#ifndef FIVESTAR_TESTS_TESTING_TEST_TOKENS_H_
#define FIVESTAR_TESTS_TESTING_TEST_TOKENS_H_

#include <initializer_list>

#include "common/auth.h"

namespace fivestar::testing {

// One principal of a test's cast.
struct TestPrincipal {
  const char* token;
  const char* role;   // "viewer", "reporter", "operator" or "admin".
  const char* scope;  // A region id, a village id or "*".
  const char* name;
};

// The TokenTable a server would load from a tokens file listing
// `principals`. Aborts the test binary on a malformed entry.
TokenTable TestTokenTable(std::initializer_list<TestPrincipal> principals);

}  // namespace fivestar::testing

#endif  // FIVESTAR_TESTS_TESTING_TEST_TOKENS_H_
