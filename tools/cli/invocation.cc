#include "tools/cli/invocation.h"

#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "common/peer_client.h"

namespace fivestar::cli {
namespace {

// Marks a status as a usage error; the payload's value is unused.
constexpr absl::string_view kUsagePayload = "fivestar.cli/usage";

}  // namespace

absl::StatusOr<Invocation> Invocation::Create(std::string command,
                                              std::vector<std::string> args,
                                              OutputFormat output,
                                              ConnectionOptions connection) {
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      grpc::InsecureChannelCredentials();
  const TlsClientFiles& tls = connection.tls;
  if (!tls.ca_file.empty() || !tls.cert_file.empty() || !tls.key_file.empty()) {
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> secure =
        NewTlsChannelCredentials(tls, kTlsRefreshInterval);
    if (!secure.ok()) {
      return secure.status().code() == absl::StatusCode::kInvalidArgument
                 ? UsageError(secure.status().message())
                 : secure.status();
    }
    credentials = *std::move(secure);
  }
  return Invocation(std::move(command), std::move(args), output,
                    std::move(connection), std::move(credentials));
}

Invocation::Invocation(std::string command, std::vector<std::string> args,
                       OutputFormat output, ConnectionOptions connection,
                       std::shared_ptr<grpc::ChannelCredentials> credentials)
    : command_(std::move(command)),
      args_(std::move(args)),
      output_(output),
      connection_(std::move(connection)),
      credentials_(std::move(credentials)) {}

std::shared_ptr<grpc::Channel> Invocation::NewChannel(
    const std::string& address) const {
  return grpc::CreateChannel(address, credentials_);
}

std::shared_ptr<grpc::Channel> Invocation::NewProbeChannel(
    const std::string& address) const {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, credentials_, args);
}

std::shared_ptr<grpc::Channel> Invocation::RegistryChannel() const {
  if (registry_channel_ == nullptr) {
    registry_channel_ = NewChannel(connection_.registry_address);
  }
  return registry_channel_;
}

std::shared_ptr<grpc::Channel> Invocation::ProjectsChannel() const {
  if (projects_channel_ == nullptr) {
    projects_channel_ = NewChannel(connection_.projects_address);
  }
  return projects_channel_;
}

std::shared_ptr<grpc::Channel> Invocation::ScoringChannel() const {
  if (scoring_channel_ == nullptr) {
    scoring_channel_ = NewChannel(connection_.scoring_address);
  }
  return scoring_channel_;
}

void Invocation::PrepareContext(grpc::ClientContext* context) const {
  PreparePeerCall(*context, connection_.token, connection_.deadline);
}

void Invocation::PrepareLongContext(grpc::ClientContext* context) const {
  PreparePeerCall(*context, connection_.token, connection_.long_deadline);
}

void Invocation::PrepareContextWithoutDeadline(
    grpc::ClientContext* context) const {
  // An infinite deadline becomes gRPC's "no deadline".
  PreparePeerCall(*context, connection_.token, absl::InfiniteDuration());
}

absl::Status UsageError(absl::string_view message) {
  absl::Status status = absl::InvalidArgumentError(message);
  status.SetPayload(kUsagePayload, absl::Cord());
  return status;
}

bool IsUsageError(const absl::Status& status) {
  return status.GetPayload(kUsagePayload).has_value();
}

}  // namespace fivestar::cli
