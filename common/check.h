// Checks of invariants. A failed check is a bug in this program, not bad
// input or a failing environment: it is logged with its place and the
// process aborts, so that the orchestrator restarts it rather than let it
// serve from a state nobody reasoned about. Errors a caller or the
// environment can cause are absl::Status values, never checks.
#ifndef FIVESTAR_COMMON_CHECK_H_
#define FIVESTAR_COMMON_CHECK_H_

#include <spdlog/spdlog.h>

#include <cstdlib>

// Aborts with `message` (a string literal) when `condition` is false.
#define FIVESTAR_CHECK(condition, message)                                     \
  do {                                                                         \
    if (!(condition)) {                                                        \
      spdlog::critical("msg=check_failed check=\"{}\" where={}:{} why=\"{}\"", \
                       #condition, __FILE__, __LINE__, message);               \
      spdlog::shutdown();                                                      \
      std::abort();                                                            \
    }                                                                          \
  } while (false)

#endif  // FIVESTAR_COMMON_CHECK_H_
