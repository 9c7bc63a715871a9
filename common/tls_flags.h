// The TLS flags of the servers: how a server secures its own port
// (--tls_cert, --tls_key, --tls_client_ca, --tls_require_client_cert) and
// how projects and scoring call their peers (--peer_tls_ca,
// --peer_tls_cert, --peer_tls_key). Each may also be set as FIVESTAR_<FLAG>
// (common/flags.h). Apart from common/tls.h so that the CLI, which links
// the credential builders but has flags of its own named --tls_cert and
// --tls_key, does not link these.
#ifndef FIVESTAR_COMMON_TLS_FLAGS_H_
#define FIVESTAR_COMMON_TLS_FLAGS_H_

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include <memory>

#include "absl/status/statusor.h"

namespace fivestar {

// The server's credentials from --tls_cert, --tls_key, --tls_client_ca and
// --tls_require_client_cert (see NewTlsServerCredentials for the rules and
// errors): nullptr (plaintext) when all are empty/false. Logs whether TLS
// and mutual TLS are on.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>>
ServerCredentialsFromFlags();

// The credentials of calls to peer services from --peer_tls_ca,
// --peer_tls_cert and --peer_tls_key (see NewTlsChannelCredentials):
// nullptr (plaintext) when all are empty. Logs whether TLS and a client
// certificate are used.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>>
PeerCredentialsFromFlags();

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_TLS_FLAGS_H_
