// RegistryStore on an embedded SQLite database (the default backend).
#ifndef FIVESTAR_SERVICES_REGISTRY_SQLITE_REGISTRY_STORE_H_
#define FIVESTAR_SERVICES_REGISTRY_SQLITE_REGISTRY_STORE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/sqlite.h"
#include "services/registry/registry_store.h"

namespace fivestar::registry {

// Regions keep a materialized path ("/410000/411300/.../id/") so that "all
// below region X" is one index range scan; each row also holds the resource
// as serialized protobuf, so new optional fields need no migration. The
// change feed is a table whose INTEGER PRIMARY KEY is the sequence, written
// in the same transaction as the change it records; one connection behind
// one mutex serializes every write, so sequences are gapless.
class SqliteRegistryStore final : public RegistryStore {
 public:
  // Opens the database at `path` and brings its schema up to date.
  static absl::StatusOr<std::unique_ptr<SqliteRegistryStore>> Open(
      const std::string& path, const Clock* clock);

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
  // Tells the commit observer about a committed write when it goes out of
  // scope. Declared before the MutexLock of a write so that it fires after
  // the lock is released (observers read the store).
  class CommitSignal {
   public:
    explicit CommitSignal(SqliteRegistryStore* store) : store_(store) {}
    ~CommitSignal();
    // Marks the write committed with `newest` as the newest sequence (0:
    // it appended nothing).
    void Committed(uint64_t newest) { newest_ = newest; }

   private:
    SqliteRegistryStore* store_;
    uint64_t newest_ = 0;
  };

  SqliteRegistryStore(std::unique_ptr<SqliteDatabase> db, const Clock* clock)
      : db_(std::move(db)), clock_(clock) {}

  // The stored path of a region ("" with NOT_FOUND when absent).
  absl::StatusOr<std::string> PathOf(const std::string& id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<Region> GetRegionLocked(const std::string& id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<Village> GetVillageLocked(const std::string& id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<Region> InsertRegionLocked(const Region& region)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<Region> ReplaceRegionLocked(const Region& current,
                                             const Region& region)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<Village> InsertVillageLocked(const Village& village)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<Village> ReplaceVillageLocked(const Village& current,
                                               const Village& village)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Appends one change-feed entry (`old_path` and `old_parent_id` only for
  // moves) and remembers its sequence in appended_.
  absl::Status AppendChangeLocked(v1::ChangeKind kind,
                                  const std::string& entity_id,
                                  const std::string& path,
                                  const std::string& old_path,
                                  const std::string& old_parent_id,
                                  int64_t now_us)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<uint64_t> NewestSequenceLocked()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::unique_ptr<SqliteDatabase> db_ ABSL_GUARDED_BY(mu_);
  const Clock* clock_;
  std::string feed_id_ ABSL_GUARDED_BY(mu_);
  // The sequence of the last entry appended by the write in progress; 0
  // when it appended none.
  uint64_t appended_ ABSL_GUARDED_BY(mu_) = 0;
  std::function<void(uint64_t)> observer_;
};

}  // namespace fivestar::registry

#endif  // FIVESTAR_SERVICES_REGISTRY_SQLITE_REGISTRY_STORE_H_
