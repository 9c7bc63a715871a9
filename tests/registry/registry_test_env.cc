#include "tests/registry/registry_test_env.h"

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "tests/testing/ndjson.h"
#include "tests/testing/test_tokens.h"

namespace fivestar::registry::testing {

std::vector<v1::RegistryRecord> HuicheRecords() {
  return fivestar::testing::ReadNdjson<v1::RegistryRecord>(
      fivestar::testing::SourcePath("data/huiche/registry.ndjson"));
}

RegistryTestEnv::RegistryTestEnv()
    : database_(databases_.Get("registry")),
      clock_(absl::FromCivil(absl::CivilSecond(2022, 9, 30, 12, 0, 0),
                             absl::UTCTimeZone())) {
  tokens_ = std::make_shared<Authenticator>(fivestar::testing::TestTokenTable({
      {kAdminToken, "admin", "*", "province-admin"},
      {kHuicheAdminToken, "admin", "411323-huiche", "huiche-admin"},
      {kHuicheOperatorToken, "operator", "411323-huiche", "huiche-operator"},
      {kNorthViewerToken, "viewer", "411323-huiche-north", "north-viewer"},
      {kMaoheReporterToken, "reporter", "411323-huiche-north-01",
       "maohe-reporter"},
      {kOtherTownshipOperatorToken, "operator", "411323-other",
       "other-operator"},
  }));
  host_ = std::make_unique<fivestar::testing::RegistryHost>(database_, tokens_,
                                                            &clock_);
  stub_ = v1::RegistryService::NewStub(host_->NewChannel());
}

RegistryTestEnv::~RegistryTestEnv() { host_->Stop(); }

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
