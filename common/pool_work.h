// What both storage engines' pools (SqlitePool, PostgresPool) offer their
// stores beyond running a `Work` (a function of a connection returning
// absl::Status): Read, Write and WriteAlone for a function returning
// absl::Status or absl::StatusOr<T>, which return fn's own result.
#ifndef FIVESTAR_COMMON_POOL_WORK_H_
#define FIVESTAR_COMMON_POOL_WORK_H_

#include <functional>
#include <optional>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fivestar {

// A base of `Pool` (which has ReadWork(const Work&), WriteWork(const Work&)
// and WriteAloneWork(const Work&, bool roll_back)).
template <typename Pool, typename Database>
class PoolWork {
 public:
  using Work = std::function<absl::Status(Database&)>;

  // ReadWork/WriteWork/WriteAloneWork for functions returning absl::Status
  // or absl::StatusOr<T>: the same, returning fn's own result type, or the
  // error of the transaction around it (a failed BEGIN or COMMIT).
  template <typename Fn>
  auto Read(Fn&& fn) {
    return Run(fn, [this](const Work& work) { return pool().ReadWork(work); });
  }
  template <typename Fn>
  auto Write(Fn&& fn) {
    return Run(fn, [this](const Work& work) { return pool().WriteWork(work); });
  }
  template <typename Fn>
  auto WriteAlone(Fn&& fn, bool roll_back = false) {
    return Run(fn, [this, roll_back](const Work& work) {
      return pool().WriteAloneWork(work, roll_back);
    });
  }

 private:
  Pool& pool() { return static_cast<Pool&>(*this); }

  static const absl::Status& StatusOf(const absl::Status& status) {
    return status;
  }
  template <typename T>
  static const absl::Status& StatusOf(const absl::StatusOr<T>& result) {
    return result.status();
  }

  // Runs `fn` through `run`, keeping fn's own result unless `run` failed
  // around it.
  template <typename Fn, typename Runner>
  auto Run(Fn& fn, Runner run) {
    using Result = std::invoke_result_t<Fn&, Database&>;
    std::optional<Result> result;
    absl::Status status = run([&](Database& db) -> absl::Status {
      result.emplace(fn(db));
      return StatusOf(*result);
    });
    if (!status.ok() || !result.has_value()) return Result(status);
    return *std::move(result);
  }
};

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_POOL_WORK_H_
