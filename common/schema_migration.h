// Versioned schema migrations, the same rules on every storage engine: the
// steps are numbered 1, 2, 3, ... and applied in order, each once; a
// database whose schema is newer than the binary is refused, never
// downgraded or run against.
#ifndef FIVESTAR_COMMON_SCHEMA_MIGRATION_H_
#define FIVESTAR_COMMON_SCHEMA_MIGRATION_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/sql_engine.h"

namespace fivestar {

// One schema step. Versions start at 1 and increase by one.
struct SchemaMigration {
  int version;
  std::string description;
  std::string sql;  // One or more statements in the engine's dialect.
};

// The steps still to apply to a database whose schema is at `current`:
// INTERNAL when `migrations` is not numbered 1, 2, 3, ... (a programming
// error), FAILED_PRECONDITION when `current` is past the last step (a newer
// binary migrated the database; this one must not run against it).
absl::StatusOr<absl::Span<const SchemaMigration>> PendingMigrations(
    absl::Span<const SchemaMigration> migrations, int current);

// A store's steps on `engine`, of its two lists (one per engine).
inline absl::Span<const SchemaMigration> MigrationsFor(
    SqlEngine engine, absl::Span<const SchemaMigration> sqlite,
    absl::Span<const SchemaMigration> postgres) {
  return engine == SqlEngine::kPostgres ? postgres : sqlite;
}

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_SCHEMA_MIGRATION_H_
