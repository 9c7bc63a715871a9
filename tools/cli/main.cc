// fivestar: the command-line client of the Five-Star platform.
//
//   fivestar [flags] <command> [args]
//
// Global flags say where the services are and how to print; each command is
// one function (in *_commands.cc) plus one row of kCommands below. Exit
// status: 0 on success, 1 when the command fails, 2 on a usage error.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/flags.h"
#include "tools/cli/audit_commands.h"
#include "tools/cli/health_commands.h"
#include "tools/cli/invocation.h"
#include "tools/cli/projects_commands.h"
#include "tools/cli/registry_commands.h"
#include "tools/cli/scoring_commands.h"
#include "tools/cli/token_commands.h"

ABSL_FLAG(std::string, registry, "127.0.0.1:50051",
          "Address (gRPC target) of the registry service.");
ABSL_FLAG(std::string, projects, "127.0.0.1:50052",
          "Address (gRPC target) of the project-tracking service.");
ABSL_FLAG(std::string, scoring, "127.0.0.1:50053",
          "Address (gRPC target) of the scoring service.");
ABSL_FLAG(std::string, token, "",
          "Bearer token to call the services with; empty sends none. Prefer "
          "the FIVESTAR_TOKEN environment variable, which stays out of the "
          "process list.");
ABSL_FLAG(absl::Duration, deadline, absl::Seconds(30),
          "Deadline of each call to a service (for a stream, of the whole "
          "stream), e.g. 30s or 5m; see --long_deadline for the exceptions.");
ABSL_FLAG(absl::Duration, long_deadline, absl::Hours(6),
          "Deadline of the whole stream of import-registry, import-projects, "
          "export-registry and evaluate-region, whose work grows with the "
          "data (a province's projects import takes minutes), e.g. 6h or "
          "inf.");
ABSL_FLAG(std::string, tls_ca, "",
          "Call the services over TLS, trusting the CA certificates in this "
          "PEM file; a server's certificate must name the host dialled. Empty "
          "(with --tls_cert and --tls_key) calls in plaintext.");
ABSL_FLAG(std::string, tls_cert, "",
          "Client certificate chain (PEM file) for servers that require "
          "mutual TLS; needs --tls_key and --tls_ca.");
ABSL_FLAG(std::string, tls_key, "",
          "Private key (PEM file, unencrypted) of --tls_cert.");
ABSL_FLAG(std::string, output, "text",
          "How to print results: text (readable) or json (protobuf's JSON "
          "mapping, one document per line).");

namespace {

using fivestar::cli::Command;
using fivestar::cli::Invocation;
using fivestar::cli::OutputFormat;

absl::Status Help(const Invocation& invocation);

// Every command. To add one, write its function and add its row here.
const std::vector<Command>& Commands() {
  namespace cli = fivestar::cli;
  static const auto* commands = new std::vector<Command>{
      {"hash-token",
       "<token|->",
       "print the SHA-256 of a token (\"-\" reads it from stdin)",
       1,
       1,
       {},
       cli::HashToken},
      {"new-token",
       "<role> <scope> <name>",
       "print a new random token, then its tokens-file line",
       3,
       3,
       {},
       cli::NewToken},
      {"import-registry",
       "[--validate_only] <file.ndjson|->",
       "import regions and villages, one JSON record per line",
       1,
       1,
       {"validate_only"},
       cli::ImportRegistry},
      {"export-registry",
       "[--root=<region-id>] [--keep_output_only]",
       "write regions and villages to stdout in the import format",
       0,
       0,
       {"root", "keep_output_only"},
       cli::ExportRegistry},
      {"get-region",
       "<region-id>",
       "show one region",
       1,
       1,
       {},
       cli::GetRegion},
      {"get-village",
       "<village-id>",
       "show one village",
       1,
       1,
       {},
       cli::GetVillage},
      {"list-regions",
       "[--ancestor=<region-id>] [--kind=<kind>]",
       "list regions (all pages)",
       0,
       0,
       {"ancestor", "kind"},
       cli::ListRegions},
      {"list-villages",
       "[--ancestor=<region-id>] [--target_level=<1..5>]",
       "list villages (all pages)",
       0,
       0,
       {"ancestor", "target_level"},
       cli::ListVillages},
      {"ancestors",
       "<village-id>",
       "list the regions above a village, nearest first",
       1,
       1,
       {},
       cli::Ancestors},
      {"registry-summary",
       "<region-id>",
       "a region's chain, child regions, villages and targets",
       1,
       1,
       {},
       cli::RegistrySummary},
      {"import-projects",
       "[--validate_only] <file.ndjson|->",
       "import projects with their progress reports, one JSON record per line",
       1,
       1,
       {"validate_only"},
       cli::ImportProjects},
      {"set-indicators",
       "[--validate_only] <file.ndjson|->",
       "set indicator values, one JSON IndicatorValue per line (idempotent)",
       1,
       1,
       {"validate_only"},
       cli::SetIndicators},
      {"list-projects",
       "[--village=<id>] [--ancestor=<region-id>] [--star=<star>] "
       "[--status=<status>] [--overdue_only]",
       "list projects (all pages)",
       0,
       0,
       {"village", "ancestor", "star", "status", "overdue_only"},
       cli::ListProjects},
      {"get-project",
       "<project-id>",
       "show one project",
       1,
       1,
       {},
       cli::GetProject},
      {"report-progress",
       "[--note=<text>] [--request_id=<key>] <project-id> [--] <quantity>",
       "record progress on a project (\"--\" before a negative quantity)",
       2,
       2,
       {"note", "request_id"},
       cli::ReportProgress},
      {"cancel-project",
       "--reason=<text> <project-id>",
       "cancel a project",
       1,
       1,
       {"reason"},
       cli::CancelProject},
      {"project-summary",
       "[--period=YYYY-MM] [--brief] <village-or-region-id>",
       "tasks, completion, overdue, weekly reporting, stars and indicators",
       1,
       1,
       {"period", "brief"},
       cli::ProjectSummary},
      {"village-summaries",
       "[--period=YYYY-MM] <region-id>",
       "one line per village below a region: tasks, completion, reporting",
       1,
       1,
       {"period"},
       cli::VillageSummaries},
      {"list-indicators",
       "",
       "list the indicator catalogue",
       0,
       0,
       {},
       cli::ListIndicators},
      {"watch-changes",
       "[--after=<sequence>] [--ancestor=<region-id>] [--follow] "
       "[--idle_timeout=1s]",
       "print the change feed; without --follow, stop once caught up",
       0,
       0,
       {"after", "ancestor", "follow", "idle_timeout"},
       cli::WatchChanges},
      {"create-rubric",
       "[--activate] [--validate_only] <file.textproto|->",
       "store a new rubric version (one Rubric in protobuf text format)",
       1,
       1,
       {"activate", "validate_only"},
       cli::CreateRubric},
      {"list-rubrics",
       "",
       "list the rubric versions, newest first",
       0,
       0,
       {},
       cli::ListRubrics},
      {"get-rubric",
       "[<version>]",
       "show a rubric version (default: the active one) in text format",
       0,
       1,
       {},
       cli::GetRubric},
      {"activate-rubric",
       "<version>",
       "make a stored rubric version the active one",
       1,
       1,
       {},
       cli::ActivateRubric},
      {"evaluate",
       "[--rubric_version=N] <village-id> <YYYY-MM>",
       "evaluate a village: per star earned or not, per criterion why",
       2,
       2,
       {"rubric_version"},
       cli::Evaluate},
      {"evaluate-region",
       "[--rubric_version=N] [--per_village] <region-id> <YYYY-MM>",
       "evaluate every village below a region, with progress; --per_village: "
       "target (定星) vs earned (摘星)",
       2,
       2,
       {"rubric_version", "per_village"},
       cli::EvaluateRegion},
      {"get-evaluation",
       "<village-id> <YYYY-MM>",
       "show a village's recorded evaluation for a month",
       2,
       2,
       {},
       cli::GetEvaluation},
      {"what-if",
       "[--rubric_version=N] <village-id> <YYYY-MM> <override>...",
       "evaluate with assumed values, recording nothing; an override is "
       "indicator=<key>[@YYYY-MM]=<value> or criterion=<id>=<value>",
       3,
       1000,
       {"rubric_version"},
       cli::WhatIf},
      {"gap",
       "[--target_level=<1..5>] [--rubric_version=N] <village-id> <YYYY-MM>",
       "what a village lacks to reach a level (default: its target, 定星)",
       2,
       2,
       {"target_level", "rubric_version"},
       cli::Gap},
      {"leaderboard",
       "[--star=<star>] [--page_size=N] [--page_token=<t>] [--snapshot] "
       "<region-id> <YYYY-MM>",
       "one page of a region's board (overall or one star), with movement",
       2,
       2,
       {"star", "page_size", "page_token", "snapshot"},
       cli::Leaderboard},
      {"rank",
       "[--region=<region-id>] [--star=<star>] [--neighbours=N] <village-id> "
       "<YYYY-MM>",
       "a village's rank on a board (default: its township's) and neighbours",
       2,
       2,
       {"region", "star", "neighbours"},
       cli::VillageRank},
      {"freeze-leaderboard",
       "[--comment=<text>] <region-id> <YYYY-MM>",
       "freeze a region's boards for a month as its official result",
       2,
       2,
       {"comment"},
       cli::FreezeLeaderboard},
      {"apply-award",
       "[--note=<text>] [--request_id=<key>] <village-id> <star> <YYYY-MM>",
       "apply (申报) for a star earned in the month's recorded evaluation",
       3,
       3,
       {"note", "request_id"},
       cli::ApplyForAward},
      {"review-award",
       "[--comment=<text>] [--etag=<etag>] <award-id> approve|reject",
       "township review (初审) or county approval (审核); reject needs "
       "--comment",
       2,
       2,
       {"comment", "etag"},
       cli::ReviewAward},
      {"start-notice",
       "[--days=<1..60>] [--comment=<text>] [--etag=<etag>] <award-id>",
       "start the public notice (公示) of a county-approved award",
       1,
       1,
       {"days", "comment", "etag"},
       cli::StartNotice},
      {"confirm-award",
       "[--comment=<text>] [--etag=<etag>] <award-id>",
       "award the star (命名) once its public notice has ended",
       1,
       1,
       {"comment", "etag"},
       cli::ConfirmAward},
      {"withdraw-award",
       "--reason=<text> [--etag=<etag>] <award-id>",
       "withdraw an application, or take an awarded star away (降星)",
       1,
       1,
       {"reason", "etag"},
       cli::WithdrawAward},
      {"record-award",
       "--comment=<source> [--request_id=<key>] <village-id> <star> "
       "<RFC3339-time> township|county|city|province",
       "record a star awarded before or outside the system",
       4,
       4,
       {"comment", "request_id"},
       cli::RecordAward},
      {"get-award", "<award-id>", "show one award", 1, 1, {}, cli::GetAward},
      {"list-awards",
       "[--village=<id>] [--ancestor=<region-id>] [--star=<star>] "
       "[--state=<state>]",
       "list awards (all pages)",
       0,
       0,
       {"village", "ancestor", "star", "state"},
       cli::ListAwards},
      {"list-award-events",
       "[--award=<id>] [--village=<id>] [--ancestor=<region-id>]",
       "list the awards' audit trail, oldest first (all pages)",
       0,
       0,
       {"award", "village", "ancestor"},
       cli::ListAwardEvents},
      {"incentives",
       "<village-id> <year>",
       "a village's incentives for a year, in yuan",
       2,
       2,
       {},
       cli::Incentives},
      {"audit",
       "--service=registry|projects|scoring [--principal=<name>] "
       "[--method=<method>] [--outcome=<code>] [--since=<RFC3339-time>] "
       "[--until=<RFC3339-time>] [--oldest_first]",
       "a service's audit log of writes, newest first (global admin only; "
       "all pages)",
       0,
       0,
       {"service", "principal", "method", "outcome", "since", "until",
        "oldest_first"},
       cli::Audit},
      {"health",
       "[--wait=<duration>] <address> [<service>]",
       "probe a server's grpc.health.v1 status (exit 0 only when SERVING)",
       1,
       2,
       {"wait"},
       cli::Health},
      {"help", "", "show this help", 0, 0, {}, Help},
  };
  return *commands;
}

// The flags that belong to a single command; a command rejects those of
// others so that a misplaced option is not silently ignored.
std::vector<std::string> CommandSpecificFlags() {
  std::vector<std::string> names;
  for (const Command& command : Commands()) {
    names.insert(names.end(), command.flags.begin(), command.flags.end());
  }
  return names;
}

std::string UsageText() {
  std::string text =
      "the Five-Star platform's command-line client.\n\n"
      "usage: fivestar [flags] <command> [args]\n\ncommands:\n";
  for (const Command& command : Commands()) {
    const std::string line =
        absl::StrFormat("  %-18s %s", command.name, command.synopsis);
    absl::StrAppend(&text, absl::StripTrailingAsciiWhitespace(line), "\n      ",
                    command.summary, "\n");
  }
  absl::StrAppend(
      &text,
      "\nStars: branch_strong, industry_thriving, eco_livable, safe_lawful, "
      "civilized_happy (any case).\nGlobal flags: --registry, --projects, "
      "--scoring, --token, --deadline, --long_deadline, --output, --tls_ca, "
      "--tls_cert, "
      "--tls_key.\n"
      "Every flag may also be set as FIVESTAR_<FLAG_NAME>, e.g. "
      "FIVESTAR_TOKEN=... .\nExit status: 0 done, 1 the command failed, 2 "
      "usage error.\nSee --help for every flag.");
  return text;
}

absl::Status Help(const Invocation&) {
  std::printf("fivestar: %s\n", UsageText().c_str());
  return absl::OkStatus();
}

const Command* FindCommand(const std::string& name) {
  for (const Command& command : Commands()) {
    if (name == command.name) return &command;
  }
  return nullptr;
}

// Checks the arguments and flags against the command's row.
absl::Status CheckUsage(const Command& command,
                        const std::vector<std::string>& args) {
  const int count = static_cast<int>(args.size());
  if (count < command.min_args || count > command.max_args) {
    return fivestar::cli::UsageError(
        command.min_args == command.max_args
            ? absl::StrCat("takes ", command.min_args, " argument",
                           command.min_args == 1 ? "" : "s", ", got ", count)
            : absl::StrCat("takes ", command.min_args, " to ", command.max_args,
                           " arguments, got ", count));
  }
  for (const std::string& name : CommandSpecificFlags()) {
    if (absl::c_linear_search(command.flags, name)) continue;
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag != nullptr && flag->CurrentValue() != flag->DefaultValue()) {
      return fivestar::cli::UsageError(
          absl::StrCat("--", name, " does not apply to this command (is ",
                       fivestar::EnvironmentVariableForFlag(name), " set?)"));
    }
  }
  return absl::OkStatus();
}

int Run(const std::vector<std::string>& positional) {
  if (positional.empty()) {
    std::fprintf(stderr, "fivestar: %s\n", UsageText().c_str());
    return 2;
  }
  const std::string& name = positional[0];
  const Command* command = FindCommand(name);
  if (command == nullptr) {
    std::fprintf(stderr,
                 "fivestar: unknown command \"%s\"; \"fivestar help\" lists "
                 "them\n",
                 name.c_str());
    return 2;
  }
  std::vector<std::string> args(positional.begin() + 1, positional.end());
  absl::Status status = CheckUsage(*command, args);
  OutputFormat output = OutputFormat::kText;
  if (status.ok()) {
    const std::string format = absl::GetFlag(FLAGS_output);
    if (format == "json") {
      output = OutputFormat::kJson;
    } else if (format != "text") {
      status = fivestar::cli::UsageError(
          absl::StrCat("--output: must be text or json, got \"", format, "\""));
    }
  }
  for (const auto& [flag, value] :
       {std::pair<const char*, absl::Duration>{"--deadline",
                                               absl::GetFlag(FLAGS_deadline)},
        {"--long_deadline", absl::GetFlag(FLAGS_long_deadline)}}) {
    if (status.ok() && value <= absl::ZeroDuration()) {
      status = fivestar::cli::UsageError(absl::StrCat(
          flag, ": must be positive, got ", absl::FormatDuration(value)));
    }
  }
  if (status.ok()) {
    fivestar::cli::ConnectionOptions connection;
    connection.registry_address = absl::GetFlag(FLAGS_registry);
    connection.projects_address = absl::GetFlag(FLAGS_projects);
    connection.scoring_address = absl::GetFlag(FLAGS_scoring);
    connection.token = absl::GetFlag(FLAGS_token);
    connection.deadline = absl::GetFlag(FLAGS_deadline);
    connection.long_deadline = absl::GetFlag(FLAGS_long_deadline);
    connection.tls.ca_file = absl::GetFlag(FLAGS_tls_ca);
    connection.tls.cert_file = absl::GetFlag(FLAGS_tls_cert);
    connection.tls.key_file = absl::GetFlag(FLAGS_tls_key);
    absl::StatusOr<Invocation> invocation = Invocation::Create(
        name, std::move(args), output, std::move(connection));
    status =
        invocation.ok() ? command->function(*invocation) : invocation.status();
  }
  if (status.ok()) return 0;
  if (fivestar::cli::IsUsageError(status)) {
    std::fprintf(stderr, "fivestar: %s: %s\nusage: fivestar [flags] %s %s\n",
                 name.c_str(), std::string(status.message()).c_str(),
                 command->name, command->synopsis);
    return 2;
  }
  std::fprintf(stderr, "fivestar: %s: %s: %s\n", name.c_str(),
               absl::StatusCodeToString(status.code()).c_str(),
               std::string(status.message()).c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::FlagsUsageConfig usage_config;
  // --help lists the client's own flags (the default would look for a file
  // named after the program).
  usage_config.contains_help_flags = [](absl::string_view file) {
    return absl::StrContains(file, "tools/cli/");
  };
  absl::SetFlagsUsageConfig(usage_config);
  std::vector<char*> positional =
      fivestar::ParseFlagsWithEnvironment(argc, argv, UsageText());
  // ParseCommandLine keeps the program name first.
  return Run(
      std::vector<std::string>(positional.begin() + 1, positional.end()));
}
