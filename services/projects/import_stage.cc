#include "services/projects/import_stage.h"

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace fivestar::projects {
namespace {

// The scratch database needs no durability (it never outlives the import)
// and is read by one thread: no journal, no syncs. Its page cache is all
// the memory it takes, however large the import.
constexpr char kSchema[] = R"sql(
PRAGMA journal_mode=OFF;
PRAGMA synchronous=OFF;
PRAGMA foreign_keys=OFF;
PRAGMA cache_size=-8192;
PRAGMA temp_store=FILE;
CREATE TABLE records (
  idx INTEGER PRIMARY KEY,
  key TEXT NOT NULL UNIQUE,
  village_id TEXT NOT NULL,
  body BLOB NOT NULL
);
CREATE TABLE report_keys (
  request_id TEXT PRIMARY KEY,
  record INTEGER NOT NULL,
  report INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE villages (
  village_id TEXT PRIMARY KEY,
  path TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE planned (
  seq INTEGER PRIMARY KEY,
  project BLOB NOT NULL,
  request_id TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  expected_etag TEXT NOT NULL,
  changed INTEGER NOT NULL,
  village_path TEXT NOT NULL
);
CREATE TABLE planned_reports (
  seq INTEGER NOT NULL,
  ord INTEGER NOT NULL,
  report BLOB NOT NULL,
  fingerprint TEXT NOT NULL,
  PRIMARY KEY (seq, ord)
) WITHOUT ROWID;
)sql";

}  // namespace

absl::StatusOr<std::unique_ptr<ImportStage>> ImportStage::Open() {
  // An empty name is SQLite's private temporary database: a file of its
  // own, unlinked as soon as it is created.
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteDatabase> db,
                   SqliteDatabase::Open(""));
  RETURN_IF_ERROR(db->Execute(kSchema));
  return std::unique_ptr<ImportStage>(new ImportStage(std::move(db)));
}

absl::Status ImportStage::BeginChunk() { return db_->Execute("BEGIN"); }

absl::Status ImportStage::EndChunk() { return db_->Execute("COMMIT"); }

absl::StatusOr<std::optional<int64_t>> ImportStage::AddRecord(
    int64_t index, const v1::ProjectRecord& record) {
  ASSIGN_OR_RETURN(SqliteStatement insert,
                   db_->Prepare("INSERT INTO records(idx, key, village_id, "
                                "body) VALUES(?, ?, ?, ?) "
                                "ON CONFLICT(key) DO NOTHING"));
  RETURN_IF_ERROR(insert.Bind(1, index)
                      .Bind(2, record.key())
                      .Bind(3, record.project().village_id())
                      .BindBlob(4, record.SerializeAsString())
                      .Run());
  if (db_->Changes() == 1) return std::nullopt;
  ASSIGN_OR_RETURN(SqliteStatement earlier,
                   db_->Prepare("SELECT idx FROM records WHERE key = ?"));
  earlier.Bind(1, record.key());
  ASSIGN_OR_RETURN(bool row, earlier.Step());
  if (!row) {
    return absl::InternalError(absl::StrCat("staging records[", index,
                                            "] failed for another reason "
                                            "than a repeated key"));
  }
  return earlier.ColumnInt64(0);
}

absl::StatusOr<std::optional<std::pair<int64_t, int>>>
ImportStage::AddReportKey(const std::string& request_id, int64_t record,
                          int report) {
  ASSIGN_OR_RETURN(SqliteStatement insert,
                   db_->Prepare("INSERT INTO report_keys(request_id, record, "
                                "report) VALUES(?, ?, ?) "
                                "ON CONFLICT(request_id) DO NOTHING"));
  RETURN_IF_ERROR(
      insert.Bind(1, request_id).Bind(2, record).Bind(3, report).Run());
  if (db_->Changes() == 1) return std::nullopt;
  ASSIGN_OR_RETURN(SqliteStatement earlier,
                   db_->Prepare("SELECT record, report FROM report_keys "
                                "WHERE request_id = ?"));
  earlier.Bind(1, request_id);
  ASSIGN_OR_RETURN(bool row, earlier.Step());
  if (!row) {
    return absl::InternalError(
        absl::StrCat("staging report request_id ", request_id,
                     " failed for another reason than a repeated request_id"));
  }
  return std::make_pair(earlier.ColumnInt64(0),
                        static_cast<int>(earlier.ColumnInt64(1)));
}

absl::StatusOr<std::optional<std::string>> ImportStage::VillagePath(
    const std::string& village_id) {
  ASSIGN_OR_RETURN(
      SqliteStatement stmt,
      db_->Prepare("SELECT path FROM villages WHERE village_id = ?"));
  stmt.Bind(1, village_id);
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return std::nullopt;
  return stmt.ColumnText(0);
}

absl::Status ImportStage::AddVillage(const std::string& village_id,
                                     const std::string& path) {
  ASSIGN_OR_RETURN(SqliteStatement stmt,
                   db_->Prepare("INSERT OR REPLACE INTO villages(village_id, "
                                "path) VALUES(?, ?)"));
  return stmt.Bind(1, village_id).Bind(2, path).Run();
}

absl::StatusOr<std::vector<ImportStage::StagedRecord>> ImportStage::ReadRecords(
    int64_t after_index, int limit) {
  ASSIGN_OR_RETURN(
      SqliteStatement stmt,
      db_->Prepare("SELECT r.idx, r.body, v.path FROM records r "
                   "LEFT JOIN villages v ON v.village_id = r.village_id "
                   "WHERE r.idx > ? ORDER BY r.idx LIMIT ?"));
  stmt.Bind(1, after_index).Bind(2, limit);
  std::vector<StagedRecord> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    StagedRecord staged;
    staged.index = stmt.ColumnInt64(0);
    if (!staged.record.ParseFromString(stmt.ColumnBlob(1))) {
      return absl::InternalError(absl::StrCat("staged records[", staged.index,
                                              "] does not parse back"));
    }
    if (stmt.ColumnIsNull(2)) {
      return absl::InternalError(absl::StrCat("staged records[", staged.index,
                                              "] has no checked village"));
    }
    staged.village_path = stmt.ColumnText(2);
    out.push_back(std::move(staged));
  }
  return out;
}

absl::Status ImportStage::AddPlanned(
    const std::vector<ImportedProject>& planned) {
  RETURN_IF_ERROR(db_->Execute("BEGIN"));
  for (const ImportedProject& imported : planned) {
    const int64_t seq = planned_++;
    ASSIGN_OR_RETURN(
        SqliteStatement project,
        db_->Prepare("INSERT INTO planned(seq, project, request_id, "
                     "fingerprint, expected_etag, changed, village_path) "
                     "VALUES(?, ?, ?, ?, ?, ?, ?)"));
    RETURN_IF_ERROR(project.Bind(1, seq)
                        .BindBlob(2, imported.project.SerializeAsString())
                        .Bind(3, imported.key.request_id)
                        .Bind(4, imported.key.fingerprint)
                        .Bind(5, imported.expected_etag)
                        .Bind(6, imported.project_changed ? 1 : 0)
                        .Bind(7, imported.village_path)
                        .Run());
    for (size_t j = 0; j < imported.new_reports.size(); ++j) {
      ASSIGN_OR_RETURN(
          SqliteStatement report,
          db_->Prepare("INSERT INTO planned_reports(seq, ord, report, "
                       "fingerprint) VALUES(?, ?, ?, ?)"));
      RETURN_IF_ERROR(
          report.Bind(1, seq)
              .Bind(2, static_cast<int64_t>(j))
              .BindBlob(3, imported.new_reports[j].first.SerializeAsString())
              .Bind(4, imported.new_reports[j].second)
              .Run());
    }
  }
  return db_->Execute("COMMIT");
}

absl::StatusOr<std::vector<ImportedProject>> ImportStage::ReadPlanned(
    int64_t first, int limit) {
  std::vector<ImportedProject> out;
  ASSIGN_OR_RETURN(
      SqliteStatement projects,
      db_->Prepare("SELECT project, request_id, fingerprint, expected_etag, "
                   "changed, village_path FROM planned WHERE seq >= ? "
                   "ORDER BY seq LIMIT ?"));
  projects.Bind(1, first).Bind(2, limit);
  while (true) {
    ASSIGN_OR_RETURN(bool row, projects.Step());
    if (!row) break;
    ImportedProject imported;
    if (!imported.project.ParseFromString(projects.ColumnBlob(0))) {
      return absl::InternalError("a planned project does not parse back");
    }
    imported.key.request_id = projects.ColumnText(1);
    imported.key.fingerprint = projects.ColumnText(2);
    imported.expected_etag = projects.ColumnText(3);
    imported.project_changed = projects.ColumnInt64(4) != 0;
    imported.village_path = projects.ColumnText(5);
    out.push_back(std::move(imported));
  }
  if (out.empty()) return out;
  ASSIGN_OR_RETURN(
      SqliteStatement reports,
      db_->Prepare("SELECT seq, report, fingerprint FROM planned_reports "
                   "WHERE seq >= ? AND seq < ? ORDER BY seq, ord"));
  reports.Bind(1, first).Bind(2, first + static_cast<int64_t>(out.size()));
  while (true) {
    ASSIGN_OR_RETURN(bool row, reports.Step());
    if (!row) break;
    ProgressReport report;
    if (!report.ParseFromString(reports.ColumnBlob(1))) {
      return absl::InternalError("a planned report does not parse back");
    }
    out[reports.ColumnInt64(0) - first].new_reports.emplace_back(
        std::move(report), reports.ColumnText(2));
  }
  return out;
}

}  // namespace fivestar::projects
