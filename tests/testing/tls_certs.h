// Certificates made at test time with the `openssl` command: certificate
// authorities, server certificates naming localhost and 127.0.0.1, and
// client certificates, as PEM files in a private temporary directory.
#ifndef FIVESTAR_TESTS_TESTING_TLS_CERTS_H_
#define FIVESTAR_TESTS_TESTING_TLS_CERTS_H_

#include <string>

#include "absl/status/statusor.h"
#include "tests/testing/temp_dir.h"

namespace fivestar::testing {

// A certificate and its private key, as PEM files.
struct CertKeyFiles {
  std::string cert_file;
  std::string key_file;
};

// Makes certificates in a temporary directory removed with it. Every name
// must be unique within one TestCertificates (it names the files). Failures
// are INTERNAL with openssl's output.
class TestCertificates {
 public:
  TestCertificates() = default;
  TestCertificates(const TestCertificates&) = delete;
  TestCertificates& operator=(const TestCertificates&) = delete;

  // A self-signed CA certificate "CN=<name>" (files <name>.pem, <name>.key).
  absl::StatusOr<CertKeyFiles> NewCa(const std::string& name);

  // A server certificate signed by `ca`, with the subject alternative names
  // `san` (openssl syntax; by default localhost and 127.0.0.1).
  absl::StatusOr<CertKeyFiles> NewServerCert(
      const CertKeyFiles& ca, const std::string& name,
      const std::string& san = "DNS:localhost,IP:127.0.0.1");

  // A client certificate "CN=<name>" signed by `ca`.
  absl::StatusOr<CertKeyFiles> NewClientCert(const CertKeyFiles& ca,
                                             const std::string& name);

  // The directory holding every file; other files may go there too.
  const TempDir& dir() const { return dir_; }

 private:
  absl::StatusOr<CertKeyFiles> NewLeaf(const CertKeyFiles& ca,
                                       const std::string& name,
                                       const std::string& extensions);
  // Runs `command` (a shell command line) with its output in a log file;
  // INTERNAL with that output when it fails.
  absl::Status Run(const std::string& command);

  TempDir dir_;
};

}  // namespace fivestar::testing

#endif  // FIVESTAR_TESTS_TESTING_TLS_CERTS_H_
