#include "tests/testing/tls_certs.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace fivestar::testing {
namespace {

// Quotes `value` for /bin/sh.
std::string ShellQuote(const std::string& value) {
  return absl::StrCat("'", absl::StrReplaceAll(value, {{"'", "'\\''"}}), "'");
}

absl::Status WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << contents;
  file.close();
  if (!file) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

// P-256 keys: quick to make, and every TLS stack takes them.
constexpr char kNewKey[] =
    "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";

}  // namespace

absl::Status TestCertificates::Run(const std::string& command) {
  const std::string log = dir_.File("openssl.log");
  const int status = std::system(
      absl::StrCat(command, " >", ShellQuote(log), " 2>&1").c_str());
  if (status == 0) return absl::OkStatus();
  std::ifstream file(log);
  std::stringstream output;
  output << file.rdbuf();
  return absl::InternalError(
      absl::StrCat("`", command, "` failed (", status, "): ", output.str()));
}

absl::StatusOr<CertKeyFiles> TestCertificates::NewCa(const std::string& name) {
  CertKeyFiles ca{dir_.File(name + ".pem"), dir_.File(name + ".key")};
  const std::string config = dir_.File(name + ".cnf");
  // Our own configuration, so the system's openssl.cnf adds nothing.
  if (absl::Status status = WriteFile(
          config,
          "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = unused\n"
          "[ca]\nbasicConstraints = critical,CA:TRUE\n"
          "keyUsage = critical,keyCertSign,cRLSign\n"
          "subjectKeyIdentifier = hash\n");
      !status.ok()) {
    return status;
  }
  if (absl::Status status = Run(absl::StrCat(
          "openssl req -x509 -config ", ShellQuote(config), " -extensions ca ",
          kNewKey, " -days 2 -subj ", ShellQuote("/CN=" + name), " -keyout ",
          ShellQuote(ca.key_file), " -out ", ShellQuote(ca.cert_file)));
      !status.ok()) {
    return status;
  }
  return ca;
}

absl::StatusOr<CertKeyFiles> TestCertificates::NewServerCert(
    const CertKeyFiles& ca, const std::string& name, const std::string& san) {
  return NewLeaf(ca, name,
                 absl::StrCat("extendedKeyUsage = serverAuth\n"
                              "subjectAltName = ",
                              san, "\n"));
}

absl::StatusOr<CertKeyFiles> TestCertificates::NewClientCert(
    const CertKeyFiles& ca, const std::string& name) {
  return NewLeaf(ca, name, "extendedKeyUsage = clientAuth\n");
}

absl::StatusOr<CertKeyFiles> TestCertificates::NewLeaf(
    const CertKeyFiles& ca, const std::string& name,
    const std::string& extensions) {
  CertKeyFiles leaf{dir_.File(name + ".pem"), dir_.File(name + ".key")};
  const std::string config = dir_.File(name + ".cnf");
  const std::string request = dir_.File(name + ".csr");
  if (absl::Status status = WriteFile(
          config, absl::StrCat("[req]\ndistinguished_name = dn\nprompt = no\n"
                               "[dn]\nCN = unused\n"
                               "[leaf]\nbasicConstraints = critical,CA:FALSE\n"
                               "keyUsage = critical,digitalSignature\n"
                               "authorityKeyIdentifier = keyid\n",
                               extensions));
      !status.ok()) {
    return status;
  }
  if (absl::Status status = Run(absl::StrCat(
          "openssl req -new -config ", ShellQuote(config), " ", kNewKey,
          " -subj ", ShellQuote("/CN=" + name), " -keyout ",
          ShellQuote(leaf.key_file), " -out ", ShellQuote(request)));
      !status.ok()) {
    return status;
  }
  if (absl::Status status = Run(absl::StrCat(
          "openssl x509 -req -in ", ShellQuote(request), " -CA ",
          ShellQuote(ca.cert_file), " -CAkey ", ShellQuote(ca.key_file),
          " -CAcreateserial -days 2 -extfile ", ShellQuote(config),
          " -extensions leaf -out ", ShellQuote(leaf.cert_file)));
      !status.ok()) {
    return status;
  }
  return leaf;
}

}  // namespace fivestar::testing
