#include "tests/registry/registry_test_env.h"

#include <google/protobuf/util/json_util.h>

#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "tests/testing/test_tokens.h"

namespace fivestar::registry::testing {

std::vector<v1::RegistryRecord> HuicheRecords() {
  const std::string path =
      absl::StrCat(FIVESTAR_SOURCE_DIR, "/data/huiche/registry.ndjson");
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    std::abort();
  }
  std::vector<v1::RegistryRecord> records;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    v1::RegistryRecord record;
    auto status = google::protobuf::util::JsonStringToMessage(line, &record);
    if (!status.ok()) {
      std::fprintf(stderr, "%s: bad line: %s\n", path.c_str(), line.c_str());
      std::abort();
    }
    records.push_back(std::move(record));
  }
  return records;
}

namespace {}  // namespace

RegistryTestEnv::RegistryTestEnv()
    : database_path_(dir_.File("registry.db")),
      clock_(absl::FromCivil(absl::CivilSecond(2022, 9, 30, 12, 0, 0),
                             absl::UTCTimeZone())) {
  auto store = SqliteRegistryStore::Open(database_path_, &clock_);
  if (!store.ok()) std::abort();
  store_ = *std::move(store);
  registry_ = std::make_unique<Registry>(store_.get());
  auto feed = ChangeFeed::Create(store_.get());
  if (!feed.ok()) std::abort();
  feed_ = *std::move(feed);
  authenticator_ =
      std::make_unique<Authenticator>(fivestar::testing::TestTokenTable({
          {kAdminToken, "admin", "*", "province-admin"},
          {kHuicheAdminToken, "admin", "411323-huiche", "huiche-admin"},
          {kHuicheOperatorToken, "operator", "411323-huiche",
           "huiche-operator"},
          {kNorthViewerToken, "viewer", "411323-huiche-north", "north-viewer"},
          {kMaoheReporterToken, "reporter", "411323-huiche-north-01",
           "maohe-reporter"},
          {kOtherTownshipOperatorToken, "operator", "411323-other",
           "other-operator"},
      }));
  service_ = std::make_unique<RegistryServiceImpl>(registry_.get(), feed_.get(),
                                                   authenticator_.get());
  server_ = std::make_unique<fivestar::testing::TestServer>(
      std::vector<HostedService>{
          {service_.get(), v1::RegistryService::service_full_name()}});
  stub_ = v1::RegistryService::NewStub(server_->NewChannel());
}

RegistryTestEnv::~RegistryTestEnv() {
  // As main.cc: end the change-feed streams, then drain.
  service_->Shutdown();
  server_->Shutdown();
}

absl::StatusOr<v1::ImportRegistryResponse> RegistryTestEnv::Import(
    const std::vector<v1::RegistryRecord>& records, const std::string& token,
    bool validate_only, int chunk_size) {
  auto context = fivestar::testing::NewContext(token);
  auto stream = stub_->ImportRegistry(context.get());
  v1::ImportRegistryResponse last;
  for (size_t i = 0; i < records.size(); i += chunk_size) {
    v1::ImportRegistryRequest chunk;
    chunk.set_validate_only(validate_only);
    for (size_t j = i; j < records.size() && j < i + chunk_size; ++j) {
      *chunk.add_records() = records[j];
    }
    if (!stream->Write(chunk)) break;
    if (!stream->Read(&last)) break;
  }
  stream->WritesDone();
  while (stream->Read(&last)) {
  }
  RETURN_IF_ERROR(FromGrpcStatus(stream->Finish()));
  return last;
}

absl::StatusOr<std::vector<v1::RegistryRecord>> RegistryTestEnv::Export(
    const std::string& root_id, const std::string& token) {
  auto context = fivestar::testing::NewContext(token);
  v1::ExportRegistryRequest request;
  request.set_root_id(root_id);
  auto reader = stub_->ExportRegistry(context.get(), request);
  std::vector<v1::RegistryRecord> records;
  v1::ExportRegistryResponse chunk;
  while (reader->Read(&chunk)) {
    for (const auto& record : chunk.records()) records.push_back(record);
  }
  RETURN_IF_ERROR(FromGrpcStatus(reader->Finish()));
  return records;
}

}  // namespace fivestar::registry::testing
