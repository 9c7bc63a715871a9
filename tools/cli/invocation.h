// What every command of the `fivestar` command-line client receives (its
// arguments, the output format, a way to call the services) and the shape of
// the command table. A command is one function plus one row in the table in
// main.cc.
#ifndef FIVESTAR_TOOLS_CLI_INVOCATION_H_
#define FIVESTAR_TOOLS_CLI_INVOCATION_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/tls.h"

namespace fivestar::cli {

// How results are printed: readable text, or protobuf's JSON mapping (one
// JSON document per line for lists).
enum class OutputFormat { kText, kJson };

// Where and how to reach the services; the global flags.
struct ConnectionOptions {
  // gRPC target of the registry, e.g. "127.0.0.1:50051".
  std::string registry_address;
  // gRPC target of project tracking, e.g. "127.0.0.1:50052".
  std::string projects_address;
  // gRPC target of scoring, e.g. "127.0.0.1:50053".
  std::string scoring_address;
  // Bearer token; sent as "authorization: Bearer <token>" when non-empty.
  std::string token;
  // Deadline of each RPC (for a streaming call, of the whole stream).
  absl::Duration deadline = absl::Seconds(30);
  // Deadline of the whole stream of a command whose work grows with the
  // data (imports, the registry export, a region's evaluation).
  absl::Duration long_deadline = absl::Hours(6);
  // TLS (--tls_ca, --tls_cert, --tls_key): whom to trust and, for servers
  // that require mutual TLS, the client's certificate. Every channel is
  // plaintext when all three are empty.
  TlsClientFiles tls;
};

// One run of one command.
class Invocation {
 public:
  // Makes the credentials of every channel the invocation opens (TLS when
  // `connection.tls` names any file); a usage error naming the flag (e.g.
  // "tls_ca: cannot read ...") when they cannot be made.
  static absl::StatusOr<Invocation> Create(std::string command,
                                           std::vector<std::string> args,
                                           OutputFormat output,
                                           ConnectionOptions connection);

  // The command's name, e.g. "get-region".
  const std::string& command() const { return command_; }
  // Positional arguments after the command name.
  const std::vector<std::string>& args() const { return args_; }
  OutputFormat output() const { return output_; }

  // A new channel to `address` ("host:port") with the invocation's
  // credentials: how the CLI dials every server.
  std::shared_ptr<grpc::Channel> NewChannel(const std::string& address) const;
  // The same, with a subchannel pool of its own, for a probe repeated until
  // a server answers: gRPC's reconnect backoff after a refused connection
  // (1 s, growing to minutes) is kept per subchannel, so a shared one would
  // hold every later probe back and report a server late.
  std::shared_ptr<grpc::Channel> NewProbeChannel(
      const std::string& address) const;
  // The channel to the registry, created on first use.
  std::shared_ptr<grpc::Channel> RegistryChannel() const;
  // The channel to project tracking, created on first use.
  std::shared_ptr<grpc::Channel> ProjectsChannel() const;
  // The channel to scoring, created on first use.
  std::shared_ptr<grpc::Channel> ScoringChannel() const;

  // The same with the long deadline: for imports, the registry export and
  // a region's evaluation, which take minutes at a province's scale.
  void PrepareLongContext(grpc::ClientContext* context) const;
  // Sets the deadline and the credentials of one call on `context`.
  void PrepareContext(grpc::ClientContext* context) const;
  // The credentials only, for a stream meant to run until the user stops
  // it (watch-changes --follow).
  void PrepareContextWithoutDeadline(grpc::ClientContext* context) const;

 private:
  Invocation(std::string command, std::vector<std::string> args,
             OutputFormat output, ConnectionOptions connection,
             std::shared_ptr<grpc::ChannelCredentials> credentials);

  std::string command_;
  std::vector<std::string> args_;
  OutputFormat output_;
  ConnectionOptions connection_;
  std::shared_ptr<grpc::ChannelCredentials> credentials_;
  mutable std::shared_ptr<grpc::Channel> registry_channel_;
  mutable std::shared_ptr<grpc::Channel> projects_channel_;
  mutable std::shared_ptr<grpc::Channel> scoring_channel_;
};

// A command: does its work and prints its result on stdout. Returns the
// error to report otherwise (a UsageError for a misused command line).
using CommandFunction = absl::Status (*)(const Invocation&);

// One row of the command table.
struct Command {
  // What the user types, e.g. "get-region".
  const char* name;
  // Its arguments and flags for the usage text, e.g. "<region-id>".
  const char* synopsis;
  // One line saying what it does.
  const char* summary;
  // How many positional arguments it takes.
  int min_args;
  int max_args;
  // The command-specific flags it reads (names without "--"); any other
  // command-specific flag set on the command line is a usage error.
  std::vector<std::string> flags;
  CommandFunction function;
};

// An error in how the command was called (exit status 2), as opposed to an
// error while running it (exit status 1).
absl::Status UsageError(absl::string_view message);
bool IsUsageError(const absl::Status& status);

}  // namespace fivestar::cli

#endif  // FIVESTAR_TOOLS_CLI_INVOCATION_H_
