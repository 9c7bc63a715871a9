// The access matrix: every RPC of every service, called by each kind of
// principal on something inside and outside its scope, and without a token,
// against the status codes checked in at
// tests/integration/expected/access_matrix.txt; and on every refusal
// (UNAUTHENTICATED, PERMISSION_DENIED), nothing written to any service's
// database (every table of the three SQLite files, read through a separate
// read-only connection, digested before and after the call) but the audit
// log's record of the refused write (common/audit.h), which is the point of
// the audit log. The AuditService every server hosts beside its own is a
// row per server ("registry.ListAuditEvents", ...).
//
// All three services run as production wires them (tests/testing/
// service_hosts.h, via ScoringTestEnv: the Huiche township and a second
// township of the same county, Huiche's projects and indicators, a real
// redis-server), with scoring not following the feeds, so that nothing
// writes in the background.
//
// A mismatch prints each differing line. After a deliberate change,
// regenerate the golden file with
//   FIVESTAR_UPDATE_ACCESS_MATRIX=1 ctest --test-dir build -R access_matrix
// and review every changed line against DESIGN.md and SECURITY.md before
// committing it: the file states what the roles allow, not what the code
// happens to do.
//
// To cover a new RPC, add one row to Rpcs(): its name, whether it is about
// something scoped, and how to build the call for a target (see Target).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/auth.h"
#include "common/postgres.h"
#include "common/sql_engine.h"
#include "fivestar/audit/v1/audit.grpc.pb.h"
#include "google/protobuf/util/time_util.h"
#include "tests/scoring/scoring_test_env.h"
#include "tests/testing/ndjson.h"
#include "tests/testing/status_matchers.h"

namespace fivestar::scoring {
namespace {

using namespace ::fivestar::scoring::testing;  // NOLINT: the env's cast
using ::fivestar::common::v1::Star;
using ::fivestar::testing::NewContext;
using ::fivestar::testing::SourcePath;
namespace registry_v1 = ::fivestar::registry::v1;
namespace projects_v1 = ::fivestar::projects::v1;
using RegistryStub = registry_v1::RegistryService::Stub;
using ProjectsStub = projects_v1::ProjectsService::Stub;
using ScoringStub = v1::ScoringService::Stub;
using AuditStub = ::fivestar::audit::v1::AuditService::Stub;

constexpr char kGoldenPath[] = "tests/integration/expected/access_matrix.txt";
constexpr absl::Duration kCallDeadline = absl::Seconds(60);

// One call of an RPC, ready to be made as the holder of a token ("" for
// none); returns how it ended.
using Call = std::function<grpc::Status(const std::string& token)>;

// What a cell's call is about. Inside the scope: the village
// 411323-huiche-north-01 (Maohe), its district and its township Huiche,
// which hold the township principals' scope and, for the village-scoped
// viewer, lie above it (its scope is Maohe). Outside: the other township of
// the county and its one village.
struct Target {
  std::string village;
  std::string township;
  // Where new villages and regions of the cell go.
  std::string district;
  // An existing project and AWARDED award of `village`.
  std::string project_id;
  std::string award_id;
  // A star `village` earned in kPeriod, for applications.
  Star earned = fivestar::common::v1::SAFE_LAWFUL;
};

// Who calls: a label for the golden file and a token of the env's cast.
struct Caller {
  const char* label;
  const char* token;
};

constexpr Caller kCallers[] = {
    {"viewer@township", kHuicheViewerToken},
    {"reporter@township", kHuicheReporterToken},
    {"operator@township", kHuicheOperatorToken},
    {"admin@township", kHuicheAdminToken},
    {"viewer@village", kMaoheViewerToken},
    {"admin@global", kAdminToken},
};

bool IsDenial(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAUTHENTICATED ||
         code == grpc::StatusCode::PERMISSION_DENIED;
}

std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

// The audit log's table, which records refused writes too, and so is left
// out of the digests (with its row in sqlite_sequence, or its sequence).
constexpr char kAuditTable[] = "audit_events";

// Per table but the audit log's, a SHA-256 of all its rows in order (every
// column, typed), read through a read-only connection of its own.
std::map<std::string, std::string> SqliteTableDigests(const std::string& path) {
  std::map<std::string, std::string> digests;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) !=
      SQLITE_OK) {
    ADD_FAILURE() << "cannot open " << path
                  << " read-only: " << sqlite3_errmsg(db);
    sqlite3_close(db);
    return digests;
  }
  sqlite3_busy_timeout(db, 10000);
  auto query = [&](const std::string& sql,
                   const std::function<void(sqlite3_stmt*)>& row) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << path << ": " << sql << ": " << sqlite3_errmsg(db);
      return;
    }
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) row(stmt);
    if (rc != SQLITE_DONE) {
      ADD_FAILURE() << path << ": " << sql << ": " << sqlite3_errmsg(db);
    }
    sqlite3_finalize(stmt);
  };
  // One transaction, so that every table is read at the same moment.
  query("BEGIN", [](sqlite3_stmt*) {});
  std::vector<std::string> tables;
  query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
        [&](sqlite3_stmt* stmt) {
          tables.emplace_back(
              reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
        });
  for (const std::string& table : tables) {
    if (table == kAuditTable) continue;
    const std::string where =
        table == "sqlite_sequence"
            ? absl::StrCat(" WHERE name <> '", kAuditTable, "'")
            : "";
    // The column count, for an ORDER BY over every column.
    int columns = 0;
    sqlite3_stmt* probe = nullptr;
    if (sqlite3_prepare_v2(
            db, absl::StrCat("SELECT * FROM \"", table, "\"").c_str(), -1,
            &probe, nullptr) == SQLITE_OK) {
      columns = sqlite3_column_count(probe);
    }
    sqlite3_finalize(probe);
    std::vector<std::string> order;
    for (int i = 1; i <= columns; ++i) order.push_back(absl::StrCat(i));
    std::string dump;
    query(absl::StrCat("SELECT * FROM \"", table, "\"", where, " ORDER BY ",
                       absl::StrJoin(order, ", ")),
          [&](sqlite3_stmt* stmt) {
            for (int i = 0; i < columns; ++i) {
              const int type = sqlite3_column_type(stmt, i);
              const char* bytes =
                  static_cast<const char*>(sqlite3_column_blob(stmt, i));
              const int size = sqlite3_column_bytes(stmt, i);
              absl::StrAppend(&dump, type, ":", size, ":",
                              absl::string_view(bytes == nullptr ? "" : bytes,
                                                bytes == nullptr ? 0 : size),
                              "|");
            }
            dump += '\n';
          });
    digests[table] = Sha256Hex(dump);
  }
  query("COMMIT", [](sqlite3_stmt*) {});
  sqlite3_close(db);
  return digests;
}

// The same of a PostgreSQL database: per table of its public schema but
// the audit log's, a SHA-256 of all its rows (each row as PostgreSQL's
// text of the whole row, in byte order), and one of its sequences' values
// but the audit log's, all read in one snapshot.
std::map<std::string, std::string> PostgresTableDigests(
    const std::string& uri) {
  std::map<std::string, std::string> digests;
  absl::StatusOr<std::unique_ptr<PostgresConnection>> db =
      PostgresConnection::Connect(uri, {});
  if (!db.ok()) {
    ADD_FAILURE() << db.status();
    return digests;
  }
  auto query = [&](const std::string& sql,
                   const std::function<void(const PgStatement&)>& row) {
    absl::StatusOr<PgStatement> statement = (*db)->Prepare(sql);
    if (!statement.ok()) {
      ADD_FAILURE() << sql << ": " << statement.status();
      return;
    }
    absl::StatusOr<bool> stepped;
    while ((stepped = statement->Step()).ok() && *stepped) row(*statement);
    if (!stepped.ok()) ADD_FAILURE() << sql << ": " << stepped.status();
  };
  EXPECT_OK((*db)->Execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  std::vector<std::string> tables;
  query(
      "SELECT table_name FROM information_schema.tables "
      "WHERE table_schema = 'public' AND table_type = 'BASE TABLE' "
      "ORDER BY table_name",
      [&](const PgStatement& row) { tables.push_back(row.ColumnText(0)); });
  for (const std::string& table : tables) {
    if (table == kAuditTable) continue;
    query(absl::StrCat("SELECT count(*), coalesce(string_agg(t::text, E'\\n' "
                       "ORDER BY t::text COLLATE \"C\"), '') FROM \"",
                       table, "\" AS t"),
          [&](const PgStatement& row) {
            digests[table] = Sha256Hex(
                absl::StrCat(row.ColumnInt64(0), "\n", row.ColumnText(1)));
          });
  }
  std::string sequences;
  query(absl::StrCat("SELECT sequencename, coalesce(last_value, 0) "
                     "FROM pg_sequences WHERE schemaname = 'public' "
                     "AND sequencename NOT LIKE '",
                     kAuditTable, "%' ORDER BY sequencename COLLATE \"C\""),
        [&](const PgStatement& row) {
          absl::StrAppend(&sequences, row.ColumnText(0), "=",
                          row.ColumnInt64(1), "\n");
        });
  digests["(sequences)"] = Sha256Hex(sequences);
  EXPECT_OK((*db)->Execute("COMMIT"));
  return digests;
}

// The digests of the database `database` names, either engine.
std::map<std::string, std::string> TableDigests(const std::string& database) {
  return EngineOf(database) == SqlEngine::kPostgres
             ? PostgresTableDigests(database)
             : SqliteTableDigests(database);
}

class AccessMatrixTest : public ::testing::Test {
 protected:
  // One row of the matrix: an RPC and how to call it about a target.
  struct Rpc {
    // "<service>.<Method>", as the golden file names it.
    std::string name;
    // False for RPCs about system-wide things (the indicator catalogue,
    // rubrics): they have one case, "system", instead of in_scope and
    // out_of_scope.
    bool scoped;
    // Prepares what the call needs (as the global admin) and returns it.
    std::function<Call(AccessMatrixTest&, const Target&)> prepare;
  };

  static void SetUpTestSuite() {
    ScoringEnvOptions options;
    options.follow_feeds = false;  // Nothing may write in the background.
    env_ = new ScoringTestEnv(options);
  }
  static void TearDownTestSuite() {
    delete env_;
    env_ = nullptr;
  }

  void SetUp() override {
    in_scope_.village = kMaohe;
    in_scope_.township = kHuiche;
    in_scope_.district = kNorth;
    out_of_scope_.village = kOtherVillage;
    out_of_scope_.township = kOtherTownship;
    out_of_scope_.district = kOtherTownship;
    // The other village has no indicators yet: give it what SAFE_LAWFUL
    // asks, so that it earns the star as Maohe does.
    for (const auto& [key, value] : std::vector<std::pair<std::string, double>>{
             {"petitions", 0},
             {"accidents", 0},
             {"criminal_cases", 0},
             {"hd_cameras_installed", 12},
             {"disputes_received", 2},
             {"disputes_mediated", 2}}) {
      ASSERT_OK(env_->SetIndicator(kOtherVillage, key, kPeriod, value));
    }
    for (Target* target : {&in_scope_, &out_of_scope_}) {
      ASSERT_OK_AND_ASSIGN(projects_v1::Project project,
                           CreateProject(target->village));
      target->project_id = project.id();
      ASSERT_OK_AND_ASSIGN(
          v1::Award award,
          RecordAward(target->village, fivestar::common::v1::CIVILIZED_HAPPY));
      target->award_id = award.id();
    }
    ASSERT_OK(env_->EvaluateRegion(kCounty).status());
  }

  // A fresh suffix for ids and request ids.
  std::string Fresh() { return absl::StrCat("mx", ++fresh_); }
  // A month not frozen yet: 2022-09, 2022-08, ... (one per call).
  std::string FreshMonth() {
    const absl::CivilMonth month =
        absl::CivilMonth(2022, 9) - static_cast<int>(months_++);
    return absl::FormatCivilTime(month).substr(0, 7);
  }

  RegistryStub& registry() { return env_->registry_stub(); }
  // The AuditService of the server at `address`.
  AuditStub& audit(const std::string& address) {
    std::unique_ptr<AuditStub>& stub = audit_stubs_[address];
    if (stub == nullptr) {
      stub = ::fivestar::audit::v1::AuditService::NewStub(
          grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    }
    return *stub;
  }
  ProjectsStub& projects() { return env_->projects_stub(); }
  ScoringStub& scoring() { return env_->stub(); }

  // Unary calls as the global admin, for preparing cells.
  template <typename Stub, typename Request, typename Response>
  static absl::StatusOr<Response> Admin(
      Stub& stub,
      grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                   Response*),
      const Request& request) {
    return ScoringTestEnv::CallOn(stub, method, request, kAdminToken);
  }

  // A unary call of `method` with `request`.
  template <typename Stub, typename Request, typename Response>
  static Call Unary(Stub& stub,
                    grpc::Status (Stub::*method)(grpc::ClientContext*,
                                                 const Request&, Response*),
                    Request request) {
    return [&stub, method, request](const std::string& token) {
      std::unique_ptr<grpc::ClientContext> context =
          NewContext(token, kCallDeadline);
      Response response;
      return (stub.*method)(context.get(), request, &response);
    };
  }

  // A server-streaming call, read to its end; or, for a change feed that
  // never ends (`first_only`), until its first message, then cancelled
  // (the call was accepted).
  template <typename Stub, typename Request, typename Response>
  static Call ServerStream(Stub& stub,
                           std::unique_ptr<grpc::ClientReader<Response>> (
                               Stub::*method)(grpc::ClientContext*,
                                              const Request&),
                           Request request, bool first_only = false) {
    return [&stub, method, request, first_only](const std::string& token) {
      std::unique_ptr<grpc::ClientContext> context =
          NewContext(token, kCallDeadline);
      std::unique_ptr<grpc::ClientReader<Response>> reader =
          (stub.*method)(context.get(), request);
      Response response;
      if (first_only) {
        if (reader->Read(&response)) {
          context->TryCancel();
          reader->Finish();
          return grpc::Status::OK;
        }
        return reader->Finish();
      }
      while (reader->Read(&response)) {
      }
      return reader->Finish();
    };
  }

  // An import: one chunk, half-close, every answer read.
  template <typename Stub, typename Request, typename Response>
  static Call Import(
      Stub& stub,
      std::unique_ptr<grpc::ClientReaderWriter<Request, Response>> (
          Stub::*method)(grpc::ClientContext*),
      Request chunk) {
    return [&stub, method, chunk](const std::string& token) {
      std::unique_ptr<grpc::ClientContext> context =
          NewContext(token, kCallDeadline);
      auto stream = (stub.*method)(context.get());
      stream->Write(chunk);
      stream->WritesDone();
      Response response;
      while (stream->Read(&response)) {
      }
      return stream->Finish();
    };
  }

  // --- Preparations (as the global admin) ---------------------------------

  registry_v1::Region NewRegion(const Target& t) {
    registry_v1::Region region;
    region.set_id(absl::StrCat(t.township, "-", Fresh()));
    region.set_kind(registry_v1::DISTRICT);
    region.set_name("矩阵管区");
    region.set_parent_id(t.township);
    return region;
  }
  registry_v1::Village NewVillage(const Target& t) {
    registry_v1::Village village;
    village.set_id(absl::StrCat(t.district, "-", Fresh()));
    village.set_name("矩阵村");
    village.set_region_id(t.district);
    village.set_kind(registry_v1::VILLAGE);
    return village;
  }
  static projects_v1::Project RoadProject(const std::string& village) {
    projects_v1::Project project;
    project.set_village_id(village);
    project.set_title("滨河南岸路基拓宽");
    project.set_title_en("Riverside south roadbed widening");
    project.set_star(fivestar::common::v1::BRANCH_STRONG);
    project.set_target_quantity(100000);
    project.set_unit("m");
    project.set_start_date("2022-03-01");
    project.set_due_date("2022-12-31");
    project.set_owner("王世平");
    return project;
  }
  absl::StatusOr<projects_v1::Project> CreateProject(
      const std::string& village) {
    projects_v1::CreateProjectRequest request;
    *request.mutable_project() = RoadProject(village);
    request.set_request_id(Fresh());
    return Admin(projects(), &ProjectsStub::CreateProject, request);
  }
  absl::StatusOr<v1::Award> RecordAward(const std::string& village, Star star) {
    v1::RecordAwardRequest request;
    request.set_village_id(village);
    request.set_star(star);
    *request.mutable_award_time() =
        google::protobuf::util::TimeUtil::SecondsToTimestamp(
            absl::ToUnixSeconds(absl::FromCivil(absl::CivilDay(2022, 5, 1),
                                                absl::UTCTimeZone())));
    request.set_recognised_at(v1::COUNTY);
    request.set_comment("命名");
    request.set_request_id(Fresh());
    return Admin(scoring(), &ScoringStub::RecordAward, request);
  }
  // A fresh application of `t` in `state` (APPLIED up to PUBLIC_NOTICE).
  std::string AwardIn(const Target& t, v1::AwardState state) {
    v1::ApplyForAwardRequest apply;
    apply.set_village_id(t.village);
    apply.set_star(t.earned);
    apply.set_period(kPeriod);
    apply.set_request_id(Fresh());
    absl::StatusOr<v1::Award> award =
        Admin(scoring(), &ScoringStub::ApplyForAward, apply);
    EXPECT_OK(award);
    if (!award.ok()) return "";
    for (v1::AwardState reached :
         {v1::TOWNSHIP_REVIEWED, v1::COUNTY_APPROVED}) {
      if (state < reached) break;
      v1::ReviewAwardRequest review;
      review.set_id(award->id());
      review.set_decision(v1::ReviewAwardRequest::APPROVE);
      award = Admin(scoring(), &ScoringStub::ReviewAward, review);
      EXPECT_OK(award);
      if (!award.ok()) return "";
    }
    if (state >= v1::PUBLIC_NOTICE) {
      v1::StartPublicNoticeRequest notice;
      notice.set_id(award->id());
      notice.set_notice_days(1);
      award = Admin(scoring(), &ScoringStub::StartPublicNotice, notice);
      EXPECT_OK(award);
      if (!award.ok()) return "";
    }
    return award->id();
  }
  // Withdraws every award of the targets' villages but the standing ones,
  // so that each cell starts from the same awards.
  void WithdrawCellAwards() {
    for (const Target* t : {&in_scope_, &out_of_scope_}) {
      v1::ListAwardsRequest list;
      list.set_village_id(t->village);
      list.set_page_size(1000);
      absl::StatusOr<v1::ListAwardsResponse> awards =
          Admin(scoring(), &ScoringStub::ListAwards, list);
      ASSERT_OK(awards);
      for (const v1::Award& award : awards->awards()) {
        if (award.id() == t->award_id || award.state() == v1::WITHDRAWN ||
            award.state() == v1::REJECTED) {
          continue;
        }
        v1::WithdrawAwardRequest withdraw;
        withdraw.set_id(award.id());
        withdraw.set_reason("矩阵清理");
        ASSERT_OK(Admin(scoring(), &ScoringStub::WithdrawAward, withdraw));
      }
    }
  }

  // --- The rows ------------------------------------------------------------

  static std::vector<Rpc> Rpcs();

  // Runs every cell; returns the grid, one line per cell.
  std::vector<std::string> RunMatrix();

  static ScoringTestEnv* env_;
  Target in_scope_;
  Target out_of_scope_;
  int fresh_ = 0;
  int months_ = 0;
  std::map<std::string, std::unique_ptr<AuditStub>> audit_stubs_;
};

ScoringTestEnv* AccessMatrixTest::env_ = nullptr;

std::vector<AccessMatrixTest::Rpc> AccessMatrixTest::Rpcs() {
  using M = AccessMatrixTest;
  using T = const Target&;
  google::protobuf::Duration heartbeat;
  heartbeat.set_seconds(1);
  return {
      // --- registry ---
      {"registry.CreateRegion", true,
       [](M& m, T t) {
         registry_v1::CreateRegionRequest request;
         *request.mutable_region() = m.NewRegion(t);
         return Unary(m.registry(), &RegistryStub::CreateRegion, request);
       }},
      {"registry.GetRegion", true,
       [](M& m, T t) {
         registry_v1::GetRegionRequest request;
         request.set_id(t.township);
         return Unary(m.registry(), &RegistryStub::GetRegion, request);
       }},
      {"registry.UpdateRegion", true,
       [](M& m, T t) {
         registry_v1::GetRegionRequest get;
         get.set_id(t.district);
         registry_v1::UpdateRegionRequest request;
         auto region = Admin(m.registry(), &RegistryStub::GetRegion, get);
         EXPECT_OK(region);
         if (region.ok()) *request.mutable_region() = *region;
         request.mutable_region()->set_name_en(m.Fresh());
         request.mutable_update_mask()->add_paths("name_en");
         return Unary(m.registry(), &RegistryStub::UpdateRegion, request);
       }},
      {"registry.DeleteRegion", true,
       [](M& m, T t) {
         registry_v1::CreateRegionRequest create;
         *create.mutable_region() = m.NewRegion(t);
         auto region = Admin(m.registry(), &RegistryStub::CreateRegion, create);
         EXPECT_OK(region);
         registry_v1::DeleteRegionRequest request;
         request.set_id(create.region().id());
         if (region.ok()) request.set_etag(region->etag());
         return Unary(m.registry(), &RegistryStub::DeleteRegion, request);
       }},
      {"registry.ListRegions", true,
       [](M& m, T t) {
         registry_v1::ListRegionsRequest request;
         request.set_ancestor_id(t.township);
         return Unary(m.registry(), &RegistryStub::ListRegions, request);
       }},
      {"registry.CreateVillage", true,
       [](M& m, T t) {
         registry_v1::CreateVillageRequest request;
         *request.mutable_village() = m.NewVillage(t);
         return Unary(m.registry(), &RegistryStub::CreateVillage, request);
       }},
      {"registry.GetVillage", true,
       [](M& m, T t) {
         registry_v1::GetVillageRequest request;
         request.set_id(t.village);
         return Unary(m.registry(), &RegistryStub::GetVillage, request);
       }},
      {"registry.UpdateVillage", true,
       [](M& m, T t) {
         registry_v1::GetVillageRequest get;
         get.set_id(t.village);
         registry_v1::UpdateVillageRequest request;
         auto village = Admin(m.registry(), &RegistryStub::GetVillage, get);
         EXPECT_OK(village);
         if (village.ok()) *request.mutable_village() = *village;
         request.mutable_village()->set_name_en(m.Fresh());
         request.mutable_update_mask()->add_paths("name_en");
         return Unary(m.registry(), &RegistryStub::UpdateVillage, request);
       }},
      {"registry.DeleteVillage", true,
       [](M& m, T t) {
         registry_v1::CreateVillageRequest create;
         *create.mutable_village() = m.NewVillage(t);
         auto village =
             Admin(m.registry(), &RegistryStub::CreateVillage, create);
         EXPECT_OK(village);
         registry_v1::DeleteVillageRequest request;
         request.set_id(create.village().id());
         if (village.ok()) request.set_etag(village->etag());
         return Unary(m.registry(), &RegistryStub::DeleteVillage, request);
       }},
      {"registry.ListVillages", true,
       [](M& m, T t) {
         registry_v1::ListVillagesRequest request;
         request.set_ancestor_id(t.township);
         return Unary(m.registry(), &RegistryStub::ListVillages, request);
       }},
      {"registry.BatchGetVillages", true,
       [](M& m, T t) {
         registry_v1::BatchGetVillagesRequest request;
         request.add_ids(t.village);
         return Unary(m.registry(), &RegistryStub::BatchGetVillages, request);
       }},
      {"registry.GetAncestors", true,
       [](M& m, T t) {
         registry_v1::GetAncestorsRequest request;
         request.set_village_id(t.village);
         return Unary(m.registry(), &RegistryStub::GetAncestors, request);
       }},
      {"registry.ImportRegistry", true,
       [](M& m, T t) {
         registry_v1::ImportRegistryRequest chunk;
         *chunk.add_records()->mutable_village() = m.NewVillage(t);
         return Import(m.registry(), &RegistryStub::ImportRegistry, chunk);
       }},
      {"registry.ExportRegistry", true,
       [](M& m, T t) {
         registry_v1::ExportRegistryRequest request;
         request.set_root_id(t.township);
         return ServerStream(m.registry(), &RegistryStub::ExportRegistry,
                             request);
       }},
      {"registry.WatchChanges", true,
       [heartbeat](M& m, T t) {
         registry_v1::WatchChangesRequest request;
         request.set_ancestor_region_id(t.township);
         *request.mutable_heartbeat_interval() = heartbeat;
         return ServerStream(m.registry(), &RegistryStub::WatchChanges, request,
                             /*first_only=*/true);
       }},

      // --- projects ---
      {"projects.CreateProject", true,
       [](M& m, T t) {
         projects_v1::CreateProjectRequest request;
         *request.mutable_project() = RoadProject(t.village);
         request.set_request_id(m.Fresh());
         return Unary(m.projects(), &ProjectsStub::CreateProject, request);
       }},
      {"projects.GetProject", true,
       [](M& m, T t) {
         projects_v1::GetProjectRequest request;
         request.set_id(t.project_id);
         return Unary(m.projects(), &ProjectsStub::GetProject, request);
       }},
      {"projects.UpdateProject", true,
       [](M& m, T t) {
         projects_v1::GetProjectRequest get;
         get.set_id(t.project_id);
         auto project = Admin(m.projects(), &ProjectsStub::GetProject, get);
         EXPECT_OK(project);
         projects_v1::UpdateProjectRequest request;
         if (project.ok()) *request.mutable_project() = *project;
         request.mutable_project()->set_title_en(
             absl::StrCat("Road ", m.Fresh()));
         request.mutable_update_mask()->add_paths("title_en");
         return Unary(m.projects(), &ProjectsStub::UpdateProject, request);
       }},
      {"projects.DeleteProject", true,
       [](M& m, T t) {
         auto project = m.CreateProject(t.village);
         EXPECT_OK(project);
         projects_v1::DeleteProjectRequest request;
         if (project.ok()) {
           request.set_id(project->id());
           request.set_etag(project->etag());
         }
         return Unary(m.projects(), &ProjectsStub::DeleteProject, request);
       }},
      {"projects.CancelProject", true,
       [](M& m, T t) {
         auto project = m.CreateProject(t.village);
         EXPECT_OK(project);
         projects_v1::CancelProjectRequest request;
         if (project.ok()) {
           request.set_id(project->id());
           request.set_etag(project->etag());
         }
         request.set_reason("规划调整");
         return Unary(m.projects(), &ProjectsStub::CancelProject, request);
       }},
      {"projects.ListProjects", true,
       [](M& m, T t) {
         projects_v1::ListProjectsRequest request;
         request.set_ancestor_region_id(t.township);
         return Unary(m.projects(), &ProjectsStub::ListProjects, request);
       }},
      {"projects.CreateProgressReport", true,
       [](M& m, T t) {
         projects_v1::CreateProgressReportRequest request;
         request.mutable_report()->set_project_id(t.project_id);
         request.mutable_report()->set_quantity(1);
         request.mutable_report()->set_note("进度");
         request.mutable_report()->set_request_id(m.Fresh());
         return Unary(m.projects(), &ProjectsStub::CreateProgressReport,
                      request);
       }},
      {"projects.ListProgressReports", true,
       [](M& m, T t) {
         projects_v1::ListProgressReportsRequest request;
         request.set_project_id(t.project_id);
         return Unary(m.projects(), &ProjectsStub::ListProgressReports,
                      request);
       }},
      {"projects.CreateIndicatorDefinition", false,
       [](M& m, T) {
         projects_v1::CreateIndicatorDefinitionRequest request;
         projects_v1::IndicatorDefinition* definition =
             request.mutable_definition();
         definition->set_key(absl::StrCat("matrix_metric_", m.Fresh()));
         definition->set_name_zh("矩阵指标");
         definition->set_name_en("Matrix metric");
         definition->set_unit("个");
         definition->set_kind(projects_v1::FLOW);
         definition->set_min_value(0);
         definition->set_max_value(1000);
         definition->set_integral(true);
         return Unary(m.projects(), &ProjectsStub::CreateIndicatorDefinition,
                      request);
       }},
      {"projects.GetIndicatorDefinition", false,
       [](M& m, T) {
         projects_v1::GetIndicatorDefinitionRequest request;
         request.set_key("people_trained");
         return Unary(m.projects(), &ProjectsStub::GetIndicatorDefinition,
                      request);
       }},
      {"projects.UpdateIndicatorDefinition", false,
       [](M& m, T) {
         projects_v1::GetIndicatorDefinitionRequest get;
         get.set_key("people_trained");
         auto definition =
             Admin(m.projects(), &ProjectsStub::GetIndicatorDefinition, get);
         EXPECT_OK(definition);
         projects_v1::UpdateIndicatorDefinitionRequest request;
         if (definition.ok()) *request.mutable_definition() = *definition;
         request.mutable_definition()->set_description(
             absl::StrCat("People trained (", m.Fresh(), ")"));
         request.mutable_update_mask()->add_paths("description");
         return Unary(m.projects(), &ProjectsStub::UpdateIndicatorDefinition,
                      request);
       }},
      {"projects.ListIndicatorDefinitions", false,
       [](M& m, T) {
         return Unary(m.projects(), &ProjectsStub::ListIndicatorDefinitions,
                      projects_v1::ListIndicatorDefinitionsRequest());
       }},
      {"projects.SetIndicatorValues", true,
       [](M& m, T t) {
         projects_v1::SetIndicatorValuesRequest request;
         projects_v1::IndicatorValue* value = request.add_values();
         value->set_village_id(t.village);
         // An indicator no rubric criterion reads.
         value->set_indicator_key("star_civilized_households");
         value->set_period(kPeriod);
         value->set_value(m.fresh_ + 1);
         request.set_request_id(m.Fresh());
         return Unary(m.projects(), &ProjectsStub::SetIndicatorValues, request);
       }},
      {"projects.ListIndicatorValues", true,
       [](M& m, T t) {
         projects_v1::ListIndicatorValuesRequest request;
         request.set_ancestor_region_id(t.township);
         return Unary(m.projects(), &ProjectsStub::ListIndicatorValues,
                      request);
       }},
      {"projects.GetSummary", true,
       [](M& m, T t) {
         projects_v1::GetSummaryRequest request;
         request.set_region_id(t.township);
         request.set_period(kPeriod);
         return Unary(m.projects(), &ProjectsStub::GetSummary, request);
       }},
      {"projects.ListVillageSummaries", true,
       [](M& m, T t) {
         projects_v1::ListVillageSummariesRequest request;
         request.set_region_id(t.township);
         request.set_period(kPeriod);
         return Unary(m.projects(), &ProjectsStub::ListVillageSummaries,
                      request);
       }},
      {"projects.WatchChanges", true,
       [heartbeat](M& m, T t) {
         projects_v1::WatchChangesRequest request;
         request.set_ancestor_region_id(t.township);
         *request.mutable_heartbeat_interval() = heartbeat;
         return ServerStream(m.projects(), &ProjectsStub::WatchChanges, request,
                             /*first_only=*/true);
       }},
      {"projects.ImportProjects", true,
       [](M& m, T t) {
         projects_v1::ImportProjectsRequest chunk;
         projects_v1::ProjectRecord* record = chunk.add_records();
         record->set_key(absl::StrCat("matrix:", m.Fresh()));
         *record->mutable_project() = RoadProject(t.village);
         return Import(m.projects(), &ProjectsStub::ImportProjects, chunk);
       }},

      // --- scoring ---
      {"scoring.CreateRubric", false,
       [](M& m, T) {
         v1::GetRubricRequest get;  // Version 0: the active one.
         auto active = Admin(m.scoring(), &ScoringStub::GetRubric, get);
         EXPECT_OK(active);
         v1::CreateRubricRequest request;
         if (active.ok()) *request.mutable_rubric() = *active;
         request.mutable_rubric()->clear_version();
         request.mutable_rubric()->clear_active();
         request.mutable_rubric()->clear_creator();
         request.mutable_rubric()->clear_create_time();
         request.mutable_rubric()->set_name(
             absl::StrCat("矩阵方案 ", m.Fresh()));
         return Unary(m.scoring(), &ScoringStub::CreateRubric, request);
       }},
      {"scoring.GetRubric", false,
       [](M& m, T) {
         v1::GetRubricRequest request;
         request.set_version(1);
         return Unary(m.scoring(), &ScoringStub::GetRubric, request);
       }},
      {"scoring.ListRubrics", false,
       [](M& m, T) {
         return Unary(m.scoring(), &ScoringStub::ListRubrics,
                      v1::ListRubricsRequest());
       }},
      {"scoring.SetActiveRubric", false,
       [](M& m, T) {
         // The active version again: allowed or not, nothing changes.
         v1::SetActiveRubricRequest request;
         request.set_version(1);
         return Unary(m.scoring(), &ScoringStub::SetActiveRubric, request);
       }},
      {"scoring.Evaluate", true,
       [](M& m, T t) {
         v1::EvaluateRequest request;
         request.set_village_id(t.village);
         request.set_period(kPeriod);
         return Unary(m.scoring(), &ScoringStub::Evaluate, request);
       }},
      {"scoring.GetEvaluation", true,
       [](M& m, T t) {
         v1::GetEvaluationRequest request;
         request.set_village_id(t.village);
         request.set_period(kPeriod);
         return Unary(m.scoring(), &ScoringStub::GetEvaluation, request);
       }},
      {"scoring.EvaluateRegion", true,
       [](M& m, T t) {
         v1::EvaluateRegionRequest request;
         request.set_region_id(t.township);
         request.set_period(kPeriod);
         return ServerStream(m.scoring(), &ScoringStub::EvaluateRegion,
                             request);
       }},
      {"scoring.WhatIf", true,
       [](M& m, T t) {
         v1::WhatIfRequest request;
         request.set_village_id(t.village);
         request.set_period(kPeriod);
         return Unary(m.scoring(), &ScoringStub::WhatIf, request);
       }},
      {"scoring.GetGap", true,
       [](M& m, T t) {
         v1::GetGapRequest request;
         request.set_village_id(t.village);
         request.set_period(kPeriod);
         request.set_target_level(5);
         return Unary(m.scoring(), &ScoringStub::GetGap, request);
       }},
      {"scoring.ApplyForAward", true,
       [](M& m, T t) {
         v1::ApplyForAwardRequest request;
         request.set_village_id(t.village);
         request.set_star(t.earned);
         request.set_period(kPeriod);
         request.set_request_id(m.Fresh());
         return Unary(m.scoring(), &ScoringStub::ApplyForAward, request);
       }},
      {"scoring.ReviewAward", true,
       [](M& m, T t) {
         v1::ReviewAwardRequest request;
         request.set_id(m.AwardIn(t, v1::APPLIED));
         request.set_decision(v1::ReviewAwardRequest::APPROVE);
         return Unary(m.scoring(), &ScoringStub::ReviewAward, request);
       }},
      {"scoring.StartPublicNotice", true,
       [](M& m, T t) {
         v1::StartPublicNoticeRequest request;
         request.set_id(m.AwardIn(t, v1::COUNTY_APPROVED));
         request.set_notice_days(1);
         return Unary(m.scoring(), &ScoringStub::StartPublicNotice, request);
       }},
      {"scoring.ConfirmAward", true,
       [](M& m, T t) {
         v1::ConfirmAwardRequest request;
         request.set_id(m.AwardIn(t, v1::PUBLIC_NOTICE));
         // Past the one-day notice.
         env_->clock().Advance(absl::Hours(25));
         return Unary(m.scoring(), &ScoringStub::ConfirmAward, request);
       }},
      {"scoring.WithdrawAward", true,
       [](M& m, T t) {
         v1::WithdrawAwardRequest request;
         request.set_id(m.AwardIn(t, v1::APPLIED));
         request.set_reason("撤回");
         return Unary(m.scoring(), &ScoringStub::WithdrawAward, request);
       }},
      {"scoring.RecordAward", true,
       [](M& m, T t) {
         v1::RecordAwardRequest request;
         request.set_village_id(t.village);
         request.set_star(fivestar::common::v1::INDUSTRY_THRIVING);
         *request.mutable_award_time() =
             google::protobuf::util::TimeUtil::SecondsToTimestamp(
                 absl::ToUnixSeconds(absl::FromCivil(absl::CivilDay(2022, 5, 1),
                                                     absl::UTCTimeZone())));
         request.set_recognised_at(v1::COUNTY);
         request.set_comment("县级命名");
         request.set_request_id(m.Fresh());
         return Unary(m.scoring(), &ScoringStub::RecordAward, request);
       }},
      {"scoring.GetAward", true,
       [](M& m, T t) {
         v1::GetAwardRequest request;
         request.set_id(t.award_id);
         return Unary(m.scoring(), &ScoringStub::GetAward, request);
       }},
      {"scoring.ListAwards", true,
       [](M& m, T t) {
         v1::ListAwardsRequest request;
         request.set_ancestor_region_id(t.township);
         return Unary(m.scoring(), &ScoringStub::ListAwards, request);
       }},
      {"scoring.ListAwardEvents", true,
       [](M& m, T t) {
         v1::ListAwardEventsRequest request;
         request.set_ancestor_region_id(t.township);
         return Unary(m.scoring(), &ScoringStub::ListAwardEvents, request);
       }},
      {"scoring.GetLeaderboard", true,
       [](M& m, T t) {
         v1::GetLeaderboardRequest request;
         request.set_region_id(t.township);
         request.set_period(kPeriod);
         return Unary(m.scoring(), &ScoringStub::GetLeaderboard, request);
       }},
      {"scoring.GetVillageRank", true,
       [](M& m, T t) {
         v1::GetVillageRankRequest request;
         request.set_village_id(t.village);
         request.set_period(kPeriod);
         request.set_neighbours(2);
         return Unary(m.scoring(), &ScoringStub::GetVillageRank, request);
       }},
      {"scoring.GetIncentives", true,
       [](M& m, T t) {
         v1::GetIncentivesRequest request;
         request.set_village_id(t.village);
         request.set_year(2022);
         return Unary(m.scoring(), &ScoringStub::GetIncentives, request);
       }},
      {"scoring.FreezeLeaderboard", true,
       [](M& m, T t) {
         v1::FreezeLeaderboardRequest request;
         request.set_region_id(t.township);
         request.set_period(m.FreshMonth());
         return Unary(m.scoring(), &ScoringStub::FreezeLeaderboard, request);
       }},
      // --- the audit log every server keeps (admin@global only) ---
      {"registry.ListAuditEvents", false,
       [](M& m, T) {
         return Unary(m.audit(env_->registry().address()),
                      &AuditStub::ListAuditEvents,
                      audit::v1::ListAuditEventsRequest());
       }},
      {"projects.ListAuditEvents", false,
       [](M& m, T) {
         return Unary(m.audit(env_->projects().address()),
                      &AuditStub::ListAuditEvents,
                      audit::v1::ListAuditEventsRequest());
       }},
      {"scoring.ListAuditEvents", false,
       [](M& m, T) {
         return Unary(m.audit(env_->scoring().address()),
                      &AuditStub::ListAuditEvents,
                      audit::v1::ListAuditEventsRequest());
       }},
  };
}

std::vector<std::string> AccessMatrixTest::RunMatrix() {
  const std::vector<std::string> databases = {env_->database("registry"),
                                              env_->database("projects"),
                                              env_->database("scoring")};
  auto digest = [&] {
    std::map<std::string, std::string> all;
    for (const std::string& path : databases) {
      for (auto& [table, hash] : TableDigests(path)) {
        all[absl::StrCat(path.substr(path.rfind('/') + 1), ":", table)] = hash;
      }
    }
    return all;
  };
  std::vector<std::string> grid;
  for (const Rpc& rpc : Rpcs()) {
    struct Cell {
      std::string principal;
      std::string token;
      std::string label;
      const Target* target;
    };
    std::vector<Cell> cells;
    for (const Caller& caller : kCallers) {
      if (rpc.scoped) {
        cells.push_back({caller.label, caller.token, "in_scope", &in_scope_});
        cells.push_back(
            {caller.label, caller.token, "out_of_scope", &out_of_scope_});
      } else {
        cells.push_back({caller.label, caller.token, "system", &in_scope_});
      }
    }
    cells.push_back({"anonymous", "", "no_token", &in_scope_});
    for (const Cell& cell : cells) {
      const std::string line_key =
          absl::StrCat(rpc.name, " ", cell.principal, " ", cell.label);
      SCOPED_TRACE(line_key);
      Call call = rpc.prepare(*this, *cell.target);
      const std::map<std::string, std::string> before = digest();
      const grpc::Status status = call(cell.token);
      grid.push_back(
          absl::StrCat(line_key, " ", CodeName(status.error_code())));
      EXPECT_TRUE(status.ok() || IsDenial(status.error_code()))
          << line_key << " ended " << CodeName(status.error_code()) << ": "
          << status.error_message()
          << "; the cell must make a valid call in a state that allows it";
      if (IsDenial(status.error_code())) {
        const std::map<std::string, std::string> after = digest();
        for (const auto& [table, hash] : before) {
          auto it = after.find(table);
          EXPECT_TRUE(it != after.end() && it->second == hash)
              << line_key << " was refused (" << status.error_message()
              << ") but wrote to " << table;
        }
        EXPECT_EQ(after.size(), before.size())
            << line_key << " was refused but created tables";
      }
      // Awards move through the scoring RPCs only.
      if (absl::StartsWith(rpc.name, "scoring.")) WithdrawCellAwards();
    }
  }
  return grid;
}

// The golden file's header, kept when it is regenerated.
constexpr char kGoldenHeader[] =
    R"(# The access matrix: for every RPC of every service, the status code a
# call ends with, per principal and case. Checked by
# tests/integration/access_matrix_test.cc, which explains how to regenerate
# this file; review every changed line against DESIGN.md and SECURITY.md.
#
# Line: <service>.<Method> <principal> <case> <code>
# Principals: viewer/reporter/operator/admin@township are scoped to the
# township 411323-huiche; viewer@village to its village
# 411323-huiche-north-01; admin@global to "*"; anonymous sends no token.
# Cases: in_scope names the village 411323-huiche-north-01, its district
# 411323-huiche-north or the township 411323-huiche (for viewer@village a
# region named lies above its scope); out_of_scope names the township
# 411323-other of the same county or its village 411323-other-01; system
# is a call about system-wide things (the indicator catalogue, rubrics,
# the audit log each server keeps: <server>.ListAuditEvents);
# no_token sends the in_scope call without a token.
# Every call is valid and made in a state that allows it (an award in the
# state the transition needs, fresh ids), so that each cell answers only
# who may make it: OK, UNAUTHENTICATED or PERMISSION_DENIED. The test
# fails on any other code, which would mean the cell no longer tests
# access.
)";

std::vector<std::string> ReadGolden(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view stripped = absl::StripAsciiWhitespace(line);
    if (stripped.empty() || absl::StartsWith(stripped, "#")) continue;
    lines.emplace_back(stripped);
  }
  return lines;
}

// The key of a grid line: all but its last word (the code).
std::string KeyOf(const std::string& line) {
  return line.substr(0, line.rfind(' '));
}

TEST_F(AccessMatrixTest, EveryRpcForEveryPrincipalMatchesTheGoldenFile) {
  const std::vector<std::string> grid = RunMatrix();
  const std::string path = SourcePath(kGoldenPath);
  const char* update = std::getenv("FIVESTAR_UPDATE_ACCESS_MATRIX");
  if (update != nullptr && std::string(update) == "1") {
    std::ofstream out(path);
    out << kGoldenHeader;
    for (const std::string& line : grid) out << line << "\n";
    ASSERT_TRUE(out.good()) << "cannot write " << path;
    GTEST_SKIP() << "regenerated " << path << " (" << grid.size()
                 << " cells); review the diff";
  }
  const std::vector<std::string> golden = ReadGolden(path);
  ASSERT_FALSE(golden.empty()) << path << " is missing or empty";
  std::map<std::string, std::string> expected;
  for (const std::string& line : golden) expected[KeyOf(line)] = line;
  std::vector<std::string> differences;
  std::map<std::string, bool> seen;
  for (const std::string& line : grid) {
    const std::string key = KeyOf(line);
    seen[key] = true;
    auto it = expected.find(key);
    if (it == expected.end()) {
      differences.push_back(absl::StrCat("  not in the golden file: ", line));
    } else if (it->second != line) {
      differences.push_back(
          absl::StrCat("  expected: ", it->second, "\n       got: ", line));
    }
  }
  for (const auto& [key, line] : expected) {
    if (!seen.count(key)) {
      differences.push_back(absl::StrCat("  not run: ", line));
    }
  }
  EXPECT_TRUE(differences.empty())
      << differences.size() << " of " << grid.size() << " cells differ from "
      << kGoldenPath << ":\n"
      << absl::StrJoin(differences, "\n");
  EXPECT_EQ(grid.size(), golden.size());
}

}  // namespace
}  // namespace fivestar::scoring
