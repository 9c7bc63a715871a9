#include "common/tls_flags.h"

#include <spdlog/spdlog.h>

#include <string>

#include "absl/flags/flag.h"
#include "common/logging.h"
#include "common/status.h"
#include "common/tls.h"

ABSL_FLAG(std::string, tls_cert, "",
          "Serve gRPC over TLS with this certificate chain (PEM file, leaf "
          "first); needs --tls_key. Empty (with every other --tls_* flag) "
          "serves plaintext. Re-read within a minute when the file changes.");
ABSL_FLAG(std::string, tls_key, "",
          "Private key (PEM file, unencrypted) of --tls_cert. Re-read within "
          "a minute when the file changes.");
ABSL_FLAG(std::string, tls_client_ca, "",
          "CA certificates (PEM file) that sign client certificates: clients "
          "are asked for a certificate, and one this CA did not sign is "
          "refused. Needs --tls_cert. Re-read within a minute when the file "
          "changes.");
ABSL_FLAG(bool, tls_require_client_cert, false,
          "Mutual TLS: refuse clients without a certificate signed by "
          "--tls_client_ca.");
ABSL_FLAG(std::string, peer_tls_ca, "",
          "Call the peer services (projects: the registry; scoring: the "
          "registry and projects) over TLS, trusting the CA certificates in "
          "this PEM file; the peer's certificate must name the host in "
          "--registry/--projects. Empty (with --peer_tls_cert and "
          "--peer_tls_key) calls peers in plaintext.");
ABSL_FLAG(std::string, peer_tls_cert, "",
          "Client certificate chain (PEM file) presented to peers that "
          "require mutual TLS; needs --peer_tls_key and --peer_tls_ca.");
ABSL_FLAG(std::string, peer_tls_key, "",
          "Private key (PEM file, unencrypted) of --peer_tls_cert.");

namespace fivestar {

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>>
ServerCredentialsFromFlags() {
  TlsServerFiles files;
  files.cert_file = absl::GetFlag(FLAGS_tls_cert);
  files.key_file = absl::GetFlag(FLAGS_tls_key);
  files.client_ca_file = absl::GetFlag(FLAGS_tls_client_ca);
  files.require_client_cert = absl::GetFlag(FLAGS_tls_require_client_cert);
  if (files.cert_file.empty() && files.key_file.empty() &&
      files.client_ca_file.empty() && !files.require_client_cert) {
    spdlog::info("msg=tls mode=plaintext");
    return nullptr;
  }
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                   NewTlsServerCredentials(files, kTlsRefreshInterval));
  const char* mode = files.client_ca_file.empty() ? "tls"
                     : files.require_client_cert  ? "mtls_required"
                                                  : "mtls_optional";
  spdlog::info("msg=tls mode={} cert={} client_ca={} refresh_s={}", mode,
               LogValue(files.cert_file),
               files.client_ca_file.empty() ? std::string("none")
                                            : LogValue(files.client_ca_file),
               absl::ToInt64Seconds(kTlsRefreshInterval));
  return credentials;
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>>
PeerCredentialsFromFlags() {
  TlsClientFiles files;
  files.ca_file = absl::GetFlag(FLAGS_peer_tls_ca);
  files.cert_file = absl::GetFlag(FLAGS_peer_tls_cert);
  files.key_file = absl::GetFlag(FLAGS_peer_tls_key);
  files.flag_prefix = "peer_tls_";
  if (files.ca_file.empty() && files.cert_file.empty() &&
      files.key_file.empty()) {
    spdlog::info("msg=peer_tls mode=plaintext");
    return nullptr;
  }
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ChannelCredentials> credentials,
                   NewTlsChannelCredentials(files, kTlsRefreshInterval));
  spdlog::info("msg=peer_tls mode={} ca={} cert={}",
               files.cert_file.empty() ? "tls" : "mtls",
               LogValue(files.ca_file),
               files.cert_file.empty() ? std::string("none")
                                       : LogValue(files.cert_file));
  return credentials;
}

}  // namespace fivestar
