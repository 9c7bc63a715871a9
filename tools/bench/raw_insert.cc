// fivestar-raw-insert: the raw reference for the projects import figure.
// It inserts the rows an ImportProjects of a projects NDJSON file writes
// (one `projects` row and one `changes` row per record, one `reports` row
// and one `changes` row per report, with serialized protobuf bodies of the
// same shape) into a fresh database of the same schema (opened once through
// SqliteProjectsStore, so the schema is the service's own), with the sqlite3
// C API, prepared statements, WAL and synchronous=FULL, in ONE transaction.
//
// Only the SQLite work is timed (BEGIN through COMMIT, excluding the JSON
// parsing that prepares each batch of rows), so the figure is what SQLite
// alone needs for these rows on this disk. Prints one JSON line:
//   {"rows": N, "records": R, "reports": P, "seconds": S}
//
// Usage: fivestar-raw-insert --in=projects.ndjson --db=/tmp/raw.db
// (the database must not exist).
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/clock.h"
#include "fivestar/projects/v1/projects.pb.h"
#include "services/projects/sqlite_projects_store.h"

namespace {

using ::fivestar::projects::v1::ProgressReport;
using ::fivestar::projects::v1::Project;
using ::fivestar::projects::v1::ProjectRecord;
using Clock = std::chrono::steady_clock;

void Check(int rc, sqlite3* db, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    std::cerr << what << ": " << sqlite3_errmsg(db) << "\n";
    std::exit(1);
  }
}

sqlite3_stmt* Prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  Check(sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr), db, sql);
  return stmt;
}

void Text(sqlite3_stmt* stmt, int i, const std::string& value) {
  sqlite3_bind_text(stmt, i, value.data(), static_cast<int>(value.size()),
                    SQLITE_TRANSIENT);
}

void Blob(sqlite3_stmt* stmt, int i, const std::string& value) {
  sqlite3_bind_blob(stmt, i, value.data(), static_cast<int>(value.size()),
                    SQLITE_TRANSIENT);
}

void Step(sqlite3* db, sqlite3_stmt* stmt) {
  Check(sqlite3_step(stmt), db, "step");
  sqlite3_reset(stmt);
}

std::string Flag(int argc, char** argv, const std::string& name) {
  const std::string prefix = "--" + name + "=";
  for (int i = 1; i < argc; ++i) {
    if (absl::StartsWith(argv[i], prefix)) return argv[i] + prefix.size();
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  const std::string in = Flag(argc, argv, "in");
  const std::string path = Flag(argc, argv, "db");
  if (in.empty() || path.empty()) {
    std::cerr << "usage: fivestar-raw-insert --in=projects.ndjson "
                 "--db=NEW_DATABASE\n";
    return 2;
  }
  {  // The service's schema, by the service's own migrations.
    auto store = fivestar::projects::SqliteProjectsStore::Open(
        path, fivestar::Clock::System());
    if (!store.ok()) {
      std::cerr << store.status() << "\n";
      return 1;
    }
  }
  sqlite3* db = nullptr;
  Check(sqlite3_open(path.c_str(), &db), db, "open");
  Check(sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
                     nullptr, nullptr, nullptr),
        db, "pragmas");
  sqlite3_stmt* project_stmt = Prepare(
      db,
      "INSERT INTO projects(id, village_id, star, status, start_date, "
      "due_date, target_quantity, cancel_time_us, request_id, "
      "request_fingerprint, version, create_time_us, update_time_us, body) "
      "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, ?8, ?9, 1, ?10, ?10, ?11)");
  sqlite3_stmt* report_stmt = Prepare(
      db,
      "INSERT INTO reports(id, project_id, village_id, report_time_us, "
      "quantity, request_id, request_fingerprint, create_time_us, body) "
      "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  sqlite3_stmt* change_stmt =
      Prepare(db,
              "INSERT INTO changes(sequence, village_id, village_path, kind, "
              "entity_id, project_id, period, change_time_us) "
              "VALUES(?1, ?2, ?3, ?4, ?5, ?6, '', ?7)");

  std::mt19937_64 random(1);
  auto new_id = [&](const char* prefix) {
    return absl::StrFormat("%s%016x%04x", prefix, random(), random() & 0xffff);
  };
  // A fingerprint the size of the service's (hex SHA-256).
  const std::string fingerprint(64, 'f');
  const int64_t now = absl::ToUnixMicros(absl::Now());

  std::ifstream file(in);
  std::string line;
  int64_t records = 0, reports = 0, rows = 0, sequence = 0;
  Clock::duration timed{};
  std::vector<ProjectRecord> batch;
  bool begun = false;
  auto insert_batch = [&] {
    const auto start = Clock::now();
    if (!begun) {
      Check(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), db,
            "begin");
      begun = true;
    }
    for (const ProjectRecord& record : batch) {
      Project project = record.project();
      project.set_id(new_id("p"));
      project.set_status(fivestar::projects::v1::PLANNED);
      const std::string village_path =
          absl::StrCat("/41/4101/410101/410101001/", project.village_id(), "/");
      Text(project_stmt, 1, project.id());
      Text(project_stmt, 2, project.village_id());
      sqlite3_bind_int(project_stmt, 3, project.star());
      sqlite3_bind_int(project_stmt, 4, project.status());
      Text(project_stmt, 5, project.start_date());
      Text(project_stmt, 6, project.due_date());
      sqlite3_bind_double(project_stmt, 7, project.target_quantity());
      Text(project_stmt, 8, record.key());
      Text(project_stmt, 9, fingerprint);
      sqlite3_bind_int64(project_stmt, 10, now);
      Blob(project_stmt, 11, project.SerializeAsString());
      Step(db, project_stmt);
      auto change = [&](int kind, const std::string& entity) {
        sqlite3_bind_int64(change_stmt, 1, ++sequence);
        Text(change_stmt, 2, project.village_id());
        Text(change_stmt, 3, village_path);
        sqlite3_bind_int(change_stmt, 4, kind);
        Text(change_stmt, 5, entity);
        Text(change_stmt, 6, project.id());
        sqlite3_bind_int64(change_stmt, 7, now);
        Step(db, change_stmt);
      };
      change(1, project.id());
      rows += 2;
      for (const ProgressReport& given : record.reports()) {
        ProgressReport report = given;
        report.set_id(new_id("r"));
        report.set_project_id(project.id());
        report.set_village_id(project.village_id());
        Text(report_stmt, 1, report.id());
        Text(report_stmt, 2, project.id());
        Text(report_stmt, 3, project.village_id());
        sqlite3_bind_int64(
            report_stmt, 4,
            google::protobuf::util::TimeUtil::TimestampToMicroseconds(
                report.report_time()));
        sqlite3_bind_double(report_stmt, 5, report.quantity());
        Text(report_stmt, 6, report.request_id());
        Text(report_stmt, 7, fingerprint);
        sqlite3_bind_int64(report_stmt, 8, now);
        Blob(report_stmt, 9, report.SerializeAsString());
        Step(db, report_stmt);
        change(2, report.id());
        rows += 2;
        ++reports;
      }
      ++records;
    }
    timed += Clock::now() - start;
    batch.clear();
  };
  google::protobuf::util::JsonParseOptions options;
  while (std::getline(file, line)) {
    if (line.empty()) continue;
    ProjectRecord record;
    auto status =
        google::protobuf::util::JsonStringToMessage(line, &record, options);
    if (!status.ok()) {
      std::cerr << "line " << records + batch.size() + 1 << ": " << status
                << "\n";
      return 1;
    }
    batch.push_back(std::move(record));
    if (batch.size() == 10000) insert_batch();
  }
  insert_batch();
  const auto start = Clock::now();
  Check(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), db, "commit");
  timed += Clock::now() - start;
  sqlite3_finalize(project_stmt);
  sqlite3_finalize(report_stmt);
  sqlite3_finalize(change_stmt);
  sqlite3_close(db);
  std::printf(
      "{\"rows\": %lld, \"records\": %lld, \"reports\": %lld, \"seconds\": "
      "%.3f}\n",
      static_cast<long long>(rows), static_cast<long long>(records),
      static_cast<long long>(reports),
      std::chrono::duration<double>(timed).count());
  return 0;
}
