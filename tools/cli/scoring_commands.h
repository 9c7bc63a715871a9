// Commands that talk to scoring (ScoringService): rubrics, evaluations,
// what-if and gap, leaderboards, the award workflow, incentives. Each takes
// its positional arguments from the Invocation and its options from the
// command-specific flags defined in scoring_commands.cc (and --star,
// --village, --ancestor, --note, --request_id, --reason, --validate_only,
// --target_level from the other command families). Also declares the pure
// text helpers the commands use, so that tests can reach them.
#ifndef FIVESTAR_TOOLS_CLI_SCORING_COMMANDS_H_
#define FIVESTAR_TOOLS_CLI_SCORING_COMMANDS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "fivestar/scoring/v1/scoring.pb.h"
#include "tools/cli/invocation.h"

namespace fivestar::cli {

// create-rubric <file.textproto|->: reads one Rubric in protobuf text format
// (a parse error names file:line:column) and stores it as a new version.
// Honours --activate and --validate_only.
absl::Status CreateRubric(const Invocation& invocation);

// list-rubrics: one line per stored version, newest first (all pages).
absl::Status ListRubrics(const Invocation& invocation);

// get-rubric [<version>]: one version, or the active one; in text mode as
// protobuf text format (the input format of create-rubric).
absl::Status GetRubric(const Invocation& invocation);

// activate-rubric <version>: makes a stored version the active one.
absl::Status ActivateRubric(const Invocation& invocation);

// evaluate <village> <YYYY-MM>: evaluates (and, with the active rubric,
// records) one village; prints per star earned or not, points against the
// pass mark and the reason, and per criterion the measured value against
// the threshold. Honours --rubric_version.
absl::Status Evaluate(const Invocation& invocation);

// evaluate-region <region> <YYYY-MM>: evaluates every village below a
// region, showing progress on stderr (a bar redrawn in place on a
// terminal, else a line per progress message), then the failures and a
// summary. Fails (exit 1) when any village failed. With --per_village, also
// a table of every village: target (定星) against stars earned (摘星).
// Honours --rubric_version.
absl::Status EvaluateRegion(const Invocation& invocation);

// get-evaluation <village> <YYYY-MM>: the recorded evaluation, as evaluate
// prints it.
absl::Status GetEvaluation(const Invocation& invocation);

// what-if <village> <YYYY-MM> <override>...: evaluates with overridden
// inputs (see ParseWhatIfOverrides) and prints the scenario beside the real
// result. Records nothing. Honours --rubric_version.
absl::Status WhatIf(const Invocation& invocation);

// gap <village> <YYYY-MM>: what the village lacks to reach --target_level
// (default: its target in the registry). Honours --rubric_version.
absl::Status Gap(const Invocation& invocation);

// leaderboard <region> <YYYY-MM>: one page of a board with the villages'
// Chinese names from the registry, columns aligned by display width.
// Honours --star, --page_size, --page_token and --snapshot.
absl::Status Leaderboard(const Invocation& invocation);

// rank <village> <YYYY-MM>: the village's place on a board with its
// neighbours. Honours --region, --star and --neighbours.
absl::Status VillageRank(const Invocation& invocation);

// apply-award <village> <star> <YYYY-MM>: applies for an earned star.
// Honours --note and --request_id.
absl::Status ApplyForAward(const Invocation& invocation);

// review-award <award-id> approve|reject: the township or county review.
// Honours --comment (required to reject) and --etag.
absl::Status ReviewAward(const Invocation& invocation);

// start-notice <award-id>: starts the public notice (公示) of a county-
// approved award. Honours --days, --comment and --etag.
absl::Status StartNotice(const Invocation& invocation);

// confirm-award <award-id>: awards the star after its public notice ended.
// Honours --comment and --etag.
absl::Status ConfirmAward(const Invocation& invocation);

// withdraw-award <award-id> --reason=...: withdraws an application or takes
// an awarded star away. Honours --etag.
absl::Status WithdrawAward(const Invocation& invocation);

// record-award <village> <star> <RFC 3339 time> <authority level>
// --comment=...: records a star awarded outside the system. Honours
// --request_id.
absl::Status RecordAward(const Invocation& invocation);

// get-award <award-id>: one award.
absl::Status GetAward(const Invocation& invocation);

// list-awards: one line per award (all pages). Honours --village,
// --ancestor, --star and --state.
absl::Status ListAwards(const Invocation& invocation);

// list-award-events: the audit trail, oldest first (all pages). Honours
// --award, --village and --ancestor.
absl::Status ListAwardEvents(const Invocation& invocation);

// incentives <village> <year>: the incentive items and their total in
// yuan.
absl::Status Incentives(const Invocation& invocation);

// freeze-leaderboard <region> <YYYY-MM>: freezes the region's boards for
// the month. Honours --comment.
absl::Status FreezeLeaderboard(const Invocation& invocation);

// Pure text helpers (exposed for tests).

// Parses what-if overrides into `request`, each argument one of
//   indicator=<key>=<value>            the evaluated month's value
//   indicator=<key>@<YYYY-MM>=<value>  another month's value
//   criterion=<criterion-id>=<value>   the criterion's measured value
// A UsageError names the argument and what is wrong otherwise (the server
// checks keys, ids and ranges).
absl::Status ParseWhatIfOverrides(const std::vector<std::string>& arguments,
                                  scoring::v1::WhatIfRequest* request);

// A leaderboard entry's movement since the previous month: "↑3", "↓1", "–"
// (unchanged) or "new" (not ranked then).
std::string MovementText(const scoring::v1::LeaderboardEntry& entry);

// Stars as "★★★ 3", or "0" for none.
std::string StarsText(int stars);

// Whole yuan with thousands separators: "30,000 yuan".
std::string YuanText(int64_t yuan);

// One progress report of a region evaluation: "[#####.....] 12/21
// evaluated, 0 failed" with a bar of `bar_width` cells filled in
// proportion to the villages handled (evaluated or failed).
std::string ProgressText(int evaluated, int failed, int total, int bar_width);

}  // namespace fivestar::cli

#endif  // FIVESTAR_TOOLS_CLI_SCORING_COMMANDS_H_
