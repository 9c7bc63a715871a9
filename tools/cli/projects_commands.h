// Commands that talk to project tracking (ProjectsService). Each takes its
// positional arguments from the Invocation and its options from the
// command-specific flags defined in projects_commands.cc (and --ancestor,
// --validate_only from registry_commands.cc).
#ifndef FIVESTAR_TOOLS_CLI_PROJECTS_COMMANDS_H_
#define FIVESTAR_TOOLS_CLI_PROJECTS_COMMANDS_H_

#include "absl/status/status.h"
#include "tools/cli/invocation.h"

namespace fivestar::cli {

// import-projects <file.ndjson|->: streams the records of a newline-delimited
// JSON file (one ProjectRecord per line) to ImportProjects in chunks,
// reports progress on stderr and the created/updated/unchanged counts.
// Honours --validate_only.
absl::Status ImportProjects(const Invocation& invocation);

// set-indicators <file.ndjson|->: sends the IndicatorValue records of a
// newline-delimited JSON file to SetIndicatorValues in batches, each with a
// request_id derived from its lines and their content (so re-running the
// same file is answered from the server's memory of the first run), and
// prints the counts. Honours --validate_only (then without request_ids).
absl::Status SetIndicators(const Invocation& invocation);

// list-projects: prints every page of ListProjects. Honours --village,
// --ancestor, --star, --status and --overdue_only.
absl::Status ListProjects(const Invocation& invocation);

// get-project <id>: prints one project.
absl::Status GetProject(const Invocation& invocation);

// report-progress <project-id> <quantity>: records a progress report and
// prints it with the project's new delivered/target and status. Honours
// --note and --request_id.
absl::Status ReportProgress(const Invocation& invocation);

// cancel-project <id> --reason=...: cancels a project and prints it.
absl::Status CancelProject(const Invocation& invocation);

// project-summary <village-or-region-id>: prints GetSummary for the month of
// --period (default: the current month, China time): tasks, completion,
// overdue, weekly reporting compliance, completion by star and indicator
// totals. With --brief, one line.
absl::Status ProjectSummary(const Invocation& invocation);

// village-summaries <region-id>: prints one line per village below the
// region (every page of ListVillageSummaries) for the month of --period:
// tasks, delivered, completion and weekly reporting compliance.
absl::Status VillageSummaries(const Invocation& invocation);

// list-indicators: prints the indicator catalogue.
absl::Status ListIndicators(const Invocation& invocation);

// watch-changes: prints the change feed after --after, optionally below
// --ancestor. The feed has no "caught up" marker, so without --follow it
// stops once no change has arrived for --idle_timeout; with --follow it runs
// until interrupted, reconnecting from its last sequence when the server
// goes away.
absl::Status WatchChanges(const Invocation& invocation);

}  // namespace fivestar::cli

#endif  // FIVESTAR_TOOLS_CLI_PROJECTS_COMMANDS_H_
