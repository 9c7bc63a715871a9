#include "services/projects/sqlite_projects_store.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/types/span.h"
#include "common/check.h"
#include "common/output_fields.h"
#include "common/sql_audit.h"
#include "common/status.h"
#include "common/versioned_resource.h"

namespace fivestar::projects {
namespace {

using ::google::protobuf::util::TimeUtil;

const SchemaMigration kMigrations[] = {
    {1, "projects, reports, indicators and the change feed", R"sql(
CREATE TABLE feed_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
INSERT INTO feed_meta(key, value) VALUES ('feed_id', lower(hex(randomblob(16))));
CREATE TABLE projects (
  id TEXT PRIMARY KEY,
  village_id TEXT NOT NULL,
  star INTEGER NOT NULL,
  status INTEGER NOT NULL,
  start_date TEXT NOT NULL,
  due_date TEXT NOT NULL,
  target_quantity REAL NOT NULL,
  cancel_time_us INTEGER,
  request_id TEXT UNIQUE,
  request_fingerprint TEXT,
  version INTEGER NOT NULL,
  create_time_us INTEGER NOT NULL,
  update_time_us INTEGER NOT NULL,
  body BLOB NOT NULL
);
CREATE INDEX projects_by_village ON projects(village_id, id);
CREATE TABLE reports (
  position INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  project_id TEXT NOT NULL REFERENCES projects(id),
  village_id TEXT NOT NULL,
  report_time_us INTEGER NOT NULL,
  quantity REAL NOT NULL,
  request_id TEXT UNIQUE,
  request_fingerprint TEXT,
  create_time_us INTEGER NOT NULL,
  body BLOB NOT NULL
);
CREATE INDEX reports_by_project ON reports(project_id, position);
CREATE INDEX reports_by_village_time ON reports(village_id, report_time_us);
CREATE TABLE indicator_definitions (
  key TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  create_time_us INTEGER NOT NULL,
  update_time_us INTEGER NOT NULL,
  body BLOB NOT NULL
);
CREATE TABLE indicator_values (
  village_id TEXT NOT NULL,
  indicator_key TEXT NOT NULL REFERENCES indicator_definitions(key),
  period TEXT NOT NULL,
  value REAL NOT NULL,
  update_time_us INTEGER NOT NULL,
  body BLOB NOT NULL,
  PRIMARY KEY (village_id, indicator_key, period)
) WITHOUT ROWID;
CREATE INDEX indicator_values_by_key ON indicator_values(indicator_key, value);
CREATE TABLE value_requests (
  request_id TEXT PRIMARY KEY,
  fingerprint TEXT NOT NULL,
  response BLOB NOT NULL,
  create_time_us INTEGER NOT NULL
);
CREATE INDEX value_requests_by_time ON value_requests(create_time_us);
CREATE TABLE changes (
  sequence INTEGER PRIMARY KEY,
  village_id TEXT NOT NULL,
  village_path TEXT NOT NULL,
  kind INTEGER NOT NULL,
  entity_id TEXT NOT NULL,
  project_id TEXT NOT NULL,
  period TEXT NOT NULL,
  change_time_us INTEGER NOT NULL
);
)sql"},
    {2, "audit log (append-only)", kAuditEventsSchema},
};

// Idempotency keys are remembered this long (the contract promises 7 days).
constexpr absl::Duration kValueRequestMemory = absl::Hours(24 * 30);

// The stored body of a project: everything but the fields kept in columns
// (times, etag) and `overdue`, which depends on the day it is read.
std::string ProjectBody(const Project& project) {
  Project copy = project;
  ClearVersionFields(&copy);
  copy.clear_overdue();
  return DeterministicBytes(copy);
}

// Columns (body, create_time_us).
absl::StatusOr<ProgressReport> ReadReport(const SqliteStatement& stmt,
                                          int first) {
  ProgressReport report;
  if (!report.ParseFromString(stmt.ColumnBlob(first))) {
    return absl::DataLossError("stored report does not parse");
  }
  *report.mutable_create_time() =
      TimeUtil::MicrosecondsToTimestamp(stmt.ColumnInt64(first + 1));
  return report;
}

// Columns (body, update_time_us).
absl::StatusOr<IndicatorValue> ReadValue(const SqliteStatement& stmt) {
  IndicatorValue value;
  if (!value.ParseFromString(stmt.ColumnBlob(0))) {
    return absl::DataLossError("stored indicator value does not parse");
  }
  *value.mutable_update_time() =
      TimeUtil::MicrosecondsToTimestamp(stmt.ColumnInt64(1));
  return value;
}

// Villages named in one statement's json_each() list when a query walks a
// long list of villages (ListIndicatorValues) chunk by chunk.
constexpr size_t kVillagesPerStatement = 500;

int64_t Micros(const google::protobuf::Timestamp& timestamp) {
  return TimeUtil::TimestampToMicroseconds(timestamp);
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteProjectsStore>> SqliteProjectsStore::Open(
    const std::string& path, const Clock* clock) {
  ASSIGN_OR_RETURN(std::unique_ptr<SqlitePool> pool,
                   SqlitePool::Open(path, kMigrations));
  ASSIGN_OR_RETURN(std::unique_ptr<ChangeLog<SqlitePool>> feed,
                   ChangeLog<SqlitePool>::Open(pool.get()));
  return std::unique_ptr<SqliteProjectsStore>(
      new SqliteProjectsStore(std::move(pool), std::move(feed), clock));
}

void SqliteProjectsStore::SetCommitObserver(
    std::function<void(uint64_t)> observer) {
  feed_->SetCommitObserver(std::move(observer));
}

absl::StatusOr<std::string> SqliteProjectsStore::NewId(
    SqliteDatabase& db, absl::string_view prefix) {
  // 80 random bits: collisions are negligible, and the UNIQUE/PRIMARY KEY
  // constraint catches one anyway.
  ASSIGN_OR_RETURN(SqliteStatement stmt,
                   db.Prepare("SELECT lower(hex(randomblob(10)))"));
  RETURN_IF_ERROR(stmt.Step().status());
  return absl::StrCat(prefix, stmt.ColumnText(0));
}

absl::Status SqliteProjectsStore::AppendChange(
    SqliteDatabase& db, const std::string& village_id,
    const std::string& village_path, v1::ChangeKind kind,
    const std::string& entity_id, const std::string& project_id,
    const std::string& period, int64_t now_us) {
  // This row commits or rolls back with the change it records (see
  // ChangeLog), so the feed has no gaps.
  ASSIGN_OR_RETURN(
      SqliteStatement stmt,
      db.Prepare(absl::StrCat(
          "INSERT INTO changes(sequence, village_id, village_path, kind, "
          "entity_id, project_id, period, change_time_us) VALUES(",
          ChangeLog<SqlitePool>::kNextSequenceSql,
          ", ?, ?, ?, ?, ?, ?, ?) RETURNING sequence")));
  stmt.Bind(1, village_id)
      .Bind(2, village_path)
      .Bind(3, static_cast<int>(kind))
      .Bind(4, entity_id)
      .Bind(5, project_id)
      .Bind(6, period)
      .Bind(7, now_us);
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  // INSERT ... RETURNING yields its row or fails.
  FIVESTAR_CHECK(row, "change insert returned no sequence");
  feed_->Appended(static_cast<uint64_t>(stmt.ColumnInt64(0)));
  return absl::OkStatus();
}

// --- Projects ----------------------------------------------------------------

absl::StatusOr<Project> SqliteProjectsStore::LoadProject(
    SqliteDatabase& db, const std::string& id) {
  return LoadVersionedResource<Project>(db, "projects", "id", "project", id);
}

absl::StatusOr<Project> SqliteProjectsStore::GetProject(const std::string& id) {
  return pool_->Read([&](SqliteDatabase& db) -> absl::StatusOr<Project> {
    return LoadProject(db, id);
  });
}

absl::StatusOr<std::pair<Project, std::string>>
SqliteProjectsStore::FindProjectByRequest(const std::string& request_id) {
  return pool_->Read([&](SqliteDatabase& db)
                         -> absl::StatusOr<std::pair<Project, std::string>> {
    ASSIGN_OR_RETURN(
        SqliteStatement stmt,
        db.Prepare("SELECT body, version, create_time_us, update_time_us, "
                   "request_fingerprint FROM projects WHERE request_id = ?"));
    stmt.Bind(1, request_id);
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) {
      return absl::NotFoundError(
          absl::StrCat("no project was created with request_id ", request_id));
    }
    ASSIGN_OR_RETURN(Project project, ReadVersionedResource<Project>(stmt));
    return std::make_pair(std::move(project), stmt.ColumnText(4));
  });
}

absl::StatusOr<std::vector<Project>> SqliteProjectsStore::ListProjects(
    const ProjectQuery& query) {
  return pool_->Read(
      [&](SqliteDatabase& db) -> absl::StatusOr<std::vector<Project>> {
        // One statement for both cases; ?1 is unused without a village filter.
        const std::string villages =
            query.village_ids.has_value()
                ? "village_id IN (SELECT value FROM json_each(?1)) AND "
                : "";
        ASSIGN_OR_RETURN(
            SqliteStatement stmt,
            db.Prepare(absl::StrCat(
                "SELECT body, version, create_time_us, update_time_us FROM "
                "projects "
                "WHERE ",
                villages,
                "(?2 = 0 OR star = ?2) AND (?3 = 0 OR status = ?3) "
                "AND (?4 = '' OR (due_date < ?4 AND status IN (1, 2))) "
                "AND (village_id, id) > (?5, ?6) "
                "ORDER BY village_id, id LIMIT ?7")));
        stmt.Bind(1, query.village_ids.has_value()
                         ? SqliteJsonArray(*query.village_ids)
                         : std::string("[]"))
            .Bind(2, static_cast<int>(query.star))
            .Bind(3, static_cast<int>(query.status))
            .Bind(4, query.overdue_on)
            .Bind(5, query.after_village_id)
            .Bind(6, query.after_id)
            .Bind(7, query.limit);
        return ReadVersionedResources<Project>(stmt);
      });
}

absl::StatusOr<Project> SqliteProjectsStore::InsertProject(
    SqliteDatabase& db, const Project& project, const RequestKey& key,
    int64_t now_us) {
  Project stored = project;
  ASSIGN_OR_RETURN(*stored.mutable_id(), NewId(db, "p"));
  ASSIGN_OR_RETURN(
      SqliteStatement stmt,
      db.Prepare("INSERT INTO projects(id, village_id, star, status, "
                 "start_date, due_date, target_quantity, cancel_time_us, "
                 "request_id, request_fingerprint, version, create_time_us, "
                 "update_time_us, body) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, "
                 "NULL, NULLIF(?8, ''), NULLIF(?9, ''), 1, ?10, ?10, ?11)"));
  stmt.Bind(1, stored.id())
      .Bind(2, stored.village_id())
      .Bind(3, static_cast<int>(stored.star()))
      .Bind(4, static_cast<int>(stored.status()))
      .Bind(5, stored.start_date())
      .Bind(6, stored.due_date())
      .Bind(7, stored.target_quantity())
      .Bind(8, key.request_id)
      .Bind(9, key.fingerprint)
      .Bind(10, now_us)
      .BindBlob(11, ProjectBody(stored));
  absl::Status status = stmt.Run();
  if (absl::IsAlreadyExists(status)) {
    return absl::AlreadyExistsError(absl::StrCat(
        "request_id ", key.request_id, " was already used for a project"));
  }
  RETURN_IF_ERROR(status);
  SetVersionFields(&stored, 1, now_us, now_us);
  return stored;
}

absl::StatusOr<Project> SqliteProjectsStore::CreateProject(
    const Project& project, const RequestKey& key,
    const std::string& village_path) {
  return feed_->Write([&](SqliteDatabase& db) -> absl::StatusOr<Project> {
    const int64_t now = absl::ToUnixMicros(clock_->Now());
    ASSIGN_OR_RETURN(Project stored, InsertProject(db, project, key, now));
    RETURN_IF_ERROR(AppendChange(db, stored.village_id(), village_path,
                                 v1::PROJECT_CHANGED, stored.id(), stored.id(),
                                 "", now));
    return stored;
  });
}

absl::StatusOr<Project> SqliteProjectsStore::ReplaceProject(
    SqliteDatabase& db, const Project& project, const std::string& fingerprint,
    int64_t now_us) {
  ASSIGN_OR_RETURN(
      SqliteStatement stmt,
      db.Prepare("UPDATE projects SET star = ?2, status = ?3, "
                 "start_date = ?4, due_date = ?5, target_quantity = ?6, "
                 "cancel_time_us = ?7, "
                 "request_fingerprint = COALESCE(NULLIF(?8, ''), "
                 "request_fingerprint), version = version + 1, "
                 "update_time_us = ?9, body = ?10 "
                 "WHERE id = ?1 RETURNING version, create_time_us"));
  stmt.Bind(1, project.id())
      .Bind(2, static_cast<int>(project.star()))
      .Bind(3, static_cast<int>(project.status()))
      .Bind(4, project.start_date())
      .Bind(5, project.due_date())
      .Bind(6, project.target_quantity());
  if (project.has_cancel_time()) {
    stmt.Bind(7, Micros(project.cancel_time()));
  } else {
    stmt.BindNull(7);
  }
  stmt.Bind(8, fingerprint).Bind(9, now_us).BindBlob(10, ProjectBody(project));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) {
    return absl::NotFoundError(
        absl::StrCat("project ", project.id(), " not found"));
  }
  Project stored = project;
  stored.clear_overdue();
  SetVersionFields(&stored, stmt.ColumnInt64(0), stmt.ColumnInt64(1), now_us);
  return stored;
}

absl::StatusOr<Project> SqliteProjectsStore::UpdateProject(
    const Project& project, const std::string& expected_etag,
    const std::string& village_path) {
  return feed_->Write([&](SqliteDatabase& db) -> absl::StatusOr<Project> {
    const int64_t now = absl::ToUnixMicros(clock_->Now());
    ASSIGN_OR_RETURN(Project current, LoadProject(db, project.id()));
    if (current.etag() != expected_etag) {
      return EtagMismatchError("project", project.id());
    }
    ASSIGN_OR_RETURN(Project stored, ReplaceProject(db, project, "", now));
    RETURN_IF_ERROR(AppendChange(db, stored.village_id(), village_path,
                                 v1::PROJECT_CHANGED, stored.id(), stored.id(),
                                 "", now));
    return stored;
  });
}

absl::Status SqliteProjectsStore::DeleteProject(
    const std::string& id, const std::string& expected_etag,
    const std::string& village_path) {
  return feed_->Write([&](SqliteDatabase& db) -> absl::Status {
    const int64_t now = absl::ToUnixMicros(clock_->Now());
    ASSIGN_OR_RETURN(Project current, LoadProject(db, id));
    if (!expected_etag.empty() && current.etag() != expected_etag) {
      return EtagMismatchError("project", id);
    }
    ASSIGN_OR_RETURN(
        SqliteStatement count,
        db.Prepare("SELECT COUNT(*) FROM reports WHERE project_id = ?"));
    count.Bind(1, id);
    RETURN_IF_ERROR(count.Step().status());
    if (const int64_t reports = count.ColumnInt64(0); reports > 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "project ", id, " has ", reports,
          " progress reports, which are an append-only record; cancel the "
          "project instead of deleting it"));
    }
    ASSIGN_OR_RETURN(SqliteStatement del,
                     db.Prepare("DELETE FROM projects WHERE id = ?"));
    RETURN_IF_ERROR(del.Bind(1, id).Run());
    RETURN_IF_ERROR(AppendChange(db, current.village_id(), village_path,
                                 v1::PROJECT_CHANGED, id, id, "", now));
    return absl::OkStatus();
  });
}

// --- Progress reports --------------------------------------------------------

absl::StatusOr<ProgressReport> SqliteProjectsStore::InsertReport(
    SqliteDatabase& db, const ProgressReport& report,
    const std::string& village_id, const RequestKey& key, int64_t now_us) {
  ProgressReport stored = report;
  ASSIGN_OR_RETURN(*stored.mutable_id(), NewId(db, "r"));
  stored.set_village_id(village_id);
  stored.clear_create_time();
  ASSIGN_OR_RETURN(
      SqliteStatement stmt,
      db.Prepare("INSERT INTO reports(id, project_id, village_id, "
                 "report_time_us, quantity, request_id, request_fingerprint, "
                 "create_time_us, body) VALUES(?1, ?2, ?3, ?4, ?5, "
                 "NULLIF(?6, ''), NULLIF(?7, ''), ?8, ?9)"));
  stmt.Bind(1, stored.id())
      .Bind(2, stored.project_id())
      .Bind(3, village_id)
      .Bind(4, Micros(stored.report_time()))
      .Bind(5, stored.quantity())
      .Bind(6, key.request_id)
      .Bind(7, key.fingerprint)
      .Bind(8, now_us)
      .BindBlob(9, DeterministicBytes(stored));
  absl::Status status = stmt.Run();
  if (absl::IsAlreadyExists(status)) {
    return absl::AlreadyExistsError(absl::StrCat(
        "request_id ", key.request_id, " was already used for a report"));
  }
  RETURN_IF_ERROR(status);
  *stored.mutable_create_time() = TimeUtil::MicrosecondsToTimestamp(now_us);
  return stored;
}

absl::StatusOr<AppendedReport> SqliteProjectsStore::AppendReport(
    const ProgressReport& report, const RequestKey& key, const Project& project,
    const std::string& expected_etag, const std::string& village_path) {
  return feed_->Write(
      [&](SqliteDatabase& db) -> absl::StatusOr<AppendedReport> {
        const int64_t now = absl::ToUnixMicros(clock_->Now());
        ASSIGN_OR_RETURN(Project current, LoadProject(db, project.id()));
        if (current.etag() != expected_etag) {
          return EtagMismatchError("project", project.id());
        }
        AppendedReport out;
        ASSIGN_OR_RETURN(
            out.report,
            InsertReport(db, report, current.village_id(), key, now));
        ASSIGN_OR_RETURN(out.project, ReplaceProject(db, project, "", now));
        RETURN_IF_ERROR(AppendChange(db, current.village_id(), village_path,
                                     v1::PROGRESS_REPORTED, out.report.id(),
                                     project.id(), "", now));
        return out;
      });
}

void SqliteProjectsStore::AppendReportAsync(
    const std::string& project_id, const RequestKey& key,
    const std::string& village_path, ReportApplier apply,
    std::function<void(absl::StatusOr<AppendedReport>)> done) {
  auto out = std::make_shared<AppendedReport>();
  feed_->WriteAsync(
      [this, project_id, key, village_path, apply = std::move(apply),
       out](SqliteDatabase& db) -> absl::Status {
        const int64_t now = absl::ToUnixMicros(clock_->Now());
        ASSIGN_OR_RETURN(Project current, LoadProject(db, project_id));
        ASSIGN_OR_RETURN(auto applied, apply(current));
        ASSIGN_OR_RETURN(
            out->report,
            InsertReport(db, applied.first, current.village_id(), key, now));
        ASSIGN_OR_RETURN(out->project,
                         ReplaceProject(db, applied.second, "", now));
        return AppendChange(db, current.village_id(), village_path,
                            v1::PROGRESS_REPORTED, out->report.id(), project_id,
                            "", now);
      },
      [out, done = std::move(done)](absl::Status status) {
        if (!status.ok()) return done(status);
        done(std::move(*out));
      });
}

absl::StatusOr<std::pair<ProgressReport, std::string>>
SqliteProjectsStore::FindReportByRequest(const std::string& request_id) {
  return pool_->Read(
      [&](SqliteDatabase& db)
          -> absl::StatusOr<std::pair<ProgressReport, std::string>> {
        ASSIGN_OR_RETURN(SqliteStatement stmt,
                         db.Prepare("SELECT body, create_time_us, "
                                    "request_fingerprint FROM reports "
                                    "WHERE request_id = ?"));
        stmt.Bind(1, request_id);
        ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) {
          return absl::NotFoundError(absl::StrCat(
              "no report was recorded with request_id ", request_id));
        }
        ASSIGN_OR_RETURN(ProgressReport report, ReadReport(stmt, 0));
        return std::make_pair(std::move(report), stmt.ColumnText(2));
      });
}

absl::StatusOr<std::vector<RecordedReport>> SqliteProjectsStore::ListReports(
    const std::string& project_id, int64_t after_position, int limit) {
  return pool_->Read(
      [&](SqliteDatabase& db) -> absl::StatusOr<std::vector<RecordedReport>> {
        ASSIGN_OR_RETURN(
            SqliteStatement stmt,
            db.Prepare(
                "SELECT position, body, create_time_us FROM reports "
                "WHERE project_id = ? AND position > ? ORDER BY position "
                "LIMIT ?"));
        stmt.Bind(1, project_id).Bind(2, after_position).Bind(3, limit);
        std::vector<RecordedReport> out;
        while (true) {
          ASSIGN_OR_RETURN(bool row, stmt.Step());
          if (!row) break;
          RecordedReport recorded;
          recorded.position = stmt.ColumnInt64(0);
          ASSIGN_OR_RETURN(recorded.report, ReadReport(stmt, 1));
          out.push_back(std::move(recorded));
        }
        return out;
      });
}

absl::StatusOr<std::optional<absl::Time>>
SqliteProjectsStore::EarliestReportTime(const std::string& project_id) {
  return pool_->Read(
      [&](SqliteDatabase& db) -> absl::StatusOr<std::optional<absl::Time>> {
        ASSIGN_OR_RETURN(SqliteStatement stmt,
                         db.Prepare("SELECT MIN(report_time_us) FROM reports "
                                    "WHERE project_id = ?"));
        stmt.Bind(1, project_id);
        RETURN_IF_ERROR(stmt.Step().status());
        if (stmt.ColumnIsNull(0)) return std::optional<absl::Time>();
        return std::optional<absl::Time>(
            absl::FromUnixMicros(stmt.ColumnInt64(0)));
      });
}

// --- Indicator catalogue -----------------------------------------------------

absl::StatusOr<IndicatorDefinition> SqliteProjectsStore::LoadDefinition(
    SqliteDatabase& db, const std::string& key) {
  ASSIGN_OR_RETURN(
      SqliteStatement stmt,
      db.Prepare("SELECT body, version, create_time_us, update_time_us "
                 "FROM indicator_definitions WHERE key = ?"));
  stmt.Bind(1, key);
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) {
    return absl::NotFoundError(
        absl::StrCat("indicator ", key, " is not in the catalogue"));
  }
  return ReadVersionedResource<IndicatorDefinition>(stmt);
}

absl::StatusOr<IndicatorDefinition> SqliteProjectsStore::GetIndicatorDefinition(
    const std::string& key) {
  return pool_->Read(
      [&](SqliteDatabase& db) -> absl::StatusOr<IndicatorDefinition> {
        return LoadDefinition(db, key);
      });
}

absl::StatusOr<std::vector<IndicatorDefinition>>
SqliteProjectsStore::ListIndicatorDefinitions(const std::string& after_key,
                                              int limit) {
  return pool_->Read([&](SqliteDatabase& db)
                         -> absl::StatusOr<std::vector<IndicatorDefinition>> {
    ASSIGN_OR_RETURN(
        SqliteStatement stmt,
        db.Prepare("SELECT body, version, create_time_us, update_time_us "
                   "FROM indicator_definitions WHERE key > ? ORDER BY key "
                   "LIMIT ?"));
    stmt.Bind(1, after_key).Bind(2, limit);
    return ReadVersionedResources<IndicatorDefinition>(stmt);
  });
}

absl::StatusOr<IndicatorDefinition> SqliteProjectsStore::InsertDefinition(
    SqliteDatabase& db, const IndicatorDefinition& definition, int64_t now_us) {
  IndicatorDefinition body = definition;
  ClearVersionFields(&body);
  ASSIGN_OR_RETURN(SqliteStatement stmt,
                   db.Prepare("INSERT INTO indicator_definitions(key, version, "
                              "create_time_us, update_time_us, body) "
                              "VALUES(?, 1, ?, ?, ?)"));
  stmt.Bind(1, definition.key())
      .Bind(2, now_us)
      .Bind(3, now_us)
      .BindBlob(4, DeterministicBytes(body));
  absl::Status status = stmt.Run();
  if (absl::IsAlreadyExists(status)) {
    return absl::AlreadyExistsError(absl::StrCat(
        "indicator ", definition.key(), " is already in the catalogue"));
  }
  RETURN_IF_ERROR(status);
  SetVersionFields(&body, 1, now_us, now_us);
  return body;
}

absl::StatusOr<IndicatorDefinition>
SqliteProjectsStore::CreateIndicatorDefinition(
    const IndicatorDefinition& definition) {
  return feed_->Write(
      [&](SqliteDatabase& db) -> absl::StatusOr<IndicatorDefinition> {
        return InsertDefinition(db, definition,
                                absl::ToUnixMicros(clock_->Now()));
      });
}

absl::StatusOr<IndicatorDefinition>
SqliteProjectsStore::UpdateIndicatorDefinition(
    const IndicatorDefinition& definition, const std::string& expected_etag) {
  return feed_->Write([&](SqliteDatabase& db)
                          -> absl::StatusOr<IndicatorDefinition> {
    const int64_t now = absl::ToUnixMicros(clock_->Now());
    ASSIGN_OR_RETURN(IndicatorDefinition current,
                     LoadDefinition(db, definition.key()));
    if (current.etag() != expected_etag) {
      return EtagMismatchError("indicator", definition.key());
    }
    // Checked inside the write so that no value slips in between.
    ASSIGN_OR_RETURN(
        SqliteStatement invalid,
        db.Prepare("SELECT village_id, period, value FROM indicator_values "
                   "WHERE indicator_key = ?1 AND (value < ?2 OR value > ?3 "
                   "OR (?4 AND value != round(value))) "
                   "ORDER BY village_id, period LIMIT 1"));
    invalid.Bind(1, definition.key())
        .Bind(2, definition.min_value())
        .Bind(3, definition.max_value())
        .Bind(4, definition.integral() ? 1 : 0);
    ASSIGN_OR_RETURN(bool found, invalid.Step());
    if (found) {
      return absl::FailedPreconditionError(absl::StrCat(
          "indicator ", definition.key(), ": the stored value ",
          invalid.ColumnDouble(2), " of village ", invalid.ColumnText(0),
          " in ", invalid.ColumnText(1), " would fall outside the new rule (",
          definition.min_value(), "..", definition.max_value(),
          definition.integral() ? ", whole numbers" : "",
          "); correct the values first"));
    }
    IndicatorDefinition body = definition;
    ClearVersionFields(&body);
    {
      // Scoped: an UPDATE ... RETURNING still stepping blocks the COMMIT.
      ASSIGN_OR_RETURN(
          SqliteStatement stmt,
          db.Prepare("UPDATE indicator_definitions SET version = version + 1, "
                     "update_time_us = ?2, body = ?3 WHERE key = ?1 "
                     "RETURNING version, create_time_us"));
      stmt.Bind(1, definition.key())
          .Bind(2, now)
          .BindBlob(3, DeterministicBytes(body));
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      // Checked to exist in this same transaction, just above.
      FIVESTAR_CHECK(row, "indicator vanished inside a write");
      SetVersionFields(&body, stmt.ColumnInt64(0), stmt.ColumnInt64(1), now);
    }
    return body;
  });
}

absl::StatusOr<int> SqliteProjectsStore::InsertIndicatorDefinitionsIfAbsent(
    const std::vector<IndicatorDefinition>& definitions) {
  return feed_->Write([&](SqliteDatabase& db) -> absl::StatusOr<int> {
    const int64_t now = absl::ToUnixMicros(clock_->Now());
    int inserted = 0;
    for (const IndicatorDefinition& definition : definitions) {
      absl::StatusOr<IndicatorDefinition> current =
          LoadDefinition(db, definition.key());
      if (current.ok()) continue;
      if (!absl::IsNotFound(current.status())) return current.status();
      RETURN_IF_ERROR(InsertDefinition(db, definition, now).status());
      ++inserted;
    }
    return inserted;
  });
}

// --- Indicator values --------------------------------------------------------

absl::StatusOr<v1::SetIndicatorValuesResponse>
SqliteProjectsStore::SetIndicatorValues(
    const std::vector<IndicatorWrite>& writes, const RequestKey& key,
    bool dry_run) {
  auto apply = [&](SqliteDatabase& db)
      -> absl::StatusOr<v1::SetIndicatorValuesResponse> {
    const int64_t now = absl::ToUnixMicros(clock_->Now());
    v1::SetIndicatorValuesResponse response;
    for (const IndicatorWrite& write : writes) {
      const IndicatorValue& value = write.value;
      ASSIGN_OR_RETURN(
          SqliteStatement get,
          db.Prepare("SELECT body, update_time_us FROM indicator_values "
                     "WHERE village_id = ? AND indicator_key = ? AND "
                     "period = ?"));
      get.Bind(1, value.village_id())
          .Bind(2, value.indicator_key())
          .Bind(3, value.period());
      ASSIGN_OR_RETURN(bool exists, get.Step());
      if (exists) {
        ASSIGN_OR_RETURN(IndicatorValue stored, ReadValue(get));
        if (stored.value() == value.value() && stored.note() == value.note()) {
          *response.add_values() = std::move(stored);
          response.set_unchanged(response.unchanged() + 1);
          continue;
        }
        response.set_updated(response.updated() + 1);
      } else {
        response.set_created(response.created() + 1);
      }
      IndicatorValue body = value;
      body.clear_update_time();
      ASSIGN_OR_RETURN(
          SqliteStatement put,
          db.Prepare("INSERT OR REPLACE INTO indicator_values(village_id, "
                     "indicator_key, period, value, update_time_us, body) "
                     "VALUES(?, ?, ?, ?, ?, ?)"));
      put.Bind(1, value.village_id())
          .Bind(2, value.indicator_key())
          .Bind(3, value.period())
          .Bind(4, value.value())
          .Bind(5, now)
          .BindBlob(6, DeterministicBytes(body));
      RETURN_IF_ERROR(put.Run());
      RETURN_IF_ERROR(AppendChange(db, value.village_id(), write.village_path,
                                   v1::INDICATOR_CHANGED, value.indicator_key(),
                                   "", value.period(), now));
      *body.mutable_update_time() = TimeUtil::MicrosecondsToTimestamp(now);
      *response.add_values() = std::move(body);
    }
    if (!key.request_id.empty()) {
      ASSIGN_OR_RETURN(SqliteStatement forget,
                       db.Prepare("DELETE FROM value_requests "
                                  "WHERE create_time_us < ?"));
      RETURN_IF_ERROR(
          forget.Bind(1, now - absl::ToInt64Microseconds(kValueRequestMemory))
              .Run());
      ASSIGN_OR_RETURN(
          SqliteStatement remember,
          db.Prepare("INSERT INTO value_requests(request_id, fingerprint, "
                     "response, create_time_us) VALUES(?, ?, ?, ?)"));
      absl::Status status = remember.Bind(1, key.request_id)
                                .Bind(2, key.fingerprint)
                                .BindBlob(3, DeterministicBytes(response))
                                .Bind(4, now)
                                .Run();
      if (absl::IsAlreadyExists(status)) {
        return absl::AlreadyExistsError(
            absl::StrCat("request_id ", key.request_id, " was already used"));
      }
      RETURN_IF_ERROR(status);
    }
    return response;
  };
  // A dry run is checked like the real write, then rolled back; alone, so
  // its rollback takes nobody else's write with it.
  if (dry_run) return feed_->WriteAlone(apply, /*roll_back=*/true);
  return feed_->Write(apply);
}

absl::StatusOr<std::pair<v1::SetIndicatorValuesResponse, std::string>>
SqliteProjectsStore::FindValueRequest(const std::string& request_id) {
  return pool_->Read(
      [&](SqliteDatabase& db)
          -> absl::StatusOr<
              std::pair<v1::SetIndicatorValuesResponse, std::string>> {
        ASSIGN_OR_RETURN(SqliteStatement stmt,
                         db.Prepare("SELECT response, fingerprint FROM "
                                    "value_requests WHERE request_id = ?"));
        stmt.Bind(1, request_id);
        ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) {
          return absl::NotFoundError(
              absl::StrCat("request_id ", request_id, " is unknown"));
        }
        v1::SetIndicatorValuesResponse response;
        if (!response.ParseFromString(stmt.ColumnBlob(0))) {
          return absl::DataLossError("stored response does not parse");
        }
        return std::make_pair(std::move(response), stmt.ColumnText(1));
      });
}

absl::StatusOr<std::vector<IndicatorValue>>
SqliteProjectsStore::ListIndicatorValues(const IndicatorValueQuery& query) {
  return pool_->Read(
      [&](SqliteDatabase& db) -> absl::StatusOr<std::vector<IndicatorValue>> {
        std::vector<IndicatorValue> out;
        if (!query.village_ids.has_value()) {
          // The primary key's order is the listing order: one range scan from
          // the cursor.
          RETURN_IF_ERROR(SelectValues(db, query, nullptr, query.limit, &out));
          return out;
        }
        // Only the villages from the cursor on, a bounded chunk per statement.
        // Given every village of a county, SQLite would otherwise seek (and
        // reject the rows of) every village before the cursor on every page,
        // and parse the whole list each time: paging would be quadratic.
        const std::vector<std::string>& ids = *query.village_ids;
        if (!std::is_sorted(ids.begin(), ids.end())) {
          return absl::InternalError(
              "IndicatorValueQuery.village_ids must be in ascending order");
        }
        size_t next =
            std::lower_bound(ids.begin(), ids.end(), query.after_village_id) -
            ids.begin();
        while (next < ids.size()) {
          int limit = query.limit;
          if (limit >= 0) {
            limit -= static_cast<int>(out.size());
            if (limit <= 0) break;
          }
          const size_t count =
              std::min(kVillagesPerStatement, ids.size() - next);
          const std::string chunk =
              SqliteJsonArray(absl::MakeConstSpan(ids).subspan(next, count));
          RETURN_IF_ERROR(SelectValues(db, query, &chunk, limit, &out));
          next += count;
        }
        return out;
      });
}

absl::Status SqliteProjectsStore::SelectValues(
    SqliteDatabase& db, const IndicatorValueQuery& query,
    const std::string* village_json, int limit,
    std::vector<IndicatorValue>* out) {
  const std::string villages =
      village_json != nullptr
          ? "village_id IN (SELECT value FROM json_each(?1)) AND "
          : "";
  ASSIGN_OR_RETURN(
      SqliteStatement stmt,
      db.Prepare(absl::StrCat(
          "SELECT body, update_time_us FROM indicator_values WHERE ", villages,
          "(?2 = '' OR indicator_key = ?2) AND (?3 = '' OR period >= ?3) "
          "AND (?4 = '' OR period <= ?4) "
          "AND (village_id, indicator_key, period) > (?5, ?6, ?7) "
          "ORDER BY village_id, indicator_key, period LIMIT ?8")));
  stmt.Bind(1, village_json != nullptr ? *village_json : std::string("[]"))
      .Bind(2, query.indicator_key)
      .Bind(3, query.start_period)
      .Bind(4, query.end_period)
      .Bind(5, query.after_village_id)
      .Bind(6, query.after_key)
      .Bind(7, query.after_period)
      .Bind(8, limit);
  while (true) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    ASSIGN_OR_RETURN(IndicatorValue value, ReadValue(stmt));
    out->push_back(std::move(value));
  }
  return absl::OkStatus();
}

// --- Summaries ---------------------------------------------------------------

absl::StatusOr<std::vector<TaskSnapshot>> SqliteProjectsStore::SnapshotTasks(
    const std::optional<std::vector<std::string>>& village_ids,
    absl::Time as_of, const std::string& as_of_day) {
  return pool_->Read([&](SqliteDatabase& db)
                         -> absl::StatusOr<std::vector<TaskSnapshot>> {
    const bool filtered = village_ids.has_value();
    ASSIGN_OR_RETURN(
        SqliteStatement stmt,
        db.Prepare(absl::StrCat(
            "SELECT p.village_id, p.star, p.target_quantity, p.due_date, "
            "p.cancel_time_us IS NOT NULL AND p.cancel_time_us <= ?1, "
            "COALESCE(r.n, 0), COALESCE(r.q, 0.0) "
            "FROM projects p LEFT JOIN (SELECT project_id, COUNT(*) AS n, "
            "SUM(quantity) AS q FROM reports WHERE report_time_us <= ?1 ",
            filtered ? "AND village_id IN (SELECT value FROM json_each(?3)) "
                     : "",
            "GROUP BY project_id) r ON r.project_id = p.id "
            "WHERE p.start_date <= ?2",
            filtered ? " AND p.village_id IN (SELECT value FROM json_each(?3))"
                     : "")));
    stmt.Bind(1, absl::ToUnixMicros(as_of))
        .Bind(2, as_of_day)
        .Bind(3, filtered ? SqliteJsonArray(*village_ids) : std::string("[]"));
    std::vector<TaskSnapshot> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      TaskSnapshot task;
      task.village_id = stmt.ColumnText(0);
      task.star = static_cast<Star>(stmt.ColumnInt64(1));
      task.target_quantity = stmt.ColumnDouble(2);
      task.due_date = stmt.ColumnText(3);
      task.cancelled = stmt.ColumnInt64(4) != 0;
      task.reports = stmt.ColumnInt64(5);
      task.delivered_quantity = stmt.ColumnDouble(6);
      out.push_back(std::move(task));
    }
    return out;
  });
}

absl::StatusOr<std::vector<std::pair<std::string, int>>>
SqliteProjectsStore::CountReportingWeeks(
    const std::vector<std::string>& village_ids, absl::Time as_of, int weeks) {
  return pool_->Read(
      [&](SqliteDatabase& db)
          -> absl::StatusOr<std::vector<std::pair<std::string, int>>> {
        // Window k holds the times t with k * week <= as_of - t < (k + 1) *
        // week.
        ASSIGN_OR_RETURN(
            SqliteStatement stmt,
            db.Prepare(
                "SELECT village_id, COUNT(DISTINCT (?1 - report_time_us) "
                "/ ?2) FROM reports WHERE village_id IN "
                "(SELECT value FROM json_each(?3)) AND report_time_us <= "
                "?1 AND report_time_us > ?1 - ?2 * ?4 GROUP BY village_id"));
        stmt.Bind(1, absl::ToUnixMicros(as_of))
            .Bind(2, absl::ToInt64Microseconds(absl::Hours(24 * 7)))
            .Bind(3, SqliteJsonArray(village_ids))
            .Bind(4, weeks);
        std::vector<std::pair<std::string, int>> out;
        while (true) {
          ASSIGN_OR_RETURN(bool row, stmt.Step());
          if (!row) break;
          out.emplace_back(stmt.ColumnText(0),
                           static_cast<int>(stmt.ColumnInt64(1)));
        }
        return out;
      });
}

// --- Import ------------------------------------------------------------------

absl::Status SqliteProjectsStore::WriteImported(
    SqliteDatabase& db, const std::vector<ImportedProject>& projects,
    int64_t now_us) {
  for (const ImportedProject& imported : projects) {
    Project stored;
    if (imported.project.id().empty()) {
      absl::StatusOr<Project> inserted =
          InsertProject(db, imported.project, imported.key, now_us);
      if (absl::IsAlreadyExists(inserted.status())) {
        return absl::AbortedError(
            absl::StrCat("key ", imported.key.request_id,
                         " was used by a concurrent write; retry the import"));
      }
      RETURN_IF_ERROR(inserted.status());
      stored = *std::move(inserted);
    } else {
      ASSIGN_OR_RETURN(Project current, LoadProject(db, imported.project.id()));
      if (current.etag() != imported.expected_etag) {
        return absl::AbortedError(absl::StrCat(
            "project ", current.id(), " (key ", imported.key.request_id,
            ") changed while the import ran; retry the import"));
      }
      ASSIGN_OR_RETURN(
          stored, ReplaceProject(db, imported.project, imported.key.fingerprint,
                                 now_us));
    }
    if (imported.project_changed) {
      RETURN_IF_ERROR(AppendChange(db, stored.village_id(),
                                   imported.village_path, v1::PROJECT_CHANGED,
                                   stored.id(), stored.id(), "", now_us));
    }
    for (const auto& [report, fingerprint] : imported.new_reports) {
      ProgressReport with_project = report;
      with_project.set_project_id(stored.id());
      absl::StatusOr<ProgressReport> inserted =
          InsertReport(db, with_project, stored.village_id(),
                       RequestKey{report.request_id(), fingerprint}, now_us);
      if (absl::IsAlreadyExists(inserted.status())) {
        return absl::AbortedError(
            absl::StrCat("report request_id ", report.request_id(),
                         " was used by a concurrent write; retry the import"));
      }
      RETURN_IF_ERROR(inserted.status());
      RETURN_IF_ERROR(AppendChange(db, stored.village_id(),
                                   imported.village_path, v1::PROGRESS_REPORTED,
                                   inserted->id(), stored.id(), "", now_us));
    }
  }
  return absl::OkStatus();
}

absl::Status SqliteProjectsStore::ApplyImport(
    const std::vector<ImportedProject>& projects) {
  return  // Alone: an import does not hold small writes' commit hostage.
      feed_->WriteAlone([&](SqliteDatabase& db) -> absl::Status {
        return WriteImported(db, projects, absl::ToUnixMicros(clock_->Now()));
      });
}

absl::Status SqliteProjectsStore::ApplyImportBatches(
    const ImportBatchSource& next) {
  return feed_->WriteAlone([&](SqliteDatabase& db) -> absl::Status {
    const int64_t now = absl::ToUnixMicros(clock_->Now());
    while (true) {
      ASSIGN_OR_RETURN(std::optional<std::vector<ImportedProject>> batch,
                       next());
      if (!batch.has_value()) return absl::OkStatus();
      RETURN_IF_ERROR(WriteImported(db, *batch, now));
    }
  });
}

absl::StatusOr<
    absl::flat_hash_map<std::string, std::pair<Project, std::string>>>
SqliteProjectsStore::FindProjectsByRequests(
    const std::vector<std::string>& request_ids) {
  using Found =
      absl::flat_hash_map<std::string, std::pair<Project, std::string>>;
  return pool_->Read([&](SqliteDatabase& db) -> absl::StatusOr<Found> {
    Found found;
    for (const std::string& request_id : request_ids) {
      ASSIGN_OR_RETURN(
          SqliteStatement stmt,
          db.Prepare("SELECT body, version, create_time_us, update_time_us, "
                     "request_fingerprint FROM projects WHERE request_id = ?"));
      stmt.Bind(1, request_id);
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) continue;
      ASSIGN_OR_RETURN(Project project, ReadVersionedResource<Project>(stmt));
      found.emplace(request_id,
                    std::make_pair(std::move(project), stmt.ColumnText(4)));
    }
    return found;
  });
}

absl::StatusOr<
    absl::flat_hash_map<std::string, std::pair<ProgressReport, std::string>>>
SqliteProjectsStore::FindReportsByRequests(
    const std::vector<std::string>& request_ids) {
  using Found =
      absl::flat_hash_map<std::string, std::pair<ProgressReport, std::string>>;
  return pool_->Read([&](SqliteDatabase& db) -> absl::StatusOr<Found> {
    Found found;
    for (const std::string& request_id : request_ids) {
      ASSIGN_OR_RETURN(SqliteStatement stmt,
                       db.Prepare("SELECT body, create_time_us, "
                                  "request_fingerprint FROM reports "
                                  "WHERE request_id = ?"));
      stmt.Bind(1, request_id);
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) continue;
      ASSIGN_OR_RETURN(ProgressReport report, ReadReport(stmt, 0));
      found.emplace(request_id,
                    std::make_pair(std::move(report), stmt.ColumnText(2)));
    }
    return found;
  });
}

// --- Change feed -------------------------------------------------------------

absl::StatusOr<std::string> SqliteProjectsStore::FeedId() {
  return feed_->feed_id();
}

absl::StatusOr<uint64_t> SqliteProjectsStore::NewestSequence() {
  return pool_->Read([&](SqliteDatabase& db) -> absl::StatusOr<uint64_t> {
    return ChangeLog<SqlitePool>::NewestSequence(db);
  });
}

absl::StatusOr<ChangeBatch> SqliteProjectsStore::ReadChanges(
    uint64_t after_sequence, const std::vector<std::string>& path_components,
    int limit) {
  return pool_->Read([&](SqliteDatabase& db) -> absl::StatusOr<ChangeBatch> {
    ASSIGN_OR_RETURN(uint64_t newest,
                     ChangeLog<SqlitePool>::NewestSequence(db));
    std::string sql =
        "SELECT sequence, village_id, kind, entity_id, project_id, period, "
        "change_time_us FROM changes WHERE sequence > ?1";
    for (size_t i = 0; i < path_components.size(); ++i) {
      absl::StrAppend(&sql, " AND instr(village_path, ?", i + 3, ") > 0");
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
      Change change;
      change.set_sequence(static_cast<uint64_t>(stmt.ColumnInt64(0)));
      change.set_feed_id(feed_->feed_id());
      change.set_village_id(stmt.ColumnText(1));
      change.set_kind(static_cast<v1::ChangeKind>(stmt.ColumnInt64(2)));
      change.set_entity_id(stmt.ColumnText(3));
      change.set_project_id(stmt.ColumnText(4));
      change.set_period(stmt.ColumnText(5));
      *change.mutable_change_time() =
          TimeUtil::MicrosecondsToTimestamp(stmt.ColumnInt64(6));
      batch.changes.push_back(std::move(change));
    }
    batch.scanned_through = static_cast<int>(batch.changes.size()) == limit
                                ? batch.changes.back().sequence()
                                : std::max(newest, after_sequence);
    return batch;
  });
}

}  // namespace fivestar::projects
