#include "services/registry/sqlite_registry_store.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/check.h"
#include "common/output_fields.h"
#include "common/sqlite_audit.h"
#include "common/sqlite_resource.h"
#include "common/status.h"

namespace fivestar::registry {
namespace {

const SqliteMigration kMigrations[] = {
    {1, "regions and villages", R"sql(
CREATE TABLE regions (
  id TEXT PRIMARY KEY,
  parent_id TEXT REFERENCES regions(id),
  kind INTEGER NOT NULL,
  path TEXT NOT NULL UNIQUE,
  version INTEGER NOT NULL,
  create_time_us INTEGER NOT NULL,
  update_time_us INTEGER NOT NULL,
  body BLOB NOT NULL
);
CREATE INDEX regions_by_parent ON regions(parent_id);
CREATE TABLE villages (
  id TEXT PRIMARY KEY,
  region_id TEXT NOT NULL REFERENCES regions(id),
  target_level INTEGER NOT NULL,
  version INTEGER NOT NULL,
  create_time_us INTEGER NOT NULL,
  update_time_us INTEGER NOT NULL,
  body BLOB NOT NULL
);
CREATE INDEX villages_by_region ON villages(region_id, id);
)sql"},
    // The change feed. Kinds are fivestar.registry.v1.ChangeKind values;
    // paths are lineage paths ("/root/.../entity/"), old_path and
    // old_parent_id only for moves. A database that predates the feed
    // enters it with one *_CREATED entry per stored record (regions parents
    // first, then villages), so a follower starting from 0 sees everything.
    {2, "change feed", R"sql(
CREATE TABLE feed_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
INSERT INTO feed_meta(key, value) VALUES ('feed_id', lower(hex(randomblob(16))));
CREATE TABLE changes (
  sequence INTEGER PRIMARY KEY,
  kind INTEGER NOT NULL,
  entity_id TEXT NOT NULL,
  path TEXT NOT NULL,
  old_path TEXT NOT NULL,
  old_parent_id TEXT NOT NULL,
  change_time_us INTEGER NOT NULL
);
-- 5 = REGION_CREATED
INSERT INTO changes(kind, entity_id, path, old_path, old_parent_id,
                    change_time_us)
  SELECT 5, id, path, '', '', update_time_us FROM regions
  ORDER BY length(path), id;
-- 1 = VILLAGE_CREATED
INSERT INTO changes(kind, entity_id, path, old_path, old_parent_id,
                    change_time_us)
  SELECT 1, v.id, r.path || v.id || '/', '', '', v.update_time_us
  FROM villages v JOIN regions r ON r.id = v.region_id
  ORDER BY v.id;
)sql"},
    {3, "audit log (append-only)", kAuditEventsSchema},
};

// The stored body of a resource: everything but its output-only fields,
// which live in their own columns. Equal resources give equal bytes (the
// import's "unchanged" test relies on it).
template <typename Resource>
std::string Body(const Resource& resource) {
  Resource copy = resource;
  ClearVersionFields(&copy);
  return DeterministicBytes(copy);
}

// The exclusive upper bound of the paths below `path` (which ends in '/').
std::string PathEnd(const std::string& path) {
  std::string end = path;
  end.back() = '/' + 1;
  return end;
}

// The lineage path of a village in the region at `region_path`.
std::string VillagePath(const std::string& region_path,
                        const std::string& village_id) {
  return absl::StrCat(region_path, village_id, "/");
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteRegistryStore>> SqliteRegistryStore::Open(
    const std::string& path, const Clock* clock) {
  ASSIGN_OR_RETURN(std::unique_ptr<SqlitePool> pool,
                   SqlitePool::Open(path, kMigrations));
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteChangeLog> feed,
                   SqliteChangeLog::Open(pool.get()));
  return std::unique_ptr<SqliteRegistryStore>(
      new SqliteRegistryStore(std::move(pool), std::move(feed), clock));
}

void SqliteRegistryStore::SetCommitObserver(
    std::function<void(uint64_t)> observer) {
  feed_->SetCommitObserver(std::move(observer));
}

absl::Status SqliteRegistryStore::AppendChange(
    SqliteDatabase& db, v1::ChangeKind kind, const std::string& entity_id,
    const std::string& path, const std::string& old_path,
    const std::string& old_parent_id, int64_t now_us) {
  // This row commits or rolls back with the change it records (see
  // SqliteChangeLog), so the feed has no gaps.
  ASSIGN_OR_RETURN(SqliteStatement stmt,
                   db.Prepare(absl::StrCat(
                       "INSERT INTO changes(sequence, kind, entity_id, path, "
                       "old_path, old_parent_id, change_time_us) VALUES(",
                       SqliteChangeLog::kNextSequenceSql,
                       ", ?, ?, ?, ?, ?, ?) RETURNING sequence")));
  stmt.Bind(1, static_cast<int>(kind))
      .Bind(2, entity_id)
      .Bind(3, path)
      .Bind(4, old_path)
      .Bind(5, old_parent_id)
      .Bind(6, now_us);
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  // INSERT ... RETURNING yields its row or fails.
  FIVESTAR_CHECK(row, "change insert returned no sequence");
  feed_->Appended(static_cast<uint64_t>(stmt.ColumnInt64(0)));
  return absl::OkStatus();
}

absl::StatusOr<std::string> SqliteRegistryStore::PathOf(SqliteDatabase& db,
                                                        const std::string& id) {
  ASSIGN_OR_RETURN(SqliteStatement stmt,
                   db.Prepare("SELECT path FROM regions WHERE id = ?"));
  stmt.Bind(1, id);
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row)
    return absl::NotFoundError(absl::StrCat("region ", id, " not found"));
  return stmt.ColumnText(0);
}

absl::StatusOr<Region> SqliteRegistryStore::LoadRegion(SqliteDatabase& db,
                                                       const std::string& id) {
  return LoadVersionedResource<Region>(db, "regions", "id", "region", id);
}

absl::StatusOr<Region> SqliteRegistryStore::GetRegion(const std::string& id) {
  return pool_->Read([&](SqliteDatabase& db) -> absl::StatusOr<Region> {
    return LoadRegion(db, id);
  });
}

absl::StatusOr<std::vector<std::string>> SqliteRegistryStore::RegionLineage(
    const std::string& id) {
  return pool_->Read(
      [&](SqliteDatabase& db) -> absl::StatusOr<std::vector<std::string>> {
        ASSIGN_OR_RETURN(std::string path, PathOf(db, id));
        std::vector<std::string> lineage =
            absl::StrSplit(path, '/', absl::SkipEmpty());
        std::reverse(lineage.begin(), lineage.end());
        return lineage;
      });
}

absl::StatusOr<std::vector<Region>> SqliteRegistryStore::ListRegions(
    const RegionQuery& query) {
  return pool_->Read([&](SqliteDatabase& db)
                         -> absl::StatusOr<std::vector<Region>> {
    std::string lower = "/";
    std::string upper = "0";  // Just past every path, which all start with '/'.
    if (!query.ancestor_id.empty()) {
      ASSIGN_OR_RETURN(std::string path, PathOf(db, query.ancestor_id));
      upper = PathEnd(path);
      lower = path;
    }
    ASSIGN_OR_RETURN(SqliteStatement stmt,
                     db.Prepare(absl::StrCat(
                         "SELECT body, version, create_time_us, update_time_us "
                         "FROM regions WHERE path ",
                         query.include_ancestor ? ">=" : ">",
                         " ?1 AND path < ?2 "
                         "AND (?3 = 0 OR kind = ?3) AND id > ?4 "
                         "ORDER BY id LIMIT ?5")));
    stmt.Bind(1, lower)
        .Bind(2, upper)
        .Bind(3, static_cast<int>(query.kind))
        .Bind(4, query.after_id)
        .Bind(5, query.limit);
    return ReadVersionedResources<Region>(stmt);
  });
}

absl::StatusOr<Region> SqliteRegistryStore::InsertRegion(SqliteDatabase& db,
                                                         const Region& region) {
  std::string path = "/";
  if (!region.parent_id().empty()) {
    absl::StatusOr<std::string> parent_path = PathOf(db, region.parent_id());
    if (absl::IsNotFound(parent_path.status())) {
      return absl::FailedPreconditionError(
          absl::StrCat("region ", region.parent_id(), " does not exist"));
    }
    RETURN_IF_ERROR(parent_path.status());
    path = *parent_path;
  }
  absl::StrAppend(&path, region.id(), "/");
  const int64_t now = absl::ToUnixMicros(clock_->Now());
  ASSIGN_OR_RETURN(
      SqliteStatement stmt,
      db.Prepare("INSERT INTO regions(id, parent_id, kind, path, version, "
                 "create_time_us, update_time_us, body) "
                 "VALUES(?, NULLIF(?, ''), ?, ?, 1, ?, ?, ?)"));
  stmt.Bind(1, region.id())
      .Bind(2, region.parent_id())
      .Bind(3, static_cast<int>(region.kind()))
      .Bind(4, path)
      .Bind(5, now)
      .Bind(6, now)
      .BindBlob(7, Body(region));
  absl::Status status = stmt.Run();
  if (absl::IsAlreadyExists(status)) {
    return absl::AlreadyExistsError(
        absl::StrCat("region ", region.id(), " already exists"));
  }
  RETURN_IF_ERROR(status);
  RETURN_IF_ERROR(
      AppendChange(db, v1::REGION_CREATED, region.id(), path, "", "", now));
  Region stored = region;
  SetVersionFields(&stored, 1, now, now);
  return stored;
}

absl::StatusOr<Region> SqliteRegistryStore::CreateRegion(const Region& region) {
  return feed_->Write([&](SqliteDatabase& db) -> absl::StatusOr<Region> {
    ASSIGN_OR_RETURN(Region stored, InsertRegion(db, region));
    return stored;
  });
}

absl::StatusOr<Region> SqliteRegistryStore::ReplaceRegion(
    SqliteDatabase& db, const Region& current, const Region& region) {
  const int64_t now = absl::ToUnixMicros(clock_->Now());
  ASSIGN_OR_RETURN(const std::string old_path, PathOf(db, region.id()));
  std::string entry_path = old_path;
  if (region.parent_id() != current.parent_id()) {
    std::string new_path = "/";
    if (!region.parent_id().empty()) {
      absl::StatusOr<std::string> parent_path = PathOf(db, region.parent_id());
      if (absl::IsNotFound(parent_path.status())) {
        return absl::FailedPreconditionError(
            absl::StrCat("region ", region.parent_id(), " does not exist"));
      }
      RETURN_IF_ERROR(parent_path.status());
      new_path = *parent_path;
    }
    absl::StrAppend(&new_path, region.id(), "/");
    if (absl::StartsWith(new_path, old_path)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "region ", region.parent_id(), " lies below ", region.id(),
          "; a region cannot "
          "become its own ancestor"));
    }
    // Move the region and its whole subtree in one statement.
    ASSIGN_OR_RETURN(
        SqliteStatement move,
        db.Prepare("UPDATE regions SET path = ?1 || substr(path, ?2) "
                   "WHERE path >= ?3 AND path < ?4"));
    move.Bind(1, new_path)
        .Bind(2, static_cast<int64_t>(old_path.size()) + 1)
        .Bind(3, old_path)
        .Bind(4, PathEnd(old_path));
    RETURN_IF_ERROR(move.Run());
    entry_path = new_path;
  }
  ASSIGN_OR_RETURN(
      SqliteStatement stmt,
      db.Prepare("UPDATE regions SET parent_id = NULLIF(?2, ''), "
                 "version = version + 1, update_time_us = ?3, body = ?4 "
                 "WHERE id = ?1 RETURNING version, create_time_us"));
  stmt.Bind(1, region.id())
      .Bind(2, region.parent_id())
      .Bind(3, now)
      .BindBlob(4, Body(region));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) {
    return absl::NotFoundError(
        absl::StrCat("region ", region.id(), " not found"));
  }
  Region stored = region;
  SetVersionFields(&stored, stmt.ColumnInt64(0), stmt.ColumnInt64(1), now);
  RETURN_IF_ERROR(stmt.Step().status());  // Finishes the statement.
  if (entry_path != old_path) {
    // One entry for the whole subtree: see REGION_MOVED.
    RETURN_IF_ERROR(AppendChange(db, v1::REGION_MOVED, region.id(), entry_path,
                                 old_path, current.parent_id(), now));
  } else {
    RETURN_IF_ERROR(AppendChange(db, v1::REGION_CHANGED, region.id(),
                                 entry_path, "", "", now));
  }
  return stored;
}

absl::StatusOr<Region> SqliteRegistryStore::UpdateRegion(
    const Region& region, const std::string& expected_etag) {
  return feed_->Write([&](SqliteDatabase& db) -> absl::StatusOr<Region> {
    ASSIGN_OR_RETURN(Region current, LoadRegion(db, region.id()));
    if (current.etag() != expected_etag) {
      return EtagMismatchError("region", region.id());
    }
    ASSIGN_OR_RETURN(Region stored, ReplaceRegion(db, current, region));
    return stored;
  });
}

absl::Status SqliteRegistryStore::DeleteRegion(
    const std::string& id, const std::string& expected_etag) {
  return feed_->Write([&](SqliteDatabase& db) -> absl::Status {
    ASSIGN_OR_RETURN(Region current, LoadRegion(db, id));
    if (!expected_etag.empty() && current.etag() != expected_etag) {
      return EtagMismatchError("region", id);
    }
    ASSIGN_OR_RETURN(
        SqliteStatement children,
        db.Prepare("SELECT (SELECT COUNT(*) FROM regions WHERE parent_id = ?1),"
                   " (SELECT COUNT(*) FROM villages WHERE region_id = ?1)"));
    children.Bind(1, id);
    RETURN_IF_ERROR(children.Step().status());
    const int64_t regions = children.ColumnInt64(0);
    const int64_t villages = children.ColumnInt64(1);
    if (regions > 0 || villages > 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "region ", id, " still has ", regions, " child regions and ",
          villages, " villages; delete or move them first"));
    }
    ASSIGN_OR_RETURN(std::string path, PathOf(db, id));
    ASSIGN_OR_RETURN(SqliteStatement del,
                     db.Prepare("DELETE FROM regions WHERE id = ?"));
    RETURN_IF_ERROR(del.Bind(1, id).Run());
    RETURN_IF_ERROR(AppendChange(db, v1::REGION_DELETED, id, path, "", "",
                                 absl::ToUnixMicros(clock_->Now())));
    return absl::OkStatus();
  });
}

absl::StatusOr<Village> SqliteRegistryStore::LoadVillage(
    SqliteDatabase& db, const std::string& id) {
  return LoadVersionedResource<Village>(db, "villages", "id", "village", id);
}

absl::StatusOr<Village> SqliteRegistryStore::GetVillage(const std::string& id) {
  return pool_->Read([&](SqliteDatabase& db) -> absl::StatusOr<Village> {
    return LoadVillage(db, id);
  });
}

absl::StatusOr<std::vector<Village>> SqliteRegistryStore::GetVillages(
    const std::vector<std::string>& ids) {
  return pool_->Read(
      [&](SqliteDatabase& db) -> absl::StatusOr<std::vector<Village>> {
        std::vector<Village> villages;
        villages.reserve(ids.size());
        for (const std::string& id : ids) {
          ASSIGN_OR_RETURN(Village village, LoadVillage(db, id));
          villages.push_back(std::move(village));
        }
        return villages;
      });
}

absl::StatusOr<std::vector<Village>> SqliteRegistryStore::ListVillages(
    const VillageQuery& query) {
  return pool_->Read(
      [&](SqliteDatabase& db) -> absl::StatusOr<std::vector<Village>> {
        if (query.ancestor_id.empty()) {
          ASSIGN_OR_RETURN(
              SqliteStatement stmt,
              db.Prepare("SELECT body, version, create_time_us, update_time_us "
                         "FROM villages WHERE (?1 = 0 OR target_level = ?1) "
                         "AND id > ?2 ORDER BY id LIMIT ?3"));
          stmt.Bind(1, query.target_level)
              .Bind(2, query.after_id)
              .Bind(3, query.limit);
          return ReadVersionedResources<Village>(stmt);
        }
        ASSIGN_OR_RETURN(std::string path, PathOf(db, query.ancestor_id));
        ASSIGN_OR_RETURN(
            SqliteStatement stmt,
            db.Prepare(
                "SELECT body, version, create_time_us, update_time_us "
                "FROM villages WHERE region_id IN "
                "(SELECT id FROM regions WHERE path >= ?1 AND path < ?2) "
                "AND (?3 = 0 OR target_level = ?3) AND id > ?4 "
                "ORDER BY id LIMIT ?5"));
        stmt.Bind(1, path)
            .Bind(2, PathEnd(path))
            .Bind(3, query.target_level)
            .Bind(4, query.after_id)
            .Bind(5, query.limit);
        return ReadVersionedResources<Village>(stmt);
      });
}

absl::StatusOr<Village> SqliteRegistryStore::InsertVillage(
    SqliteDatabase& db, const Village& village) {
  absl::StatusOr<std::string> region_path = PathOf(db, village.region_id());
  if (absl::IsNotFound(region_path.status())) {
    return absl::FailedPreconditionError(
        absl::StrCat("region ", village.region_id(), " does not exist"));
  }
  RETURN_IF_ERROR(region_path.status());
  const int64_t now = absl::ToUnixMicros(clock_->Now());
  ASSIGN_OR_RETURN(
      SqliteStatement stmt,
      db.Prepare("INSERT INTO villages(id, region_id, target_level, version, "
                 "create_time_us, update_time_us, body) "
                 "VALUES(?, ?, ?, 1, ?, ?, ?)"));
  stmt.Bind(1, village.id())
      .Bind(2, village.region_id())
      .Bind(3, village.target_level())
      .Bind(4, now)
      .Bind(5, now)
      .BindBlob(6, Body(village));
  absl::Status status = stmt.Run();
  if (absl::IsAlreadyExists(status)) {
    return absl::AlreadyExistsError(
        absl::StrCat("village ", village.id(), " already exists"));
  }
  RETURN_IF_ERROR(status);
  RETURN_IF_ERROR(AppendChange(db, v1::VILLAGE_CREATED, village.id(),
                               VillagePath(*region_path, village.id()), "", "",
                               now));
  Village stored = village;
  SetVersionFields(&stored, 1, now, now);
  return stored;
}

absl::StatusOr<Village> SqliteRegistryStore::CreateVillage(
    const Village& village) {
  return feed_->Write([&](SqliteDatabase& db) -> absl::StatusOr<Village> {
    ASSIGN_OR_RETURN(Village stored, InsertVillage(db, village));
    return stored;
  });
}

absl::StatusOr<Village> SqliteRegistryStore::ReplaceVillage(
    SqliteDatabase& db, const Village& current, const Village& village) {
  ASSIGN_OR_RETURN(std::string old_region_path,
                   PathOf(db, current.region_id()));
  std::string new_region_path = old_region_path;
  if (village.region_id() != current.region_id()) {
    absl::StatusOr<std::string> region_path = PathOf(db, village.region_id());
    if (absl::IsNotFound(region_path.status())) {
      return absl::FailedPreconditionError(
          absl::StrCat("region ", village.region_id(), " does not exist"));
    }
    RETURN_IF_ERROR(region_path.status());
    new_region_path = *std::move(region_path);
  }
  const int64_t now = absl::ToUnixMicros(clock_->Now());
  ASSIGN_OR_RETURN(
      SqliteStatement stmt,
      db.Prepare("UPDATE villages SET region_id = ?2, target_level = ?3, "
                 "version = version + 1, update_time_us = ?4, body = ?5 "
                 "WHERE id = ?1 RETURNING version, create_time_us"));
  stmt.Bind(1, village.id())
      .Bind(2, village.region_id())
      .Bind(3, village.target_level())
      .Bind(4, now)
      .BindBlob(5, Body(village));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) {
    return absl::NotFoundError(
        absl::StrCat("village ", village.id(), " not found"));
  }
  Village stored = village;
  SetVersionFields(&stored, stmt.ColumnInt64(0), stmt.ColumnInt64(1), now);
  RETURN_IF_ERROR(stmt.Step().status());  // Finishes the statement.
  const std::string path = VillagePath(new_region_path, village.id());
  if (village.region_id() != current.region_id()) {
    RETURN_IF_ERROR(AppendChange(db, v1::VILLAGE_MOVED, village.id(), path,
                                 VillagePath(old_region_path, village.id()),
                                 current.region_id(), now));
  } else {
    RETURN_IF_ERROR(
        AppendChange(db, v1::VILLAGE_CHANGED, village.id(), path, "", "", now));
  }
  return stored;
}

absl::StatusOr<Village> SqliteRegistryStore::UpdateVillage(
    const Village& village, const std::string& expected_etag) {
  return feed_->Write([&](SqliteDatabase& db) -> absl::StatusOr<Village> {
    ASSIGN_OR_RETURN(Village current, LoadVillage(db, village.id()));
    if (current.etag() != expected_etag) {
      return EtagMismatchError("village", village.id());
    }
    ASSIGN_OR_RETURN(Village stored, ReplaceVillage(db, current, village));
    return stored;
  });
}

absl::Status SqliteRegistryStore::DeleteVillage(
    const std::string& id, const std::string& expected_etag) {
  return feed_->Write([&](SqliteDatabase& db) -> absl::Status {
    ASSIGN_OR_RETURN(Village current, LoadVillage(db, id));
    if (!expected_etag.empty() && current.etag() != expected_etag) {
      return EtagMismatchError("village", id);
    }
    ASSIGN_OR_RETURN(std::string region_path, PathOf(db, current.region_id()));
    ASSIGN_OR_RETURN(SqliteStatement del,
                     db.Prepare("DELETE FROM villages WHERE id = ?"));
    RETURN_IF_ERROR(del.Bind(1, id).Run());
    RETURN_IF_ERROR(AppendChange(db, v1::VILLAGE_DELETED, id,
                                 VillagePath(region_path, id), "", "",
                                 absl::ToUnixMicros(clock_->Now())));
    return absl::OkStatus();
  });
}

absl::StatusOr<ImportCounts> SqliteRegistryStore::Import(
    const std::vector<Region>& regions, const std::vector<Village>& villages,
    bool dry_run) {
  auto apply = [&](SqliteDatabase& db) -> absl::StatusOr<ImportCounts> {
    ImportCounts counts;
    for (const Region& region : regions) {
      absl::StatusOr<Region> current = LoadRegion(db, region.id());
      if (absl::IsNotFound(current.status())) {
        RETURN_IF_ERROR(InsertRegion(db, region).status());
        ++counts.created;
        continue;
      }
      RETURN_IF_ERROR(current.status());
      if (Body(*current) == Body(region)) {
        ++counts.unchanged;
        continue;
      }
      RETURN_IF_ERROR(ReplaceRegion(db, *current, region).status());
      ++counts.updated;
    }
    for (const Village& village : villages) {
      absl::StatusOr<Village> current = LoadVillage(db, village.id());
      if (absl::IsNotFound(current.status())) {
        RETURN_IF_ERROR(InsertVillage(db, village).status());
        ++counts.created;
        continue;
      }
      RETURN_IF_ERROR(current.status());
      if (Body(*current) == Body(village)) {
        ++counts.unchanged;
        continue;
      }
      RETURN_IF_ERROR(ReplaceVillage(db, *current, village).status());
      ++counts.updated;
    }
    return counts;
  };
  // Alone: an import does not hold small writes' commit hostage. Every
  // created or replaced record appended its entry on the way; a dry run
  // rolls them back with the rest.
  return feed_->WriteAlone(apply, /*roll_back=*/dry_run);
}

// --- Change feed -------------------------------------------------------------

absl::StatusOr<std::string> SqliteRegistryStore::FeedId() {
  return feed_->feed_id();
}

absl::StatusOr<uint64_t> SqliteRegistryStore::NewestSequence() {
  return pool_->Read([&](SqliteDatabase& db) -> absl::StatusOr<uint64_t> {
    return SqliteChangeLog::NewestSequence(db);
  });
}

absl::StatusOr<ChangeBatch> SqliteRegistryStore::ReadChanges(
    uint64_t after_sequence, const std::vector<std::string>& path_components,
    int limit) {
  return pool_->Read([&](SqliteDatabase& db) -> absl::StatusOr<ChangeBatch> {
    ASSIGN_OR_RETURN(uint64_t newest, SqliteChangeLog::NewestSequence(db));
    std::string sql =
        "SELECT sequence, kind, entity_id, path, old_path, old_parent_id, "
        "change_time_us FROM changes WHERE sequence > ?1";
    if (!path_components.empty()) {
      // Every component in the path after the change, or every one in the
      // path before it (a move seen from the place it left).
      std::string in_path, in_old_path;
      for (size_t i = 0; i < path_components.size(); ++i) {
        const char* glue = i == 0 ? "" : " AND ";
        absl::StrAppend(&in_path, glue, "instr(path, ?", i + 3, ") > 0");
        absl::StrAppend(&in_old_path, glue, "instr(old_path, ?", i + 3,
                        ") > 0");
      }
      absl::StrAppend(&sql, " AND ((", in_path, ") OR (", in_old_path, "))");
    }
    absl::StrAppend(&sql, " ORDER BY sequence LIMIT ?2");
    ASSIGN_OR_RETURN(SqliteStatement stmt, db.Prepare(sql));
    stmt.Bind(1, static_cast<int64_t>(after_sequence)).Bind(2, limit);
    for (size_t i = 0; i < path_components.size(); ++i) {
      stmt.Bind(static_cast<int>(i) + 3, path_components[i]);
    }
    ChangeBatch batch;
    while (true) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      v1::Change change;
      change.set_sequence(static_cast<uint64_t>(stmt.ColumnInt64(0)));
      change.set_feed_id(feed_->feed_id());
      change.set_kind(static_cast<v1::ChangeKind>(stmt.ColumnInt64(1)));
      change.set_entity_id(stmt.ColumnText(2));
      for (std::string& id : LineageOfPath(stmt.ColumnText(3))) {
        change.add_lineage(std::move(id));
      }
      for (std::string& id : LineageOfPath(stmt.ColumnText(4))) {
        change.add_old_lineage(std::move(id));
      }
      change.set_old_parent_id(stmt.ColumnText(5));
      *change.mutable_change_time() =
          google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
              stmt.ColumnInt64(6));
      batch.changes.push_back(std::move(change));
    }
    batch.scanned_through = static_cast<int>(batch.changes.size()) == limit
                                ? batch.changes.back().sequence()
                                : std::max(newest, after_sequence);
    return batch;
  });
}

}  // namespace fivestar::registry
