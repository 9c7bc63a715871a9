// RegistryStore on an SQL database: an embedded SQLite file (the default)
// or a PostgreSQL server that several replicas share. One code for both
// engines, instantiated for SqlitePool and PostgresPool.
#ifndef FIVESTAR_SERVICES_REGISTRY_SQL_REGISTRY_STORE_H_
#define FIVESTAR_SERVICES_REGISTRY_SQL_REGISTRY_STORE_H_

#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "common/change_log.h"
#include "common/clock.h"
#include "common/postgres_pool.h"
#include "common/sql_audit.h"
#include "common/sql_engine.h"
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
// writes are group-committed (on SQLite), an import alone.
//
// Regions and villages also carry their province, city and county
// (SQLite's migration 4), so the villages below one of those are one range of
// an index in id order. Every region is also held in memory (RegionTree), so
// GetRegion and RegionLineage read no database; writes hand their region
// changes to the tree only once their transaction committed.
//
// `Pool` is SqlitePool or PostgresPool (instantiated for both in the .cc).
template <typename Pool>
class SqlRegistryStore final : public RegistryStore {
 public:
  using Database = typename Pool::Database;
  using Statement = typename Pool::Statement;

  // Opens `database` (an SQLite file's path or a PostgreSQL URI, as Pool
  // takes it) and brings its schema up to date.
  static absl::StatusOr<std::unique_ptr<SqlRegistryStore>> Open(
      const std::string& database, const Clock* clock);

  // The audit log kept in this store's database (its audit_events table),
  // sharing its writer so that audit events commit with the store's
  // writes.
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
  SqlRegistryStore(std::unique_ptr<Pool> pool,
                   std::unique_ptr<ChangeLog<Pool>> feed, const Clock* clock)
      : pool_(std::move(pool)), feed_(std::move(feed)), clock_(clock) {}

  // Reads every region into tree_ (at Open, before any write).
  absl::Status LoadTree();
  // The batch hook of feed_: hands batch_changes_ to tree_ if `committed`.
  void BatchEnded(bool committed, uint64_t newest);

  // Replicas (a database other processes write, SharedByReplicas): their
  // region changes reach tree_ as well, so GetRegion and RegionLineage
  // answer as the database does. Nothing on SQLite.
  //
  // The regions changed by entries after `sequence`, each as `db`'s
  // snapshot holds it (or erased).
  absl::StatusOr<std::vector<RegionTreeChange>> RegionsChangedAfter(
      Database& db, uint64_t sequence);
  // Before a read of tree_: applies what the database's newest sequence
  // has that tree_ has not (one query when nothing is new).
  absl::Status CatchUpTree();
  // At the start of a write (holding the writer lock): adds what other
  // replicas committed since tree_'s sequence to the batch's changes, so
  // the batch hands tree_ everything up to its own newest sequence.
  absl::Status CatchUpTreeIn(Database& db);

  // feed_->Write/WriteAlone for writes that may change regions: the region
  // changes `fn` records in write_changes_ join its batch's only if fn
  // succeeded (a failed fn is rolled back to its savepoint).
  template <typename Fn>
  auto Write(Fn&& fn) {
    return feed_->Write([&](Database& db) { return Collect(fn, db); });
  }
  template <typename Fn>
  auto WriteAlone(Fn&& fn, bool roll_back) {
    return feed_->WriteAlone([&](Database& db) { return Collect(fn, db); },
                             roll_back);
  }
  template <typename Fn>
  auto Collect(Fn& fn, Database& db) {
    write_changes_.clear();
    absl::Status caught_up = CatchUpTreeIn(db);
    if (!caught_up.ok()) return decltype(fn(db))(caught_up);
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
  absl::StatusOr<std::string> PathOf(Database& db, const std::string& id);
  // The stored place of a region (NOT_FOUND when absent).
  absl::StatusOr<RegionPlace> PlaceOf(Database& db, absl::string_view id);
  // The place of `parent_id` for a region to sit under: the root's (empty)
  // for none, FAILED_PRECONDITION when it does not exist.
  absl::StatusOr<RegionPlace> ParentPlace(Database& db,
                                          const std::string& parent_id);
  // The lineage of region `region_id` in the snapshot of `db`, whose newest
  // change-feed sequence is `sequence`: from tree_ when it matches the
  // snapshot, else from the stored path.
  absl::StatusOr<std::vector<std::string>> LineageIn(
      Database& db, const std::string& region_id, uint64_t sequence);
  // Moves `region` (at `old_path`) and its subtree to `new_path` below
  // `parent`: paths, and provinces, cities and counties of its regions and
  // villages.
  absl::Status MoveSubtree(Database& db, const Region& region,
                           const std::string& old_path,
                           const RegionPlace& parent,
                           const std::string& new_path);
  absl::StatusOr<Region> LoadRegion(Database& db, const std::string& id);
  absl::StatusOr<Village> LoadVillage(Database& db, const std::string& id);
  absl::StatusOr<Region> InsertRegion(Database& db, const Region& region);
  absl::StatusOr<Region> ReplaceRegion(Database& db, const Region& current,
                                       const Region& region);
  absl::StatusOr<Village> InsertVillage(Database& db, const Village& village);
  // Inserts the row of a village (`body` as Body() gives it) in the region
  // at `place`, with its change-feed entry; returns the time it used.
  absl::StatusOr<int64_t> InsertVillageRow(Database& db, absl::string_view id,
                                           absl::string_view region_id,
                                           int32_t target_level,
                                           absl::string_view body,
                                           const RegionPlace& place);
  absl::StatusOr<Village> ReplaceVillage(Database& db, const Village& current,
                                         const Village& village);
  // Appends one change-feed entry (`old_path` and `old_parent_id` only for
  // moves) and reports its sequence to feed_.
  absl::Status AppendChange(Database& db, v1::ChangeKind kind,
                            absl::string_view entity_id,
                            const std::string& path,
                            const std::string& old_path,
                            const std::string& old_parent_id, int64_t now_us);

  const std::unique_ptr<Pool> pool_;
  SqlAuditStore<Pool> audit_{pool_.get()};
  const std::unique_ptr<ChangeLog<Pool>> feed_;
  const Clock* clock_;
  RegionTree tree_;
  // Region changes of the running write function and of the running batch;
  // touched only by write functions and the batch hook, which the pool runs
  // one at a time.
  std::vector<RegionTreeChange> write_changes_;
  std::vector<RegionTreeChange> batch_changes_;
};

extern template class SqlRegistryStore<SqlitePool>;
extern template class SqlRegistryStore<PostgresPool>;

}  // namespace fivestar::registry

#endif  // FIVESTAR_SERVICES_REGISTRY_SQL_REGISTRY_STORE_H_
