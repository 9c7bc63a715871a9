#include "tools/cli/scoring_commands.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/status.h"
#include "fivestar/registry/v1/registry.grpc.pb.h"
#include "fivestar/scoring/v1/scoring.grpc.pb.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/time_util.h"
#include "tools/cli/call_helpers.h"
#include "tools/cli/output.h"

ABSL_DECLARE_FLAG(bool, validate_only);
ABSL_DECLARE_FLAG(std::string, ancestor);
ABSL_DECLARE_FLAG(int, target_level);
ABSL_DECLARE_FLAG(std::string, village);
ABSL_DECLARE_FLAG(std::string, star);
ABSL_DECLARE_FLAG(std::string, note);
ABSL_DECLARE_FLAG(std::string, request_id);
ABSL_DECLARE_FLAG(std::string, reason);

ABSL_FLAG(bool, activate, false,
          "create-rubric: also make the new version the active rubric.");
ABSL_FLAG(int, rubric_version, 0,
          "evaluate, evaluate-region, what-if, gap: the rubric version to "
          "use (0: the active one; only then are evaluations recorded).");
ABSL_FLAG(bool, per_village, false,
          "evaluate-region: also print every village's target (定星) against "
          "its stars earned (摘星).");
ABSL_FLAG(int, page_size, 0,
          "leaderboard: entries per page, 1..1000 (0: the server's default "
          "of 100).");
ABSL_FLAG(std::string, page_token, "",
          "leaderboard: the page to print, as the previous page's last line "
          "gives it.");
ABSL_FLAG(bool, snapshot, false,
          "leaderboard: read the board frozen by freeze-leaderboard instead "
          "of the live one.");
ABSL_FLAG(std::string, region, "",
          "rank: the region of the board, any region above the village "
          "(default: its township).");
ABSL_FLAG(int, neighbours, 0, "rank: villages to show above and below, 0..50.");
ABSL_FLAG(std::string, comment, "",
          "review-award, start-notice, confirm-award, record-award, "
          "freeze-leaderboard: the comment recorded with the step (required "
          "to reject and for record-award).");
ABSL_FLAG(std::string, etag, "",
          "review-award, start-notice, confirm-award, withdraw-award: act "
          "only if the award is still at this etag (ABORTED otherwise).");
ABSL_FLAG(int, days, 0,
          "start-notice: length of the public notice, 1..60 days (0: the "
          "active rubric's default).");
ABSL_FLAG(std::string, state, "",
          "list-awards: only awards in this state: applied, "
          "township_reviewed, county_approved, public_notice, awarded, "
          "rejected or withdrawn.");
ABSL_FLAG(std::string, award, "",
          "list-award-events: only the events of this award.");

namespace fivestar::cli {
namespace {

using common::v1::Star;
using registry::v1::RegistryService;
using scoring::v1::Award;
using scoring::v1::AwardEvent;
using scoring::v1::CriterionResult;
using scoring::v1::Evaluation;
using scoring::v1::LeaderboardEntry;
using scoring::v1::Rubric;
using scoring::v1::ScoringService;
using scoring::v1::StarResult;
using Stub = ScoringService::Stub;

// Cells of the progress bar of evaluate-region.
constexpr int kProgressBarWidth = 20;
// The most ids one BatchGetVillages call takes.
constexpr int kMaxBatchGetVillages = 1000;
// ListRubrics serves at most 100 per page.
constexpr int kRubricsPageSize = 100;

std::unique_ptr<Stub> NewStub(const Invocation& invocation) {
  return ScoringService::NewStub(invocation.ScoringChannel());
}

// One unary call to scoring: `method` with a fresh context.
template <typename Request, typename Response>
absl::StatusOr<Response> Call(const Invocation& invocation,
                              grpc::Status (Stub::*method)(grpc::ClientContext*,
                                                           const Request&,
                                                           Response*),
                              const Request& request) {
  std::unique_ptr<Stub> stub = NewStub(invocation);
  grpc::ClientContext context;
  invocation.PrepareContext(&context);
  Response response;
  RETURN_IF_ERROR(
      FromGrpcStatus(((*stub).*method)(&context, request, &response)));
  return response;
}

// A whole number argument of at least `min`.
absl::StatusOr<int> ParseInt(absl::string_view what, const std::string& text,
                             int min) {
  int value = 0;
  if (!absl::SimpleAtoi(text, &value) || value < min) {
    return UsageError(absl::StrCat(what,
                                   ": must be a whole number of at least ", min,
                                   ", got \"", text, "\""));
  }
  return value;
}

// --rubric_version, checked.
absl::StatusOr<int> RubricVersionFlag() {
  const int version = absl::GetFlag(FLAGS_rubric_version);
  if (version < 0) {
    return UsageError(absl::StrCat(
        "--rubric_version: must be 0 (the active rubric) or more, got ",
        version));
  }
  return version;
}

// "BRANCH_STRONG 支部过硬星".
std::string StarLabel(Star star) {
  return absl::StrCat(common::v1::Star_Name(star), " ", StarNameZh(star));
}

std::string ComparatorSymbol(scoring::v1::Comparator comparator) {
  switch (comparator) {
    case scoring::v1::GE:
      return "≥";
    case scoring::v1::GT:
      return ">";
    case scoring::v1::LE:
      return "≤";
    case scoring::v1::LT:
      return "<";
    case scoring::v1::EQ:
      return "=";
    default:
      return "?";
  }
}

// "≥ 0.75".
std::string RuleText(scoring::v1::Comparator comparator, double threshold) {
  return absl::StrCat(ComparatorSymbol(comparator), " ", Quantity(threshold));
}

// The measured value of a criterion, with what it is made of.
std::string ActualText(const CriterionResult& criterion) {
  std::string text;
  if (criterion.value_missing()) {
    text = "no data";
  } else {
    text = Quantity(criterion.actual());
    if (criterion.denominator() != 0 || criterion.vacuous()) {
      absl::StrAppend(&text, " (", Quantity(criterion.numerator()), "/",
                      Quantity(criterion.denominator()), ")");
    }
  }
  if (criterion.vacuous()) absl::StrAppend(&text, " vacuous: none to count");
  if (criterion.overridden()) absl::StrAppend(&text, " [what-if]");
  return text;
}

// One row per criterion: met, id, value, rule, points, mandatory,
// description.
std::vector<std::string> CriterionRow(const CriterionResult& criterion) {
  return {"  ",
          criterion.met() ? "✓ met" : "✗ not met",
          criterion.criterion_id(),
          ActualText(criterion),
          RuleText(criterion.comparator(), criterion.threshold()),
          absl::StrCat(criterion.points(), "/", criterion.max_points()),
          criterion.mandatory() ? "mandatory" : "",
          criterion.description()};
}

std::string StarHeadline(const StarResult& star) {
  std::string line = absl::StrCat(
      star.earned() ? "★ " : "☆ ", StarLabel(star.star()), ": ",
      star.earned() ? "earned" : "not earned", ", ", star.points(), " of ",
      star.max_points(), " points, pass mark ", star.pass_mark());
  if (!star.reason().empty()) absl::StrAppend(&line, ": ", star.reason());
  return line;
}

void PrintEvaluationText(const Evaluation& evaluation) {
  std::printf("village %s, %s, rubric v%d, %s (evaluated %s UTC+8)\n",
              evaluation.village_id().c_str(), evaluation.period().c_str(),
              evaluation.rubric_version(),
              evaluation.recorded() ? "recorded"
                                    : "not recorded (not the active rubric)",
              ChinaTimeText(evaluation.evaluate_time()).c_str());
  const std::string target =
      evaluation.target_level() == 0
          ? std::string("no target (定星) in the registry")
          : absl::StrCat("target (定星) ", evaluation.target_level(),
                         evaluation.level() >= evaluation.target_level()
                             ? ", reached"
                             : ", not reached");
  std::printf("level %d: %d of 5 stars earned (摘星), %d points; %s\n",
              evaluation.level(), evaluation.stars_earned(),
              evaluation.total_points(), target.c_str());
  // One table for all the criteria, so that columns line up across stars;
  // each star's headline goes before its rows.
  std::vector<std::vector<std::string>> rows;
  std::vector<std::pair<size_t, std::string>> headlines;  // before row i
  for (const StarResult& star : evaluation.stars()) {
    headlines.emplace_back(rows.size(), StarHeadline(star));
    for (const CriterionResult& criterion : star.criteria()) {
      rows.push_back(CriterionRow(criterion));
    }
  }
  const std::vector<std::string> lines =
      AlignColumns(rows, {false, false, false, false, false, true});
  size_t next_headline = 0;
  for (size_t i = 0; i <= lines.size(); ++i) {
    while (next_headline < headlines.size() &&
           headlines[next_headline].first == i) {
      std::printf("%s\n", headlines[next_headline].second.c_str());
      ++next_headline;
    }
    if (i < lines.size()) std::printf("%s\n", lines[i].c_str());
  }
}

absl::Status PrintEvaluation(const Invocation& invocation,
                             const Evaluation& evaluation) {
  if (invocation.output() == OutputFormat::kJson) {
    return PrintJsonLine(evaluation);
  }
  PrintEvaluationText(evaluation);
  return absl::OkStatus();
}

// Chinese names of villages from the registry, by id, in calls of at most
// kMaxBatchGetVillages ids. The names only decorate a table, so a registry
// that cannot answer costs the names (with a warning), not the command.
std::map<std::string, std::string> VillageNames(
    const Invocation& invocation, const std::vector<std::string>& ids) {
  std::map<std::string, std::string> names;
  std::unique_ptr<RegistryService::Stub> stub =
      RegistryService::NewStub(invocation.RegistryChannel());
  for (size_t begin = 0; begin < ids.size(); begin += kMaxBatchGetVillages) {
    registry::v1::BatchGetVillagesRequest request;
    const size_t end = std::min(ids.size(), begin + kMaxBatchGetVillages);
    for (size_t i = begin; i < end; ++i) request.add_ids(ids[i]);
    grpc::ClientContext context;
    invocation.PrepareContext(&context);
    registry::v1::BatchGetVillagesResponse response;
    const absl::Status status =
        FromGrpcStatus(stub->BatchGetVillages(&context, request, &response));
    if (!status.ok()) {
      std::fprintf(stderr, "%s: village names unavailable (registry: %s: %s)\n",
                   invocation.command().c_str(),
                   absl::StatusCodeToString(status.code()).c_str(),
                   std::string(status.message()).c_str());
      return names;
    }
    for (const registry::v1::Village& village : response.villages()) {
      names[village.id()] = village.name();
    }
  }
  return names;
}

std::string BoardName(Star star) {
  return star == common::v1::STAR_UNSPECIFIED
             ? std::string("overall board")
             : absl::StrCat(StarLabel(star), " board");
}

std::string NameOf(const std::map<std::string, std::string>& names,
                   const std::string& id) {
  auto it = names.find(id);
  return it == names.end() ? std::string() : it->second;
}

// The board table: a header, then one row per entry; `marked` (a village
// id) gets an arrow in front.
void PrintBoardTable(const std::vector<const LeaderboardEntry*>& entries,
                     const std::map<std::string, std::string>& names,
                     const std::string& marked) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"", "rank", "village", "name", "stars", "points", "move"});
  for (const LeaderboardEntry* entry : entries) {
    rows.push_back({entry->village_id() == marked ? "▶" : "",
                    absl::StrCat(entry->rank()), entry->village_id(),
                    NameOf(names, entry->village_id()),
                    StarsText(entry->stars()), absl::StrCat(entry->points()),
                    MovementText(*entry)});
  }
  const bool any_marked = !marked.empty();
  for (std::string line :
       AlignColumns(rows, {false, true, false, false, false, true, false})) {
    // Without a marked row the marker column is empty: drop its spaces.
    if (!any_marked) line = line.substr(std::min<size_t>(2, line.size()));
    std::printf("%s\n", line.c_str());
  }
}

std::string DegradedLine() {
  return "(degraded: computed from the database; the leaderboard cache is "
         "unavailable)";
}

std::string AwardLine(const Award& award) {
  std::string since = award.period().empty()
                          ? std::string("recorded")
                          : absl::StrCat("for ", award.period());
  return absl::StrFormat("%-20s  %-24s  %-17s  %-17s  %-10s  updated %s",
                         award.id(), award.village_id(),
                         common::v1::Star_Name(award.star()),
                         scoring::v1::AwardState_Name(award.state()), since,
                         ChinaTimeText(award.update_time()));
}

std::string AwardEventLine(const AwardEvent& event) {
  std::string line = absl::StrFormat(
      "%6d  %s  %-20s  %-24s  %-17s  %s → %s  by %s (%s)", event.sequence(),
      ChinaTimeText(event.event_time()), event.award_id(), event.village_id(),
      common::v1::Star_Name(event.star()),
      event.from_state() == scoring::v1::AWARD_STATE_UNSPECIFIED
          ? std::string("(new)")
          : scoring::v1::AwardState_Name(event.from_state()),
      scoring::v1::AwardState_Name(event.to_state()), event.actor(),
      event.actor_scope());
  if (!event.comment().empty()) absl::StrAppend(&line, ": ", event.comment());
  return line;
}

// Prints an award after a workflow step: the resource, and what comes next
// when the public notice runs.
absl::Status PrintAward(const Invocation& invocation, const Award& award) {
  RETURN_IF_ERROR(PrintResource(invocation, award));
  if (invocation.output() == OutputFormat::kText &&
      award.state() == scoring::v1::PUBLIC_NOTICE) {
    std::printf(
        "public notice (公示) until %s UTC+8; confirm-award after that\n",
        ChinaTimeText(award.public_notice_end_time()).c_str());
  }
  return absl::OkStatus();
}

// Collects the problems of a rubric text file with their positions.
class RubricErrors : public google::protobuf::io::ErrorCollector {
 public:
  explicit RubricErrors(std::string file) : file_(std::move(file)) {}

  // The parser counts lines and columns from 0; editors count from 1.
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (first_.empty()) {
      first_ =
          absl::StrCat(file_, ":", line + 1, ":", column + 1, ": ", message);
    }
  }

  const std::string& first() const { return first_; }

 private:
  std::string file_;
  std::string first_;
};

}  // namespace

absl::Status CreateRubric(const Invocation& invocation) {
  ASSIGN_OR_RETURN(std::unique_ptr<InputFile> input,
                   InputFile::Open(invocation.args()[0]));
  const std::string text((std::istreambuf_iterator<char>(input->stream())),
                         std::istreambuf_iterator<char>());
  if (input->stream().bad()) {
    return absl::DataLossError(absl::StrCat(input->name(), ": read error"));
  }
  scoring::v1::CreateRubricRequest request;
  RubricErrors errors(input->name());
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text, request.mutable_rubric())) {
    return absl::InvalidArgumentError(
        errors.first().empty()
            ? absl::StrCat(input->name(), ": not a Rubric in text format")
            : errors.first());
  }
  request.set_activate(absl::GetFlag(FLAGS_activate));
  request.set_validate_only(absl::GetFlag(FLAGS_validate_only));
  ASSIGN_OR_RETURN(Rubric rubric,
                   Call(invocation, &Stub::CreateRubric, request));
  if (invocation.output() == OutputFormat::kJson) return PrintJsonLine(rubric);
  if (request.validate_only()) {
    std::printf("rubric \"%s\" is valid (validate only: nothing was stored)\n",
                rubric.name().c_str());
  } else {
    std::printf("created rubric v%d \"%s\"%s\n", rubric.version(),
                rubric.name().c_str(),
                rubric.active() ? ", now the active rubric" : "");
  }
  return absl::OkStatus();
}

absl::Status ListRubrics(const Invocation& invocation) {
  return ForEachPage(
      invocation, *NewStub(invocation), scoring::v1::ListRubricsRequest(),
      &Stub::ListRubrics,
      [&](const scoring::v1::ListRubricsResponse& page) -> absl::Status {
        for (const Rubric& rubric : page.rubrics()) {
          if (invocation.output() == OutputFormat::kJson) {
            RETURN_IF_ERROR(PrintJsonLine(rubric));
            continue;
          }
          std::printf("v%-4d %-7s %s  by %s at %s\n", rubric.version(),
                      rubric.active() ? "active" : "", rubric.name().c_str(),
                      rubric.creator().c_str(),
                      ChinaTimeText(rubric.create_time()).c_str());
        }
        return absl::OkStatus();
      },
      kRubricsPageSize);
}

absl::Status GetRubric(const Invocation& invocation) {
  scoring::v1::GetRubricRequest request;
  if (!invocation.args().empty()) {
    ASSIGN_OR_RETURN(const int version,
                     ParseInt("<version>", invocation.args()[0], 1));
    request.set_version(version);
  }
  ASSIGN_OR_RETURN(Rubric rubric, Call(invocation, &Stub::GetRubric, request));
  if (invocation.output() == OutputFormat::kJson) return PrintJsonLine(rubric);
  google::protobuf::TextFormat::Printer printer;
  // Chinese names and descriptions stay readable (not octal escapes).
  printer.SetUseUtf8StringEscaping(true);
  std::string text;
  if (!printer.PrintToString(rubric, &text)) {
    return absl::InternalError("cannot print the rubric in text format");
  }
  std::printf("# rubric v%d%s, created by %s at %s UTC+8\n%s", rubric.version(),
              rubric.active() ? " (active)" : "", rubric.creator().c_str(),
              ChinaTimeText(rubric.create_time()).c_str(), text.c_str());
  return absl::OkStatus();
}

absl::Status ActivateRubric(const Invocation& invocation) {
  scoring::v1::SetActiveRubricRequest request;
  ASSIGN_OR_RETURN(const int version,
                   ParseInt("<version>", invocation.args()[0], 1));
  request.set_version(version);
  ASSIGN_OR_RETURN(Rubric rubric,
                   Call(invocation, &Stub::SetActiveRubric, request));
  if (invocation.output() == OutputFormat::kJson) return PrintJsonLine(rubric);
  std::printf("rubric v%d \"%s\" is now the active rubric\n", rubric.version(),
              rubric.name().c_str());
  return absl::OkStatus();
}

absl::Status Evaluate(const Invocation& invocation) {
  scoring::v1::EvaluateRequest request;
  request.set_village_id(invocation.args()[0]);
  request.set_period(invocation.args()[1]);
  ASSIGN_OR_RETURN(const int version, RubricVersionFlag());
  request.set_rubric_version(version);
  ASSIGN_OR_RETURN(Evaluation evaluation,
                   Call(invocation, &Stub::Evaluate, request));
  return PrintEvaluation(invocation, evaluation);
}

absl::Status GetEvaluation(const Invocation& invocation) {
  scoring::v1::GetEvaluationRequest request;
  request.set_village_id(invocation.args()[0]);
  request.set_period(invocation.args()[1]);
  ASSIGN_OR_RETURN(Evaluation evaluation,
                   Call(invocation, &Stub::GetEvaluation, request));
  return PrintEvaluation(invocation, evaluation);
}

namespace {

// The --per_village table of evaluate-region: target (定星) against stars
// earned (摘星), in village-id order.
void PrintVillageTable(const Invocation& invocation,
                       std::vector<Evaluation> evaluations) {
  std::sort(evaluations.begin(), evaluations.end(),
            [](const Evaluation& a, const Evaluation& b) {
              return a.village_id() < b.village_id();
            });
  std::vector<std::string> ids;
  for (const Evaluation& evaluation : evaluations) {
    ids.push_back(evaluation.village_id());
  }
  const std::map<std::string, std::string> names =
      VillageNames(invocation, ids);
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"village", "name", "定星 target", "摘星 earned", "level",
                  "points", "", "stars earned"});
  for (const Evaluation& evaluation : evaluations) {
    std::vector<std::string> earned;
    for (const StarResult& star : evaluation.stars()) {
      if (star.earned()) earned.push_back(StarNameZh(star.star()));
    }
    const int target = evaluation.target_level();
    rows.push_back(
        {evaluation.village_id(), NameOf(names, evaluation.village_id()),
         target == 0 ? "-" : absl::StrCat(target),
         StarsText(evaluation.stars_earned()), absl::StrCat(evaluation.level()),
         absl::StrCat(evaluation.total_points()),
         target == 0 ? ""
         : evaluation.level() >= target
             ? "reached"
             : absl::StrCat(target - evaluation.level(), " short"),
         absl::StrJoin(earned, " ")});
  }
  for (const std::string& line :
       AlignColumns(rows, {false, false, true, false, true, true})) {
    std::printf("%s\n", line.c_str());
  }
}

}  // namespace

absl::Status EvaluateRegion(const Invocation& invocation) {
  scoring::v1::EvaluateRegionRequest request;
  request.set_region_id(invocation.args()[0]);
  request.set_period(invocation.args()[1]);
  ASSIGN_OR_RETURN(const int version, RubricVersionFlag());
  request.set_rubric_version(version);
  const bool per_village = absl::GetFlag(FLAGS_per_village);
  request.set_include_evaluations(per_village);
  const bool terminal = isatty(STDERR_FILENO) != 0;

  std::unique_ptr<Stub> stub = NewStub(invocation);
  grpc::ClientContext context;
  invocation.PrepareLongContext(&context);
  std::unique_ptr<grpc::ClientReader<scoring::v1::EvaluateRegionResponse>>
      reader = stub->EvaluateRegion(&context, request);
  scoring::v1::EvaluateRegionResponse response;
  scoring::v1::EvaluateRegionResponse last;
  std::vector<scoring::v1::VillageFailure> failures;
  std::vector<Evaluation> evaluations;
  bool done = false;
  bool bar_drawn = false;
  while (reader->Read(&response)) {
    if (done) {
      // DONE is the last message; anything after it is a broken stream.
      context.TryCancel();
      reader->Finish();
      return absl::InternalError("the server sent progress after DONE");
    }
    if (invocation.output() == OutputFormat::kJson) {
      RETURN_IF_ERROR(PrintJsonLine(response));
    }
    const std::string progress =
        ProgressText(response.villages_evaluated(), response.villages_failed(),
                     response.villages_total(), kProgressBarWidth);
    if (terminal) {
      // Redraw the bar in place; erase what a longer line left behind.
      std::fprintf(stderr, "\r%s\033[K", progress.c_str());
      bar_drawn = true;
    } else {
      std::fprintf(stderr, "%s: %s\n", invocation.command().c_str(),
                   progress.c_str());
    }
    std::fflush(stderr);
    failures.insert(failures.end(), response.failures().begin(),
                    response.failures().end());
    evaluations.insert(evaluations.end(), response.evaluations().begin(),
                       response.evaluations().end());
    done = response.phase() == scoring::v1::EvaluateRegionResponse::DONE;
    last = response;
  }
  if (bar_drawn) std::fprintf(stderr, "\n");
  RETURN_IF_ERROR(FromGrpcStatus(reader->Finish()));
  if (!done) {
    return absl::InternalError("the server ended the stream before DONE");
  }
  if (invocation.output() == OutputFormat::kText) {
    for (const scoring::v1::VillageFailure& failure : failures) {
      std::printf("failed: %s: %s: %s\n", failure.village_id().c_str(),
                  absl::StatusCodeToString(
                      static_cast<absl::StatusCode>(failure.code()))
                      .c_str(),
                  failure.message().c_str());
    }
    if (per_village) PrintVillageTable(invocation, std::move(evaluations));
    std::printf(
        "%s %s, rubric v%d: %d of %d villages evaluated, %d failed%s\n",
        request.region_id().c_str(), request.period().c_str(),
        last.rubric_version(), last.villages_evaluated(), last.villages_total(),
        last.villages_failed(),
        request.rubric_version() == 0 ? " (recorded)" : " (not recorded)");
  }
  if (last.villages_failed() > 0) {
    // The command fails with the code of the first failure, so that a
    // script can tell "retry later" (UNAVAILABLE) from bad data.
    absl::StatusCode code = absl::StatusCode::kUnknown;
    std::string first;
    if (!failures.empty()) {
      code = static_cast<absl::StatusCode>(failures[0].code());
      if (code == absl::StatusCode::kOk) code = absl::StatusCode::kUnknown;
      first = absl::StrCat(" (first: ", failures[0].village_id(), ": ",
                           failures[0].message(), ")");
    }
    return absl::Status(
        code,
        absl::StrCat(last.villages_failed(), " of ", last.villages_total(),
                     " villages could not be evaluated", first));
  }
  return absl::OkStatus();
}

absl::Status ParseWhatIfOverrides(const std::vector<std::string>& arguments,
                                  scoring::v1::WhatIfRequest* request) {
  for (const std::string& argument : arguments) {
    // kind=target=value; the target (a key or id) never holds '='.
    const std::vector<absl::string_view> parts =
        absl::StrSplit(argument, absl::MaxSplits('=', 2));
    if (parts.size() != 3 || parts[1].empty() || parts[2].empty()) {
      return UsageError(
          absl::StrCat("\"", argument,
                       "\": must be indicator=<key>[@YYYY-MM]=<value> or "
                       "criterion=<id>=<value>"));
    }
    double value = 0;
    if (!absl::SimpleAtod(parts[2], &value) || !std::isfinite(value)) {
      return UsageError(absl::StrCat("\"", argument, "\": the value \"",
                                     parts[2], "\" is not a finite number"));
    }
    if (parts[0] == "indicator") {
      scoring::v1::IndicatorOverride* override_value =
          request->add_indicator_overrides();
      const std::vector<absl::string_view> target =
          absl::StrSplit(parts[1], absl::MaxSplits('@', 1));
      if (target[0].empty() || (target.size() == 2 && target[1].empty())) {
        return UsageError(absl::StrCat(
            "\"", argument, "\": must be indicator=<key>[@YYYY-MM]=<value>"));
      }
      override_value->set_indicator_key(std::string(target[0]));
      if (target.size() == 2)
        override_value->set_period(std::string(target[1]));
      override_value->set_value(value);
    } else if (parts[0] == "criterion") {
      scoring::v1::CriterionOverride* override_value =
          request->add_criterion_overrides();
      override_value->set_criterion_id(std::string(parts[1]));
      override_value->set_actual(value);
    } else {
      return UsageError(absl::StrCat("\"", argument,
                                     "\": an override starts with indicator= "
                                     "or criterion="));
    }
  }
  return absl::OkStatus();
}

namespace {

std::string EvaluationBrief(const Evaluation& evaluation) {
  return absl::StrCat("level ", evaluation.level(), ", ",
                      evaluation.stars_earned(), " stars, ",
                      evaluation.total_points(), " points");
}

std::string StarList(const google::protobuf::RepeatedField<int>& stars) {
  if (stars.empty()) return "none";
  std::vector<std::string> labels;
  for (const int star : stars) labels.push_back(StarLabel(Star(star)));
  return absl::StrJoin(labels, ", ");
}

void PrintWhatIfText(const scoring::v1::WhatIfResponse& response) {
  const Evaluation& baseline = response.baseline();
  const Evaluation& scenario = response.scenario();
  std::printf("what-if for village %s, %s, rubric v%d (nothing recorded)\n",
              scenario.village_id().c_str(), scenario.period().c_str(),
              scenario.rubric_version());
  std::printf("now:     %s\n", EvaluationBrief(baseline).c_str());
  std::printf("what-if: %s\n", EvaluationBrief(scenario).c_str());
  std::printf("stars gained: %s\n", StarList(response.stars_gained()).c_str());
  std::printf("stars lost:   %s\n", StarList(response.stars_lost()).c_str());
  // Per star: now → what-if; then the criteria whose outcome or value
  // changed.
  std::vector<std::vector<std::string>> rows;
  for (int i = 0; i < scenario.stars_size(); ++i) {
    const StarResult& after = scenario.stars(i);
    const StarResult* before =
        i < baseline.stars_size() ? &baseline.stars(i) : nullptr;
    auto outcome = [](const StarResult& star) {
      return absl::StrCat(star.earned() ? "earned" : "not earned", ", ",
                          star.points(), " points");
    };
    rows.push_back({absl::StrCat(StarLabel(after.star()), " (pass mark ",
                                 after.pass_mark(), ")"),
                    before == nullptr ? "" : outcome(*before), "→",
                    outcome(after)});
    for (int k = 0; k < after.criteria_size(); ++k) {
      const CriterionResult& criterion = after.criteria(k);
      const CriterionResult* old =
          before != nullptr && k < before->criteria_size()
              ? &before->criteria(k)
              : nullptr;
      const bool changed = criterion.overridden() || old == nullptr ||
                           old->met() != criterion.met() ||
                           old->actual() != criterion.actual();
      if (!changed) continue;
      auto value = [](const CriterionResult& c) {
        return absl::StrCat(
            c.value_missing() ? "no data" : Quantity(c.actual()), " ",
            c.met() ? "✓" : "✗");
      };
      rows.push_back(
          {absl::StrCat("  ", criterion.criterion_id()),
           old == nullptr ? "" : value(*old), "→",
           absl::StrCat(value(criterion), "  (",
                        RuleText(criterion.comparator(), criterion.threshold()),
                        criterion.overridden() ? ", what-if" : "", ")")});
    }
  }
  for (const std::string& line : AlignColumns(rows, {})) {
    std::printf("%s\n", line.c_str());
  }
}

}  // namespace

absl::Status WhatIf(const Invocation& invocation) {
  scoring::v1::WhatIfRequest request;
  request.set_village_id(invocation.args()[0]);
  request.set_period(invocation.args()[1]);
  ASSIGN_OR_RETURN(const int version, RubricVersionFlag());
  request.set_rubric_version(version);
  RETURN_IF_ERROR(ParseWhatIfOverrides(
      std::vector<std::string>(invocation.args().begin() + 2,
                               invocation.args().end()),
      &request));
  ASSIGN_OR_RETURN(scoring::v1::WhatIfResponse response,
                   Call(invocation, &Stub::WhatIf, request));
  if (invocation.output() == OutputFormat::kJson) {
    return PrintJsonLine(response);
  }
  PrintWhatIfText(response);
  return absl::OkStatus();
}

namespace {

std::string CriterionGapText(const scoring::v1::CriterionGap& gap) {
  std::string need;
  if (gap.value_missing()) {
    need = "no data: report a value first";
  } else {
    need = absl::StrCat("now ", Quantity(gap.actual()), ", needs ",
                        RuleText(gap.comparator(), gap.threshold()), " (",
                        gap.change_needed() > 0 ? "+" : "",
                        Quantity(gap.change_needed()), ")");
    if (gap.tasks_to_deliver() > 0) {
      absl::StrAppend(&need, ": deliver ", gap.tasks_to_deliver(), " more task",
                      gap.tasks_to_deliver() == 1 ? "" : "s");
    }
  }
  return need;
}

void PrintGapText(const scoring::v1::Gap& gap) {
  std::printf("village %s, %s, rubric v%d: level %d, target %d: %s\n",
              gap.village_id().c_str(), gap.period().c_str(),
              gap.rubric_version(), gap.current_level(), gap.target_level(),
              gap.reached()
                  ? "reached"
                  : absl::StrCat(gap.stars_needed(), " more star",
                                 gap.stars_needed() == 1 ? "" : "s", " needed")
                        .c_str());
  if (gap.reached()) return;
  std::printf("plan: %s\n", StarList(gap.plan()).c_str());
  for (const scoring::v1::StarGap& star : gap.stars()) {
    std::printf("%s %s: %d points, pass mark %d; to fix:\n",
                star.in_plan() ? "▶" : " ", StarLabel(star.star()).c_str(),
                star.points(), star.pass_mark());
    std::vector<std::vector<std::string>> rows;
    for (const scoring::v1::CriterionGap& criterion : star.criteria_to_fix()) {
      rows.push_back(
          {"  ", criterion.criterion_id(), CriterionGapText(criterion),
           absl::StrCat(criterion.points(), " points"),
           criterion.mandatory() ? "mandatory" : "", criterion.description()});
    }
    for (const std::string& line :
         AlignColumns(rows, {false, false, false, true})) {
      std::printf("%s\n", line.c_str());
    }
  }
}

}  // namespace

absl::Status Gap(const Invocation& invocation) {
  scoring::v1::GetGapRequest request;
  request.set_village_id(invocation.args()[0]);
  request.set_period(invocation.args()[1]);
  const int target = absl::GetFlag(FLAGS_target_level);
  if (target < 0 || target > 5) {
    return UsageError(absl::StrCat(
        "--target_level: must be 1..5 (0: the registry's target), got ",
        target));
  }
  request.set_target_level(target);
  ASSIGN_OR_RETURN(const int version, RubricVersionFlag());
  request.set_rubric_version(version);
  ASSIGN_OR_RETURN(scoring::v1::Gap gap,
                   Call(invocation, &Stub::GetGap, request));
  if (invocation.output() == OutputFormat::kJson) return PrintJsonLine(gap);
  PrintGapText(gap);
  return absl::OkStatus();
}

namespace {

// --star, or STAR_UNSPECIFIED (the overall board, any star) when unset.
absl::StatusOr<Star> StarFlag() {
  const std::string star = absl::GetFlag(FLAGS_star);
  if (star.empty()) return common::v1::STAR_UNSPECIFIED;
  return ParseStar("--star", star);
}

}  // namespace

absl::Status Leaderboard(const Invocation& invocation) {
  scoring::v1::GetLeaderboardRequest request;
  request.set_region_id(invocation.args()[0]);
  request.set_period(invocation.args()[1]);
  ASSIGN_OR_RETURN(const Star star, StarFlag());
  request.set_star(star);
  const int page_size = absl::GetFlag(FLAGS_page_size);
  if (page_size < 0 || page_size > kPageSize) {
    return UsageError(absl::StrCat("--page_size: must be 0..", kPageSize,
                                   ", got ", page_size));
  }
  request.set_page_size(page_size);
  request.set_page_token(absl::GetFlag(FLAGS_page_token));
  request.set_snapshot(absl::GetFlag(FLAGS_snapshot));
  ASSIGN_OR_RETURN(scoring::v1::GetLeaderboardResponse board,
                   Call(invocation, &Stub::GetLeaderboard, request));
  if (invocation.output() == OutputFormat::kJson) return PrintJsonLine(board);

  std::printf("%s, %s, %s: %d village%s ranked\n", board.region_id().c_str(),
              board.period().c_str(), BoardName(board.star()).c_str(),
              board.total_villages(), board.total_villages() == 1 ? "" : "s");
  if (board.has_snapshot()) {
    const scoring::v1::LeaderboardSnapshot& snapshot = board.snapshot();
    std::printf("frozen by %s at %s UTC+8%s%s\n", snapshot.creator().c_str(),
                ChinaTimeText(snapshot.create_time()).c_str(),
                snapshot.comment().empty() ? "" : ": ",
                snapshot.comment().c_str());
  }
  std::vector<const LeaderboardEntry*> entries;
  std::vector<std::string> ids;
  for (const LeaderboardEntry& entry : board.entries()) {
    entries.push_back(&entry);
    ids.push_back(entry.village_id());
  }
  PrintBoardTable(entries, VillageNames(invocation, ids), "");
  if (board.degraded()) std::printf("%s\n", DegradedLine().c_str());
  if (!board.next_page_token().empty()) {
    std::printf("next page: --page_token=%s\n",
                board.next_page_token().c_str());
  }
  return absl::OkStatus();
}

absl::Status VillageRank(const Invocation& invocation) {
  scoring::v1::GetVillageRankRequest request;
  request.set_village_id(invocation.args()[0]);
  request.set_period(invocation.args()[1]);
  request.set_region_id(absl::GetFlag(FLAGS_region));
  ASSIGN_OR_RETURN(const Star star, StarFlag());
  request.set_star(star);
  const int neighbours = absl::GetFlag(FLAGS_neighbours);
  if (neighbours < 0 || neighbours > 50) {
    return UsageError(
        absl::StrCat("--neighbours: must be 0..50, got ", neighbours));
  }
  request.set_neighbours(neighbours);
  ASSIGN_OR_RETURN(scoring::v1::GetVillageRankResponse rank,
                   Call(invocation, &Stub::GetVillageRank, request));
  if (invocation.output() == OutputFormat::kJson) return PrintJsonLine(rank);

  std::printf("%s: rank %d of %d on %s, %s, %s\n",
              rank.entry().village_id().c_str(), rank.entry().rank(),
              rank.total_villages(), rank.region_id().c_str(),
              rank.period().c_str(), BoardName(rank.star()).c_str());
  std::vector<const LeaderboardEntry*> entries;
  std::vector<std::string> ids;
  for (const LeaderboardEntry& entry : rank.above()) entries.push_back(&entry);
  entries.push_back(&rank.entry());
  for (const LeaderboardEntry& entry : rank.below()) entries.push_back(&entry);
  for (const LeaderboardEntry* entry : entries) {
    ids.push_back(entry->village_id());
  }
  PrintBoardTable(entries, VillageNames(invocation, ids),
                  rank.entry().village_id());
  if (rank.degraded()) std::printf("%s\n", DegradedLine().c_str());
  return absl::OkStatus();
}

absl::Status ApplyForAward(const Invocation& invocation) {
  scoring::v1::ApplyForAwardRequest request;
  request.set_village_id(invocation.args()[0]);
  ASSIGN_OR_RETURN(const Star star, ParseStar("<star>", invocation.args()[1]));
  request.set_star(star);
  request.set_period(invocation.args()[2]);
  request.set_note(absl::GetFlag(FLAGS_note));
  request.set_request_id(absl::GetFlag(FLAGS_request_id));
  ASSIGN_OR_RETURN(Award award,
                   Call(invocation, &Stub::ApplyForAward, request));
  return PrintAward(invocation, award);
}

absl::Status ReviewAward(const Invocation& invocation) {
  scoring::v1::ReviewAwardRequest request;
  request.set_id(invocation.args()[0]);
  ASSIGN_OR_RETURN(const scoring::v1::ReviewAwardRequest::Decision decision,
                   ParseEnumName<scoring::v1::ReviewAwardRequest::Decision>(
                       "<decision>", invocation.args()[1],
                       &scoring::v1::ReviewAwardRequest::Decision_Parse,
                       "approve or reject"));
  request.set_decision(decision);
  request.set_comment(absl::GetFlag(FLAGS_comment));
  if (decision == scoring::v1::ReviewAwardRequest::REJECT &&
      absl::StripAsciiWhitespace(request.comment()).empty()) {
    return UsageError("--comment is required to reject");
  }
  request.set_etag(absl::GetFlag(FLAGS_etag));
  ASSIGN_OR_RETURN(Award award, Call(invocation, &Stub::ReviewAward, request));
  return PrintAward(invocation, award);
}

absl::Status StartNotice(const Invocation& invocation) {
  scoring::v1::StartPublicNoticeRequest request;
  request.set_id(invocation.args()[0]);
  const int days = absl::GetFlag(FLAGS_days);
  if (days < 0 || days > 60) {
    return UsageError(absl::StrCat(
        "--days: must be 1..60 (0: the rubric's default), got ", days));
  }
  request.set_notice_days(days);
  request.set_comment(absl::GetFlag(FLAGS_comment));
  request.set_etag(absl::GetFlag(FLAGS_etag));
  ASSIGN_OR_RETURN(Award award,
                   Call(invocation, &Stub::StartPublicNotice, request));
  return PrintAward(invocation, award);
}

absl::Status ConfirmAward(const Invocation& invocation) {
  scoring::v1::ConfirmAwardRequest request;
  request.set_id(invocation.args()[0]);
  request.set_comment(absl::GetFlag(FLAGS_comment));
  request.set_etag(absl::GetFlag(FLAGS_etag));
  ASSIGN_OR_RETURN(Award award, Call(invocation, &Stub::ConfirmAward, request));
  return PrintAward(invocation, award);
}

absl::Status WithdrawAward(const Invocation& invocation) {
  scoring::v1::WithdrawAwardRequest request;
  request.set_id(invocation.args()[0]);
  request.set_reason(absl::GetFlag(FLAGS_reason));
  if (absl::StripAsciiWhitespace(request.reason()).empty()) {
    return UsageError("--reason is required");
  }
  request.set_etag(absl::GetFlag(FLAGS_etag));
  ASSIGN_OR_RETURN(Award award,
                   Call(invocation, &Stub::WithdrawAward, request));
  return PrintAward(invocation, award);
}

absl::Status RecordAward(const Invocation& invocation) {
  scoring::v1::RecordAwardRequest request;
  request.set_village_id(invocation.args()[0]);
  ASSIGN_OR_RETURN(const Star star, ParseStar("<star>", invocation.args()[1]));
  request.set_star(star);
  absl::Time award_time;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, invocation.args()[2], &award_time,
                       &error)) {
    return UsageError(absl::StrCat(
        "<time>: must be RFC 3339, e.g. 2021-12-28T10:00:00+08:00, got \"",
        invocation.args()[2], "\""));
  }
  *request.mutable_award_time() =
      google::protobuf::util::TimeUtil::SecondsToTimestamp(
          absl::ToUnixSeconds(award_time));
  ASSIGN_OR_RETURN(
      const scoring::v1::AuthorityLevel level,
      ParseEnumName<scoring::v1::AuthorityLevel>(
          "<level>", invocation.args()[3], &scoring::v1::AuthorityLevel_Parse,
          "township, county, city or province"));
  request.set_recognised_at(level);
  request.set_comment(absl::GetFlag(FLAGS_comment));
  if (absl::StripAsciiWhitespace(request.comment()).empty()) {
    return UsageError(
        "--comment is required (where the record comes from, e.g. the naming "
        "document)");
  }
  request.set_request_id(absl::GetFlag(FLAGS_request_id));
  ASSIGN_OR_RETURN(Award award, Call(invocation, &Stub::RecordAward, request));
  return PrintAward(invocation, award);
}

absl::Status GetAward(const Invocation& invocation) {
  scoring::v1::GetAwardRequest request;
  request.set_id(invocation.args()[0]);
  ASSIGN_OR_RETURN(Award award, Call(invocation, &Stub::GetAward, request));
  return PrintAward(invocation, award);
}

absl::Status ListAwards(const Invocation& invocation) {
  scoring::v1::ListAwardsRequest request;
  request.set_village_id(absl::GetFlag(FLAGS_village));
  request.set_ancestor_region_id(absl::GetFlag(FLAGS_ancestor));
  ASSIGN_OR_RETURN(const Star star, StarFlag());
  request.set_star(star);
  if (const std::string state = absl::GetFlag(FLAGS_state); !state.empty()) {
    ASSIGN_OR_RETURN(const scoring::v1::AwardState parsed,
                     ParseEnumName<scoring::v1::AwardState>(
                         "--state", state, &scoring::v1::AwardState_Parse,
                         "applied, township_reviewed, county_approved, "
                         "public_notice, awarded, rejected or withdrawn"));
    request.set_state(parsed);
  }
  return ForEachPage(
      invocation, *NewStub(invocation), request, &Stub::ListAwards,
      [&](const scoring::v1::ListAwardsResponse& page) -> absl::Status {
        for (const Award& award : page.awards()) {
          if (invocation.output() == OutputFormat::kJson) {
            RETURN_IF_ERROR(PrintJsonLine(award));
          } else {
            std::printf("%s\n", AwardLine(award).c_str());
          }
        }
        return absl::OkStatus();
      });
}

absl::Status ListAwardEvents(const Invocation& invocation) {
  scoring::v1::ListAwardEventsRequest request;
  request.set_award_id(absl::GetFlag(FLAGS_award));
  request.set_village_id(absl::GetFlag(FLAGS_village));
  request.set_ancestor_region_id(absl::GetFlag(FLAGS_ancestor));
  return ForEachPage(
      invocation, *NewStub(invocation), request, &Stub::ListAwardEvents,
      [&](const scoring::v1::ListAwardEventsResponse& page) -> absl::Status {
        for (const AwardEvent& event : page.events()) {
          if (invocation.output() == OutputFormat::kJson) {
            RETURN_IF_ERROR(PrintJsonLine(event));
          } else {
            std::printf("%s\n", AwardEventLine(event).c_str());
          }
        }
        return absl::OkStatus();
      });
}

absl::Status Incentives(const Invocation& invocation) {
  scoring::v1::GetIncentivesRequest request;
  request.set_village_id(invocation.args()[0]);
  ASSIGN_OR_RETURN(const int year,
                   ParseInt("<year>", invocation.args()[1], 2000));
  request.set_year(year);
  ASSIGN_OR_RETURN(scoring::v1::Incentives incentives,
                   Call(invocation, &Stub::GetIncentives, request));
  if (invocation.output() == OutputFormat::kJson) {
    return PrintJsonLine(incentives);
  }
  std::vector<std::string> stars;
  for (const int star : incentives.awarded_stars()) {
    stars.push_back(StarNameZh(Star(star)));
  }
  std::printf(
      "village %s, %d%s: awarded level %d%s%s, rubric v%d\n",
      incentives.village_id().c_str(), incentives.year(),
      incentives.provisional() ? " (provisional: the year is not over)" : "",
      incentives.level(), stars.empty() ? "" : ": ",
      absl::StrJoin(stars, " ").c_str(), incentives.rubric_version());
  if (incentives.items().empty()) {
    std::printf("no incentive applies\n");
  }
  std::vector<std::vector<std::string>> rows;
  for (const scoring::v1::IncentiveItem& item : incentives.items()) {
    std::string what;
    switch (item.kind()) {
      case scoring::v1::BASE_PAY_UPLIFT:
        what = absl::StrCat("+", Quantity(item.percent()), " % base pay");
        break;
      case scoring::v1::COMMITTEE_MEMBER_BONUS:
        what = absl::StrCat(StarNameZh(item.star()), ": ", item.members(),
                            " members × ", item.months(), " months");
        break;
      default:
        break;
    }
    rows.push_back({"  ", item.rule_id(),
                    scoring::v1::IncentiveKind_Name(item.kind()),
                    // An uplift is a percentage, not an amount.
                    item.kind() == scoring::v1::BASE_PAY_UPLIFT
                        ? std::string()
                        : YuanText(item.amount_yuan()),
                    what, item.description()});
  }
  for (const std::string& line :
       AlignColumns(rows, {false, false, false, true})) {
    std::printf("%s\n", line.c_str());
  }
  std::printf("total %s\n", YuanText(incentives.total_yuan()).c_str());
  return absl::OkStatus();
}

absl::Status FreezeLeaderboard(const Invocation& invocation) {
  scoring::v1::FreezeLeaderboardRequest request;
  request.set_region_id(invocation.args()[0]);
  request.set_period(invocation.args()[1]);
  request.set_comment(absl::GetFlag(FLAGS_comment));
  ASSIGN_OR_RETURN(scoring::v1::LeaderboardSnapshot snapshot,
                   Call(invocation, &Stub::FreezeLeaderboard, request));
  if (invocation.output() == OutputFormat::kJson) {
    return PrintJsonLine(snapshot);
  }
  std::printf(
      "froze the boards of %s for %s: %d village%s on the overall board, by "
      "%s at %s UTC+8\n",
      snapshot.region_id().c_str(), snapshot.period().c_str(),
      snapshot.total_villages(), snapshot.total_villages() == 1 ? "" : "s",
      snapshot.creator().c_str(),
      ChinaTimeText(snapshot.create_time()).c_str());
  return absl::OkStatus();
}

std::string MovementText(const LeaderboardEntry& entry) {
  if (entry.previous_rank() == 0) return "new";
  if (entry.rank_change() > 0) return absl::StrCat("↑", entry.rank_change());
  if (entry.rank_change() < 0) return absl::StrCat("↓", -entry.rank_change());
  return "–";
}

std::string StarsText(int stars) {
  if (stars <= 0) return "0";
  std::string text;
  for (int i = 0; i < stars; ++i) text += "★";
  return absl::StrCat(text, " ", stars);
}

std::string YuanText(int64_t yuan) {
  // The magnitude as unsigned, so that the most negative value has one.
  const uint64_t magnitude =
      yuan < 0 ? 0 - static_cast<uint64_t>(yuan) : static_cast<uint64_t>(yuan);
  std::string digits = absl::StrCat(magnitude);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) {
    digits.insert(i, ",");
  }
  return absl::StrCat(yuan < 0 ? "-" : "", digits, " yuan");
}

std::string ProgressText(int evaluated, int failed, int total, int bar_width) {
  const int handled = evaluated + failed;
  int filled = 0;
  if (total > 0) {
    filled = static_cast<int>(static_cast<int64_t>(std::min(handled, total)) *
                              bar_width / total);
  }
  return absl::StrCat("[", std::string(filled, '#'),
                      std::string(bar_width - filled, '.'), "] ", evaluated,
                      "/", total, " evaluated, ", failed, " failed");
}

}  // namespace fivestar::cli
