#include "services/registry/sql_registry_store.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/change_feed.h"
#include "common/check.h"
#include "common/output_fields.h"
#include "common/sql_audit.h"
#include "common/status.h"
#include "common/versioned_resource.h"

namespace fivestar::registry {
namespace {

const SchemaMigration kSqliteMigrations[] = {
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
    // Each region and village also names its province, city and county
    // (the region itself or its ancestor of that kind; NULL when there is
    // none), so that "the villages below a province, city or county in id
    // order after X" is one range of an index, answered in order without
    // sorting the subtree. A township's or district's villages are few:
    // villages_by_region serves them. Filled here for stored data, top down
    // along parent_id.
    {4, "province, city and county of regions and villages", R"sql(
ALTER TABLE regions ADD COLUMN province_id TEXT;
ALTER TABLE regions ADD COLUMN city_id TEXT;
ALTER TABLE regions ADD COLUMN county_id TEXT;
ALTER TABLE villages ADD COLUMN province_id TEXT;
ALTER TABLE villages ADD COLUMN city_id TEXT;
ALTER TABLE villages ADD COLUMN county_id TEXT;
WITH RECURSIVE up(id, p1, p2, p3) AS (
  SELECT id, CASE kind WHEN 1 THEN id END, CASE kind WHEN 2 THEN id END,
         CASE kind WHEN 3 THEN id END
  FROM regions WHERE parent_id IS NULL
  UNION ALL
  SELECT r.id, CASE r.kind WHEN 1 THEN r.id ELSE up.p1 END,
         CASE r.kind WHEN 2 THEN r.id ELSE up.p2 END,
         CASE r.kind WHEN 3 THEN r.id ELSE up.p3 END
  FROM regions r JOIN up ON r.parent_id = up.id
)
UPDATE regions SET province_id = up.p1, city_id = up.p2, county_id = up.p3
FROM up WHERE up.id = regions.id;
UPDATE villages SET province_id = r.province_id, city_id = r.city_id,
                    county_id = r.county_id
FROM regions r WHERE r.id = villages.region_id;
CREATE INDEX villages_by_province ON villages(province_id, id, target_level);
CREATE INDEX villages_by_city ON villages(city_id, id, target_level);
CREATE INDEX villages_by_county ON villages(county_id, id, target_level);
)sql"},
};

// The same schema on PostgreSQL, in one step: no PostgreSQL database
// predates it. Text keys and paths compare bytewise (COLLATE "C"), as
// SQLite's do, so id order, paging and the path ranges below a region are
// the same on both engines whatever the database's own collation.
const SchemaMigration kPostgresMigrations[] = {
    {1, "regions, villages and the change feed", R"sql(
CREATE TABLE regions (
  id text COLLATE "C" PRIMARY KEY,
  parent_id text COLLATE "C" REFERENCES regions(id),
  kind integer NOT NULL,
  path text COLLATE "C" NOT NULL UNIQUE,
  version bigint NOT NULL,
  create_time_us bigint NOT NULL,
  update_time_us bigint NOT NULL,
  body bytea NOT NULL,
  province_id text COLLATE "C",
  city_id text COLLATE "C",
  county_id text COLLATE "C"
);
CREATE INDEX regions_by_parent ON regions(parent_id);
CREATE TABLE villages (
  id text COLLATE "C" PRIMARY KEY,
  region_id text COLLATE "C" NOT NULL REFERENCES regions(id),
  target_level integer NOT NULL,
  version bigint NOT NULL,
  create_time_us bigint NOT NULL,
  update_time_us bigint NOT NULL,
  body bytea NOT NULL,
  province_id text COLLATE "C",
  city_id text COLLATE "C",
  county_id text COLLATE "C"
);
CREATE INDEX villages_by_region ON villages(region_id, id);
CREATE INDEX villages_by_province ON villages(province_id, id, target_level);
CREATE INDEX villages_by_city ON villages(city_id, id, target_level);
CREATE INDEX villages_by_county ON villages(county_id, id, target_level);
CREATE TABLE feed_meta (
  key text PRIMARY KEY,
  value text NOT NULL
);
INSERT INTO feed_meta(key, value)
  VALUES ('feed_id', replace(gen_random_uuid()::text, '-', ''));
CREATE TABLE changes (
  sequence bigint PRIMARY KEY,
  kind integer NOT NULL,
  entity_id text COLLATE "C" NOT NULL,
  path text COLLATE "C" NOT NULL,
  old_path text COLLATE "C" NOT NULL,
  old_parent_id text COLLATE "C" NOT NULL,
  change_time_us bigint NOT NULL
);
)sql"},
    {2, "audit log (append-only)", kPostgresAuditEventsSchema},
};

// The place of a new region of `kind` with id `id` under `parent` (the
// root's place, "" path, for none).
RegionPlace PlaceBelow(const RegionPlace& parent, const std::string& id,
                       RegionKind kind) {
  RegionPlace place;
  place.path = absl::StrCat(parent.path.empty() ? "/" : parent.path, id, "/");
  auto column = [&](RegionKind level, const std::string& inherited) {
    if (kind == level) return id;
    return kind > level ? inherited : std::string();
  };
  place.province_id = column(v1::PROVINCE, parent.province_id);
  place.city_id = column(v1::CITY, parent.city_id);
  place.county_id = column(v1::COUNTY, parent.county_id);
  return place;
}

// The column of villages_by_<kind> for a region of `kind`, or nullptr for
// kinds whose villages are found through villages_by_region.
const char* AncestorColumn(RegionKind kind) {
  switch (kind) {
    case v1::PROVINCE:
      return "province_id";
    case v1::CITY:
      return "city_id";
    case v1::COUNTY:
      return "county_id";
    default:
      return nullptr;
  }
}

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
                        absl::string_view village_id) {
  return absl::StrCat(region_path, village_id, "/");
}

}  // namespace

template <typename Pool>
absl::StatusOr<std::unique_ptr<SqlRegistryStore<Pool>>>
SqlRegistryStore<Pool>::Open(const std::string& database, const Clock* clock) {
  ASSIGN_OR_RETURN(
      std::unique_ptr<Pool> pool,
      Pool::Open(database, MigrationsFor(Pool::kEngine, kSqliteMigrations,
                                         kPostgresMigrations)));
  ASSIGN_OR_RETURN(std::unique_ptr<ChangeLog<Pool>> feed,
                   ChangeLog<Pool>::Open(pool.get()));
  std::unique_ptr<SqlRegistryStore<Pool>> store(
      new SqlRegistryStore(std::move(pool), std::move(feed), clock));
  RETURN_IF_ERROR(store->LoadTree());
  SqlRegistryStore* raw = store.get();
  store->feed_->SetBatchHook([raw](bool committed, uint64_t newest) {
    raw->BatchEnded(committed, newest);
  });
  return store;
}

// The regions as the tree holds them; ReadTreeRegion reads a row.
constexpr char kTreeRegionsSql[] =
    "SELECT body, version, create_time_us, update_time_us, id, "
    "COALESCE(parent_id, '') FROM regions";

template <typename Statement>
absl::StatusOr<Region> ReadTreeRegion(Statement& stmt) {
  ASSIGN_OR_RETURN(Region region, ReadVersionedResource<Region>(stmt));
  // The columns are what the tables' references hold (the body holds the
  // same, written from the same record).
  region.set_id(stmt.ColumnText(4));
  region.set_parent_id(stmt.ColumnText(5));
  return region;
}

template <typename Pool>
absl::Status SqlRegistryStore<Pool>::LoadTree() {
  // Every region and the feed's newest sequence in one snapshot, so the
  // tree knows which snapshots it matches.
  return pool_->Read([&](Database& db) -> absl::Status {
    ASSIGN_OR_RETURN(uint64_t sequence, ChangeLog<Pool>::NewestSequence(db));
    ASSIGN_OR_RETURN(Statement stmt, db.Prepare(kTreeRegionsSql));
    std::vector<Region> regions;
    while (true) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      ASSIGN_OR_RETURN(Region region, ReadTreeRegion(stmt));
      regions.push_back(std::move(region));
    }
    tree_.Reset(std::move(regions), sequence);
    return absl::OkStatus();
  });
}

template <typename Pool>
absl::StatusOr<std::vector<RegionTreeChange>>
SqlRegistryStore<Pool>::RegionsChangedAfter(Database& db, uint64_t sequence) {
  ASSIGN_OR_RETURN(
      Statement changed,
      db.Prepare("SELECT DISTINCT entity_id FROM changes WHERE sequence > ? "
                 "AND kind IN (?, ?, ?, ?)"));
  changed.Bind(1, static_cast<int64_t>(sequence))
      .Bind(2, static_cast<int>(v1::REGION_CREATED))
      .Bind(3, static_cast<int>(v1::REGION_CHANGED))
      .Bind(4, static_cast<int>(v1::REGION_MOVED))
      .Bind(5, static_cast<int>(v1::REGION_DELETED));
  std::vector<std::string> ids;
  while (true) {
    ASSIGN_OR_RETURN(bool row, changed.Step());
    if (!row) break;
    ids.push_back(changed.ColumnText(0));
  }
  // Each as it is now (in `db`'s snapshot), or gone.
  std::vector<RegionTreeChange> changes(ids.size());
  const std::string load_sql = absl::StrCat(kTreeRegionsSql, " WHERE id = ?");
  for (size_t i = 0; i < ids.size(); ++i) {
    ASSIGN_OR_RETURN(Statement load, db.Prepare(load_sql));
    load.Bind(1, ids[i]);
    ASSIGN_OR_RETURN(bool row, load.Step());
    if (row) {
      ASSIGN_OR_RETURN(changes[i].region, ReadTreeRegion(load));
    } else {
      changes[i].region.set_id(ids[i]);
      changes[i].erased = true;
    }
  }
  return changes;
}

template <typename Pool>
absl::Status SqlRegistryStore<Pool>::CatchUpTree() {
  if constexpr (!SharedByReplicas(Pool::kEngine)) return absl::OkStatus();
  return pool_->Read([&](Database& db) -> absl::Status {
    ASSIGN_OR_RETURN(uint64_t newest, ChangeLog<Pool>::NewestSequence(db));
    const uint64_t applied = tree_.sequence();
    if (newest <= applied) return absl::OkStatus();
    ASSIGN_OR_RETURN(std::vector<RegionTreeChange> changes,
                     RegionsChangedAfter(db, applied));
    tree_.Apply(changes, newest);
    return absl::OkStatus();
  });
}

template <typename Pool>
absl::Status SqlRegistryStore<Pool>::CatchUpTreeIn(Database& db) {
  if constexpr (!SharedByReplicas(Pool::kEngine)) return absl::OkStatus();
  // Under the writer lock: every other write committed before this one.
  ASSIGN_OR_RETURN(std::vector<RegionTreeChange> changes,
                   RegionsChangedAfter(db, tree_.sequence()));
  batch_changes_.insert(batch_changes_.end(),
                        std::make_move_iterator(changes.begin()),
                        std::make_move_iterator(changes.end()));
  return absl::OkStatus();
}

template <typename Pool>
void SqlRegistryStore<Pool>::BatchEnded(bool committed, uint64_t newest) {
  // Only a committed batch reaches the tree; a failed or rolled back one
  // (dry runs too) leaves it as it was.
  if (committed) tree_.Apply(batch_changes_, newest);
  batch_changes_.clear();
}

template <typename Pool>
void SqlRegistryStore<Pool>::SetCommitObserver(
    std::function<void(uint64_t)> observer) {
  feed_->SetCommitObserver(std::move(observer));
}

template <typename Pool>
absl::Status SqlRegistryStore<Pool>::AppendChange(
    Database& db, v1::ChangeKind kind, absl::string_view entity_id,
    const std::string& path, const std::string& old_path,
    const std::string& old_parent_id, int64_t now_us) {
  // This row commits or rolls back with the change it records (see
  // ChangeLog), so the feed has no gaps.
  ASSIGN_OR_RETURN(Statement stmt,
                   db.Prepare(absl::StrCat(
                       "INSERT INTO changes(sequence, kind, entity_id, path, "
                       "old_path, old_parent_id, change_time_us) VALUES(",
                       ChangeLog<Pool>::kNextSequenceSql,
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

template <typename Pool>
absl::StatusOr<std::string> SqlRegistryStore<Pool>::PathOf(
    Database& db, const std::string& id) {
  ASSIGN_OR_RETURN(Statement stmt,
                   db.Prepare("SELECT path FROM regions WHERE id = ?"));
  stmt.Bind(1, id);
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row)
    return absl::NotFoundError(absl::StrCat("region ", id, " not found"));
  return stmt.ColumnText(0);
}

template <typename Pool>
absl::StatusOr<RegionPlace> SqlRegistryStore<Pool>::PlaceOf(
    Database& db, absl::string_view id) {
  ASSIGN_OR_RETURN(Statement stmt,
                   db.Prepare("SELECT path, COALESCE(province_id, ''), "
                              "COALESCE(city_id, ''), COALESCE(county_id, '') "
                              "FROM regions WHERE id = ?"));
  stmt.Bind(1, id);
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row)
    return absl::NotFoundError(absl::StrCat("region ", id, " not found"));
  RegionPlace place;
  place.path = stmt.ColumnText(0);
  place.province_id = stmt.ColumnText(1);
  place.city_id = stmt.ColumnText(2);
  place.county_id = stmt.ColumnText(3);
  return place;
}

template <typename Pool>
absl::StatusOr<RegionPlace> SqlRegistryStore<Pool>::ParentPlace(
    Database& db, const std::string& parent_id) {
  if (parent_id.empty()) return RegionPlace();
  absl::StatusOr<RegionPlace> place = PlaceOf(db, parent_id);
  if (absl::IsNotFound(place.status())) {
    return absl::FailedPreconditionError(
        absl::StrCat("region ", parent_id, " does not exist"));
  }
  return place;
}

template <typename Pool>
absl::StatusOr<Region> SqlRegistryStore<Pool>::LoadRegion(
    Database& db, const std::string& id) {
  return LoadVersionedResource<Region>(db, "regions", "id", "region", id);
}

template <typename Pool>
absl::StatusOr<Region> SqlRegistryStore<Pool>::GetRegion(
    const std::string& id) {
  RETURN_IF_ERROR(CatchUpTree());
  return tree_.Get(id);
}

template <typename Pool>
absl::StatusOr<std::vector<std::string>> SqlRegistryStore<Pool>::RegionLineage(
    const std::string& id) {
  RETURN_IF_ERROR(CatchUpTree());
  return tree_.Lineage(id);
}

template <typename Pool>
absl::StatusOr<std::vector<Region>> SqlRegistryStore<Pool>::ListRegions(
    const RegionQuery& query) {
  return pool_->Read([&](Database& db) -> absl::StatusOr<std::vector<Region>> {
    std::string lower = "/";
    std::string upper = "0";  // Just past every path, which all start with '/'.
    if (!query.ancestor_id.empty()) {
      ASSIGN_OR_RETURN(std::string path, PathOf(db, query.ancestor_id));
      upper = PathEnd(path);
      lower = path;
    }
    ASSIGN_OR_RETURN(Statement stmt,
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

template <typename Pool>
absl::StatusOr<Region> SqlRegistryStore<Pool>::InsertRegion(
    Database& db, const Region& region) {
  ASSIGN_OR_RETURN(RegionPlace parent, ParentPlace(db, region.parent_id()));
  const RegionPlace place = PlaceBelow(parent, region.id(), region.kind());
  const int64_t now = absl::ToUnixMicros(clock_->Now());
  ASSIGN_OR_RETURN(
      Statement stmt,
      db.Prepare("INSERT INTO regions(id, parent_id, kind, path, version, "
                 "create_time_us, update_time_us, body, province_id, city_id, "
                 "county_id) VALUES(?, NULLIF(?, ''), ?, ?, 1, ?, ?, ?, "
                 "NULLIF(?, ''), NULLIF(?, ''), NULLIF(?, ''))"));
  stmt.Bind(1, region.id())
      .Bind(2, region.parent_id())
      .Bind(3, static_cast<int>(region.kind()))
      .Bind(4, place.path)
      .Bind(5, now)
      .Bind(6, now)
      .BindBlob(7, Body(region))
      .Bind(8, place.province_id)
      .Bind(9, place.city_id)
      .Bind(10, place.county_id);
  absl::Status status = stmt.Run();
  if (absl::IsAlreadyExists(status)) {
    return absl::AlreadyExistsError(
        absl::StrCat("region ", region.id(), " already exists"));
  }
  RETURN_IF_ERROR(status);
  RETURN_IF_ERROR(AppendChange(db, v1::REGION_CREATED, region.id(), place.path,
                               "", "", now));
  Region stored = region;
  SetVersionFields(&stored, 1, now, now);
  write_changes_.push_back({stored, /*erased=*/false});
  return stored;
}

template <typename Pool>
absl::StatusOr<Region> SqlRegistryStore<Pool>::CreateRegion(
    const Region& region) {
  return Write([&](Database& db) -> absl::StatusOr<Region> {
    ASSIGN_OR_RETURN(Region stored, InsertRegion(db, region));
    return stored;
  });
}

template <typename Pool>
absl::Status SqlRegistryStore<Pool>::MoveSubtree(Database& db,
                                                 const Region& region,
                                                 const std::string& old_path,
                                                 const RegionPlace& parent,
                                                 const std::string& new_path) {
  // The region and its whole subtree: paths in one statement.
  ASSIGN_OR_RETURN(
      Statement move,
      db.Prepare("UPDATE regions SET path = ?1 || substr(path, ?2) "
                 "WHERE path >= ?3 AND path < ?4"));
  move.Bind(1, new_path)
      .Bind(2, static_cast<int64_t>(old_path.size()) + 1)
      .Bind(3, old_path)
      .Bind(4, PathEnd(old_path));
  RETURN_IF_ERROR(move.Run());
  // Their province, city and county above the moved region (of a kind
  // above its own) are now the new parent's; those at or below it stay.
  static constexpr const char* kSetAncestors =
      " SET province_id = CASE WHEN ?1 > 1 THEN NULLIF(?2, '') "
      "ELSE province_id END, "
      "city_id = CASE WHEN ?1 > 2 THEN NULLIF(?3, '') ELSE city_id END, "
      "county_id = CASE WHEN ?1 > 3 THEN NULLIF(?4, '') ELSE county_id END ";
  ASSIGN_OR_RETURN(Statement regions,
                   db.Prepare(absl::StrCat("UPDATE regions", kSetAncestors,
                                           "WHERE path >= ?5 AND path < ?6")));
  ASSIGN_OR_RETURN(
      Statement villages,
      db.Prepare(absl::StrCat("UPDATE villages", kSetAncestors,
                              "WHERE region_id IN (SELECT id FROM regions "
                              "WHERE path >= ?5 AND path < ?6)")));
  for (Statement* stmt : {&regions, &villages}) {
    stmt->Bind(1, static_cast<int>(region.kind()))
        .Bind(2, parent.province_id)
        .Bind(3, parent.city_id)
        .Bind(4, parent.county_id)
        .Bind(5, new_path)
        .Bind(6, PathEnd(new_path));
    RETURN_IF_ERROR(stmt->Run());
  }
  return absl::OkStatus();
}

template <typename Pool>
absl::StatusOr<Region> SqlRegistryStore<Pool>::ReplaceRegion(
    Database& db, const Region& current, const Region& region) {
  const int64_t now = absl::ToUnixMicros(clock_->Now());
  ASSIGN_OR_RETURN(const std::string old_path, PathOf(db, region.id()));
  std::string entry_path = old_path;
  if (region.parent_id() != current.parent_id()) {
    ASSIGN_OR_RETURN(RegionPlace parent, ParentPlace(db, region.parent_id()));
    const std::string new_path =
        PlaceBelow(parent, region.id(), region.kind()).path;
    if (absl::StartsWith(new_path, old_path)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "region ", region.parent_id(), " lies below ", region.id(),
          "; a region cannot "
          "become its own ancestor"));
    }
    RETURN_IF_ERROR(MoveSubtree(db, region, old_path, parent, new_path));
    entry_path = new_path;
  }
  ASSIGN_OR_RETURN(
      Statement stmt,
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
  // The tree keeps parents, not paths: the subtree moves with its root.
  write_changes_.push_back({stored, /*erased=*/false});
  return stored;
}

template <typename Pool>
absl::StatusOr<Region> SqlRegistryStore<Pool>::UpdateRegion(
    const Region& region, const std::string& expected_etag) {
  return Write([&](Database& db) -> absl::StatusOr<Region> {
    ASSIGN_OR_RETURN(Region current, LoadRegion(db, region.id()));
    if (current.etag() != expected_etag) {
      return EtagMismatchError("region", region.id());
    }
    ASSIGN_OR_RETURN(Region stored, ReplaceRegion(db, current, region));
    return stored;
  });
}

template <typename Pool>
absl::Status SqlRegistryStore<Pool>::DeleteRegion(
    const std::string& id, const std::string& expected_etag) {
  return Write([&](Database& db) -> absl::Status {
    ASSIGN_OR_RETURN(Region current, LoadRegion(db, id));
    if (!expected_etag.empty() && current.etag() != expected_etag) {
      return EtagMismatchError("region", id);
    }
    ASSIGN_OR_RETURN(
        Statement children,
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
    ASSIGN_OR_RETURN(Statement del,
                     db.Prepare("DELETE FROM regions WHERE id = ?"));
    RETURN_IF_ERROR(del.Bind(1, id).Run());
    RETURN_IF_ERROR(AppendChange(db, v1::REGION_DELETED, id, path, "", "",
                                 absl::ToUnixMicros(clock_->Now())));
    write_changes_.push_back({current, /*erased=*/true});
    return absl::OkStatus();
  });
}

template <typename Pool>
absl::StatusOr<Village> SqlRegistryStore<Pool>::LoadVillage(
    Database& db, const std::string& id) {
  return LoadVersionedResource<Village>(db, "villages", "id", "village", id);
}

template <typename Pool>
absl::StatusOr<Village> SqlRegistryStore<Pool>::GetVillage(
    const std::string& id) {
  return pool_->Read([&](Database& db) -> absl::StatusOr<Village> {
    return LoadVillage(db, id);
  });
}

template <typename Pool>
absl::StatusOr<std::vector<std::string>> SqlRegistryStore<Pool>::LineageIn(
    Database& db, const std::string& region_id, uint64_t sequence) {
  std::optional<absl::StatusOr<std::vector<std::string>>> lineage =
      tree_.LineageAt(region_id, sequence);
  if (lineage.has_value()) return *std::move(lineage);
  // The tree is a write ahead of or behind this snapshot: read the path.
  ASSIGN_OR_RETURN(std::string path, PathOf(db, region_id));
  return LineageOfPath(path);
}

template <typename Pool>
absl::StatusOr<std::vector<LocatedVillage>>
SqlRegistryStore<Pool>::GetLocatedVillages(
    const std::vector<std::string>& ids) {
  return pool_->Read(
      [&](Database& db) -> absl::StatusOr<std::vector<LocatedVillage>> {
        // The snapshot's newest sequence tells whether the tree matches it.
        ASSIGN_OR_RETURN(uint64_t sequence,
                         ChangeLog<Pool>::NewestSequence(db));
        std::vector<LocatedVillage> located;
        located.reserve(ids.size());
        for (const std::string& id : ids) {
          ASSIGN_OR_RETURN(Village village, LoadVillage(db, id));
          ASSIGN_OR_RETURN(std::vector<std::string> lineage,
                           LineageIn(db, village.region_id(), sequence));
          located.push_back({std::move(village), std::move(lineage)});
        }
        return located;
      });
}

template <typename Pool>
absl::StatusOr<std::vector<Village>> SqlRegistryStore<Pool>::GetVillages(
    const std::vector<std::string>& ids) {
  return pool_->Read([&](Database& db) -> absl::StatusOr<std::vector<Village>> {
    std::vector<Village> villages;
    villages.reserve(ids.size());
    for (const std::string& id : ids) {
      ASSIGN_OR_RETURN(Village village, LoadVillage(db, id));
      villages.push_back(std::move(village));
    }
    return villages;
  });
}

template <typename Pool>
absl::StatusOr<std::vector<Village>> SqlRegistryStore<Pool>::ListVillages(
    const VillageQuery& query) {
  return pool_->Read([&](Database& db) -> absl::StatusOr<std::vector<Village>> {
    if (query.ancestor_id.empty()) {
      ASSIGN_OR_RETURN(
          Statement stmt,
          db.Prepare("SELECT body, version, create_time_us, update_time_us "
                     "FROM villages WHERE (?1 = 0 OR target_level = ?1) "
                     "AND id > ?2 ORDER BY id LIMIT ?3"));
      stmt.Bind(1, query.target_level)
          .Bind(2, query.after_id)
          .Bind(3, query.limit);
      return ReadVersionedResources<Village>(stmt);
    }
    ASSIGN_OR_RETURN(Statement region,
                     db.Prepare("SELECT path, kind FROM regions WHERE id = ?"));
    region.Bind(1, query.ancestor_id);
    ASSIGN_OR_RETURN(bool found, region.Step());
    if (!found) {
      return absl::NotFoundError(
          absl::StrCat("region ", query.ancestor_id, " not found"));
    }
    const std::string path = region.ColumnText(0);
    const auto kind = static_cast<RegionKind>(region.ColumnInt64(1));
    if (AncestorColumn(kind) != nullptr) {
      // One range of villages_by_<kind>, already in id order.
      ASSIGN_OR_RETURN(Statement stmt, db.Prepare(VillagesBelowSql(kind)));
      stmt.Bind(1, query.ancestor_id)
          .Bind(2, query.target_level)
          .Bind(3, query.after_id)
          .Bind(4, query.limit);
      return ReadVersionedResources<Village>(stmt);
    }
    // A township or district: its few villages, through villages_by_region.
    ASSIGN_OR_RETURN(
        Statement stmt,
        db.Prepare("SELECT body, version, create_time_us, update_time_us "
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

template <typename Pool>
std::string SqlRegistryStore<Pool>::VillagesBelowSql(RegionKind kind) {
  const char* column = AncestorColumn(kind);
  FIVESTAR_CHECK(column != nullptr,
                 "VillagesBelowSql: a province, city or county kind only");
  const absl::string_view index(column, std::strlen(column) - 3);  // "_id"
  return absl::StrCat(
      "SELECT body, version, create_time_us, update_time_us FROM villages ",
      // SQLite's planner would otherwise pick by cost among the indexes;
      // PostgreSQL's has no such hint and needs none.
      Pool::kEngine == SqlEngine::kSqlite
          ? absl::StrCat("INDEXED BY villages_by_", index, " ")
          : std::string(),
      "WHERE ", column,
      " = ?1 AND (?2 = 0 OR target_level = ?2) AND id > ?3 "
      "ORDER BY id LIMIT ?4");
}

template <typename Pool>
absl::StatusOr<int64_t> SqlRegistryStore<Pool>::InsertVillageRow(
    Database& db, absl::string_view id, absl::string_view region_id,
    int32_t target_level, absl::string_view body, const RegionPlace& place) {
  const int64_t now = absl::ToUnixMicros(clock_->Now());
  ASSIGN_OR_RETURN(
      Statement stmt,
      db.Prepare("INSERT INTO villages(id, region_id, target_level, version, "
                 "create_time_us, update_time_us, body, province_id, "
                 "city_id, county_id) VALUES(?, ?, ?, 1, ?, ?, ?, "
                 "NULLIF(?, ''), NULLIF(?, ''), NULLIF(?, ''))"));
  stmt.Bind(1, id)
      .Bind(2, region_id)
      .Bind(3, target_level)
      .Bind(4, now)
      .Bind(5, now)
      .BindBlob(6, body)
      .Bind(7, place.province_id)
      .Bind(8, place.city_id)
      .Bind(9, place.county_id);
  absl::Status status = stmt.Run();
  if (absl::IsAlreadyExists(status)) {
    return absl::AlreadyExistsError(
        absl::StrCat("village ", id, " already exists"));
  }
  RETURN_IF_ERROR(status);
  RETURN_IF_ERROR(AppendChange(db, v1::VILLAGE_CREATED, id,
                               VillagePath(place.path, id), "", "", now));
  return now;
}

template <typename Pool>
absl::StatusOr<Village> SqlRegistryStore<Pool>::InsertVillage(
    Database& db, const Village& village) {
  absl::StatusOr<RegionPlace> place = PlaceOf(db, village.region_id());
  if (absl::IsNotFound(place.status())) {
    return absl::FailedPreconditionError(
        absl::StrCat("region ", village.region_id(), " does not exist"));
  }
  RETURN_IF_ERROR(place.status());
  ASSIGN_OR_RETURN(
      int64_t now,
      InsertVillageRow(db, village.id(), village.region_id(),
                       village.target_level(), Body(village), *place));
  Village stored = village;
  SetVersionFields(&stored, 1, now, now);
  return stored;
}

template <typename Pool>
absl::StatusOr<Village> SqlRegistryStore<Pool>::CreateVillage(
    const Village& village) {
  return Write([&](Database& db) -> absl::StatusOr<Village> {
    ASSIGN_OR_RETURN(Village stored, InsertVillage(db, village));
    return stored;
  });
}

template <typename Pool>
absl::StatusOr<Village> SqlRegistryStore<Pool>::ReplaceVillage(
    Database& db, const Village& current, const Village& village) {
  ASSIGN_OR_RETURN(std::string old_region_path,
                   PathOf(db, current.region_id()));
  absl::StatusOr<RegionPlace> place = PlaceOf(db, village.region_id());
  if (absl::IsNotFound(place.status())) {
    return absl::FailedPreconditionError(
        absl::StrCat("region ", village.region_id(), " does not exist"));
  }
  RETURN_IF_ERROR(place.status());
  const int64_t now = absl::ToUnixMicros(clock_->Now());
  ASSIGN_OR_RETURN(
      Statement stmt,
      db.Prepare("UPDATE villages SET region_id = ?2, target_level = ?3, "
                 "version = version + 1, update_time_us = ?4, body = ?5, "
                 "province_id = NULLIF(?6, ''), city_id = NULLIF(?7, ''), "
                 "county_id = NULLIF(?8, '') "
                 "WHERE id = ?1 RETURNING version, create_time_us"));
  stmt.Bind(1, village.id())
      .Bind(2, village.region_id())
      .Bind(3, village.target_level())
      .Bind(4, now)
      .BindBlob(5, Body(village))
      .Bind(6, place->province_id)
      .Bind(7, place->city_id)
      .Bind(8, place->county_id);
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) {
    return absl::NotFoundError(
        absl::StrCat("village ", village.id(), " not found"));
  }
  Village stored = village;
  SetVersionFields(&stored, stmt.ColumnInt64(0), stmt.ColumnInt64(1), now);
  RETURN_IF_ERROR(stmt.Step().status());  // Finishes the statement.
  const std::string path = VillagePath(place->path, village.id());
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

template <typename Pool>
absl::StatusOr<Village> SqlRegistryStore<Pool>::UpdateVillage(
    const Village& village, const std::string& expected_etag) {
  return Write([&](Database& db) -> absl::StatusOr<Village> {
    ASSIGN_OR_RETURN(Village current, LoadVillage(db, village.id()));
    if (current.etag() != expected_etag) {
      return EtagMismatchError("village", village.id());
    }
    ASSIGN_OR_RETURN(Village stored, ReplaceVillage(db, current, village));
    return stored;
  });
}

template <typename Pool>
absl::Status SqlRegistryStore<Pool>::DeleteVillage(
    const std::string& id, const std::string& expected_etag) {
  return Write([&](Database& db) -> absl::Status {
    ASSIGN_OR_RETURN(Village current, LoadVillage(db, id));
    if (!expected_etag.empty() && current.etag() != expected_etag) {
      return EtagMismatchError("village", id);
    }
    ASSIGN_OR_RETURN(std::string region_path, PathOf(db, current.region_id()));
    ASSIGN_OR_RETURN(Statement del,
                     db.Prepare("DELETE FROM villages WHERE id = ?"));
    RETURN_IF_ERROR(del.Bind(1, id).Run());
    RETURN_IF_ERROR(AppendChange(db, v1::VILLAGE_DELETED, id,
                                 VillagePath(region_path, id), "", "",
                                 absl::ToUnixMicros(clock_->Now())));
    return absl::OkStatus();
  });
}

template <typename Pool>
absl::StatusOr<ImportCounts> SqlRegistryStore<Pool>::Import(
    const std::vector<Region>& regions, const EncodedVillages& villages,
    bool dry_run) {
  auto apply = [&](Database& db) -> absl::StatusOr<ImportCounts> {
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
    // Every region is in place now: each one's place is looked up once.
    absl::flat_hash_map<std::string, RegionPlace> places;
    for (size_t i = 0; i < villages.size(); ++i) {
      const EncodedVillage village = villages[i];
      std::optional<Village> current;
      {
        ASSIGN_OR_RETURN(
            Statement stored,
            db.Prepare("SELECT body, version, create_time_us, update_time_us "
                       "FROM villages WHERE id = ?"));
        stored.Bind(1, village.id);
        ASSIGN_OR_RETURN(bool exists, stored.Step());
        if (exists) {
          ASSIGN_OR_RETURN(current, ReadVersionedResource<Village>(stored));
        }
      }  // The statement is reset before the next write.
      if (!current.has_value()) {
        auto place = places.find(village.region_id);
        if (place == places.end()) {
          absl::StatusOr<RegionPlace> found = PlaceOf(db, village.region_id);
          if (absl::IsNotFound(found.status())) {
            return absl::FailedPreconditionError(
                absl::StrCat("region ", village.region_id, " does not exist"));
          }
          RETURN_IF_ERROR(found.status());
          place =
              places.emplace(std::string(village.region_id), *std::move(found))
                  .first;
        }
        RETURN_IF_ERROR(InsertVillageRow(db, village.id, village.region_id,
                                         village.target_level, village.bytes,
                                         place->second)
                            .status());
        ++counts.created;
        continue;
      }
      if (Body(*current) == village.bytes) {
        ++counts.unchanged;
        continue;
      }
      Village replacement;
      if (!replacement.ParseFromArray(village.bytes.data(),
                                      static_cast<int>(village.bytes.size()))) {
        return absl::InternalError(
            absl::StrCat("village ", village.id, ": encoding does not parse"));
      }
      RETURN_IF_ERROR(ReplaceVillage(db, *current, replacement).status());
      ++counts.updated;
    }
    return counts;
  };
  // Alone: an import does not hold small writes' commit hostage. Every
  // created or replaced record appended its entry on the way; a dry run
  // rolls them back with the rest.
  return WriteAlone(apply, /*roll_back=*/dry_run);
}

// --- Change feed -------------------------------------------------------------

template <typename Pool>
absl::StatusOr<std::string> SqlRegistryStore<Pool>::FeedId() {
  return feed_->feed_id();
}

template <typename Pool>
absl::StatusOr<uint64_t> SqlRegistryStore<Pool>::NewestSequence() {
  return pool_->Read([&](Database& db) -> absl::StatusOr<uint64_t> {
    return ChangeLog<Pool>::NewestSequence(db);
  });
}

template <typename Pool>
absl::StatusOr<ChangeBatch> SqlRegistryStore<Pool>::ReadChanges(
    uint64_t after_sequence, const std::vector<std::string>& path_components,
    int limit) {
  return pool_->Read([&](Database& db) -> absl::StatusOr<ChangeBatch> {
    ASSIGN_OR_RETURN(uint64_t newest, ChangeLog<Pool>::NewestSequence(db));
    std::string sql =
        "SELECT sequence, kind, entity_id, path, old_path, old_parent_id, "
        "change_time_us FROM changes WHERE sequence > ?1";
    if (!path_components.empty()) {
      // Every component in the path after the change, or every one in the
      // path before it (a move seen from the place it left).
      std::string in_path, in_old_path;
      const char* position = PositionFunction(Pool::kEngine);
      for (size_t i = 0; i < path_components.size(); ++i) {
        const char* glue = i == 0 ? "" : " AND ";
        absl::StrAppend(&in_path, glue, position, "(path, ?", i + 3, ") > 0");
        absl::StrAppend(&in_old_path, glue, position, "(old_path, ?", i + 3,
                        ") > 0");
      }
      absl::StrAppend(&sql, " AND ((", in_path, ") OR (", in_old_path, "))");
    }
    absl::StrAppend(&sql, " ORDER BY sequence LIMIT ?2");
    ASSIGN_OR_RETURN(Statement stmt, db.Prepare(sql));
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

template class SqlRegistryStore<SqlitePool>;
template class SqlRegistryStore<PostgresPool>;

}  // namespace fivestar::registry
