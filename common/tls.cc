#include "common/tls.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace fivestar {
namespace {

using ::grpc::experimental::FileWatcherCertificateProvider;

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// OpenSSL would otherwise prompt on the terminal for the passphrase of an
// encrypted key; gRPC cannot use one anyway.
int NoPassphrase(char*, int, int, void*) { return 0; }

// The contents of `path`, or INVALID_ARGUMENT "<flag>: cannot read <path>:
// <reason>".
absl::StatusOr<std::string> ReadPemFile(const std::string& flag,
                                        const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": cannot read ", path, ": ", std::strerror(errno)));
  }
  std::string contents;
  char buffer[8192];
  size_t read = 0;
  while ((read = std::fread(buffer, 1, sizeof buffer, file)) > 0) {
    contents.append(buffer, read);
  }
  const bool failed = std::ferror(file) != 0;
  const int error = errno;
  std::fclose(file);
  if (failed) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": cannot read ", path, ": ", std::strerror(error)));
  }
  return contents;
}

BioPtr MemoryBio(const std::string& contents) {
  return BioPtr(
      BIO_new_mem_buf(contents.data(), static_cast<int>(contents.size())));
}

// The first certificate of a PEM file (checking that there is one), or
// INVALID_ARGUMENT naming the flag.
absl::StatusOr<X509Ptr> ParseCertificates(const std::string& flag,
                                          const std::string& path) {
  ASSIGN_OR_RETURN(const std::string contents, ReadPemFile(flag, path));
  BioPtr bio = MemoryBio(contents);
  X509Ptr first(PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
  ERR_clear_error();
  if (first == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": ", path, " holds no PEM certificate"));
  }
  return first;
}

// The private key of a PEM file, or INVALID_ARGUMENT naming the flag.
absl::StatusOr<PkeyPtr> ParsePrivateKey(const std::string& flag,
                                        const std::string& path) {
  ASSIGN_OR_RETURN(const std::string contents, ReadPemFile(flag, path));
  BioPtr bio = MemoryBio(contents);
  PkeyPtr key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  ERR_clear_error();
  if (key == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, ": ", path, " holds no unencrypted PEM private key"));
  }
  return key;
}

// Checks that the certificate and key files parse and belong together.
absl::Status CheckIdentity(const std::string& cert_flag,
                           const std::string& cert_file,
                           const std::string& key_flag,
                           const std::string& key_file) {
  ASSIGN_OR_RETURN(X509Ptr cert, ParseCertificates(cert_flag, cert_file));
  ASSIGN_OR_RETURN(PkeyPtr key, ParsePrivateKey(key_flag, key_file));
  const bool match = X509_check_private_key(cert.get(), key.get()) == 1;
  ERR_clear_error();
  if (!match) {
    return absl::InvalidArgumentError(absl::StrCat(
        key_flag, ": ", key_file, " is not the key of the certificate in ",
        cert_file, " (--", cert_flag, ")"));
  }
  return absl::OkStatus();
}

// The provider's refresh interval: whole seconds, at least one.
unsigned int RefreshSeconds(absl::Duration refresh) {
  const int64_t seconds =
      absl::ToInt64Seconds(absl::Ceil(refresh, absl::Seconds(1)));
  return seconds < 1 ? 1u : static_cast<unsigned int>(seconds);
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>>
NewTlsServerCredentials(const TlsServerFiles& files, absl::Duration refresh) {
  if (files.cert_file.empty() && files.key_file.empty()) {
    return absl::InvalidArgumentError(
        files.client_ca_file.empty() && !files.require_client_cert
            ? "tls_cert: required for TLS, with --tls_key"
            : "tls_cert: required with --tls_client_ca or "
              "--tls_require_client_cert (the server's own certificate, with "
              "--tls_key)");
  }
  if (files.key_file.empty()) {
    return absl::InvalidArgumentError(
        "tls_key: required with --tls_cert (the certificate's private key)");
  }
  if (files.cert_file.empty()) {
    return absl::InvalidArgumentError(
        "tls_cert: required with --tls_key (the key's certificate)");
  }
  if (files.require_client_cert && files.client_ca_file.empty()) {
    return absl::InvalidArgumentError(
        "tls_require_client_cert: needs --tls_client_ca (the CA that signs "
        "the client certificates)");
  }
  RETURN_IF_ERROR(
      CheckIdentity("tls_cert", files.cert_file, "tls_key", files.key_file));
  if (!files.client_ca_file.empty()) {
    RETURN_IF_ERROR(
        ParseCertificates("tls_client_ca", files.client_ca_file).status());
  }

  auto provider = std::make_shared<FileWatcherCertificateProvider>(
      files.key_file, files.cert_file, files.client_ca_file,
      RefreshSeconds(refresh));
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (files.client_ca_file.empty()) {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  } else {
    options.watch_root_certs();
    options.set_cert_request_type(
        files.require_client_cert
            ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
            : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  std::shared_ptr<grpc::ServerCredentials> credentials =
      grpc::experimental::TlsServerCredentials(options);
  if (credentials == nullptr) {
    return absl::InternalError("gRPC refused the TLS server options");
  }
  return credentials;
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>>
NewTlsChannelCredentials(const TlsClientFiles& files, absl::Duration refresh) {
  const std::string ca_flag = absl::StrCat(files.flag_prefix, "ca");
  const std::string cert_flag = absl::StrCat(files.flag_prefix, "cert");
  const std::string key_flag = absl::StrCat(files.flag_prefix, "key");
  if (files.ca_file.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(ca_flag,
                     ": required for TLS (the CA that signs the servers' "
                     "certificates)"));
  }
  if (!files.cert_file.empty() && files.key_file.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(key_flag, ": required with --", cert_flag,
                     " (the certificate's private key)"));
  }
  if (files.cert_file.empty() && !files.key_file.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        cert_flag, ": required with --", key_flag, " (the key's certificate)"));
  }
  RETURN_IF_ERROR(ParseCertificates(ca_flag, files.ca_file).status());
  const bool identity = !files.cert_file.empty();
  if (identity) {
    RETURN_IF_ERROR(
        CheckIdentity(cert_flag, files.cert_file, key_flag, files.key_file));
  }

  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(
      identity ? std::make_shared<FileWatcherCertificateProvider>(
                     files.key_file, files.cert_file, files.ca_file,
                     RefreshSeconds(refresh))
               : std::make_shared<FileWatcherCertificateProvider>(
                     files.ca_file, RefreshSeconds(refresh)));
  options.watch_root_certs();
  if (identity) options.watch_identity_key_cert_pairs();
  // The default, made explicit: the server's certificate must name the host
  // the channel dials.
  options.set_certificate_verifier(
      std::make_shared<grpc::experimental::HostNameCertificateVerifier>());
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      grpc::experimental::TlsCredentials(options);
  if (credentials == nullptr) {
    return absl::InternalError("gRPC refused the TLS channel options");
  }
  return credentials;
}

}  // namespace fivestar
