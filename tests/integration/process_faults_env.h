// Shared pieces of the process fault tests (process_faults_test: the
// kill_*, hung_registry and sigterm_load tests): the three fivestar servers
// as real processes
// (tests/testing/service_process.h) with authentication off on loopback,
// the Huiche data, whole imports, and canonical views of each service's
// stored state (exports and listings with server-assigned ids and times
// removed) so that two databases can be compared record for record.
#ifndef FIVESTAR_TESTS_INTEGRATION_PROCESS_FAULTS_ENV_H_
#define FIVESTAR_TESTS_INTEGRATION_PROCESS_FAULTS_ENV_H_

#include <grpcpp/grpcpp.h>

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/status.h"
#include "fivestar/projects/v1/projects.grpc.pb.h"
#include "fivestar/registry/v1/registry.grpc.pb.h"
#include "fivestar/scoring/v1/scoring.grpc.pb.h"
#include "tests/testing/service_process.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_database.h"

namespace fivestar::faults {

using RegistryStub = registry::v1::RegistryService::Stub;
using ProjectsStub = projects::v1::ProjectsService::Stub;
using ScoringStub = scoring::v1::ScoringService::Stub;

inline constexpr char kHuiche[] = "411323-huiche";
inline constexpr char kPeriod[] = "2022-09";

// A test's processes' place: a directory for their logs and their
// databases on the engine of the test run (tests/testing/test_database.h),
// so that each test runs on SQLite files and on PostgreSQL alike. Declare
// it before the processes, so that it outlives them.
struct Sandbox {
  testing::TempDir dir;
  testing::TestDatabases databases;
};

// Options of a registry process on the database `database` of `sandbox`
// (the same name, the same database), logging to registry.log in its
// directory, authentication off, plus `extra` flags.
testing::ServiceProcessOptions RegistryOptions(
    Sandbox& sandbox, const std::string& database,
    const std::vector<std::string>& extra = {});
// Options of a project tracking process calling the registry at
// `registry_address`.
testing::ServiceProcessOptions ProjectsOptions(
    Sandbox& sandbox, const std::string& database,
    const std::string& registry_address,
    const std::vector<std::string>& extra = {});
// Options of a scoring process calling the registry and project tracking
// at their addresses and Redis at `redis_address` ("" for none), with its
// feed followers off (so only the test's calls evaluate).
testing::ServiceProcessOptions ScoringOptions(
    Sandbox& sandbox, const std::string& database,
    const std::string& registry_address, const std::string& projects_address,
    const std::string& redis_address,
    const std::vector<std::string>& extra = {});

// A client context with `deadline`.
std::unique_ptr<grpc::ClientContext> Context(
    absl::Duration deadline = absl::Seconds(30));

// data/huiche/registry.ndjson.
std::vector<registry::v1::RegistryRecord> HuicheRegistry();
// `count` synthetic villages "411323-huiche-north-sNNNN" below the north
// district of Huiche (so that an import has many chunks).
std::vector<registry::v1::RegistryRecord> SyntheticVillages(int count,
                                                            int target_level);
// data/huiche/projects.ndjson.
std::vector<projects::v1::ProjectRecord> HuicheProjects();
// data/huiche/indicators.ndjson, as one SetIndicatorValues request.
projects::v1::SetIndicatorValuesRequest HuicheIndicators();

// A whole ImportRegistry of `records` in chunks of `chunk` records.
absl::Status ImportRegistry(
    RegistryStub& stub,
    const std::vector<registry::v1::RegistryRecord>& records, size_t chunk);
// A whole ImportProjects of `records` in chunks of `chunk` records.
absl::Status ImportProjects(
    ProjectsStub& stub, const std::vector<projects::v1::ProjectRecord>& records,
    size_t chunk);

// Every record ExportRegistry streams, each as text format with
// create_time, update_time and etag cleared, in export order.
absl::StatusOr<std::vector<std::string>> RegistryState(RegistryStub& stub);

// Every project (ListProjects) with its progress reports
// (ListProgressReports), each project as text format with the fields a
// server assigns (id, times, etag, overdue) cleared and its reports (id,
// project_id, create_time cleared) appended, sorted.
absl::StatusOr<std::vector<std::string>> ProjectsState(ProjectsStub& stub);

// Every progress report of one project, keyed by request_id.
absl::StatusOr<std::map<std::string, projects::v1::ProgressReport>> ReportsOf(
    ProjectsStub& stub, const std::string& project_id);

// A project's stored record (GetProject).
absl::StatusOr<projects::v1::Project> GetProject(ProjectsStub& stub,
                                                 const std::string& id);

// The recorded evaluations of kPeriod of `villages` (GetEvaluation), keyed
// by village id, evaluate_time cleared; a village never evaluated
// (NOT_FOUND) is left out.
absl::StatusOr<std::map<std::string, scoring::v1::Evaluation>>
StoredEvaluations(ScoringStub& stub, const std::vector<std::string>& villages);

// EvaluateRegion of `region` for kPeriod to its end.
absl::Status EvaluateRegion(ScoringStub& stub, const std::string& region);

// "<village> stars=<s> points=<p>" for every entry of the overall board of
// `region` for kPeriod, in board order; `degraded` is set from the answer.
absl::StatusOr<std::vector<std::string>> Board(ScoringStub& stub,
                                               const std::string& region,
                                               bool* degraded = nullptr);

// The ids of the villages among `records`, sorted.
std::vector<std::string> VillageIds(
    const std::vector<registry::v1::RegistryRecord>& records);

}  // namespace fivestar::faults

#endif  // FIVESTAR_TESTS_INTEGRATION_PROCESS_FAULTS_ENV_H_
