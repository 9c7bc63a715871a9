// RegistryStore on an embedded SQLite database (the default backend).
#ifndef FIVESTAR_SERVICES_REGISTRY_SQLITE_REGISTRY_STORE_H_
#define FIVESTAR_SERVICES_REGISTRY_SQLITE_REGISTRY_STORE_H_

#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "common/change_log.h"
#include "common/clock.h"
#include "common/sql_audit.h"
#include "common/sqlite.h"
#include "common/sqlite_pool.h"
#include "services/registry/region_tree.h"
#include "services/registry/registry_store.h"

namespace fivestar::registry {

// Where a region sits: its lineage path ("/root/.../id/") and its province,
// city and county (itself or its ancestor of that kind; empty when none).
struct RegionPlace {
  std::string path;
  std::string province_id;
  std::string city_id;
  std::string county_id;
};

// Regions keep a materialized path ("/410000/411300/.../id/") so that "all
// below region X" is one index range scan; each row also holds the resource
// as serialized protobuf, so new optional fields need no migration. The
// change feed is a table whose INTEGER PRIMARY KEY is the sequence, written
// in the same transaction as the change it records (see ChangeLog), so
// sequences are gapless. Reads run on the pool's readers beside the writer;
// writes are group-committed, an import alone.
//
// Regions and villages also carry their province, city and county
// (migration 4), so the villages below one of those are one range of an
// index in id order. Every region is also held in memory (RegionTree), so
// GetRegion and RegionLineage read no database; writes hand their region
// changes to the tree only once their transaction committed.
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
  absl::StatusOr<std::vector<LocatedVillage>> GetLocatedVillages(
      const std::vector<std::string>& ids) override;
  absl::StatusOr<std::vector<Village>> ListVillages(
      const VillageQuery& query) override;
  absl::StatusOr<Village> CreateVillage(const Village& village) override;
  absl::StatusOr<Village> UpdateVillage(
      const Village& village, const std::string& expected_etag) override;
  absl::Status DeleteVillage(const std::string& id,
                             const std::string& expected_etag) override;

  absl::StatusOr<ImportCounts> Import(const std::vector<Region>& regions,
                                      const EncodedVillages& villages,
                                      bool dry_run) override;

  void SetCommitObserver(std::function<void(uint64_t)> observer) override;
  absl::StatusOr<std::string> FeedId() override;
  absl::StatusOr<uint64_t> NewestSequence() override;
  absl::StatusOr<ChangeBatch> ReadChanges(
      uint64_t after_sequence, const std::vector<std::string>& path_components,
      int limit) override;

  // The statement ListVillages runs below a region of `kind` (PROVINCE,
  // CITY or COUNTY): parameters ?1 the region's id, ?2 target_level (0:
  // any), ?3 after_id, ?4 limit. For tests that check its plan.
  static std::string VillagesBelowSql(RegionKind kind);

  // The in-memory region tree (for tests that compare it with the
  // database).
  const RegionTree& region_tree() const { return tree_; }

 private:
  SqliteRegistryStore(std::unique_ptr<SqlitePool> pool,
                      std::unique_ptr<ChangeLog<SqlitePool>> feed,
                      const Clock* clock)
      : pool_(std::move(pool)), feed_(std::move(feed)), clock_(clock) {}

  // Reads every region into tree_ (at Open, before any write).
  absl::Status LoadTree();
  // The batch hook of feed_: hands batch_changes_ to tree_ if `committed`.
  void BatchEnded(bool committed, uint64_t newest);

  // feed_->Write/WriteAlone for writes that may change regions: the region
  // changes `fn` records in write_changes_ join its batch's only if fn
  // succeeded (a failed fn is rolled back to its savepoint).
  template <typename Fn>
  auto Write(Fn&& fn) {
    return feed_->Write([&](SqliteDatabase& db) { return Collect(fn, db); });
  }
  template <typename Fn>
  auto WriteAlone(Fn&& fn, bool roll_back) {
    return feed_->WriteAlone(
        [&](SqliteDatabase& db) { return Collect(fn, db); }, roll_back);
  }
  template <typename Fn>
  auto Collect(Fn& fn, SqliteDatabase& db) {
    write_changes_.clear();
    auto result = fn(db);
    if (result.ok()) {
      batch_changes_.insert(batch_changes_.end(),
                            std::make_move_iterator(write_changes_.begin()),
                            std::make_move_iterator(write_changes_.end()));
    }
    write_changes_.clear();
    return result;
  }

  // The helpers run inside a pool_ read or a feed_ write, on its `db`.

  // The stored path of a region (NOT_FOUND when absent).
  absl::StatusOr<std::string> PathOf(SqliteDatabase& db, const std::string& id);
  // The stored place of a region (NOT_FOUND when absent).
  absl::StatusOr<RegionPlace> PlaceOf(SqliteDatabase& db, absl::string_view id);
  // The place of `parent_id` for a region to sit under: the root's (empty)
  // for none, FAILED_PRECONDITION when it does not exist.
  absl::StatusOr<RegionPlace> ParentPlace(SqliteDatabase& db,
                                          const std::string& parent_id);
  // The lineage of region `region_id` in the snapshot of `db`, whose newest
  // change-feed sequence is `sequence`: from tree_ when it matches the
  // snapshot, else from the stored path.
  absl::StatusOr<std::vector<std::string>> LineageIn(
      SqliteDatabase& db, const std::string& region_id, uint64_t sequence);
  // Moves `region` (at `old_path`) and its subtree to `new_path` below
  // `parent`: paths, and provinces, cities and counties of its regions and
  // villages.
  absl::Status MoveSubtree(SqliteDatabase& db, const Region& region,
                           const std::string& old_path,
                           const RegionPlace& parent,
                           const std::string& new_path);
  absl::StatusOr<Region> LoadRegion(SqliteDatabase& db, const std::string& id);
  absl::StatusOr<Village> LoadVillage(SqliteDatabase& db,
                                      const std::string& id);
  absl::StatusOr<Region> InsertRegion(SqliteDatabase& db, const Region& region);
  absl::StatusOr<Region> ReplaceRegion(SqliteDatabase& db,
                                       const Region& current,
                                       const Region& region);
  absl::StatusOr<Village> InsertVillage(SqliteDatabase& db,
                                        const Village& village);
  // Inserts the row of a village (`body` as Body() gives it) in the region
  // at `place`, with its change-feed entry; returns the time it used.
  absl::StatusOr<int64_t> InsertVillageRow(
      SqliteDatabase& db, absl::string_view id, absl::string_view region_id,
      int32_t target_level, absl::string_view body, const RegionPlace& place);
  absl::StatusOr<Village> ReplaceVillage(SqliteDatabase& db,
                                         const Village& current,
                                         const Village& village);
  // Appends one change-feed entry (`old_path` and `old_parent_id` only for
  // moves) and reports its sequence to feed_.
  absl::Status AppendChange(SqliteDatabase& db, v1::ChangeKind kind,
                            absl::string_view entity_id,
                            const std::string& path,
                            const std::string& old_path,
                            const std::string& old_parent_id, int64_t now_us);

  const std::unique_ptr<SqlitePool> pool_;
  SqlAuditStore<SqlitePool> audit_{pool_.get()};
  const std::unique_ptr<ChangeLog<SqlitePool>> feed_;
  const Clock* clock_;
  RegionTree tree_;
  // Region changes of the running write function and of the running batch;
  // touched only by write functions and the batch hook, which the pool runs
  // one at a time.
  std::vector<RegionTreeChange> write_changes_;
  std::vector<RegionTreeChange> batch_changes_;
};

}  // namespace fivestar::registry

#endif  // FIVESTAR_SERVICES_REGISTRY_SQLITE_REGISTRY_STORE_H_
