// RegistryStore on an embedded SQLite database (the default backend).
#ifndef FIVESTAR_SERVICES_REGISTRY_SQLITE_REGISTRY_STORE_H_
#define FIVESTAR_SERVICES_REGISTRY_SQLITE_REGISTRY_STORE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/sqlite.h"
#include "common/sqlite_audit.h"
#include "common/sqlite_feed.h"
#include "common/sqlite_pool.h"
#include "services/registry/registry_store.h"

namespace fivestar::registry {

// Regions keep a materialized path ("/410000/411300/.../id/") so that "all
// below region X" is one index range scan; each row also holds the resource
// as serialized protobuf, so new optional fields need no migration. The
// change feed is a table whose INTEGER PRIMARY KEY is the sequence, written
// in the same transaction as the change it records (see SqliteChangeLog), so
// sequences are gapless. Reads run on the pool's readers beside the writer;
// writes are group-committed, an import alone.
class SqliteRegistryStore final : public RegistryStore {
 public:
  // Opens the database at `path` and brings its schema up to date.
  static absl::StatusOr<std::unique_ptr<SqliteRegistryStore>> Open(
      const std::string& path, const Clock* clock);

  // The audit log kept in this store's database (the audit_events table of
  // migration 3), sharing its writer so that audit events group-commit with
  // the store's writes.
  AuditStore* audit_store() { return &audit_; }

  absl::StatusOr<Region> GetRegion(const std::string& id) override;
  absl::StatusOr<std::vector<std::string>> RegionLineage(
      const std::string& id) override;
  absl::StatusOr<std::vector<Region>> ListRegions(
      const RegionQuery& query) override;
  absl::StatusOr<Region> CreateRegion(const Region& region) override;
  absl::StatusOr<Region> UpdateRegion(
      const Region& region, const std::string& expected_etag) override;
  absl::Status DeleteRegion(const std::string& id,
                            const std::string& expected_etag) override;

  absl::StatusOr<Village> GetVillage(const std::string& id) override;
  absl::StatusOr<std::vector<Village>> GetVillages(
      const std::vector<std::string>& ids) override;
  absl::StatusOr<std::vector<Village>> ListVillages(
      const VillageQuery& query) override;
  absl::StatusOr<Village> CreateVillage(const Village& village) override;
  absl::StatusOr<Village> UpdateVillage(
      const Village& village, const std::string& expected_etag) override;
  absl::Status DeleteVillage(const std::string& id,
                             const std::string& expected_etag) override;

  absl::StatusOr<ImportCounts> Import(const std::vector<Region>& regions,
                                      const std::vector<Village>& villages,
                                      bool dry_run) override;

  void SetCommitObserver(std::function<void(uint64_t)> observer) override;
  absl::StatusOr<std::string> FeedId() override;
  absl::StatusOr<uint64_t> NewestSequence() override;
  absl::StatusOr<ChangeBatch> ReadChanges(
      uint64_t after_sequence, const std::vector<std::string>& path_components,
      int limit) override;

 private:
  SqliteRegistryStore(std::unique_ptr<SqlitePool> pool,
                      std::unique_ptr<SqliteChangeLog> feed, const Clock* clock)
      : pool_(std::move(pool)), feed_(std::move(feed)), clock_(clock) {}

  // The helpers run inside a pool_ read or a feed_ write, on its `db`.

  // The stored path of a region (NOT_FOUND when absent).
  absl::StatusOr<std::string> PathOf(SqliteDatabase& db, const std::string& id);
  absl::StatusOr<Region> LoadRegion(SqliteDatabase& db, const std::string& id);
  absl::StatusOr<Village> LoadVillage(SqliteDatabase& db,
                                      const std::string& id);
  absl::StatusOr<Region> InsertRegion(SqliteDatabase& db, const Region& region);
  absl::StatusOr<Region> ReplaceRegion(SqliteDatabase& db,
                                       const Region& current,
                                       const Region& region);
  absl::StatusOr<Village> InsertVillage(SqliteDatabase& db,
                                        const Village& village);
  absl::StatusOr<Village> ReplaceVillage(SqliteDatabase& db,
                                         const Village& current,
                                         const Village& village);
  // Appends one change-feed entry (`old_path` and `old_parent_id` only for
  // moves) and reports its sequence to feed_.
  absl::Status AppendChange(SqliteDatabase& db, v1::ChangeKind kind,
                            const std::string& entity_id,
                            const std::string& path,
                            const std::string& old_path,
                            const std::string& old_parent_id, int64_t now_us);

  const std::unique_ptr<SqlitePool> pool_;
  SqliteAuditStore audit_{pool_.get()};
  const std::unique_ptr<SqliteChangeLog> feed_;
  const Clock* clock_;
};

}  // namespace fivestar::registry

#endif  // FIVESTAR_SERVICES_REGISTRY_SQLITE_REGISTRY_STORE_H_
