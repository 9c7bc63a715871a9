// Transport security for fivestar's gRPC servers and clients: TLS, and
// mutual TLS when the server asks for client certificates. Certificates and
// keys are PEM files watched by gRPC's FileWatcherCertificateProvider, so a
// renewed certificate (or a new CA bundle) is picked up while the process
// runs, within the refresh interval, without a restart.
//
// Every file is read and parsed once when the credentials are made, so a
// missing or malformed file fails start-up (INVALID_ARGUMENT naming the
// flag) rather than the first handshake.
//
// The flags that fill these structs for the servers are in
// common/tls_flags.h; the CLI has its own (tools/cli/main.cc).
#ifndef FIVESTAR_COMMON_TLS_H_
#define FIVESTAR_COMMON_TLS_H_

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace fivestar {

// How often the servers and the CLI look at their certificate files for
// changes.
inline constexpr absl::Duration kTlsRefreshInterval = absl::Minutes(1);

// A server's TLS files (the flags --tls_cert, --tls_key, --tls_client_ca,
// --tls_require_client_cert).
struct TlsServerFiles {
  // The server's certificate chain (PEM), leaf first.
  std::string cert_file;
  // The private key of that certificate (PEM, unencrypted).
  std::string key_file;
  // CA certificates (PEM) that sign client certificates. When set, the
  // server asks clients for a certificate and refuses one this CA did not
  // sign; empty asks for none.
  std::string client_ca_file;
  // Refuse clients that present no certificate (mutual TLS); needs
  // client_ca_file.
  bool require_client_cert = false;
};

// Server credentials for `files`, re-reading them every `refresh` (rounded
// up to whole seconds, at least 1 s). INVALID_ARGUMENT naming the flag
// (e.g. "tls_key: cannot read /x/y.pem: No such file or directory") when a
// certificate comes without its key or the other way round, when a client
// CA or required client certificates come without a server certificate,
// when require_client_cert comes without client_ca_file, when a file cannot
// be read or holds no PEM certificate (key), or when the key does not match
// the certificate.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>>
NewTlsServerCredentials(const TlsServerFiles& files, absl::Duration refresh);

// A client's TLS files: whom to trust, and optionally who it is.
struct TlsClientFiles {
  // CA certificates (PEM) that sign the servers' certificates. Required: a
  // server is trusted only when its certificate chains to one of them and
  // names the host dialled (a DNS or IP subject alternative name).
  std::string ca_file;
  // The client's certificate chain (PEM), for servers that ask for one
  // (mutual TLS); with key_file, or both empty.
  std::string cert_file;
  // The private key of that certificate (PEM, unencrypted).
  std::string key_file;
  // How errors name the three settings: the flags <prefix>ca, <prefix>cert
  // and <prefix>key (the CLI's --tls_*, the servers' --peer_tls_*).
  std::string flag_prefix = "tls_";
};

// Channel credentials for `files`, re-reading them every `refresh` (rounded
// up to whole seconds, at least 1 s); the server's certificate is verified
// against ca_file and the host name of the channel's target.
// INVALID_ARGUMENT naming the flag when ca_file is empty, when a
// certificate comes without its key or the other way round, when a file
// cannot be read or holds no PEM certificate (key), or when the key does
// not match the certificate.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>>
NewTlsChannelCredentials(const TlsClientFiles& files, absl::Duration refresh);

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_TLS_H_
