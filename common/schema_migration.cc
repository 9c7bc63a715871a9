#include "common/schema_migration.h"

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace fivestar {

absl::StatusOr<absl::Span<const SchemaMigration>> PendingMigrations(
    absl::Span<const SchemaMigration> migrations, int current) {
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int>(i) + 1) {
      return absl::InternalError(absl::StrCat(
          "migrations must be numbered 1, 2, 3, ... in order; entry ", i,
          " has version ", migrations[i].version));
    }
  }
  const int known = static_cast<int>(migrations.size());
  if (current > known) {
    return absl::FailedPreconditionError(absl::StrCat(
        "database schema is at version ", current,
        " but this binary knows only up to ", known, "; refusing to run"));
  }
  return migrations.subspan(static_cast<size_t>(current < 0 ? 0 : current));
}

}  // namespace fivestar
